//! SQLite: the embedded default. One file, WAL mode, created with its folder if missing.

use crate::config::DatabaseConfig;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// The engine's store on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

pub(super) async fn connect(config: &DatabaseConfig) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(config.url.expose())?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL is durable across application crashes and skips an fsync per commit.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(config.acquire_timeout_secs));
    if let Some(dir) = options
        .get_filename()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    SqlitePoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .connect_with(options)
        .await
}

/// Begins a transaction that holds SQLite's single write lock from its first statement.
///
/// A deferred `BEGIN` would let two transactions both read "no open callback" and then race to
/// write; `BEGIN IMMEDIATE` makes the second wait (up to the busy timeout) until the first has
/// committed, so it reads what the first wrote. SQLite serialises every writer anyway, so
/// locking more than the one number costs nothing extra.
pub(super) async fn begin_for_number(
    pool: &SqlitePool,
    _company: callflow_actors::domain::CompanyId,
    _phone: &callflow_actors::domain::E164Number,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

super::sql::sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    begin_for_number
);
