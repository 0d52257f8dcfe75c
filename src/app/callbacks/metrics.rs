//! Metric names of the SLA monitor (described at install by `crate::metrics`).

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Callbacks whose SLA is watched now.
pub const SLA_WATCHED: &str = "callflow_sla_watched_callbacks";
/// "Approaching" warnings fired.
pub const SLA_APPROACHING_TOTAL: &str = "callflow_sla_approaching_total";
/// Breaches fired (escalated or, at the highest level, only notified).
pub const SLA_BREACHED_TOTAL: &str = "callflow_sla_breached_total";
/// Escalations written.
pub const SLA_ESCALATIONS_TOTAL: &str = "callflow_sla_escalations_total";
/// Callbacks closed as expired.
pub const SLA_EXPIRED_TOTAL: &str = "callflow_sla_expired_total";
/// How late a point fired after the time it was due, in seconds.
pub const SLA_FIRING_LATENESS_SECONDS: &str = "callflow_sla_firing_lateness_seconds";

/// Registers descriptions; call once after installing a recorder.
pub fn describe() {
    describe_gauge!(
        SLA_WATCHED,
        Unit::Count,
        "Open callbacks whose SLA the monitor watches."
    );
    describe_counter!(
        SLA_APPROACHING_TOTAL,
        Unit::Count,
        "SLA-approaching warnings fired."
    );
    describe_counter!(SLA_BREACHED_TOTAL, Unit::Count, "SLA breaches fired.");
    describe_counter!(
        SLA_ESCALATIONS_TOTAL,
        Unit::Count,
        "Escalations of late callbacks written."
    );
    describe_counter!(
        SLA_EXPIRED_TOTAL,
        Unit::Count,
        "Callbacks closed as expired by the SLA monitor."
    );
    describe_histogram!(
        SLA_FIRING_LATENESS_SECONDS,
        Unit::Seconds,
        "Delay between an SLA point's due time and its firing."
    );
}
