//! Callback list and statistics queries of the admin API on 100,000 callbacks, on SQLite and
//! Postgres: the store calls the handlers make, timed one at a time (no concurrency).
//!
//! `cargo bench --bench admin` loads 100,000 rows per backend and prints p50/p95/max per
//! query; `cargo test --bench admin` runs the same code on 2,000 rows as a quick check that it
//! still works (its timings mean nothing). Postgres is skipped when it is not reachable
//! (`CALLFLOW_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).

use callflow::config::Config;
use callflow::seed;
use callflow::store::Database;
use callflow_actors::admin_query::{CallbackSort, StatsQuery};
use callflow_actors::domain::*;
use callflow_actors::{CallbackFilter, Store};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::time::Instant;

/// Rows per insert statement (25 columns: well under both backends' bind limits).
const BATCH: usize = 400;

fn config(url: &str) -> Config {
    let env = [
        ("CALLFLOW_DATABASE__URL".to_owned(), url.to_owned()),
        (
            "CALLFLOW_DATABASE__STARTUP_RETRY_SECS".to_owned(),
            "0".to_owned(),
        ),
        ("CALLFLOW_LOGGING__LEVEL".to_owned(), "warn".to_owned()),
    ];
    Config::load(None, env).expect("bench configuration")
}

/// A deterministic pseudo-random sequence (xorshift), so every run loads the same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One callback of a realistic mix: 90 days of history, most closed (open ones at most two
/// days old), 70/20/10 % priorities.
fn row(demo: &seed::Demo, rng: &mut Rng, now: DateTime<Utc>, i: usize) -> CallbackRequest {
    let created_at = now - Duration::seconds(rng.below(90 * 86_400) as i64);
    let priority = match rng.below(10) {
        0 => Priority::Urgent,
        1 | 2 => Priority::High,
        _ => Priority::Normal,
    };
    let sla = match priority {
        Priority::Urgent => Duration::hours(1),
        Priority::High => Duration::hours(4),
        Priority::Normal => Duration::hours(24),
    };
    let branch = &demo.branches[rng.below(demo.branches.len() as u64) as usize];
    let staff: Vec<&Staff> = demo
        .staff
        .iter()
        .filter(|s| s.branch_id == branch.id)
        .collect();
    let assignee = staff
        .get(rng.below(staff.len().max(1) as u64) as usize)
        .map(|s| s.id);
    let status = match rng.below(20) {
        0 | 1 => CallbackStatus::Pending,
        2 | 3 => CallbackStatus::Assigned,
        4 => CallbackStatus::Contacted,
        5 | 6 => CallbackStatus::Cancelled,
        7 => CallbackStatus::Expired,
        _ => CallbackStatus::Completed,
    };
    // The SLA monitor closes what stays open past its deadline: open callbacks are recent.
    let status = if status.is_open() && now - created_at > Duration::days(2) {
        CallbackStatus::Expired
    } else {
        status
    };
    let after =
        |rng: &mut Rng, max: i64| created_at + Duration::seconds(rng.below(max as u64) as i64);
    let assigned_at = (status != CallbackStatus::Pending).then(|| after(rng, 1800));
    let contacted_at = matches!(
        status,
        CallbackStatus::Contacted | CallbackStatus::Completed
    )
    .then(|| after(rng, 2 * sla.num_seconds()));
    let completed_at = (!status.is_open()).then(|| after(rng, 3 * sla.num_seconds()));
    CallbackRequest {
        id: CallbackId::new(),
        company_id: demo.company.id,
        branch_id: Some(branch.id),
        customer_id: None,
        phone: format!("+49151{:08}", i % 100_000_000)
            .parse()
            .expect("phone"),
        name: None,
        reason: "Rückruf erbeten".into(),
        notes: None,
        priority,
        status,
        assigned_staff_id: assigned_at.and(assignee),
        assignment_reason: None,
        language: None,
        source_call_id: None,
        scheduled_for: None,
        due_at: created_at + sla,
        attempts: 0,
        escalation_level: 0,
        version: 1,
        created_at,
        updated_at: completed_at
            .or(contacted_at)
            .or(assigned_at)
            .unwrap_or(created_at),
        assigned_at,
        contacted_at,
        completed_at,
    }
}

/// Bulk insert for one backend (multi-row VALUES, all in one transaction).
macro_rules! load {
    ($pool:expr, $db:ty, $rows:expr, $analyze:literal) => {{
        let mut tx = $pool.begin().await.expect("begin");
        for chunk in $rows.chunks(BATCH) {
            let mut builder = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO callback_requests (id, company_id, branch_id, customer_id, phone, name,
                 reason, notes, priority, priority_rank, status, assigned_staff_id, assignment_reason,
                 language, source_call_id, scheduled_for, due_at, attempts, escalation_level, version,
                 created_at, updated_at, assigned_at, contacted_at, completed_at) ",
            );
            builder.push_values(chunk, |mut b, c: &CallbackRequest| {
                b.push_bind(c.id.0)
                    .push_bind(c.company_id.0)
                    .push_bind(c.branch_id.map(|x| x.0))
                    .push_bind(c.customer_id.map(|x| x.0))
                    .push_bind(c.phone.as_str().to_owned())
                    .push_bind(c.name.clone())
                    .push_bind(c.reason.clone())
                    .push_bind(c.notes.clone())
                    .push_bind(c.priority.as_str())
                    .push_bind(c.priority.rank())
                    .push_bind(c.status.as_str())
                    .push_bind(c.assigned_staff_id.map(|x| x.0))
                    .push_bind(c.assignment_reason.clone())
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(c.scheduled_for)
                    .push_bind(c.due_at)
                    .push_bind(0i32)
                    .push_bind(0i32)
                    .push_bind(c.version)
                    .push_bind(c.created_at)
                    .push_bind(c.updated_at)
                    .push_bind(c.assigned_at)
                    .push_bind(c.contacted_at)
                    .push_bind(c.completed_at);
            });
            builder.build().execute(&mut *tx).await.expect("bulk insert");
        }
        tx.commit().await.expect("commit");
        sqlx::query($analyze).execute($pool).await.expect("analyze");
    }};
}

