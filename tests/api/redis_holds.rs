//! Cross-node holds on a real Redis, and readiness with Redis configured.

use crate::helpers::{redis_url, skip, spawn_app_on, wait_until, TestDb};
use callflow::cluster::RedisHolds;
use callflow::config::Config;
use std::time::Duration;

/// Holds under a key prefix of their own; `None` (after reporting the skip) without Redis.
async fn holds(prefix: &str) -> Option<RedisHolds> {
    let config = Config::load(
        None,
        [
            ("CALLFLOW_REDIS__URL".to_owned(), redis_url()),
            ("CALLFLOW_REDIS__KEY_PREFIX".to_owned(), prefix.to_owned()),
        ],
    )
    .expect("valid");
    match tokio::time::timeout(Duration::from_secs(5), RedisHolds::connect(&config.redis)).await {
        Ok(Ok(holds)) => holds,
        Ok(Err(e)) => {
            skip("Redis", e);
            None
        }
        Err(_) => {
            skip("Redis", "connection timed out");
            None
        }
    }
}

fn unique_prefix() -> String {
    format!("callflow-test:{}:", uuid::Uuid::new_v4().simple())
}

#[actix_web::test]
async fn a_hold_is_exclusive_expires_and_is_released_only_by_its_owner() {
    let Some(holds) = holds(&unique_prefix()).await else {
        return;
    };
    let ttl = Duration::from_secs(30);
    assert!(holds
        .try_hold("staff-1:2030-06-03T09:00", "call_a", ttl)
        .await
        .expect("redis"));
    assert!(
        !holds
            .try_hold("staff-1:2030-06-03T09:00", "call_b", ttl)
            .await
            .expect("redis"),
        "already held"
    );
    assert!(
        !holds
            .release("staff-1:2030-06-03T09:00", "call_b")
            .await
            .expect("redis"),
        "not the owner"
    );
    assert_eq!(
        holds
            .holder("staff-1:2030-06-03T09:00")
            .await
            .expect("redis")
            .as_deref(),
        Some("call_a")
    );
    assert!(holds
        .release("staff-1:2030-06-03T09:00", "call_a")
        .await
        .expect("redis"));
    assert_eq!(
        holds
            .holder("staff-1:2030-06-03T09:00")
            .await
            .expect("redis"),
        None
    );
    assert!(
        holds
            .try_hold("staff-1:2030-06-03T09:00", "call_b", ttl)
            .await
            .expect("redis"),
        "free again"
    );
    assert!(holds
        .release("staff-1:2030-06-03T09:00", "call_b")
        .await
        .expect("redis"));
}

#[actix_web::test]
async fn a_hold_whose_owner_vanished_expires_by_itself() {
    let Some(holds) = holds(&unique_prefix()).await else {
        return;
    };
    assert!(holds
        .try_hold("slot", "crashed-node", Duration::from_millis(50))
        .await
        .expect("redis"));
    // Redis expires the key on its own clock; wait for it rather than asserting a time.
    wait_until("the hold expired", || async {
        holds.holder("slot").await.expect("redis").is_none()
    })
    .await;
    assert!(holds
        .try_hold("slot", "another-node", Duration::from_secs(5))
        .await
        .expect("redis"));
    assert!(holds.release("slot", "another-node").await.expect("redis"));
}

#[actix_web::test]
async fn readiness_reports_redis_when_it_is_configured() {
    if holds(&unique_prefix()).await.is_none() {
        return;
    }
    let prefix = unique_prefix();
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[
            ("CALLFLOW_REDIS__URL", &redis_url()),
            ("CALLFLOW_REDIS__KEY_PREFIX", &prefix),
        ],
    )
    .await;
    let answer = app.get("/readyz").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["checks"]["redis"], "up");
}
