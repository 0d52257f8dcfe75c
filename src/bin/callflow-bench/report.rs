//! The run's report: JSON with stable keys (`--report`), a readable table on stdout and a
//! Markdown table (`--markdown`) for the README.

use crate::checks::Verdict;
use crate::compare::{HttpCeiling, Reservations};
use crate::stats::StepSummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Bumped when a key changes meaning or disappears (adding keys keeps the version).
pub const REPORT_FORMAT: u32 = 1;

/// Everything a run measured. Keys are stable; figures that could not be measured are `null`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub report_format: u32,
    /// `load`, `smoke`.
    pub mode: String,
    /// `sqlite`, `postgres` (in-process) or `remote` (`--url`).
    pub backend: String,
    /// The server driven.
    pub target: String,
    /// What was asked for.
    pub settings: Settings,
    /// Calls planned (arrivals in the run).
    pub calls_planned: u64,
    /// Calls that played every step.
    pub calls_completed: u64,
    /// Completed calls per second of the run.
    pub calls_per_second: f64,
    /// Requests per second of the run.
    pub requests_per_second: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests without a usable answer.
    pub errors: u64,
    /// Those, by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Most calls in flight at once in the harness.
    pub peak_concurrent_calls: u64,
    /// Most call actors alive at once in the server (in-process only).
    pub server_peak_active_calls: Option<u64>,
    /// Wall time of the run, first arrival to last answer.
    pub elapsed_seconds: f64,
    /// Per step (named after Retell's events and functions).
    pub steps: BTreeMap<String, StepSummary>,
    /// How long arriving calls waited for a place under `--concurrency` (part of their
    /// `call_inbound` latency, which counts from the arrival): non-zero means the cap, not the
    /// server, held calls back.
    pub admission_wait: Option<StepSummary>,
    /// Active appointments overlapping another of the same staff member.
    pub double_bookings: Option<u64>,
    /// Acknowledged bookings and callbacks missing from the database.
    pub lost_acknowledged_writes: Option<u64>,
    /// Holds left in the staff actors after every call ended.
    pub orphaned_holds: Option<u64>,
    /// Retried bookings or redelivered webhooks stored twice (or answered inconsistently).
    pub duplicate_rows: Option<u64>,
    /// The checks in detail.
    pub correctness: Option<Verdict>,
    /// Holds taken by hang-up calls that then never booked (in-process only); each must be
    /// released when its call ends, or `orphaned_holds` counts it.
    pub hangup_holds_taken: u64,
    /// Peak resident memory of the server process (in-process: server and harness together).
    pub server_peak_rss_mb: Option<f64>,
    /// Resident memory at the end.
    pub server_rss_mb: Option<f64>,
    /// The server's resident memory as its `/metrics` reported it, highest of one-second samples.
    pub server_sampled_peak_rss_mb: Option<f64>,
    /// CPU seconds used during the run (in-process: server and harness together).
    pub server_cpu_seconds: Option<f64>,
    /// Those as a percentage of one core over the run.
    pub server_cpu_percent: Option<f64>,
    /// Sums of the server's `/metrics` samples by name after the run.
    pub server_metrics: BTreeMap<String, f64>,
    /// Mean request time inside the server (its own histogram's sum ÷ count), over the whole
    /// run including the comparisons' requests made before the scrape.
    pub server_mean_request_ms: Option<f64>,
    /// The rate sweep, when asked for.
    pub sweep: Option<Sweep>,
    /// Side-by-side figures.
    pub comparison: Comparison,
    /// The project's goals against what was measured.
    pub goals: Vec<Goal>,
    /// Caveats of this run.
    pub notes: Vec<String>,
}

/// The options of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// `--seed`.
    pub seed: u64,
    /// `--concurrency`: most calls active at once.
    pub concurrency: usize,
    /// Offered arrival rate, calls per second.
    pub rate: f64,
    /// `--duration` in seconds (arrivals).
    pub duration_secs: f64,
    /// `--think-ms`.
    pub think_ms: u64,
    /// Shares of the call mix.
    pub contended_share: f64,
    /// Callback share.
    pub callback_share: f64,
    /// Hang-up share.
    pub hangup_share: f64,
    /// Share of calls whose booking and `call_ended` are sent twice.
    pub duplicate_share: f64,
    /// Server worker threads (0: one per core).
    pub server_workers: usize,
    /// Staff added per demo staff member.
    pub extra_staff: usize,
}

