//! callflow: the server around the engine. Configuration, the SQL store, HTTP (Retell webhooks,
//! health, metrics), start-up and shutdown.

pub mod app;
pub mod cluster;
pub mod config;
pub mod events;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod retell;
pub mod seed;
pub mod sla;
pub mod startup;
pub mod store;
pub mod telemetry;
