//! `callflow-bench`: the bundled load harness. Drives simulated Retell calls (signed exactly as
//! Retell signs) against a server it starts itself or one reached by `--url`, open loop, and
//! reports latency per step, throughput, the server's memory and CPU, correctness read back
//! from the database, and side-by-side comparisons. `--smoke` is the short CI run that fails
//! (exit 1) on any correctness violation, never on a timing.

mod checks;
mod client;
mod compare;
mod load;
mod payloads;
mod report;
mod schedule;
mod server;
mod stats;
mod sweep;

use anyhow::{bail, Context};
use callflow::config::DEMO_RETELL_API_KEY;
use callflow::store::Database;
use callflow_actors::domain::slot_id::SlotRef;
use callflow_actors::domain::CompanyId;
use callflow_actors::Engine;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc, Weekday};
use clap::Parser;
use report::{Comparison, Report, Settings, Sweep, SweepPoint};
use schedule::{Mix, Rng};
use serde_json::Value;
use server::Backend;
use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// Load harness for callflow: simulated Retell calls, open loop, measured side by side.
#[derive(Debug, Parser)]
#[command(name = "callflow-bench", version)]
struct Options {
    /// Most simulated calls active at once; also sets the default rate (Little's law).
    #[arg(long, default_value_t = 1000)]
    concurrency: usize,
    /// Calls arriving per second (default: concurrency ÷ call length).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of arrivals.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seed of arrivals and call choices (the same seed replays the same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pause between a call's steps, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// The in-process server's database.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Drive a running server instead of starting one (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    url: Option<String>,
    /// The Retell API key requests are signed with (must match the server's).
    #[arg(long, env = "CALLFLOW_RETELL__API_KEY", default_value = DEMO_RETELL_API_KEY)]
    retell_api_key: String,
    /// With --url: the server's database, so the correctness checks can run.
    #[arg(long)]
    database_url: Option<String>,
    /// Postgres server for --backend postgres and the comparison (a fresh database is created).
    #[arg(
        long,
        env = "CALLFLOW_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Redis for the comparison.
    #[arg(
        long,
        env = "CALLFLOW_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// After the run, a rate sweep that finds the knee.
    #[arg(long)]
    sweep: bool,
    /// Seconds of arrivals per sweep phase.
    #[arg(long, default_value_t = 15.0)]
    sweep_phase_secs: f64,
    /// Short CI run on a fresh SQLite database; exit 1 on any correctness violation.
    #[arg(long)]
    smoke: bool,
    /// Write the JSON report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write a Markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Share of calls fighting over the same popular slots.
    #[arg(long, default_value_t = 0.2)]
    contended_share: f64,
    /// Share of calls asking for a callback.
    #[arg(long, default_value_t = 0.1)]
    callback_share: f64,
    /// Share of calls hanging up mid-booking.
    #[arg(long, default_value_t = 0.1)]
    hangup_share: f64,
    /// Share of calls whose booking and call_ended are sent twice.
    #[arg(long, default_value_t = 0.05)]
    duplicate_share: f64,
    /// Most HTTP connections the harness keeps open.
    #[arg(long, default_value_t = 512)]
    connections: usize,
    /// Per-request timeout, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// In-process server worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    server_workers: usize,
    /// Staff added per demo staff member (more free slots for long runs).
    #[arg(long, default_value_t = 8)]
    extra_staff: usize,
    /// Skip the side-by-side comparisons.
    #[arg(long)]
    no_compare: bool,
    /// Reservation attempts per method in the comparison.
    #[arg(long, default_value_t = 20_000)]
    compare_attempts: u64,
    /// Attempts in flight at once in the comparison.
    #[arg(long, default_value_t = 64)]
    compare_concurrency: usize,
    /// Slots fought over in the comparison.
    #[arg(long, default_value_t = 8)]
    compare_slots: usize,
    /// Seconds each side of the webhook-vs-static comparison runs.
    #[arg(long, default_value_t = 5.0)]
    ceiling_secs: f64,
    /// Keep the scratch database after the run.
    #[arg(long)]
    keep_db: bool,
}

impl Options {
    /// `--smoke`: modest load, a fresh SQLite database, small comparisons; well under 60 s.
    fn smoked(mut self) -> Self {
        self.backend = Backend::Sqlite;
        self.url = None;
        self.concurrency = 200;
        self.rate = Some(20.0);
        self.duration = 8.0;
        self.think_ms = 100;
        self.sweep = false;
        self.compare_attempts = 2_000;
        self.compare_concurrency = 16;
        self.ceiling_secs = 1.0;
        // Enough of each kind to exercise every check.
        self.duplicate_share = self.duplicate_share.max(0.1);
        self
    }
}