/// A rate sweep: short open-loop phases at rising rates.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sweep {
    /// Each phase.
    pub points: Vec<SweepPoint>,
    /// The highest offered rate still served within bounds.
    pub knee_calls_per_second: Option<f64>,
    /// What "within bounds" meant.
    pub criterion: String,
}

/// One phase of a sweep.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepPoint {
    /// The phase's nominal rate, calls per second.
    pub nominal_calls_per_second: f64,
    /// Calls actually planned per second of the phase (Poisson arrivals vary around nominal).
    pub offered_calls_per_second: f64,
    /// Completed calls per second of arrival time.
    pub achieved_calls_per_second: f64,
    /// Highest p99 of any step.
    pub worst_p99_ms: f64,
    /// `check_availability` p99.
    pub check_availability_p99_ms: f64,
    /// `book_appointment` p99.
    pub book_appointment_p99_ms: f64,
    /// Failed requests.
    pub errors: u64,
    /// Requests sent.
    pub requests: u64,
    /// Whether it is within bounds.
    pub within_bounds: bool,
}

/// The side-by-side figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Reservation under contention: actors vs Redis vs Postgres.
    pub reservations: Option<Reservations>,
    /// Webhook vs the static ceiling.
    pub http: Option<HttpCeiling>,
    /// What was skipped, and why.
    pub notes: Vec<String>,
}

/// A goal of the project and what this run says about it.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// The goal.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// `true`/`false`, or `null` when this run cannot tell.
    pub met: Option<bool>,
}

impl Report {
    /// Fills `goals` from the figures.
    pub fn evaluate_goals(&mut self) {
        let step = |name: &str| self.steps.get(name).map(|s| s.p99_ms);
        let postgres = self.backend == "postgres";
        let mut goals = Vec::new();
        // Sustained: that many calls in flight while completing (nearly) all that were offered.
        let reached = self.peak_concurrent_calls >= 1000;
        let kept_up = self.calls_per_second >= 0.95 * self.settings.rate;
        goals.push(Goal {
            goal: "1,000 concurrent calls sustained".into(),
            measured: format!(
                "peak {} calls in flight, {:.1} of {:.1} calls/s offered completed, {} errors of {} requests",
                self.peak_concurrent_calls,
                self.calls_per_second,
                self.settings.rate,
                self.errors,
                self.requests
            ),
            met: reached.then_some(kept_up && self.errors == 0),
        });
        for (name, limit) in [
            ("call_inbound", 2.0),
            ("check_availability", 5.0),
            ("book_appointment", 10.0),
        ] {
            let p99 = step(name).unwrap_or(0.0);
            goals.push(Goal {
                goal: format!("{name} p99 <= {limit} ms on Postgres"),
                measured: format!("{p99:.2} ms on {}", self.backend),
                met: postgres.then_some(p99 <= limit),
            });
        }
        let lost = self.lost_acknowledged_writes;
        goals.push(Goal {
            goal: "zero double bookings and zero lost acknowledged writes".into(),
            measured: format!(
                "double_bookings {}, lost_acknowledged_writes {}",
                opt(self.double_bookings),
                opt(lost)
            ),
            met: match (self.double_bookings, lost) {
                (Some(d), Some(l)) => Some(d == 0 && l == 0),
                _ => None,
            },
        });
        let rss = self.server_peak_rss_mb;
        goals.push(Goal {
            goal: "server RSS <= 200 MB with 10,000 concurrent active calls".into(),
            measured: format!(
                "peak RSS {} MB with {} calls in flight (server actors: {})",
                rss.map_or("n/a".into(), |r| format!("{r:.1}")),
                self.peak_concurrent_calls,
                opt(self.server_peak_active_calls)
            ),
            met: match rss {
                Some(r) if self.peak_concurrent_calls >= 10_000 => Some(r <= 200.0),
                _ => None,
            },
        });
        if let Some(http) = &self.comparison.http {
            goals.push(Goal {
                goal: "webhook throughput >= 50% of the static-JSON ceiling".into(),
                measured: format!(
                    "{:.0} vs {:.0} req/s = {:.0}%",
                    http.webhook_rps,
                    http.static_rps,
                    http.webhook_vs_static * 100.0
                ),
                met: Some(http.webhook_vs_static >= 0.5),
            });
        }
        if let Some(r) = &self.comparison.reservations {
            goals.push(Goal {
                goal: "actor reservations >= 20x Postgres transaction".into(),
                measured: r
                    .actors_vs_postgres
                    .map_or("n/a".into(), |x| format!("{x:.1}x")),
                met: r.actors_vs_postgres.map(|x| x >= 20.0),
            });
            goals.push(Goal {
                goal: "actor reservations >= 5x Redis script".into(),
                measured: r
                    .actors_vs_redis
                    .map_or("n/a".into(), |x| format!("{x:.1}x")),
                met: r.actors_vs_redis.map(|x| x >= 5.0),
            });
        }
        self.goals = goals;
    }

