//! callflow: the server around the engine. Configuration, the SQL store, HTTP (Retell webhooks,
//! health, metrics), start-up and shutdown.

pub mod config;
pub mod store;
