//! Migrations, compiled into the binary so `callflow migrate` needs no files next to it.
//! Each backend has its own folder under `migrations/`, with reversible up/down pairs.

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// The supported database backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One reversible migration: version, description, up SQL, down SQL.
type Embedded = (i64, &'static str, &'static str, &'static str);

macro_rules! embed {
    ($backend:literal, $version:literal, $name:literal) => {
        (
            $version,
            $name,
            include_str!(concat!(
                "../../migrations/",
                $backend,
                "/",
                $version,
                "_",
                $name,
                ".up.sql"
            )),
            include_str!(concat!(
                "../../migrations/",
                $backend,
                "/",
                $version,
                "_",
                $name,
                ".down.sql"
            )),
        )
    };
}

const SQLITE: &[Embedded] = &[
    embed!("sqlite", 20261121000001, "initial"),
    embed!("sqlite", 20261121000002, "token_branch"),
    embed!("sqlite", 20261121000003, "call_event_processed"),
    embed!("sqlite", 20261121000004, "notifications"),
    embed!("sqlite", 20261121000005, "admin_api"),
];
const POSTGRES: &[Embedded] = &[
    embed!("postgres", 20261121000001, "initial"),
    embed!("postgres", 20261121000002, "token_branch"),
    embed!("postgres", 20261121000003, "call_event_processed"),
    embed!("postgres", 20261121000004, "notifications"),
    embed!("postgres", 20261121000005, "admin_api"),
];

#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl MigrationSource<'static> for EmbeddedSource {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        let migrations = self
            .0
            .iter()
            .flat_map(|&(version, name, up, down)| {
                let description: Cow<'static, str> = Cow::Owned(name.replace('_', " "));
                [
                    Migration::new(
                        version,
                        description.clone(),
                        MigrationType::ReversibleUp,
                        Cow::Borrowed(up),
                        false,
                    ),
                    Migration::new(
                        version,
                        description,
                        MigrationType::ReversibleDown,
                        Cow::Borrowed(down),
                        false,
                    ),
                ]
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// The migrator for a backend.
pub async fn migrator(backend: Backend) -> Result<Migrator, sqlx::migrate::MigrateError> {
    let source = match backend {
        Backend::Sqlite => EmbeddedSource(SQLITE),
        Backend::Postgres => EmbeddedSource(POSTGRES),
    };
    Migrator::new(source).await
}
