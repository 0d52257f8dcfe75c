//! Correctness after the run, read back from the database (and, in-process, from the staff
//! actors for holds): no staff member double-booked, nothing acknowledged lost, no hold left
//! behind, every duplicate deduplicated.

use crate::load::Ledger;
use callflow::store::Database;
use callflow_actors::domain::{AppointmentId, AppointmentStatus, CallbackId, CompanyId};
use callflow_actors::staff::GetCalendarSize;
use callflow_actors::{Engine, Store};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A staff member's blocked time `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Start (buffer included).
    pub from: DateTime<Utc>,
    /// End (buffer included).
    pub until: DateTime<Utc>,
}

/// How many of one staff member's active appointments overlap an earlier one.
///
/// Sorted by start, an appointment overlaps some earlier one exactly when it starts before the
/// latest end seen so far; touching ends (`until == from`) do not overlap.
pub fn overlaps(mut blocked: Vec<Blocked>) -> u64 {
    blocked.sort_by_key(|b| b.from);
    let mut latest_end: Option<DateTime<Utc>> = None;
    let mut count = 0;
    for b in blocked {
        if latest_end.is_some_and(|end| b.from < end) {
            count += 1;
        }
        latest_end = Some(latest_end.map_or(b.until, |end| end.max(b.until)));
    }
    count
}

/// What the checks found; every count should be zero.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// Active appointments overlapping another of the same staff member.
    pub double_bookings: u64,
    /// Acknowledged bookings or callbacks missing from the database (or no longer active).
    pub lost_acknowledged_writes: u64,
    /// Holds still in the staff actors after every call ended; `None` when not checkable.
    pub orphaned_holds: Option<u64>,
    /// Deduplication failures: a retried booking that made a second row or answered with
    /// another appointment, or a redelivered webhook stored twice.
    pub duplicate_rows: u64,
    /// Acknowledged bookings checked.
    pub bookings_checked: u64,
    /// Acknowledged callbacks checked.
    pub callbacks_checked: u64,
    /// Duplicated requests checked.
    pub duplicates_checked: u64,
    /// Staff members whose calendars were checked.
    pub staff_checked: u64,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
}

impl Verdict {
    /// Whether anything is wrong.
    pub fn violations(&self) -> u64 {
        self.double_bookings
            + self.lost_acknowledged_writes
            + self.orphaned_holds.unwrap_or(0)
            + self.duplicate_rows
    }
}

/// Runs every check the database (and the engine, when given) allows.
pub async fn verify(
    database: &Database,
    engine: Option<&Engine>,
    company: CompanyId,
    ledger: &Ledger,
) -> anyhow::Result<Verdict> {
    let store = database.store();
    let mut verdict = Verdict::default();
    double_bookings(&*store, &mut verdict).await?;
    acknowledged(&*store, company, ledger, &mut verdict).await?;
    duplicates(database, ledger, &mut verdict).await?;
    match engine {
        Some(engine) => verdict.orphaned_holds = Some(holds_left(&*store, engine).await?),
        None => verdict
            .notes
            .push("orphaned_holds: n/a, holds live in the server's actors (remote server)".into()),
    }
    Ok(verdict)
}

async fn double_bookings(store: &dyn Store, verdict: &mut Verdict) -> anyhow::Result<()> {
    let now = Utc::now();
    for staff in store.list_staff(None).await? {
        let booked = store
            .staff_appointments(
                staff.id,
                now - Duration::days(30),
                now + Duration::days(800),
            )
            .await?;
        let blocked = booked
            .iter()
            .filter(|a| a.status == AppointmentStatus::Booked)
            .map(|a| Blocked {
                from: a.blocked_from,
                until: a.blocked_until,
            })
            .collect();
        verdict.double_bookings += overlaps(blocked);
        verdict.staff_checked += 1;
    }
    Ok(())
}

async fn acknowledged(
    store: &dyn Store,
    company: CompanyId,
    ledger: &Ledger,
    verdict: &mut Verdict,
) -> anyhow::Result<()> {
    for (_, id) in &ledger.bookings {
        verdict.bookings_checked += 1;
        let found = match Uuid::parse_str(id) {
            Ok(uuid) => store.appointment(AppointmentId(uuid)).await?,
            Err(_) => None,
        };
        if found.is_none_or(|a| a.status != AppointmentStatus::Booked) {
            verdict.lost_acknowledged_writes += 1;
        }
    }
    for id in &ledger.callbacks {
        verdict.callbacks_checked += 1;
        let found = match Uuid::parse_str(id) {
            Ok(uuid) => store.callback(company, CallbackId(uuid)).await?,
            Err(_) => None,
        };
        if found.is_none() {
            verdict.lost_acknowledged_writes += 1;
        }
    }
    Ok(())
}

