//! Migrations apply, revert completely and apply again, on both backends.

use crate::helpers::{test_config, TestDb};
use callflow::store::Database;

async fn up_down_up(db: &TestDb) {
    let config = test_config(&db.url, &[]);
    let database = Database::connect(&config.database)
        .await
        .expect("reachable");
    database.migrate().await.expect("up");
    callflow::seed::seed_demo(&*database.store())
        .await
        .expect("schema holds the demo");
    database.migrate_down().await.expect("down");
    assert!(
        database.store().list_companies().await.is_err(),
        "tables are gone after reverting"
    );
    database.migrate().await.expect("up again");
    assert!(database
        .store()
        .list_companies()
        .await
        .expect("empty schema")
        .is_empty());
    database.migrate().await.expect("applying twice is a no-op");
}

#[actix_web::test]
async fn sqlite_migrations_go_up_down_and_up_again() {
    up_down_up(&TestDb::sqlite()).await;
}

#[actix_web::test]
async fn postgres_migrations_go_up_down_and_up_again() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    up_down_up(&db).await;
}
