//! Names of the engine's metrics. Labels stay low-cardinality: never a call, staff or customer id.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Inbound calls routed, by method (`dialled_number`, `area_code`, …).
pub const CALLS_ROUTED_TOTAL: &str = "callflow_calls_routed_total";
/// Inbound calls that could not be routed.
pub const CALLS_UNROUTED_TOTAL: &str = "callflow_calls_unrouted_total";
/// Call actors alive now.
pub const ACTIVE_CALLS: &str = "callflow_active_calls";
/// Slot holds taken.
pub const HOLDS_TOTAL: &str = "callflow_holds_total";
/// Holds that expired unconfirmed.
pub const HOLDS_EXPIRED_TOTAL: &str = "callflow_holds_expired_total";
/// Booking attempts, by outcome (`booked`, `taken`, `unbookable`, `failed`, `replayed`).
pub const BOOKINGS_TOTAL: &str = "callflow_bookings_total";
/// Actor restarts by their supervisor, by actor kind.
pub const ACTOR_RESTARTS_TOTAL: &str = "callflow_actor_restarts_total";
/// Appointments learned from outside a staff actor (admin side, other nodes).
pub const CALENDAR_SYNC_TOTAL: &str = "callflow_calendar_sync_total";
/// Writes waiting in the persistence actor's batch.
pub const PERSISTENCE_QUEUE_DEPTH: &str = "callflow_persistence_queue_depth";
/// Failed persistence flushes (each is retried).
pub const PERSISTENCE_FAILURES_TOTAL: &str = "callflow_persistence_failures_total";
/// Call-log writes given up on (refused by the database on their own, or still unwritable at
/// shutdown or beyond the kept backlog), by reason (`refused`, `shutdown`, `overflow`).
pub const PERSISTENCE_DROPPED_WRITES_TOTAL: &str = "callflow_persistence_dropped_writes_total";
/// Time to commit one batch of call logs.
pub const PERSISTENCE_FLUSH_SECONDS: &str = "callflow_persistence_flush_seconds";

/// Registers descriptions; call once after installing a recorder.
pub fn describe() {
    describe_counter!(
        CALLS_ROUTED_TOTAL,
        Unit::Count,
        "Inbound calls routed to a branch, by resolution method."
    );
    describe_counter!(
        CALLS_UNROUTED_TOTAL,
        Unit::Count,
        "Inbound calls whose number could not be routed."
    );
    describe_gauge!(ACTIVE_CALLS, Unit::Count, "Call actors alive now.");
    describe_counter!(HOLDS_TOTAL, Unit::Count, "Slot holds taken.");
    describe_counter!(
        HOLDS_EXPIRED_TOTAL,
        Unit::Count,
        "Slot holds that expired without being booked."
    );
    describe_counter!(BOOKINGS_TOTAL, Unit::Count, "Booking attempts by outcome.");
    describe_counter!(
        ACTOR_RESTARTS_TOTAL,
        Unit::Count,
        "Actors restarted by their supervisor, by kind."
    );
    describe_counter!(
        CALENDAR_SYNC_TOTAL,
        Unit::Count,
        "Appointments a staff actor learned from outside."
    );
    describe_gauge!(
        PERSISTENCE_QUEUE_DEPTH,
        Unit::Count,
        "Call-log writes waiting to be flushed."
    );
    describe_counter!(
        PERSISTENCE_FAILURES_TOTAL,
        Unit::Count,
        "Failed persistence flush attempts (retried a bounded number of times)."
    );
    describe_counter!(
        PERSISTENCE_DROPPED_WRITES_TOTAL,
        Unit::Count,
        "Call-log writes set aside (logged, not stored), by reason."
    );
    describe_histogram!(
        PERSISTENCE_FLUSH_SECONDS,
        Unit::Seconds,
        "Time to commit one batch of call-log writes."
    );
}
