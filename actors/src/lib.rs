//! The callflow engine: pure domain logic (`domain`), the actors around it, and the `Store` it
//! persists through.
//!
//! Each branch, staff member and active call is an actor; a registry routes calls and starts
//! the others; a persistence actor writes through to the store. Business rules live in
//! `domain` as plain functions; the actors only carry out their decisions. This crate knows
//! nothing about HTTP or SQL: the server implements the [`store`] roles for SQLite and Postgres.

pub mod admin_query;
pub mod branch;
pub mod call;
pub mod clock;
pub mod domain;
pub mod engine;
pub mod memory_store;
pub mod metrics;
pub mod persistence;
pub mod registry;
pub mod routing_table;
pub mod settings;
pub mod staff;
pub mod store;

pub use engine::{
    Availability, BookingOutcome, BookingRequest, Engine, EngineError, SlotChoice, SlotQuery,
};
pub use settings::EngineSettings;
pub use store::{
    AdminStore, AppointmentStore, AssignmentStore, AuditStore, CallLogStore, CallLogWrite,
    CallbackFilter, CallbackStore, CatalogueStore, CustomerStore, HealthStore, MergeCallback,
    Opened, Recorded, SlaStore, Store, StoreError, StoreResult, TokenStore,
};
