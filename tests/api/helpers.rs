//! Test helpers: a fresh database per test (a SQLite file, or a new Postgres database), a
//! server on a free port, and the skip policy for services that may be missing.
//!
//! Without Postgres or Redis, their tests print `SKIPPED …` and pass; with
//! `CALLFLOW_REQUIRE_SERVICES=1` (set by CI) a missing service fails the test instead.

use callflow::config::Config;
use callflow::startup::Application;
use callflow::store::Database;
use callflow_actors::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// Set to 1 to turn "service not available, skipped" into a failure.
pub const REQUIRE_SERVICES: &str = "CALLFLOW_REQUIRE_SERVICES";

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Reports a missing service: a panic when services are required, else a visible skip.
pub fn skip(service: &str, why: impl std::fmt::Display) {
    if services_required() {
        panic!("{service} is required ({REQUIRE_SERVICES}=1) but not available: {why}");
    }
    // Written to the stderr handle, not with eprintln!, which libtest captures and hides for
    // passing tests: a skip must be seen.
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {service} not available ({why}); set {REQUIRE_SERVICES}=1 to make this a failure"
    );
}

/// Longest a test waits for something that happens after an answer (a follow-up, a delivery).
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// Polls `check` every 10 ms until it is true; panics naming `what` after [`PATIENCE`]. The one
/// way tests wait for work done after an answer: bounded, and never a fixed sleep.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < PATIENCE,
            "timed out waiting until {what}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A Tuesday at least five days ahead (Berlin time) and clear of the demo's holidays: a working
/// day for every Berlin staff member but Dr. Weber (Mon, Wed, Thu).
pub fn next_working_tuesday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
        + chrono::Duration::days(5);
    while day.weekday() != chrono::Weekday::Tue
        || (day.month() == 12 && day.day() >= 22)
        || (day.month() == 1 && day.day() <= 6)
    {
        day += chrono::Duration::days(1);
    }
    day
}

/// [`next_working_tuesday`] as a function argument: `2026-12-08`.
pub fn next_working_tuesday_iso() -> String {
    next_working_tuesday().format("%Y-%m-%d").to_string()
}

