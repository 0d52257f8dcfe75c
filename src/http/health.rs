//! Liveness, readiness and the Prometheus scrape endpoint.

use super::error::ApiError;
use super::AppState;
use crate::metrics::READY;
use actix_web::{web, HttpResponse, ResponseError};
use serde_json::json;
use std::time::Duration;

/// How long `/readyz` waits for the database or Redis before calling it down.
const DEPENDENCY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /bench/static` (mounted only with `server.bench_static_endpoint`): a fixed small JSON
/// answer, the ceiling of this HTTP stack that the load harness compares the webhook path to.
pub async fn bench_static() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true, "message": "static" }))
}

/// `GET /readyz`: 200 when the database (and Redis, when configured) answer and the engine is
/// started, else 503.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database_up = matches!(
        tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    let redis = match &state.redis {
        None => "not_configured",
        Some(holds) => match tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, holds.ping()).await {
            Ok(Ok(())) => "up",
            _ => "down",
        },
    };
    let engine_started = state.readiness.is_started();
    let ready = database_up && redis != "down" && engine_started;
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": if database_up { "up" } else { "down" },
            "redis": redis,
            "engine": if engine_started { "started" } else { "starting" },
        }
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text exposition format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// Any unknown path.
pub async fn not_found() -> HttpResponse {
    ApiError::route_not_found().error_response()
}