/// The practice numbers of the demo seed: Berlin, Hamburg, München.
const NUMBERS: [&str; 3] = [
    callflow::seed::BERLIN_NUMBER,
    "+494012345678",
    "+498912345678",
];
/// Services of the demo seed that every branch offers.
const SERVICES: [&str; 3] = [
    "Kontrolluntersuchung",
    "Professionelle Zahnreinigung",
    "Füllungstherapie",
];

fn main() -> std::process::ExitCode {
    let mut options = Options::parse();
    if options.smoke {
        options = options.smoked();
    }
    let result = actix_rt::System::new().block_on(run(options));
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("callflow-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The whole run; `Ok(false)` when a correctness check failed.
async fn run(o: Options) -> anyhow::Result<bool> {
    if !(o.duration > 0.0 && o.think_ms > 0 && o.concurrency > 0) {
        bail!("--duration, --think-ms and --concurrency must be positive");
    }
    let timeout = Duration::from_millis(o.timeout_ms);
    let (in_process, base_url, database) = match &o.url {
        Some(url) => {
            let database = match &o.database_url {
                Some(db) => Some(connect(db).await?),
                None => None,
            };
            (None, url.clone(), database)
        }
        None => {
            eprintln!("starting the server ({})…", o.backend.as_str());
            let app =
                server::start(o.backend, &o.postgres_url, o.server_workers, o.extra_staff).await?;
            let url = app.url.clone();
            let database = app.database.clone();
            (Some(app), url, Some(database))
        }
    };
    let target = Rc::new(client::Target::new(
        &base_url,
        &o.retell_api_key,
        o.connections,
        timeout,
    ));
    let engine = in_process.as_ref().map(|a| a.engine.clone());

    let outcome = measure(
        &o,
        target.clone(),
        engine.clone(),
        database.as_ref(),
        in_process.as_ref().map(|a| a.company),
    )
    .await;
    let stopped = match in_process {
        Some(app) => app.stop(o.keep_db).await,
        None => Ok(()),
    };
    let report = outcome?;
    stopped?;

    print!("{}", report.table());
    if let Some(path) = &o.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &o.markdown {
        std::fs::write(path, report.markdown())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let violations = report
        .correctness
        .as_ref()
        .map_or(0, checks::Verdict::violations);
    let acknowledged = report
        .correctness
        .as_ref()
        .map_or(0, |v| v.bookings_checked);
    if violations > 0 {
        eprintln!("callflow-bench: {violations} correctness violation(s)");
        return Ok(false);
    }
    if o.smoke && acknowledged == 0 {
        eprintln!("callflow-bench: no booking was acknowledged, so the smoke run checked nothing");
        return Ok(false);
    }
    Ok(true)
}

async fn connect(url: &str) -> anyhow::Result<Database> {
    let config = callflow::config::Config::load(
        None,
        [
            ("CALLFLOW_DATABASE__URL".to_owned(), url.to_owned()),
            (
                "CALLFLOW_DATABASE__STARTUP_RETRY_SECS".to_owned(),
                "0".to_owned(),
            ),
        ],
    )?;
    Ok(Database::connect(&config.database).await?)
}

/// Runs the load (and sweep, checks, comparisons) and builds the report.
async fn measure(
    o: &Options,
    target: Rc<client::Target>,
    engine: Option<Engine>,
    database: Option<&Database>,
    company: Option<CompanyId>,
) -> anyhow::Result<Report> {
    let think = Duration::from_millis(o.think_ms);
    let call_length = think * (load::STEPS_PER_CALL - 1);
    let rate = o
        .rate
        .unwrap_or_else(|| schedule::rate_for(o.concurrency, call_length));
    let mix = Mix {
        contended: o.contended_share,
        callback: o.callback_share,
        hangup: o.hangup_share,
        duplicate: o.duplicate_share,
    };
    let today = Utc::now().date_naive();
    let settings = Rc::new(load::LoadSettings {
        seed: o.seed,
        think,
        concurrency: o.concurrency,
        numbers: NUMBERS.iter().map(|n| (*n).to_owned()).collect(),
        services: SERVICES.iter().map(|s| (*s).to_owned()).collect(),
        popular_day: popular_day(today).format("%Y-%m-%d").to_string(),
        today,
        engine: engine.clone(),
    });
    let horizon = 55;
    let mut rng = Rng::new(o.seed);
    let arrivals = schedule::arrivals(rate, Duration::from_secs_f64(o.duration), &mut rng);
    let calls = schedule::plan(
        &arrivals,
        mix,
        NUMBERS.len(),
        SERVICES.len(),
        horizon,
        &mut rng,
    );
    let planned = calls.len() as u64;
    eprintln!(
        "{planned} calls at {rate:.1}/s for {:.0} s (think {} ms, cap {})…",
        o.duration, o.think_ms, o.concurrency
    );

    let peak_actors = Rc::new(Cell::new(0u64));
    let sampling = Rc::new(Cell::new(true));
    if let Some(engine) = engine.clone() {
        let (peak, sampling) = (peak_actors.clone(), sampling.clone());
        actix_rt::spawn(async move {
            while sampling.get() {
                peak.set(peak.get().max(engine.active_calls() as u64));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    // The server's own resident set, from its /metrics, once a second: the only view of a
    // remote server's memory (and, in-process, a cross-check of VmHWM).
    let sampled_rss = Rc::new(Cell::new(None::<f64>));
    {
        let (target, peak, sampling) = (target.clone(), sampled_rss.clone(), sampling.clone());
        actix_rt::spawn(async move {
            while sampling.get() {
                if let Ok(text) = target.get_text("/metrics").await {
                    if let Some(bytes) =
                        server::metric_sums(&text).get("process_resident_memory_bytes")
                    {
                        let mb = bytes / (1024.0 * 1024.0);
                        peak.set(Some(peak.get().map_or(mb, |p: f64| p.max(mb))));
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    let cpu_before = server::process_figures().cpu_seconds;
    let outcome = load::run(target.clone(), settings.clone(), calls).await;
    let cpu_used = server::process_figures().cpu_seconds - cpu_before;
    sampling.set(false);
    let figures = server::process_figures();

    let elapsed = outcome.elapsed.as_secs_f64();
    let mut report = Report {
        report_format: report::REPORT_FORMAT,
        mode: if o.smoke { "smoke" } else { "load" }.into(),
        backend: if o.url.is_some() {
            "remote".into()
        } else {
            o.backend.as_str().into()
        },
        target: target.base().to_owned(),
        settings: Settings {
            seed: o.seed,
            concurrency: o.concurrency,
            rate,
            duration_secs: o.duration,
            think_ms: o.think_ms,
            contended_share: mix.contended,
            callback_share: mix.callback,
            hangup_share: mix.hangup,
            duplicate_share: mix.duplicate,
            server_workers: o.server_workers,
            extra_staff: o.extra_staff,
        },
        calls_planned: planned,
        calls_completed: outcome.ledger.calls_completed,
        // Calls per second of arrival time: the rate the server kept up with.
        calls_per_second: outcome.ledger.calls_completed as f64
            / (elapsed - call_length.as_secs_f64()).max(o.duration),
        requests_per_second: outcome.recorder.requests() as f64 / elapsed.max(1e-9),
        requests: outcome.recorder.requests(),
        errors: outcome.recorder.errors(),
        errors_by_kind: outcome.recorder.errors_by_kind(),
        peak_concurrent_calls: outcome.ledger.peak_in_flight as u64,
        server_peak_active_calls: engine.as_ref().map(|_| peak_actors.get()),
        elapsed_seconds: elapsed,
        steps: outcome.recorder.summaries(),
        admission_wait: outcome.recorder.summary(load::ADMISSION),
        ..Report::default()
    };
    if engine.is_some() {
        report.server_peak_rss_mb = Some(figures.peak_rss_mb);
        report.server_rss_mb = Some(figures.rss_mb);
        report.server_cpu_seconds = Some(cpu_used);
        report.server_cpu_percent = Some(cpu_used / elapsed.max(1e-9) * 100.0);
        report.notes.push(
            "in-process: RSS and CPU are this process's, server and harness together (an upper bound for the server)".into(),
        );
    } else {
        report.server_peak_rss_mb = sampled_rss.get();
        report.notes.push(
            "remote server: peak RSS is the highest process_resident_memory_bytes of its /metrics, sampled once a second; CPU and holds are n/a"
                .into(),
        );
    }
    report.server_sampled_peak_rss_mb = sampled_rss.get();
    if let Ok(text) = target.get_text("/metrics").await {
        report.server_metrics = server::metric_sums(&text);
        let m = &report.server_metrics;
        if let (Some(sum), Some(count)) = (
            m.get("callflow_http_request_duration_seconds_sum"),
            m.get("callflow_http_request_duration_seconds_count"),
        ) {
            report.server_mean_request_ms = (*count > 0.0).then(|| sum / count * 1000.0);
        }
    }
    report.hangup_holds_taken = outcome.ledger.holds_taken;

    eprintln!("checking correctness…");
    match (database, company) {
        (Some(db), company) => {
            let company = match company {
                Some(c) => c,
                None => {
                    db.store()
                        .company_by_slug(callflow::seed::COMPANY_SLUG)
                        .await?
                        .context("the demo company is not in that database")?
                        .id
                }
            };
            let verdict = checks::verify(db, engine.as_ref(), company, &outcome.ledger).await?;
            report.double_bookings = Some(verdict.double_bookings);
            report.lost_acknowledged_writes = Some(verdict.lost_acknowledged_writes);
            report.orphaned_holds = verdict.orphaned_holds;
            report.duplicate_rows = Some(verdict.duplicate_rows);
            report.correctness = Some(verdict);
        }
        (None, _) => report
            .notes
            .push("no database to check (pass --database-url with --url): correctness n/a".into()),
    }
    if outcome.ledger.holds_taken == 0 && o.hangup_share > 0.0 {
        report.notes.push("hang-up calls took no hold (remote server, or no slot offered): their abandonment is only an unbooked offer".into());
    }

    if o.sweep {
        report.sweep = Some(run_sweep(o, target.clone(), settings.clone(), rate, mix).await);
    }
    if !o.no_compare {
        report.comparison = compare_all(o, target.clone(), engine.as_ref()).await;
    }
    report.evaluate_goals();
    Ok(report)
}

/// The first weekday at least three days ahead: every contended call wants its morning.
fn popular_day(today: NaiveDate) -> NaiveDate {
    let mut day = today + Days::days(3);
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += Days::days(1);
    }
    day
}

async fn run_sweep(
    o: &Options,
    target: Rc<client::Target>,
    settings: Rc<load::LoadSettings>,
    rate: f64,
    mix: Mix,
) -> Sweep {
    let mut points: Vec<SweepPoint> = Vec::new();
    let mut baseline = None;
    let call_length = settings.think * (load::STEPS_PER_CALL - 1);
    for (phase, factor) in sweep::FACTORS.iter().enumerate() {
        let offered = rate * factor;
        // Each phase has its own call ids (and callers), so nothing collides with the main run.
        let seed = o
            .seed
            .wrapping_add(1 + phase as u64)
            .wrapping_mul(0x9E37_79B9);
        let phase_settings = Rc::new(load::LoadSettings {
            seed,
            think: settings.think,
            concurrency: settings.concurrency,
            numbers: settings.numbers.clone(),
            services: settings.services.clone(),
            popular_day: settings.popular_day.clone(),
            today: settings.today,
            engine: settings.engine.clone(),
        });
        let mut rng = Rng::new(seed);
        let arrivals = schedule::arrivals(
            offered,
            Duration::from_secs_f64(o.sweep_phase_secs),
            &mut rng,
        );
        let calls = schedule::plan(&arrivals, mix, NUMBERS.len(), SERVICES.len(), 55, &mut rng);
        let planned = calls.len();
        eprintln!(
            "sweep: {offered:.1} calls/s for {:.0} s…",
            o.sweep_phase_secs
        );
        let outcome = load::run(target.clone(), phase_settings, calls).await;
        let steps = outcome.recorder.summaries();
        let arrival_time =
            (outcome.elapsed.as_secs_f64() - call_length.as_secs_f64()).max(o.sweep_phase_secs);
        let mut point = SweepPoint {
            nominal_calls_per_second: offered,
            offered_calls_per_second: planned as f64 / o.sweep_phase_secs,
            achieved_calls_per_second: outcome.ledger.calls_completed as f64 / arrival_time,
            worst_p99_ms: outcome.recorder.worst_p99_ms(),
            check_availability_p99_ms: steps.get("check_availability").map_or(0.0, |s| s.p99_ms),
            book_appointment_p99_ms: steps.get("book_appointment").map_or(0.0, |s| s.p99_ms),
            errors: outcome.recorder.errors(),
            requests: outcome.recorder.requests(),
            within_bounds: false,
        };
        let base = *baseline.get_or_insert(point.worst_p99_ms);
        point.within_bounds = sweep::within_bounds(base, &point);
        let stop = !point.within_bounds;
        points.push(point);
        // Past the knee the next phases only pile up more backlog.
        if stop {
            break;
        }
    }
    Sweep {
        knee_calls_per_second: sweep::knee(&points),
        points,
        criterion: sweep::CRITERION.into(),
    }
}

async fn compare_all(
    o: &Options,
    target: Rc<client::Target>,
    engine: Option<&Engine>,
) -> Comparison {
    let mut comparison = Comparison::default();
    eprintln!("comparing the webhook path with the static ceiling…");
    let http = compare::http_ceiling(
        target.clone(),
        o.compare_concurrency.max(1),
        o.ceiling_secs,
        o.seed,
    )
    .await;
    if http.static_rps == 0.0 {
        comparison.notes.push(
            "GET /bench/static did not answer (server.bench_static_endpoint off?): no HTTP ceiling"
                .into(),
        );
    } else {
        comparison.http = Some(http);
    }
    let Some(engine) = engine else {
        comparison.notes.push(
            "reservations: n/a against a remote server (the actors are in its process)".into(),
        );
        return comparison;
    };
    let workload = compare::Workload {
        slots: o.compare_slots.max(1),
        attempts: o.compare_attempts,
        concurrency: o.compare_concurrency.max(1),
    };
    let slots = match contended_slots(&target, engine, workload.slots).await {
        Ok(slots) => slots,
        Err(e) => {
            comparison
                .notes
                .push(format!("reservations: no slots to fight over: {e}"));
            return comparison;
        }
    };
    let workload = compare::Workload {
        slots: slots.len(),
        ..workload
    };
    let mut reservations = compare::Reservations {
        workload,
        actors: None,
        redis_lua: None,
        postgres_for_update: None,
        actors_vs_redis: None,
        actors_vs_postgres: None,
        notes: Vec::new(),
    };
    eprintln!("reservations: staff actors…");
    let actors = compare::actors(engine, &slots, workload).await;
    eprintln!("reservations: redis lua…");
    match compare::redis(&o.redis_url, workload).await {
        Ok(m) => reservations.redis_lua = Some(m),
        Err(e) => reservations.notes.push(format!("redis skipped: {e}")),
    }
    eprintln!("reservations: postgres select for update…");
    match compare::postgres(&o.postgres_url, workload).await {
        Ok(m) => reservations.postgres_for_update = Some(m),
        Err(e) => reservations.notes.push(format!("postgres skipped: {e}")),
    }
    let ratio = |other: &Option<compare::Measured>| {
        other
            .as_ref()
            .filter(|m| m.ops_per_sec > 0.0)
            .map(|m| actors.ops_per_sec / m.ops_per_sec)
    };
    reservations.actors_vs_redis = ratio(&reservations.redis_lua);
    reservations.actors_vs_postgres = ratio(&reservations.postgres_for_update);
    reservations.actors = Some(actors);
    comparison.reservations = Some(reservations);
    comparison
}

/// Real slots of the demo company to fight over, offered through `check_availability` the way a
/// call sees them (up to `n`, from the weekdays of the week after the popular day).
async fn contended_slots(
    target: &client::Target,
    engine: &Engine,
    n: usize,
) -> anyhow::Result<Vec<SlotRef>> {
    let today = Utc::now().date_naive();
    let facts = payloads::CallFacts::new(0xc0ffee, 0, NUMBERS[0], Utc::now().timestamp_millis());
    target
        .post_signed("/retell/webhook", payloads::call_started(&facts))
        .await
        .map_err(|e| anyhow::anyhow!("call_started: {}", e.as_str()))?;
    let mut slots: Vec<SlotRef> = Vec::new();
    // The week after the main run's popular day, so its bookings do not crowd the offers.
    let mut day = popular_day(today + Days::days(7));
    for _ in 0..10 {
        if slots.len() >= n {
            break;
        }
        let args = payloads::check_availability_args(
            SERVICES[0],
            &day.format("%Y-%m-%d").to_string(),
            None,
        );
        let answer = target
            .post_signed(
                "/retell/functions/check_availability",
                payloads::function(&facts, "check_availability", args),
            )
            .await
            .map_err(|e| anyhow::anyhow!("check_availability: {}", e.as_str()))?;
        slots.extend(
            answer
                .get("slots")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("slot_id").and_then(Value::as_str))
                .filter_map(|id| engine.slot_ids().decode(id).ok()),
        );
        day = popular_day(day);
    }
    slots.truncate(n);
    target
        .post_signed(
            "/retell/webhook",
            payloads::call_ended(&facts, facts.started_ms + 1000),
        )
        .await
        .map_err(|e| anyhow::anyhow!("call_ended: {}", e.as_str()))?;
    if slots.is_empty() {
        bail!("check_availability offered none in ten weekdays");
    }
    Ok(slots)
}
