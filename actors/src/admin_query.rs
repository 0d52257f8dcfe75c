//! What the admin side asks the store for beyond the engine's own needs: callback list order
//! and keyset cursors, audit log and appointment/customer filters, and callback statistics.
//!
//! Keyset cursors (the sort key of the last row seen, not an offset) keep pages stable while
//! rows are inserted: a new callback lands before or after the cursor, never shifting a page.

use crate::domain::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The order of a callback list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallbackSort {
    /// Queue order: most urgent first, then oldest (then id).
    #[default]
    Queue,
    /// Oldest first.
    CreatedAsc,
    /// Newest first.
    CreatedDesc,
    /// Earliest deadline first.
    DueAsc,
    /// Latest deadline first.
    DueDesc,
}

impl CallbackSort {
    /// Every order with its spelling in the API.
    pub const ALL: &'static [(CallbackSort, &'static str)] = &[
        (CallbackSort::Queue, "queue"),
        (CallbackSort::CreatedAsc, "created_at"),
        (CallbackSort::CreatedDesc, "-created_at"),
        (CallbackSort::DueAsc, "due_at"),
        (CallbackSort::DueDesc, "-due_at"),
    ];

    /// The API spelling.
    pub fn as_str(&self) -> &'static str {
        CallbackSort::ALL
            .iter()
            .find(|(s, _)| s == self)
            .map_or("queue", |(_, text)| text)
    }

    /// The order spelled `text`.
    pub fn parse(text: &str) -> Option<Self> {
        CallbackSort::ALL
            .iter()
            .find(|(_, t)| *t == text)
            .map(|(s, _)| *s)
    }

    /// The sort key of `callback` in this order.
    pub fn cursor_of(&self, callback: &CallbackRequest) -> CallbackCursor {
        let at = match self {
            CallbackSort::Queue | CallbackSort::CreatedAsc | CallbackSort::CreatedDesc => {
                callback.created_at
            }
            CallbackSort::DueAsc | CallbackSort::DueDesc => callback.due_at,
        };
        CallbackCursor {
            sort: *self,
            rank: callback.priority.rank(),
            at,
            id: callback.id,
        }
    }

    /// Whether `callback` comes strictly after `cursor` in this order (what the next page holds).
    pub fn is_after(&self, callback: &CallbackRequest, cursor: &CallbackCursor) -> bool {
        let key = self.cursor_of(callback);
        let (a, b) = (
            (key.at, *key.id.0.as_bytes()),
            (cursor.at, *cursor.id.0.as_bytes()),
        );
        match self {
            CallbackSort::Queue => key.rank < cursor.rank || (key.rank == cursor.rank && a > b),
            CallbackSort::CreatedAsc | CallbackSort::DueAsc => a > b,
            CallbackSort::CreatedDesc | CallbackSort::DueDesc => a < b,
        }
    }

    /// Compares two callbacks in this order.
    pub fn compare(&self, x: &CallbackRequest, y: &CallbackRequest) -> std::cmp::Ordering {
        let (kx, ky) = (self.cursor_of(x), self.cursor_of(y));
        let (a, b) = ((kx.at, *kx.id.0.as_bytes()), (ky.at, *ky.id.0.as_bytes()));
        match self {
            CallbackSort::Queue => ky.rank.cmp(&kx.rank).then(a.cmp(&b)),
            CallbackSort::CreatedAsc | CallbackSort::DueAsc => a.cmp(&b),
            CallbackSort::CreatedDesc | CallbackSort::DueDesc => b.cmp(&a),
        }
    }
}

/// Where a page of callbacks ended: the sort key of its last row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallbackCursor {
    /// The order the cursor belongs to (a cursor of another order is meaningless).
    pub sort: CallbackSort,
    /// Priority rank of the last row (used by queue order).
    pub rank: i16,
    /// Creation time (queue and created orders) or deadline (due orders) of the last row.
    pub at: DateTime<Utc>,
    /// Id of the last row, the tie-break.
    pub id: CallbackId,
}

/// Which audit entries [`crate::store::AuditStore::find_audit`] returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this kind of entity (`branch`, `callback`, …).
    pub entity_type: Option<String>,
    /// Only this entity.
    pub entity_id: Option<String>,
    /// Only this action (`branch.create`, …).
    pub action: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries older than the one with this id (the cursor of the previous page).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// A stored audit entry with its sequence number (newest has the highest).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Sequence number, increasing with every append.
    pub id: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which appointments [`crate::store::AdminStore::find_appointments`] returns, by start time then id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppointmentFilter {
    /// Only at this branch.
    pub branch_id: Option<BranchId>,
    /// Only with this staff member.
    pub staff_id: Option<StaffId>,
    /// Only for this customer.
    pub customer_id: Option<CustomerId>,
    /// Only in this state.
    pub status: Option<AppointmentStatus>,
    /// Only starting at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only starting before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only after this (start, id): the cursor of the previous page.
    pub after: Option<(DateTime<Utc>, AppointmentId)>,
    /// At most this many.
    pub limit: u32,
}

/// Which customers [`crate::store::AdminStore::find_customers`] returns, by phone number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Only the customer with this number.
    pub phone: Option<E164Number>,
    /// Only numbers after this one: the cursor of the previous page.
    pub after_phone: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Outcome of a delete that is refused while something still refers to the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// Gone.
    Deleted,
    /// No such row for the company.
    NotFound,
    /// Other rows still refer to it; nothing was deleted.
    InUse,
}

pub use crate::domain::callback_stats::{CallbackStats, SlaFigure, StaffLoad, StatsQuery};
