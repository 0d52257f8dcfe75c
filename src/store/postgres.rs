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

/// First key of the advisory locks callflow takes per company and phone number; the second
/// is derived from both. Any other use of advisory locks must pick a different class.
const NUMBER_LOCK_CLASS: i32 = 0x0CA1_1BAC;

/// Begins a transaction holding a transaction-scoped advisory lock on (company, number).
///
/// Two nodes opening a callback for the same number at once would otherwise both find none
/// and both insert. Only transactions for the same number wait for each other; the lock goes
/// with the commit or rollback, also when the connection dies.
pub(super) async fn begin_for_number(
    pool: &PgPool,
    company: callflow_actors::domain::CompanyId,
    phone: &callflow_actors::domain::E164Number,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(NUMBER_LOCK_CLASS)
        .bind(number_lock_key(company, phone))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A stable 32-bit key for (company, number), the same on every node and every version. Two
/// numbers sharing a key only ever wait for each other; they never merge.
fn number_lock_key(
    company: callflow_actors::domain::CompanyId,
    phone: &callflow_actors::domain::E164Number,
) -> i32 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(company.0.as_bytes())
        .chain_update(phone.as_str().as_bytes())
        .finalize();
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

super::sql::sql_store!(
    PostgresStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    begin_for_number
);
