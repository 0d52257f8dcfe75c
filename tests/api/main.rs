//! End-to-end tests: real servers on free ports, real databases, real clients.

mod bench_static;
mod callbacks_api;
mod cli;
mod engine_contention;
mod health;
mod helpers;
mod migrations;
mod rate_limits;
mod redis_holds;
mod retell;
mod store_conformance;
