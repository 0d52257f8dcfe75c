//! The HTTP surface: routes, shared state and the app factory used by the server and tests.

pub mod api;
pub mod error;
mod health;
pub mod middleware;
pub mod rate_limit;
pub mod retell;
pub mod unstorable;

use crate::cluster::RedisHolds;
use crate::config::Config;
use crate::metrics::Metrics;
use actix_web::middleware::from_fn;
use actix_web::web;
use callflow_actors::{Engine, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// State shared by every handler.
pub struct AppState {
    /// The use cases: what every handler calls to change anything.
    pub app: crate::app::App,
    /// The database, through the engine's trait.
    pub store: Arc<dyn Store>,
    /// The engine: routing, slots, holds, bookings.
    pub engine: Engine,
    /// Cross-node holds, when Redis is configured.
    pub redis: Option<RedisHolds>,
    /// The metrics recorder, rendered by `/metrics`.
    pub metrics: Metrics,
    /// Whether start-up has finished (engine started).
    pub readiness: Readiness,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The admin API's per-IP and per-token limiters, shared by every worker.
    pub rate_limits: rate_limit::RateLimits,
    /// Domain events: publish after a change is durable.
    pub events: crate::events::Events,
    /// Notification subscriptions, outbox and log (the admin API's webhooks endpoints).
    pub notify: crate::notify::NotifyHandle,
}

/// Set once the engine is started; `/readyz` answers 503 until then.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the engine as started (or not).
    pub fn set(&self, started: bool) {
        self.0.store(started, Ordering::Release);
    }

    /// Whether the engine is started.
    pub fn is_started(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Registers every route, the body limits and the middleware on an app.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let limit = state.config.server.max_body_bytes;
    let bench_static = state.config.server.bench_static_endpoint;
    cfg.app_data(state)
        .app_data(web::PayloadConfig::new(limit))
        .service(
            web::scope("")
                // Outermost last: `observe` sees every answer, including an early 413.
                .wrap(from_fn(middleware::limit_body))
                .wrap(from_fn(middleware::observe))
                .route("/healthz", web::get().to(health::healthz))
                .route("/readyz", web::get().to(health::readyz))
                .route("/metrics", web::get().to(health::metrics))
                // Only for `callflow-bench`: the same stack's ceiling, without any of our work.
                .configure(|cfg| {
                    if bench_static {
                        cfg.route("/bench/static", web::get().to(health::bench_static));
                    }
                })
                .configure(retell::configure)
                // The per-IP limit covers only the admin API; Retell requests are signed.
                .service(api::scope().wrap(from_fn(rate_limit::per_ip)))
                .default_service(web::to(health::not_found)),
        );
}