/// Times `f` `runs` times after one warm-up; p50, p95 and max in milliseconds.
async fn time<F, Fut>(runs: usize, mut f: F) -> (f64, f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    f().await;
    let mut samples: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(f().await);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

async fn measure(name: &str, database: &Database, rows: usize, runs: usize) {
    database.migrate().await.expect("migrations");
    let store: Arc<dyn Store> = database.store();
    seed::seed_demo(&*store).await.expect("seed");
    let demo = seed::demo_data();
    let now = Utc::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let all: Vec<CallbackRequest> = (0..rows).map(|i| row(&demo, &mut rng, now, i)).collect();
    let started = Instant::now();
    match database {
        Database::Sqlite(pool) => load!(pool, sqlx::Sqlite, all, "ANALYZE"),
        // As autovacuum would in steady state: fresh statistics and a visibility map, so the
        // covering indexes answer without visiting the table.
        Database::Postgres(pool) => load!(
            pool,
            sqlx::Postgres,
            all,
            "VACUUM ANALYZE callback_requests"
        ),
    }
    println!(
        "{name}: loaded {rows} callbacks in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let company = demo.company.id;
    let berlin = demo.branches[0].id;
    let list = |filter: CallbackFilter| {
        let store = store.clone();
        move || {
            let store = store.clone();
            async move {
                store
                    .find_callbacks(company, &filter)
                    .await
                    .expect("list")
                    .len()
            }
        }
    };
    let first_page = store
        .find_callbacks(
            company,
            &CallbackFilter {
                sort: CallbackSort::CreatedDesc,
                ..CallbackFilter::default()
            },
        )
        .await
        .expect("page");
    let cursor = first_page
        .last()
        .map(|c| CallbackSort::CreatedDesc.cursor_of(c));
    let cases: Vec<(&str, CallbackFilter)> = vec![
        ("list: queue order, 100", CallbackFilter::default()),
        (
            "list: status=pending",
            CallbackFilter {
                status: Some(CallbackStatus::Pending),
                ..CallbackFilter::default()
            },
        ),
        (
            "list: branch (manager view)",
            CallbackFilter {
                branch_id: Some(berlin),
                ..CallbackFilter::default()
            },
        ),
        (
            "list: overdue",
            CallbackFilter {
                overdue_at: Some(now),
                ..CallbackFilter::default()
            },
        ),
        (
            "list: priority=urgent, due_at",
            CallbackFilter {
                priority: Some(Priority::Urgent),
                sort: CallbackSort::DueAsc,
                ..CallbackFilter::default()
            },
        ),
        (
            "list: -created_at, page 2",
            CallbackFilter {
                sort: CallbackSort::CreatedDesc,
                after: cursor,
                ..CallbackFilter::default()
            },
        ),
    ];
    for (label, filter) in cases {
        let (p50, p95, max) = time(runs, list(filter)).await;
        println!("{name}: {label:<32} p50 {p50:7.2} ms  p95 {p95:7.2} ms  max {max:7.2} ms");
    }
    for (label, branch) in [
        ("stats: company, 30 days", None),
        ("stats: branch, 30 days", Some(berlin)),
    ] {
        let query = StatsQuery {
            branch_id: branch,
            now,
            today_start: now - Duration::hours(10),
            window_start: now - Duration::days(30),
        };
        let store = store.clone();
        let (p50, p95, max) = time(runs, || {
            let store = store.clone();
            async move {
                store
                    .callback_stats(company, &query)
                    .await
                    .expect("stats")
                    .staff_load
                    .len()
            }
        })
        .await;
        println!("{name}: {label:<32} p50 {p50:7.2} ms  p95 {p95:7.2} ms  max {max:7.2} ms");
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rows, runs) = if full { (100_000, 50) } else { (2_000, 3) };
    let system = actix::System::new();
    system.block_on(async move {
        let dir = std::env::temp_dir().join(format!(
            "callflow-bench-admin-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let url = format!("sqlite://{}/bench.db", dir.display());
        let sqlite = Database::connect(&config(&url).database)
            .await
            .expect("sqlite");
        measure("sqlite", &sqlite, rows, runs).await;
        drop(sqlite);
        let _ = std::fs::remove_dir_all(&dir);

        let admin = std::env::var("CALLFLOW_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        use sqlx::Connection;
        let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
            println!("postgres: not reachable at {admin}, skipped");
            return;
        };
        let name = format!("callflow_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let postgres = Database::connect(&config(&format!("{base}/{name}")).database)
            .await
            .expect("postgres");
        measure("postgres", &postgres, rows, runs).await;
        if let Database::Postgres(pool) = &postgres {
            pool.close().await;
        }
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    });
}
