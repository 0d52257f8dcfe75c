//! The callback figures of `GET /api/v1/callbacks/stats`, defined once as plain code.
//!
//! The SQL store computes the same figures with aggregate queries; the store conformance tests
//! hold both to these definitions. "Open" is pending, assigned or contacted; a callback's
//! closing time is its `completed_at` (set by every closing step: complete, cancel, expire,
//! unreachable).
//!
//! - `pending`: status pending. `open`: open. `overdue`: open with `due_at < now`.
//! - `created_today`: `today_start <= created_at <= now`.
//! - SLA per priority over the window `[window_start, now]`:
//!   *met* = completed, closed in the window, `completed_at <= due_at`;
//!   *missed* = completed late, expired or unreachable, closed in the window; or open with
//!   `window_start <= due_at < now`. Cancelled callbacks count for neither (the customer
//!   withdrew). Compliance is `100 × met ÷ (met + missed)`, none when both are 0.
//! - Average times over callbacks created in the window: whole seconds from `created_at` to
//!   `assigned_at` (those ever assigned), to `contacted_at` (those contacted), to
//!   `completed_at` (those completed).
//! - Staff load: open callbacks per assignee, most first, then by staff id.

use super::ids::{BranchId, StaffId};
use super::model::{CallbackRequest, CallbackStatus, Priority};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Whether `callback` is closed within the window.
fn closed_in_window(callback: &CallbackRequest, q: &StatsQuery) -> bool {
    !callback.status.is_open()
        && callback
            .completed_at
            .is_some_and(|at| at >= q.window_start && at <= q.now)
}

/// Whether the callback met its deadline (`Some(true)`), missed it (`Some(false)`) or does not
/// count in the window (`None`).
pub fn sla_outcome(callback: &CallbackRequest, q: &StatsQuery) -> Option<bool> {
    match callback.status {
        CallbackStatus::Completed if closed_in_window(callback, q) => Some(
            callback
                .completed_at
                .is_some_and(|at| at <= callback.due_at),
        ),
        CallbackStatus::Expired | CallbackStatus::Unreachable if closed_in_window(callback, q) => {
            Some(false)
        }
        s if s.is_open() && callback.due_at >= q.window_start && callback.due_at < q.now => {
            Some(false)
        }
        _ => None,
    }
}

/// Whole seconds from `from` to `to` (both truncated to seconds first, like SQL `unixepoch`).
fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    to.timestamp() - from.timestamp()
}

fn mean(values: &[i64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<i64>() as f64 / values.len() as f64)
}

/// `100 × met ÷ (met + missed)`, none without any.
pub fn percent(met: u64, missed: u64) -> Option<f64> {
    let all = met + missed;
    (all > 0).then(|| met as f64 * 100.0 / all as f64)
}

/// The figures over `callbacks` (one company's; filtered to the query's branch here).
pub fn compute(callbacks: &[CallbackRequest], q: &StatsQuery) -> CallbackStats {
    let mine: Vec<&CallbackRequest> = callbacks
        .iter()
        .filter(|c| q.branch_id.is_none_or(|b| c.branch_id == Some(b)))
        .collect();
    let count = |f: &dyn Fn(&CallbackRequest) -> bool| mine.iter().filter(|c| f(c)).count() as u64;
    let mut sla: BTreeMap<i16, (Priority, u64, u64)> = Priority::ALL
        .iter()
        .map(|p| (p.rank(), (*p, 0, 0)))
        .collect();
    for c in &mine {
        if let (Some(met), Some(entry)) = (sla_outcome(c, q), sla.get_mut(&c.priority.rank())) {
            if met {
                entry.1 += 1;
            } else {
                entry.2 += 1;
            }
        }
    }
    let in_window: Vec<&&CallbackRequest> = mine
        .iter()
        .filter(|c| c.created_at >= q.window_start && c.created_at <= q.now)
        .collect();
    let durations = |to: &dyn Fn(&CallbackRequest) -> Option<DateTime<Utc>>| -> Vec<i64> {
        in_window
            .iter()
            .filter_map(|c| to(c).map(|at| seconds(c.created_at, at)))
            .collect()
    };
    let mut load: BTreeMap<_, u64> = BTreeMap::new();
    for c in mine.iter().filter(|c| c.status.is_open()) {
        if let Some(staff) = c.assigned_staff_id {
            *load.entry(staff).or_default() += 1;
        }
    }
    let mut staff_load: Vec<StaffLoad> = load
        .into_iter()
        .map(|(staff_id, open)| StaffLoad { staff_id, open })
        .collect();
    staff_load.sort_by(|a, b| {
        b.open
            .cmp(&a.open)
            .then(a.staff_id.0.as_bytes().cmp(b.staff_id.0.as_bytes()))
    });
    CallbackStats {
        pending: count(&|c| c.status == CallbackStatus::Pending),
        open: count(&|c| c.status.is_open()),
        overdue: count(&|c| c.status.is_open() && c.due_at < q.now),
        created_today: count(&|c| c.created_at >= q.today_start && c.created_at <= q.now),
        sla: sla
            .into_values()
            .map(|(priority, met, missed)| SlaFigure {
                priority,
                met,
                missed,
                compliance_percent: percent(met, missed),
            })
            .collect(),
        avg_seconds_to_assign: mean(&durations(&|c| c.assigned_at)),
        avg_seconds_to_contact: mean(&durations(&|c| c.contacted_at)),
        avg_seconds_to_complete: mean(&durations(&|c| {
            (c.status == CallbackStatus::Completed)
                .then_some(c.completed_at)
                .flatten()
        })),
        staff_load,
    }
}

/// The instants callback statistics are computed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsQuery {
    /// Only this branch's callbacks (a manager's view).
    pub branch_id: Option<BranchId>,
    /// The moment the figures describe.
    pub now: DateTime<Utc>,
    /// Local midnight of today, in UTC (start of "created today").
    pub today_start: DateTime<Utc>,
    /// Start of the window for SLA compliance and average times.
    pub window_start: DateTime<Utc>,
}

/// SLA compliance of one priority over the window (definitions in
/// the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaFigure {
    /// The priority.
    pub priority: Priority,
    /// Completed within the window, at or before the deadline.
    pub met: u64,
    /// Completed late, expired or unreachable within the window, or open with a deadline that
    /// passed within the window.
    pub missed: u64,
    /// `100 × met ÷ (met + missed)`, `null` without any.
    pub compliance_percent: Option<f64>,
}

/// Open callbacks of one assignee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffLoad {
    /// The assignee.
    pub staff_id: StaffId,
    /// Open (pending, assigned, contacted) callbacks assigned to them.
    pub open: u64,
}

/// Callback figures (definitions in this module's documentation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallbackStats {
    /// Status pending.
    pub pending: u64,
    /// Open (pending, assigned, contacted).
    pub open: u64,
    /// Open with the deadline before now.
    pub overdue: u64,
    /// Created since local midnight.
    pub created_today: u64,
    /// Per priority, normal, high, urgent.
    pub sla: Vec<SlaFigure>,
    /// Mean whole seconds from creation to first assignment.
    pub avg_seconds_to_assign: Option<f64>,
    /// Mean whole seconds from creation to contact.
    pub avg_seconds_to_contact: Option<f64>,
    /// Mean whole seconds from creation to completion.
    pub avg_seconds_to_complete: Option<f64>,
    /// Open callbacks per assignee, most loaded first.
    pub staff_load: Vec<StaffLoad>,
}
