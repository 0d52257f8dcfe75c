//! The one SQL implementation of every store role, instantiated for each backend.
//!
//! SQLite and Postgres accept the same statements here (`$N` placeholders, `ON CONFLICT`,
//! `RETURNING`), and sqlx maps our Rust types to each backend's column types. Only the concrete
//! pool and row types differ, so the implementation is written once inside `sql_store!` and the
//! backend modules instantiate it; keeping it generic over `sqlx::Database` instead would need a
//! where-clause per method for every column type.
//!
//! The statements are kept by role, one file per store role (and [`rows`] for reading rows
//! back); each file holds a macro that `sql_store!` expands into the backend module, next to
//! the shared imports, so the roles' statements share the row readers.

pub(super) mod admin;
pub(super) mod appointments;
pub(super) mod audit;
pub(super) mod call_log;
pub(super) mod callbacks;
pub(super) mod catalogue;
pub(super) mod customers;
pub(super) mod rows;
pub(super) mod tokens;

/// Implements every store role (and so `Store`) for `$store` (a struct with a
/// `pool: sqlx::Pool<$db>` field).
///
/// `$begin_for_number` is the one statement that differs by backend: an async fn
/// `(&Pool<$db>, CompanyId, &E164Number) -> Result<Transaction<'static, $db>, sqlx::Error>`
/// that begins a transaction no other transaction for the same company and number can run
/// alongside (what makes "find the open callback, else insert" atomic).
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $begin_for_number:path) => {
        use crate::store::{is_deadlock, map_sqlx_error};
        use async_trait::async_trait;
        use callflow_actors::admin_query::*;
        use callflow_actors::domain::sla::CallbackEscalation;
        use callflow_actors::domain::*;
        use callflow_actors::store::prelude::*;
        use callflow_actors::store::{
            CallLogWrite, CallbackFilter, MergeCallback, Opened, Recorded,
        };
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use sqlx::Row;
        use uuid::Uuid;

        crate::store::sql::rows::sql_rows!($row, $db);

        #[async_trait]
        impl HealthStore for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?;
                Ok(())
            }
        }

        crate::store::sql::catalogue::sql_catalogue!($store);
        crate::store::sql::appointments::sql_appointments!($store);
        crate::store::sql::call_log::sql_call_log!($store, $db);
        crate::store::sql::customers::sql_customers!($store);
        crate::store::sql::callbacks::sql_callbacks!($store, $db, $begin_for_number);
        crate::store::sql::tokens::sql_tokens!($store);
        crate::store::sql::audit::sql_audit!($store);
        crate::store::sql::admin::sql_admin!($store);
    };
}

pub(crate) use sql_store;