    /// The readable table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(
            out,
            "callflow-bench: {} on {} ({}), seed {}, {:.1} calls/s offered for {:.0} s, think {} ms, cap {} calls",
            self.mode, self.backend, self.target, s.seed, s.rate, s.duration_secs, s.think_ms, s.concurrency
        );
        let _ = writeln!(
            out,
            "calls {}/{} completed, {:.1} calls/s, {:.1} req/s, peak {} in flight, {} errors {:?}",
            self.calls_completed,
            self.calls_planned,
            self.calls_per_second,
            self.requests_per_second,
            self.peak_concurrent_calls,
            self.errors,
            self.errors_by_kind
        );
        let _ = writeln!(
            out,
            "\n{:<20} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "step", "count", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for (name, st) in &self.steps {
            let _ = writeln!(
                out,
                "{:<20} {:>8} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, st.count, st.errors, st.p50_ms, st.p90_ms, st.p99_ms, st.p999_ms, st.max_ms
            );
        }
        if let Some(a) = &self.admission_wait {
            let _ = writeln!(
                out,
                "{:<20} {:>8} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}   (wait under the cap)",
                "(admission)", a.count, a.errors, a.p50_ms, a.p90_ms, a.p99_ms, a.p999_ms, a.max_ms
            );
        }
        let _ = writeln!(
            out,
            "\ncorrectness: double_bookings {}, lost_acknowledged_writes {}, orphaned_holds {}, duplicate_rows {}",
            opt(self.double_bookings),
            opt(self.lost_acknowledged_writes),
            opt(self.orphaned_holds),
            opt(self.duplicate_rows)
        );
        let _ = writeln!(
            out,
            "server: peak RSS {} MB, CPU {} s ({} % of a core)",
            self.server_peak_rss_mb
                .map_or("n/a".into(), |v| format!("{v:.1}")),
            self.server_cpu_seconds
                .map_or("n/a".into(), |v| format!("{v:.1}")),
            self.server_cpu_percent
                .map_or("n/a".into(), |v| format!("{v:.0}"))
        );
        if let Some(sweep) = &self.sweep {
            let _ = writeln!(out, "\nsweep ({}):", sweep.criterion);
            for p in &sweep.points {
                let _ = writeln!(
                    out,
                    "  {:>7.1} calls/s (offered {:>7.1}) -> achieved {:>7.1}, worst p99 {:>9.2} ms, errors {:>5} {}",
                    p.nominal_calls_per_second,
                    p.offered_calls_per_second,
                    p.achieved_calls_per_second,
                    p.worst_p99_ms,
                    p.errors,
                    if p.within_bounds { "ok" } else { "OVER" }
                );
            }
            let _ = writeln!(
                out,
                "  knee: {}",
                sweep
                    .knee_calls_per_second
                    .map_or("below the lowest rate".into(), |k| format!(
                        "{k:.1} calls/s"
                    ))
            );
        }
        if let Some(r) = &self.comparison.reservations {
            let _ = writeln!(
                out,
                "\nreservations ({} attempts on {} slots, {} at once):",
                r.workload.attempts, r.workload.slots, r.workload.concurrency
            );
            for (name, m) in [
                ("staff actors", &r.actors),
                ("redis lua", &r.redis_lua),
                ("postgres for update", &r.postgres_for_update),
            ] {
                match m {
                    Some(m) => {
                        let _ = writeln!(
                            out,
                            "  {name:<20} {:>10.0} attempts/s ({} won, {} errors)",
                            m.ops_per_sec, m.won, m.errors
                        );
                    }
                    None => {
                        let _ = writeln!(out, "  {name:<20} skipped");
                    }
                }
            }
        }
        if let Some(h) = &self.comparison.http {
            let _ = writeln!(
                out,
                "http: static {:.0} req/s, webhook {:.0} req/s ({:.0}%)",
                h.static_rps,
                h.webhook_rps,
                h.webhook_vs_static * 100.0
            );
        }
        for note in self.notes.iter().chain(&self.comparison.notes) {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(out, "\ngoals:");
        for g in &self.goals {
            let mark = match g.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "n/a",
            };
            let _ = writeln!(out, "  [{mark}] {}: {}", g.goal, g.measured);
        }
        out
    }

    /// A Markdown section for the README.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(
            out,
            "**{}** on {}: {:.1} calls/s offered for {:.0} s, think {} ms, cap {} calls, seed {}; \
             {:.1} calls/s completed, peak {} calls in flight, {} errors; peak RSS {} MB.\n",
            self.mode,
            self.backend,
            s.rate,
            s.duration_secs,
            s.think_ms,
            s.concurrency,
            s.seed,
            self.calls_per_second,
            self.peak_concurrent_calls,
            self.errors,
            self.server_peak_rss_mb
                .map_or("n/a".into(), |v| format!("{v:.1}"))
        );
        let _ = writeln!(
            out,
            "| step | count | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, st) in &self.steps {
            if st.count == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                st.count, st.errors, st.p50_ms, st.p90_ms, st.p99_ms, st.p999_ms, st.max_ms
            );
        }
        if let Some(a) = &self.admission_wait {
            let _ = writeln!(
                out,
                "| (wait for a place under the cap) | {} | – | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                a.count, a.p50_ms, a.p90_ms, a.p99_ms, a.p999_ms, a.max_ms
            );
        }
        let _ = writeln!(out, "\n| goal | measured | met |");
        let _ = writeln!(out, "|---|---|---|");
        for g in &self.goals {
            let mark = match g.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            };
            let _ = writeln!(out, "| {} | {} | {mark} |", g.goal, g.measured);
        }
        out
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use serde_json::Value;

    #[test]
    fn the_json_report_has_the_documented_keys() {
        let mut report = Report {
            steps: Recorder::default().summaries(),
            double_bookings: Some(0),
            ..Report::default()
        };
        report.evaluate_goals();
        let json = serde_json::to_value(&report).expect("serialisable");
        for key in [
            "double_bookings",
            "lost_acknowledged_writes",
            "orphaned_holds",
            "calls_per_second",
            "server_peak_rss_mb",
            "comparison",
            "steps",
            "errors_by_kind",
            "goals",
        ] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
        for step in [
            "call_inbound",
            "call_started",
            "check_availability",
            "book_appointment",
            "request_callback",
            "call_ended",
            "call_analyzed",
        ] {
            let s = &json["steps"][step];
            for key in [
                "count", "errors", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
            ] {
                assert!(
                    s.get(key).is_some_and(Value::is_number),
                    "steps.{step}.{key}"
                );
            }
        }
        // Unmeasured figures are null, not missing.
        assert_eq!(json["orphaned_holds"], Value::Null);
        assert!(json["comparison"].get("reservations").is_some());
    }

    #[test]
    fn latency_goals_only_count_on_postgres() {
        let mut report = Report {
            backend: "sqlite".into(),
            steps: Recorder::default().summaries(),
            ..Report::default()
        };
        report.evaluate_goals();
        let inbound = report
            .goals
            .iter()
            .find(|g| g.goal.starts_with("call_inbound"))
            .expect("goal listed");
        assert_eq!(inbound.met, None);
        report.backend = "postgres".into();
        report.evaluate_goals();
        let inbound = report
            .goals
            .iter()
            .find(|g| g.goal.starts_with("call_inbound"))
            .expect("goal listed");
        assert_eq!(inbound.met, Some(true));
    }
}
