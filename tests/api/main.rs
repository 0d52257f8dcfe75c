//! End-to-end tests: real servers on free ports, real databases, real clients.

mod admin_api;
mod admin_store;
mod bench_static;
mod callbacks_api;
mod cli;
mod conversation;
mod engine_contention;
mod health;
mod helpers;
mod migrations;
mod notifications;
mod rate_limits;
mod redis_holds;
mod reliability;
mod retell;
mod sla;
mod store_conformance;
