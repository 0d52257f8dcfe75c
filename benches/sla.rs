//! The SLA monitor at scale, and opening callbacks on Postgres:
//!
//! 1. heap bytes of the SLA schedule holding 100,000 watched callbacks, and of the monitor actor
//!    rebuilt from a store holding as many (counted exactly by an instrumented allocator, net
//!    of everything freed again; the store's own rows are allocated before counting starts);
//! 2. firing lateness with the real clock: 100,000 "approaching" points spread over 3 seconds,
//!    each measured from its due time to the moment its event was published (the monitor's
//!    one timer, popping, loading the callback and publishing included);
//! 3. `open_callback` (automatic assignment included) on Postgres, 8 clients at once: latency
//!    percentiles. Skipped without Postgres (`CALLFLOW_TEST_POSTGRES_URL`).
//!
//! `cargo bench --bench sla` runs the full sizes; `cargo test --bench sla` (CI) runs small ones.

use async_trait::async_trait;
use callflow::app::{Callbacks, Settings};
use callflow::config::Config;
use callflow::events::{DomainEvent, EventListener, Events};
use callflow::sla::{SlaHandle, SystemClock};
use callflow::store::Database;
use callflow_actors::domain::assignment::AssignmentRules;
use callflow_actors::domain::callback::{CallbackDraft, CallbackPolicy};
use callflow_actors::domain::sla::{SlaRules, SlaSchedule, Source, Watch};
use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::store::prelude::*;
use chrono::{DateTime, Duration, Utc};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Net heap bytes allocated while `work` runs, and what it returned (kept alive).
fn net_bytes<T>(work: impl FnOnce() -> T) -> (i64, T) {
    let region = Region::new(GLOBAL);
    let kept = work();
    let change = region.change();
    (
        change.bytes_allocated as i64 - change.bytes_deallocated as i64,
        kept,
    )
}

struct Sizes {
    watched: usize,
    lateness_points: usize,
    lateness_spread_ms: i64,
    opens_per_client: usize,
}

fn callback(
    company: CompanyId,
    i: usize,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CallbackRequest {
    CallbackRequest {
        id: CallbackId::new(),
        company_id: company,
        branch_id: None,
        customer_id: None,
        phone: E164Number::parse(&format!("+49151{:08}", i)).expect("valid"),
        name: None,
        reason: "Rückruf".into(),
        notes: None,
        priority: Priority::Normal,
        status: CallbackStatus::Pending,
        assigned_staff_id: None,
        assignment_reason: None,
        language: None,
        source_call_id: None,
        scheduled_for: None,
        due_at: due,
        attempts: 0,
        escalation_level: 0,
        version: 1,
        created_at: now,
        updated_at: now,
        assigned_at: None,
        contacted_at: None,
        completed_at: None,
    }
}

/// The callback use cases over `store`, with the default rules.
fn callbacks(
    store: Arc<dyn Store>,
    engine: Option<callflow_actors::Engine>,
    events: Events,
    assignment: Option<AssignmentRules>,
) -> Callbacks {
    let settings = Settings {
        callbacks: CallbackPolicy::default(),
        auto_assign: assignment.is_some(),
        assignment: assignment.unwrap_or_default(),
        sla: SlaRules::default(),
    };
    Callbacks::new(store, engine, events, Arc::new(SystemClock), settings)
}

fn schedule_bytes(n: usize) {
    let now = Utc::now();
    let company = CompanyId::new();
    let watches: Vec<Watch> = (0..n)
        .map(|i| Watch {
            callback_id: CallbackId::new(),
            company_id: company,
            status: CallbackStatus::Pending,
            priority: Priority::Normal,
            due_at: now + Duration::seconds(i as i64),
            level: 0,
            version: 1,
        })
        .collect();
    let (bytes, schedule) = net_bytes(|| {
        let mut s = SlaSchedule::new(SlaRules::default(), CallbackPolicy::default());
        for w in &watches {
            s.watch(w, Source::Rebuild, now);
        }
        s
    });
    assert_eq!(schedule.len(), n);
    println!(
        "sla schedule: {n} watched callbacks in {:.1} MiB ({} bytes each)",
        bytes as f64 / 1_048_576.0,
        bytes / n as i64
    );
}

fn actor_bytes(system: &actix::SystemRunner, n: usize) {
    let now = Utc::now();
    let company = CompanyId::new();
    let store = Arc::new(MemoryStore::new());
    system.block_on(async {
        for i in 0..n {
            let due = now + Duration::days(1) + Duration::seconds(i as i64);
            store
                .insert_callback(&callback(company, i, due, now))
                .await
                .expect("stored");
        }
    });
    let started = Instant::now();
    let (bytes, sla) = net_bytes(|| {
        system.block_on(async {
            let sla = SlaHandle::start(
                callbacks(store.clone(), None, Events::new(), None),
                Arc::new(SystemClock),
            );
            let (watched, _) = sla.watched().await.expect("monitor alive");
            assert_eq!(watched, n, "every open callback is watched");
            sla
        })
    });
    println!(
        "sla monitor actor rebuilt from the store: {n} callbacks in {:.1} MiB ({} bytes each), \
         rebuild {:.2} s (memory store)",
        bytes as f64 / 1_048_576.0,
        bytes / n as i64,
        started.elapsed().as_secs_f64()
    );
    drop(sla);
}

/// Records when each approaching event was published and for which point.
#[derive(Default)]
struct Lateness(Mutex<Vec<f64>>);

#[async_trait]
impl EventListener for Lateness {
    async fn on_event(&self, event: &DomainEvent) {
        let due = event.data["due_at"]
            .as_str()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok());
        if let Some(due) = due {
            // Normal priority: warned 60 minutes ahead.
            let point = due.with_timezone(&Utc) - Duration::minutes(60);
            let late = (Utc::now() - point).num_microseconds().unwrap_or(i64::MAX);
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(late as f64 / 1e6);
        }
    }
}

