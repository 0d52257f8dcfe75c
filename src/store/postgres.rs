//! PostgreSQL: for production and several nodes. Same schema and statements as SQLite, plus an
//! exclusion constraint that makes double booking impossible whatever the nodes do.

use crate::config::DatabaseConfig;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The engine's store on Postgres.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
}

pub(super) async fn connect(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(config.url.expose())?.application_name("callflow");
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_with(options)
        .await
}

super::sql::sql_store!(PostgresStore, sqlx::Postgres, sqlx::postgres::PgRow);
