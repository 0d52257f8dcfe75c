//! Per-step latency histograms (HDR, microseconds), error kinds and answer outcomes.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The steps of a simulated call, named after Retell's events and custom functions; the JSON
/// report's `steps.<name>` keys.
pub const STEPS: [&str; 7] = [
    "call_inbound",
    "call_started",
    "check_availability",
    "book_appointment",
    "request_callback",
    "call_ended",
    "call_analyzed",
];

/// Highest latency tracked exactly: one minute, in microseconds (longer ones saturate).
const MAX_MICROS: u64 = 60_000_000;

/// Why a request did not get a usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// No answer in time.
    Timeout,
    /// The connection failed or broke.
    Transport,
    /// A 4xx answer.
    Client4xx,
    /// A 5xx answer.
    Server5xx,
    /// A 200 whose body is not the JSON expected.
    BadBody,
}

impl ErrorKind {
    /// The key in `errors_by_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::Client4xx => "http_4xx",
            Self::Server5xx => "http_5xx",
            Self::BadBody => "bad_body",
        }
    }
}

/// One step's measurements.
#[derive(Debug, Clone)]
pub struct StepStats {
    latency: Histogram<u64>,
    errors: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
}

impl Default for StepStats {
    fn default() -> Self {
        Self {
            // Three significant digits over 1 µs..60 s: ~0.1% error, a few hundred KiB each.
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("constant histogram bounds are valid"),
            errors: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }
}

/// Every step's measurements for one run (or one phase of a sweep).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    steps: BTreeMap<&'static str, StepStats>,
}

impl Recorder {
    /// Records a request's latency, counted from its intended send time, and how it ended.
    pub fn record(
        &mut self,
        step: &'static str,
        latency: Duration,
        result: Result<&str, ErrorKind>,
    ) {
        let stats = self.steps.entry(step).or_default();
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        stats.latency.saturating_record(micros.min(MAX_MICROS));
        match result {
            Ok(outcome) => *stats.outcomes.entry(outcome.to_owned()).or_default() += 1,
            Err(kind) => *stats.errors.entry(kind.as_str()).or_default() += 1,
        }
    }

    /// Requests recorded, over every step.
    pub fn requests(&self) -> u64 {
        self.steps
            .iter()
            .filter(|(name, _)| STEPS.contains(name))
            .map(|(_, s)| s.latency.len())
            .sum()
    }

    /// Failed requests, over every step.
    pub fn errors(&self) -> u64 {
        self.steps.values().flat_map(|s| s.errors.values()).sum()
    }

    /// Failed requests by kind, over every step.
    pub fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (k, n) in self.steps.values().flat_map(|s| s.errors.iter()) {
            *out.entry((*k).to_owned()).or_default() += n;
        }
        out
    }

    /// Every step of [`STEPS`] (zeros for steps that never ran), for the report.
    pub fn summaries(&self) -> BTreeMap<String, StepSummary> {
        STEPS
            .iter()
            .map(|step| {
                let summary = self
                    .steps
                    .get(step)
                    .map(StepSummary::of)
                    .unwrap_or_default();
                ((*step).to_owned(), summary)
            })
            .collect()
    }

    /// One recorded series by name (also ones outside [`STEPS`], such as `admission`).
    pub fn summary(&self, name: &str) -> Option<StepSummary> {
        self.steps.get(name).map(StepSummary::of)
    }

    /// The highest p99 over all steps, in milliseconds.
    pub fn worst_p99_ms(&self) -> f64 {
        self.steps
            .iter()
            .filter(|(name, _)| STEPS.contains(name))
            .map(|(_, s)| s)
            .map(|s| micros_to_ms(s.latency.value_at_quantile(0.99)))
            .fold(0.0, f64::max)
    }
}

/// Milliseconds with microsecond resolution (three decimals).
fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// One step in the report: `steps.<step>.{count, errors, p50_ms, …}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepSummary {
    /// Requests sent (answered or not).
    pub count: u64,
    /// Requests without a usable answer.
    pub errors: u64,
    /// Median latency from the intended send time.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Failed requests by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Answered requests by the answer's `ok`/`error` code (`ok`, `slot_taken`, `no_slots`, …).
    pub outcomes: BTreeMap<String, u64>,
}

impl StepSummary {
    fn of(stats: &StepStats) -> Self {
        let h = &stats.latency;
        Self {
            count: h.len(),
            errors: stats.errors.values().sum(),
            p50_ms: micros_to_ms(h.value_at_quantile(0.50)),
            p90_ms: micros_to_ms(h.value_at_quantile(0.90)),
            p99_ms: micros_to_ms(h.value_at_quantile(0.99)),
            p999_ms: micros_to_ms(h.value_at_quantile(0.999)),
            max_ms: micros_to_ms(h.max()),
            mean_ms: (h.mean()).round() / 1000.0,
            errors_by_kind: stats
                .errors
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
            outcomes: stats.outcomes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_reported_even_when_it_never_ran() {
        let mut r = Recorder::default();
        r.record("call_inbound", Duration::from_micros(1500), Ok("ok"));
        let s = r.summaries();
        let keys: Vec<&str> = s.keys().map(String::as_str).collect();
        let mut expected = STEPS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(s["call_inbound"].count, 1);
        assert_eq!(s["book_appointment"].count, 0);
    }

    #[test]
    fn quantiles_errors_and_outcomes_are_counted_per_step() {
        let mut r = Recorder::default();
        for ms in 1..=100 {
            r.record("check_availability", Duration::from_millis(ms), Ok("ok"));
        }
        r.record(
            "check_availability",
            Duration::from_millis(5),
            Err(ErrorKind::Server5xx),
        );
        r.record(
            "check_availability",
            Duration::from_millis(5),
            Ok("no_slots"),
        );
        let s = &r.summaries()["check_availability"];
        assert_eq!(s.count, 102);
        assert_eq!(s.errors, 1);
        assert_eq!(s.errors_by_kind["http_5xx"], 1);
        assert_eq!(s.outcomes["ok"], 100);
        assert_eq!(s.outcomes["no_slots"], 1);
        assert!((s.p50_ms - 50.0).abs() < 1.0, "{}", s.p50_ms);
        assert!((s.max_ms - 100.0).abs() < 0.1, "{}", s.max_ms);
        assert_eq!(r.errors(), 1);
        assert_eq!(r.requests(), 102);
    }
}