/// Server-level URL used to create and drop per-test databases.
pub fn postgres_admin_url() -> String {
    std::env::var("CALLFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Redis used by tests; every test writes under its own key prefix.
pub fn redis_url() -> String {
    std::env::var("CALLFLOW_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A database that exists only for one test and is removed afterwards.
pub struct TestDb {
    /// Connection URL.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    PostgresDatabase(String),
}

impl TestDb {
    /// A new SQLite file in a fresh temporary folder.
    pub fn sqlite() -> Self {
        let dir =
            std::env::temp_dir().join(format!("callflow-test-{}", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}/callflow.db", dir.display());
        Self {
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A new, empty Postgres database; `None` (after reporting the skip) when Postgres is down.
    pub async fn postgres() -> Option<Self> {
        use sqlx::Connection;
        let admin = postgres_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                skip("PostgreSQL", e);
                return None;
            }
        };
        let name = format!("callflow_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("can create a test database");
        let _ = conn.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Some(Self {
            url: format!("{base}/{name}"),
            cleanup: Cleanup::PostgresDatabase(name),
        })
    }

    /// Connects and migrates.
    pub async fn connect(&self) -> Database {
        let config = test_config(&self.url, &[]);
        let database = Database::connect(&config.database)
            .await
            .expect("test database reachable");
        database.migrate().await.expect("migrations apply");
        database
    }

    /// The engine's store on this database, migrated.
    pub async fn store(&self) -> Arc<dyn Store> {
        self.connect().await.store()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase(name) => {
                // Drop runs outside async context: use a short-lived runtime on its own thread.
                let name = name.clone();
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            use sqlx::Connection;
                            if let Ok(mut conn) =
                                sqlx::PgConnection::connect(&postgres_admin_url()).await
                            {
                                let _ = sqlx::query(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .execute(&mut conn)
                                .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// A configuration for tests: a free port, the given database, quiet logs, plus overrides.
pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut env = vec![
        ("CALLFLOW_SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("CALLFLOW_SERVER__WORKERS".to_owned(), "1".to_owned()),
        (
            "CALLFLOW_SERVER__SHUTDOWN_TIMEOUT_SECS".to_owned(),
            "1".to_owned(),
        ),
        ("CALLFLOW_DATABASE__URL".to_owned(), database_url.to_owned()),
        (
            "CALLFLOW_DATABASE__STARTUP_RETRY_SECS".to_owned(),
            "0".to_owned(),
        ),
        ("CALLFLOW_LOGGING__LEVEL".to_owned(), "warn".to_owned()),
    ];
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Config::load(None, env).expect("test configuration is valid")
}

/// A running server on a fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The server's pool (tests close it to simulate an outage).
    pub database: Database,
    client: awc::Client,
    /// Kept so the database outlives the server.
    _db: TestDb,
}

/// Starts a server on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::sqlite(), &[]).await
}

/// Starts a server on the given database with configuration overrides.
pub async fn spawn_app_on(db: TestDb, overrides: &[(&str, &str)]) -> TestApp {
    let app = Application::build(test_config(&db.url, overrides))
        .await
        .expect("server starts");
    serve(app, db)
}

/// Starts a server on the given database whose SLA monitor reads `clock`; also returns the
/// application's event publisher and SLA monitor (for tests that drive time).
pub async fn spawn_app_with_clock(
    db: TestDb,
    overrides: &[(&str, &str)],
    clock: Arc<dyn callflow::sla::Clock>,
) -> (TestApp, callflow::events::Events, callflow::sla::SlaHandle) {
    let app = Application::build_with_clock(test_config(&db.url, overrides), clock)
        .await
        .expect("server starts");
    let (events, sla) = (app.events(), app.sla());
    (serve(app, db), events, sla)
}

/// Starts a server on the given database and also returns its engine, for tests that look at
/// the running actors directly.
pub async fn spawn_app_with_engine(db: TestDb) -> (TestApp, callflow_actors::Engine) {
    let app = Application::build(test_config(&db.url, &[]))
        .await
        .expect("server starts");
    let engine = app.engine();
    (serve(app, db), engine)
}

/// Runs a built application in the background and wraps it for requests.
fn serve(app: Application, db: TestDb) -> TestApp {
    let address = format!("http://{}", app.address());
    let database = app.database();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        database,
        client: awc::Client::default(),
        _db: db,
    }
}

/// A response's status, headers and body.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: actix_web::http::header::HeaderMap,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: awc::ClientRequest, body: Option<Vec<u8>>) -> Answer {
        let mut response = match body {
            Some(body) => request.send_body(body).await,
            None => request.send().await,
        }
        .expect("request reaches the server");
        let body = response
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("body readable");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// `GET path`
    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.address)), None)
            .await
    }

    /// `POST path` with a raw body.
    pub async fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.address))
            .content_type("application/json");
        self.send(request, Some(body.into())).await
    }

    /// A request builder for anything else.
    pub fn request(&self, method: awc::http::Method, path: &str) -> awc::ClientRequest {
        self.client
            .request(method, format!("{}{path}", self.address))
    }
}

/// Runs each case (an `async fn(TestDb)`) as two tests, `<case>::sqlite` and `<case>::postgres`;
/// the Postgres one is skipped without a server (a failure under `CALLFLOW_REQUIRE_SERVICES`).
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            #[actix_web::test]
            async fn sqlite() {
                super::$case($crate::helpers::TestDb::sqlite()).await;
            }

            #[actix_web::test]
            async fn postgres() {
                if let Some(db) = $crate::helpers::TestDb::postgres().await {
                    super::$case(db).await;
                }
            }
        }
    )+};
}
pub(crate) use on_both_backends;