async fn duplicates(
    database: &Database,
    ledger: &Ledger,
    verdict: &mut Verdict,
) -> anyhow::Result<()> {
    for (call, first, second) in &ledger.duplicate_bookings {
        verdict.duplicates_checked += 1;
        let rows = count(
            database,
            "SELECT COUNT(*) FROM appointments WHERE source_call_id = $1 AND status = 'booked'",
            call,
        )
        .await?;
        let consistent = duplicate_consistent(first.as_deref(), second.as_deref(), rows);
        if !consistent {
            verdict.duplicate_rows += 1;
        }
    }
    for call in &ledger.duplicate_events {
        verdict.duplicates_checked += 1;
        let rows = count(
            database,
            "SELECT COUNT(*) FROM call_events WHERE dedupe_key = $1",
            &format!("call_ended:{call}"),
        )
        .await?;
        if rows != 1 {
            verdict.duplicate_rows += 1;
        }
    }
    Ok(())
}

/// Whether a booking sent twice left what deduplication promises: never two rows; when either
/// attempt was acknowledged, exactly one row; when both were, the same appointment. (An attempt
/// that timed out was not acknowledged, yet may have booked: then one row is right, so zero or
/// one row is accepted when neither was acknowledged.)
pub fn duplicate_consistent(first: Option<&str>, second: Option<&str>, rows: i64) -> bool {
    match (first, second) {
        (Some(a), Some(b)) => a == b && rows == 1,
        (Some(_), None) | (None, Some(_)) => rows == 1,
        (None, None) => rows <= 1,
    }
}

/// `SELECT COUNT(*) … $1` on either backend (both accept `$1`).
async fn count(database: &Database, sql: &str, arg: &str) -> anyhow::Result<i64> {
    Ok(match database {
        Database::Sqlite(pool) => {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(arg)
                .fetch_one(pool)
                .await?
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(arg)
                .fetch_one(pool)
                .await?
        }
    })
}

/// Holds left in every staff actor, once the server has processed every stored event (a call's
/// holds are released by its `call_ended` follow-up, which runs after the webhook answered).
async fn holds_left(store: &dyn Store, engine: &Engine) -> anyhow::Result<u64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !store
        .unprocessed_call_events(Utc::now(), 1)
        .await?
        .is_empty()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut holds = 0;
    for staff in store.list_staff(None).await? {
        if let Some(actor) = engine.staff_actor(staff.id) {
            let (_, held) = actor.send(GetCalendarSize).await?;
            holds += held as u64;
        }
    }
    Ok(holds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0)
            .single()
            .expect("valid time")
    }

    fn b(from: (u32, u32), until: (u32, u32)) -> Blocked {
        Blocked {
            from: at(from.0, from.1),
            until: at(until.0, until.1),
        }
    }

    #[test]
    fn back_to_back_appointments_do_not_overlap() {
        assert_eq!(overlaps(vec![b((9, 0), (9, 30)), b((9, 30), (10, 0))]), 0);
        assert_eq!(overlaps(Vec::new()), 0);
    }

    #[test]
    fn a_planted_overlap_is_found_in_any_order() {
        let calendar = vec![
            b((11, 0), (12, 0)),
            b((9, 0), (9, 30)),
            b((11, 45), (12, 15)),
            b((13, 0), (14, 0)),
        ];
        assert_eq!(overlaps(calendar), 1);
    }

    #[test]
    fn one_long_appointment_overlapping_two_counts_both() {
        let calendar = vec![b((8, 0), (12, 0)), b((9, 0), (9, 30)), b((10, 0), (10, 30))];
        assert_eq!(overlaps(calendar), 2);
    }

    #[test]
    fn a_retried_booking_must_name_one_appointment_stored_once() {
        assert!(duplicate_consistent(Some("a"), Some("a"), 1));
        assert!(!duplicate_consistent(Some("a"), Some("b"), 1));
        assert!(!duplicate_consistent(Some("a"), Some("a"), 2));
        assert!(duplicate_consistent(Some("a"), None, 1));
        assert!(!duplicate_consistent(None, Some("a"), 0));
        // Neither acknowledged (refused, or timed out after booking).
        assert!(duplicate_consistent(None, None, 0));
        assert!(duplicate_consistent(None, None, 1));
        assert!(!duplicate_consistent(None, None, 2));
    }

    #[test]
    fn every_violation_counts_and_unchecked_holds_do_not() {
        let v = Verdict {
            double_bookings: 1,
            lost_acknowledged_writes: 2,
            duplicate_rows: 3,
            orphaned_holds: None,
            ..Verdict::default()
        };
        assert_eq!(v.violations(), 6);
        let v = Verdict {
            orphaned_holds: Some(4),
            ..Verdict::default()
        };
        assert_eq!(v.violations(), 4);
    }
}