fn firing_lateness(system: &actix::SystemRunner, n: usize, spread_ms: i64) {
    let store = Arc::new(MemoryStore::new());
    let events = Events::new();
    let recorder = Arc::new(Lateness::default());
    events.subscribe(recorder.clone());
    let company = CompanyId::new();
    system.block_on(async {
        let sla = SlaHandle::start(
            callbacks(store.clone(), None, events.clone(), None),
            Arc::new(SystemClock),
        );
        sla.watched().await.expect("monitor alive");
        let now = Utc::now();
        let first = now + Duration::seconds(2);
        for i in 0..n {
            let point = first + Duration::microseconds(spread_ms * 1000 * i as i64 / n as i64);
            let cb = callback(company, i, point + Duration::minutes(60), now);
            store.insert_callback(&cb).await.expect("stored");
            sla.changed(&cb);
        }
        let (watched, _) = sla.watched().await.expect("monitor alive");
        assert_eq!(watched, n);
        if Utc::now() >= first {
            // A measurement, not a check: on a loaded machine the inserts may take longer.
            println!(
                "sla firing lateness: the inserts took longer than 2 s; lateness includes that"
            );
        }
        // Real time must pass here: the points are 2 to 2 + spread seconds ahead.
        let give_up = Instant::now() + std::time::Duration::from_millis(spread_ms as u64 + 30_000);
        loop {
            actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
            let done = recorder.0.lock().unwrap_or_else(|p| p.into_inner()).len();
            if done >= n || Instant::now() > give_up {
                break;
            }
        }
    });
    let mut late = recorder.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(late.len(), n, "every point fired");
    late.sort_by(f64::total_cmp);
    let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize] * 1000.0;
    println!(
        "sla firing lateness, {n} points over {:.1} s, real clock: p50 {:.2} ms, p99 {:.2} ms, \
         max {:.2} ms (goal: all within 1000 ms)",
        spread_ms as f64 / 1000.0,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

fn postgres_open_latency(system: &actix::SystemRunner, per_client: usize) {
    const CLIENTS: usize = 8;
    let admin = std::env::var("CALLFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("callflow_bench_sla_{}", uuid::Uuid::new_v4().simple());
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    let created = system.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .ok()?;
        Some(())
    });
    if created.is_none() {
        println!("open_callback on Postgres: skipped (no Postgres at {admin})");
        return;
    }
    let env = [
        (
            "CALLFLOW_DATABASE__URL".to_owned(),
            format!("{base}/{name}"),
        ),
        (
            "CALLFLOW_DATABASE__MAX_CONNECTIONS".to_owned(),
            CLIENTS.to_string(),
        ),
        ("CALLFLOW_LOGGING__LEVEL".to_owned(), "warn".to_owned()),
    ];
    let config = Config::load(None, env).expect("bench configuration is valid");
    let latencies = system.block_on(async {
        let database = Database::connect(&config.database).await.expect("connects");
        database.migrate().await.expect("migrates");
        let store = database.store();
        let demo = callflow::seed::seed_demo(&*store).await.expect("seeded");
        let branches = store
            .list_branches(Some(demo.company_id))
            .await
            .expect("branches");
        // As in the server: the engine's cached branch facts feed assignment.
        let engine = callflow_actors::Engine::start(store.clone(), config.engine_settings())
            .await
            .expect("engine starts");
        let events = Events::new();
        let clients = (0..CLIENTS).map(|client| {
            let store = store.clone();
            let engine = engine.clone();
            let events = events.clone();
            let branch = branches[client % branches.len()].id;
            async move {
                let assigning = callbacks(
                    store.clone(),
                    Some(engine.clone()),
                    events.clone(),
                    Some(AssignmentRules {
                        // Someone qualifies whatever time the bench runs.
                        horizon: Duration::days(7),
                    }),
                );
                let plain = callbacks(store.clone(), Some(engine.clone()), events.clone(), None);
                // Interleaved, so both see the same load: even requests assign, odd do not.
                let (mut with, mut without) = (Vec::new(), Vec::new());
                for i in 0..per_client * 2 {
                    let draft = CallbackDraft {
                        company_id: demo.company_id,
                        branch_id: Some(branch),
                        customer_id: None,
                        phone: E164Number::parse(&format!("+4917{client:02}{i:07}"))
                            .expect("valid"),
                        name: None,
                        reason: "Bitte um Rückruf wegen Zahnreinigung".into(),
                        notes: None,
                        priority: None,
                        language: Some(Language::DE),
                        source_call_id: None,
                        scheduled_for: None,
                    };
                    let opening = if i % 2 == 0 { &assigning } else { &plain };
                    let started = Instant::now();
                    opening.open(draft, false, None).await.expect("opened");
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    match i % 2 {
                        0 => with.push(ms),
                        _ => without.push(ms),
                    }
                }
                (with, without)
            }
        });
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for (w, wo) in futures_util::future::join_all(clients).await {
            with.extend(w);
            without.extend(wo);
        }
        database.close().await;
        (with, without)
    });
    system.block_on(async {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    });
    let (with, without) = latencies;
    for (what, mut sorted) in [
        ("with automatic assignment", with),
        ("without assignment (baseline)", without),
    ] {
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
        println!(
            "open_callback {what} on Postgres, {CLIENTS} clients x {per_client}: p50 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms (goal: p99 <= 5 ms)",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        Sizes {
            watched: 100_000,
            lateness_points: 100_000,
            lateness_spread_ms: 3_000,
            opens_per_client: 250,
        }
    } else {
        Sizes {
            watched: 10_000,
            lateness_points: 2_000,
            lateness_spread_ms: 500,
            opens_per_client: 10,
        }
    };
    let system = actix::System::new();
    schedule_bytes(sizes.watched);
    actor_bytes(&system, sizes.watched);
    firing_lateness(&system, sizes.lateness_points, sizes.lateness_spread_ms);
    postgres_open_latency(&system, sizes.opens_per_client);
}
