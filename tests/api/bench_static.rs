//! `GET /bench/static`: the load harness's HTTP ceiling, mounted only when configured.

use crate::helpers::{spawn_app, spawn_app_on, TestDb};

#[actix_web::test]
async fn the_static_ceiling_endpoint_is_not_mounted_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.get("/bench/static").await.status, 404);
}

#[actix_web::test]
async fn the_static_ceiling_endpoint_answers_a_fixed_json_when_enabled() {
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[("CALLFLOW_SERVER__BENCH_STATIC_ENDPOINT", "true")],
    )
    .await;
    let answer = app.get("/bench/static").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["ok"], true);
}
