//! Metric names (one place, described at install) and the Prometheus recorder.
//!
//! Labels stay low-cardinality: route patterns, never raw paths or call ids.

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Mutex;
use std::time::Duration;

/// HTTP requests served, by route pattern, method and status.
pub const HTTP_REQUESTS_TOTAL: &str = "callflow_http_requests_total";
/// HTTP request latency in seconds, by route pattern, method and status.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "callflow_http_request_duration_seconds";
/// Always 1; the labels carry the version.
pub const BUILD_INFO: &str = "callflow_build_info";
/// 1 once the database is reachable and the engine started.
pub const READY: &str = "callflow_ready";

/// Retell requests refused for their signature, by reason (missing, malformed, stale, mismatch).
pub const RETELL_SIGNATURE_FAILURES_TOTAL: &str = "callflow_retell_signature_failures_total";
/// Retell webhooks received, by event and outcome (accepted, duplicate, ignored).
pub const RETELL_WEBHOOKS_TOTAL: &str = "callflow_retell_webhooks_total";
/// Retell custom-function calls, by function and outcome (ok or the error code).
pub const RETELL_FUNCTIONS_TOTAL: &str = "callflow_retell_functions_total";
/// Inbound calls answered without a branch (the number's default agent takes them).
pub const RETELL_INBOUND_UNROUTED_TOTAL: &str = "callflow_retell_inbound_unrouted_total";

/// Admin API requests answered 429, by the limit they hit (`ip` or `token`).
pub const RATE_LIMITED_TOTAL: &str = "callflow_rate_limited_total";

/// Latency buckets: fine-grained below 10 ms, where the webhook budgets are.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How often histograms are compacted; the exporter buffers samples until then.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The recorder is global: installed once per process, shared by every server in it (tests
/// start many). A mutex rather than a `OnceLock` because installing can fail.
static RECORDER: Mutex<Option<Metrics>> = Mutex::new(None);

/// The installed recorder and the process collector, rendered on every scrape.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: std::sync::Arc<metrics_process::Collector>,
}

impl Metrics {
    /// Installs the global recorder once per process (tests start many servers in one process)
    /// and starts its upkeep thread.
    pub fn install() -> Result<Self, BuildError> {
        let mut installed = RECORDER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(m) = installed.as_ref() {
            return Ok(m.clone());
        }
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
            .install_recorder()?;
        let process = metrics_process::Collector::default();
        process.describe();
        describe();
        callflow_actors::metrics::describe();
        crate::app::callbacks::metrics::describe();
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        let metrics = Metrics {
            handle,
            process: std::sync::Arc::new(process),
        };
        let upkeep = metrics.handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            })
            .map_err(|e| BuildError::FailedToCreateHTTPListener(e.to_string()))?;
        *installed = Some(metrics.clone());
        Ok(metrics)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests served, by route, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "HTTP request latency, by route, method and status."
    );
    describe_counter!(
        RETELL_SIGNATURE_FAILURES_TOTAL,
        Unit::Count,
        "Retell requests refused for their signature, by reason."
    );
    describe_counter!(
        RETELL_WEBHOOKS_TOTAL,
        Unit::Count,
        "Retell webhooks received, by event and outcome."
    );
    describe_counter!(
        RETELL_FUNCTIONS_TOTAL,
        Unit::Count,
        "Retell custom-function calls, by function and outcome."
    );
    describe_counter!(
        RETELL_INBOUND_UNROUTED_TOTAL,
        Unit::Count,
        "Inbound calls that no branch could take."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Admin API requests refused with 429, by limit (ip or token)."
    );
    describe_counter!(
        crate::events::DOMAIN_EVENTS_TOTAL,
        Unit::Count,
        "Domain events published, by type."
    );
    describe_gauge!(BUILD_INFO, "Build information; the value is always 1.");
    describe_gauge!(
        READY,
        "1 when the database is reachable and the engine is started."
    );
}
