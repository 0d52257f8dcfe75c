//! The callflow engine: pure domain logic (`domain`) and the `Store` it persists through.
//!
//! This crate knows nothing about HTTP or SQL. The server crate implements [`store::Store`]
//! for SQLite and Postgres and drives the engine from Retell's webhooks.

pub mod domain;
pub mod store;

pub use store::{Recorded, Store, StoreError, StoreResult};
