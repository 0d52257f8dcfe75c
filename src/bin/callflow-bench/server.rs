//! The server under test: started in this process on a fresh database (SQLite file or a new
//! Postgres database), or a running one reached by URL. Also the process figures (peak RSS,
//! CPU) and the `/metrics` scrape.

use anyhow::Context;
use callflow::config::Config;
use callflow::startup::Application;
use callflow::store::Database;
use callflow_actors::domain::{CompanyId, StaffId};
use callflow_actors::Engine;
use std::collections::BTreeMap;
use std::path::PathBuf;
use uuid::Uuid;

/// Which embedded backend an in-process server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A fresh SQLite file in the temp directory.
    Sqlite,
    /// A fresh database on the Postgres server of `--postgres-url`.
    Postgres,
}

impl Backend {
    /// The name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A server started here, with what it needs cleaned up afterwards.
pub struct InProcess {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Its pool (the checks read through it).
    pub database: Database,
    /// Its engine (holds, active calls).
    pub engine: Engine,
    /// The demo company.
    pub company: CompanyId,
    handle: actix_web::dev::ServerHandle,
    served: actix_rt::task::JoinHandle<std::io::Result<()>>,
    scratch: Scratch,
}

enum Scratch {
    File(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

/// Starts a server on a fresh database of `backend`, with the static ceiling endpoint on and
/// `extra_staff` more staff members per demo staff member (so a long run does not run out of
/// free slots after a few hundred bookings).
pub async fn start(
    backend: Backend,
    postgres_url: &str,
    workers: usize,
    extra_staff: usize,
) -> anyhow::Result<InProcess> {
    let tag = format!("{}_{}", std::process::id(), Uuid::new_v4().simple());
    let (url, scratch) = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("callflow-bench-{tag}.db"));
            (format!("sqlite://{}", path.display()), Scratch::File(path))
        }
        Backend::Postgres => {
            let name = format!("callflow_bench_{tag}");
            create_database(postgres_url, &name).await?;
            (
                replace_database(postgres_url, &name),
                Scratch::PgDatabase {
                    admin_url: postgres_url.to_owned(),
                    name,
                },
            )
        }
    };
    let env = [
        ("CALLFLOW_SERVER__BIND", "127.0.0.1:0".to_owned()),
        ("CALLFLOW_SERVER__WORKERS", workers.to_string()),
        ("CALLFLOW_SERVER__SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
        ("CALLFLOW_SERVER__BENCH_STATIC_ENDPOINT", "true".to_owned()),
        ("CALLFLOW_DATABASE__URL", url),
        ("CALLFLOW_DATABASE__STARTUP_RETRY_SECS", "0".to_owned()),
        ("CALLFLOW_DATABASE__SEED_DEMO_WHEN_EMPTY", "true".to_owned()),
    ];
    let config = Config::load(None, env.into_iter().map(|(k, v)| (k.to_owned(), v)))
        .context("the bench server's configuration")?;
    let app = Application::build(config)
        .await
        .context("cannot start the server under test")?;
    let url = format!("http://{}", app.address());
    let database = app.database();
    let engine = app.engine();
    let handle = app.handle();
    let served = actix_rt::spawn(app.run_until_stopped());
    let store = database.store();
    let company = store
        .company_by_slug(callflow::seed::COMPANY_SLUG)
        .await?
        .context("the demo company was not seeded")?
        .id;
    if extra_staff > 0 {
        for staff in store.list_staff(None).await? {
            for k in 0..extra_staff {
                let mut twin = staff.clone();
                twin.id = StaffId(Uuid::new_v5(
                    &staff.id.0,
                    format!("callflow-bench-{k}").as_bytes(),
                ));
                twin.name = format!("{} (Lasttest {k})", staff.name);
                twin.email = None;
                store.upsert_staff(&twin).await?;
            }
        }
        engine.reload(None).await?;
    }
    Ok(InProcess {
        url,
        database,
        engine,
        company,
        handle,
        served,
        scratch,
    })
}

impl InProcess {
    /// Stops the server (its pending writes are flushed) and removes the scratch database.
    pub async fn stop(self, keep: bool) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        let _ = self.served.await;
        if keep {
            return Ok(());
        }
        match self.scratch {
            Scratch::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Scratch::PgDatabase { admin_url, name } => {
                let admin = sqlx::PgPool::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
            }
        }
        Ok(())
    }
}

/// `CREATE DATABASE name` on the server of `admin_url` (`name` is ours: `[a-z0-9_]`).
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .with_context(|| format!("cannot reach Postgres at {admin_url}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}

/// The same server URL with another database name.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// This process's peak and current resident memory (MiB) and CPU time (s) so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessFigures {
    /// `VmHWM`: the peak resident set.
    pub peak_rss_mb: f64,
    /// `VmRSS`: the resident set now.
    pub rss_mb: f64,
    /// User + system CPU seconds.
    pub cpu_seconds: f64,
}

/// Reads `/proc/self/status` and `/proc/self/stat` (Linux); zeros elsewhere.
pub fn process_figures() -> ProcessFigures {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    ProcessFigures {
        peak_rss_mb: kib("VmHWM:") / 1024.0,
        rss_mb: kib("VmRSS:") / 1024.0,
        cpu_seconds: cpu_seconds(&stat),
    }
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds (clock ticks of 1/100 s, the value
/// of `sysconf(_SC_CLK_TCK)` on every Linux architecture we run on).
pub fn cpu_seconds(stat: &str) -> f64 {
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Sums of the server's Prometheus samples per metric name (histogram buckets left out; `_sum`
/// and `_count` kept), for the report's server-side figures.
pub fn metric_sums(text: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        if name.ends_with("_bucket") {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *sums.entry(name.to_owned()).or_insert(0.0) += v;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_database_replaces_only_the_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/db?sslmode=disable", "b2"),
            "postgres://u:p@h/b2?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "b3"), "postgres://h/b3");
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "42 (my (odd) bin) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0";
        assert!((cpu_seconds(stat) - 3.0).abs() < 1e-9);
        assert_eq!(cpu_seconds("garbage"), 0.0);
    }

    #[test]
    fn metric_sums_add_label_sets_and_skip_buckets() {
        let text = "# HELP x y\nreq_total{a=\"1\"} 2\nreq_total{a=\"2\"} 3\n\
                    lat_seconds_bucket{le=\"0.1\"} 9\nlat_seconds_count 4\n";
        let sums = metric_sums(text);
        assert_eq!(sums["req_total"], 5.0);
        assert_eq!(sums["lat_seconds_count"], 4.0);
        assert!(!sums.contains_key("lat_seconds_bucket"));
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let f = process_figures();
        assert!(f.peak_rss_mb > 0.0 && f.peak_rss_mb >= f.rss_mb * 0.99);
    }
}
