//! The database by role: one small trait per job, and [`Store`], everything at once.
//!
//! The roles the engine itself reads and writes through live in [`engine`]
//! ([`CatalogueStore`], [`AppointmentStore`], [`CallLogStore`]); those only the server's use
//! cases need live in [`server`] (customers, callbacks, assignment, SLA watching, tokens, audit,
//! the admin API's lists and deletes, health). A function that needs one job asks for that
//! role; whatever holds "the database" holds an `Arc<dyn Store>`, which has every role's
//! methods (`Store` is implemented for everything that implements all the roles).
//!
//! The server implements the roles with sqlx for SQLite and Postgres, [`crate::memory_store`]
//! in memory; all of them pass one conformance suite. Implementations must make each method
//! atomic: a call either happens completely or not at all.
//!
//! Calling a role's method on a concrete store (not on `dyn Store`) needs the role trait in
//! scope: `use callflow_actors::store::prelude::*;` brings every role.

pub mod engine;
pub mod server;

pub use engine::{AppointmentStore, CallLogStore, CallLogWrite, CatalogueStore, Recorded};
pub use server::{
    AdminStore, AssignmentStore, AuditStore, CallbackFilter, CallbackStore, CustomerStore,
    HealthStore, MergeCallback, Opened, SlaStore, TokenStore,
};

/// Every role trait, for `use callflow_actors::store::prelude::*;` (method calls on a concrete
/// store need the trait that declares the method in scope).
pub mod prelude {
    pub use super::engine::{AppointmentStore, CallLogStore, CatalogueStore};
    pub use super::server::{
        AdminStore, AssignmentStore, AuditStore, CallbackStore, CustomerStore, HealthStore,
        SlaStore, TokenStore,
    };
    pub use super::{Store, StoreError, StoreResult};
}

/// A boxed error from the database driver, kept as the cause for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong when persisting.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change contradicts what is stored (a double booking, a duplicate unique value).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database could not be reached or timed out; retrying may help.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// A stored value could not be read back into a domain type.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] BoxError),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The whole database: every role at once. Implemented for every type that implements all the
/// roles, so an implementation only implements the roles; `Arc<dyn Store>` is what the engine
/// and the server pass around.
pub trait Store:
    CatalogueStore
    + AppointmentStore
    + CallLogStore
    + CustomerStore
    + CallbackStore
    + AssignmentStore
    + SlaStore
    + TokenStore
    + AuditStore
    + AdminStore
    + HealthStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: CatalogueStore
        + AppointmentStore
        + CallLogStore
        + CustomerStore
        + CallbackStore
        + AssignmentStore
        + SlaStore
        + TokenStore
        + AuditStore
        + AdminStore
        + HealthStore
        + Send
        + Sync
        + 'static
        + ?Sized
{
}
