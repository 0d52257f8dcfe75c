//! The database: connecting (with retry at start), migrations, and the SQL implementation of
//! every store role (`callflow_actors::store`) for SQLite and Postgres, and the notification
//! tables ([`outbox`]). The URL's scheme picks the backend.

mod migrations;
pub mod outbox;
mod postgres;
mod sql;
mod sqlite;

pub use migrations::{migrator, Backend};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseConfig;
use callflow_actors::{Store, StoreError};
use sqlx::error::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection pool to one of the supported backends.
#[derive(Clone, Debug)]
pub enum Database {
    /// Embedded SQLite (the default).
    Sqlite(sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL could not be understood.
    #[error("invalid database.url: {0}")]
    Url(#[source] sqlx::Error),
    /// Still unreachable when the start-up retry window ran out.
    #[error("database {url} unreachable after {waited:?}: {source}")]
    Unreachable {
        /// The URL without its password.
        url: String,
        /// How long we kept trying.
        waited: Duration,
        /// The last error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Database {
    /// Connects, retrying with exponential backoff for `startup_retry_secs` while the database
    /// is unreachable (it may still be starting next to us).
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DatabaseError> {
        let started = Instant::now();
        let window = Duration::from_secs(config.startup_retry_secs);
        let mut backoff = Duration::from_millis(100);
        loop {
            match Self::connect_once(config).await {
                Ok(db) => return Ok(db),
                Err(DatabaseError::Unreachable { source, url, .. })
                    if started.elapsed() < window =>
                {
                    tracing::warn!(%url, error = %source, retry_in = ?backoff, "database unreachable, retrying");
                    tokio::time::sleep(backoff.min(window.saturating_sub(started.elapsed()))).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(DatabaseError::Unreachable { url, source, .. }) => {
                    return Err(DatabaseError::Unreachable {
                        url,
                        waited: started.elapsed(),
                        source,
                    })
                }
                Err(other) => return Err(other),
            }
        }
    }

    async fn connect_once(config: &DatabaseConfig) -> Result<Self, DatabaseError> {
        let unreachable = |source| DatabaseError::Unreachable {
            url: config.redacted_url(),
            waited: Duration::ZERO,
            source,
        };
        if config.is_sqlite() {
            sqlite::connect(config)
                .await
                .map(Self::Sqlite)
                .map_err(|e| match e {
                    sqlx::Error::Configuration(_) => DatabaseError::Url(e),
                    other => unreachable(other),
                })
        } else {
            postgres::connect(config)
                .await
                .map(Self::Postgres)
                .map_err(|e| match e {
                    sqlx::Error::Configuration(_) => DatabaseError::Url(e),
                    other => unreachable(other),
                })
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), DatabaseError> {
        let migrator = migrator(self.backend()).await?;
        match self {
            Self::Sqlite(pool) => migrator.run(pool).await?,
            Self::Postgres(pool) => migrator.run(pool).await?,
        }
        Ok(())
    }

    /// Reverts every migration (down to an empty schema).
    pub async fn migrate_down(&self) -> Result<(), DatabaseError> {
        let migrator = migrator(self.backend()).await?;
        match self {
            Self::Sqlite(pool) => migrator.undo(pool, 0).await?,
            Self::Postgres(pool) => migrator.undo(pool, 0).await?,
        }
        Ok(())
    }

    /// The engine's view of this database.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(pool) => Arc::new(SqliteStore { pool: pool.clone() }),
            Self::Postgres(pool) => Arc::new(PostgresStore { pool: pool.clone() }),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Whether Postgres chose this statement as a deadlock victim (40P01): it did nothing, and
/// running it again gives the true answer.
pub(crate) fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("40P01"))
}

/// Maps a driver error to the engine's error: constraint violations become conflicts, lost
/// connections "unavailable", everything else an opaque database error with its cause kept.
pub(crate) fn map_sqlx_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            // 23P01: Postgres exclusion_violation (our no-overlap constraint).
            if db.code().as_deref() == Some("23P01") {
                return StoreError::Conflict(
                    "the staff member is already booked at that time".into(),
                );
            }
            match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
                ErrorKind::ForeignKeyViolation => StoreError::NotFound(db.message().to_owned()),
                _ => StoreError::Database(Box::new(error)),
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(Box::new(error)),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(error.to_string())
        }
        _ => StoreError::Database(Box::new(error)),
    }
}
