//! The roles only the server's use cases need: customers, callbacks (their lifecycle,
//! assignment and SLA watching), API tokens, the audit log, the admin API's lists, deletes and
//! statistics, and the health check. The engine never calls them; they are declared in this
//! crate only so that [`Store`](super::Store) can include them and the in-memory store can
//! implement them.

use super::StoreResult;
use crate::admin_query::*;
use crate::domain::sla::CallbackEscalation;
use crate::domain::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How [`CallbackStore::open_callback`] answered a request to be called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// No open callback for the number within the window: a new one was stored.
    Created,
    /// An open callback for the number was found and the request merged into it.
    Merged,
}

/// Which of a company's callbacks [`CallbackStore::find_callbacks`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackFilter {
    /// Only callbacks in this state.
    pub status: Option<CallbackStatus>,
    /// Only callbacks of this branch.
    pub branch_id: Option<BranchId>,
    /// Only callbacks assigned to this staff member.
    pub assigned_staff_id: Option<StaffId>,
    /// Only callbacks of this priority.
    pub priority: Option<Priority>,
    /// Only callbacks overdue at this instant: open, with the deadline before it.
    pub overdue_at: Option<DateTime<Utc>>,
    /// The order.
    pub sort: CallbackSort,
    /// Only callbacks after this one in `sort` order (the previous page's last row).
    pub after: Option<CallbackCursor>,
    /// At most this many.
    pub limit: u32,
}

impl Default for CallbackFilter {
    fn default() -> Self {
        Self {
            status: None,
            branch_id: None,
            assigned_staff_id: None,
            priority: None,
            overdue_at: None,
            sort: CallbackSort::Queue,
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

impl CallbackFilter {
    /// The limit when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// Every callback, without a limit.
    pub fn everything() -> Self {
        Self {
            limit: u32::MAX,
            ..Self::default()
        }
    }
}

/// Computes the merged row from the open callback found (see
/// [`CallbackStore::open_callback`]).
pub type MergeCallback<'a> = &'a (dyn Fn(&CallbackRequest) -> CallbackRequest + Send + Sync);

/// Whether the database answers (the health check).
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
}

/// Customers: who is calling, and what a failed booking counts against them.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Creates or replaces a customer (unique per company and phone number).
    async fn upsert_customer(&self, customer: &Customer) -> StoreResult<()>;
    /// Counts one more failed booking for the customer, atomically (concurrent failures all
    /// count, and nothing else in the record is touched).
    async fn record_failed_booking(&self, customer: CustomerId) -> StoreResult<()>;
    /// The company's customer calling from this number.
    async fn customer_by_phone(
        &self,
        company: CompanyId,
        phone: &E164Number,
    ) -> StoreResult<Option<Customer>>;
    /// One customer of the company.
    async fn customer(&self, company: CompanyId, id: CustomerId) -> StoreResult<Option<Customer>>;
}

/// Callback requests: opening (with merging), reading, listing and the compare-and-swap
/// lifecycle updates.
#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// Stores a new callback request.
    async fn insert_callback(&self, callback: &CallbackRequest) -> StoreResult<()>;
    /// One callback request of a company (another company's are invisible).
    async fn callback(
        &self,
        company: CompanyId,
        id: CallbackId,
    ) -> StoreResult<Option<CallbackRequest>>;
    /// A company's callback requests matching `filter`, in `filter.sort` order (queue order by
    /// default: most urgent first, then oldest, then id).
    async fn find_callbacks(
        &self,
        company: CompanyId,
        filter: &CallbackFilter,
    ) -> StoreResult<Vec<CallbackRequest>>;
    /// All of a company's callback requests, most urgent first, then oldest.
    async fn list_callbacks(&self, company: CompanyId) -> StoreResult<Vec<CallbackRequest>> {
        self.find_callbacks(company, &CallbackFilter::everything())
            .await
    }
    /// Opens a callback for `new.phone`, atomically with respect to every other call for the
    /// same company and number (on every node): when an open callback (pending, assigned or
    /// contacted) of the same company and number was created at or after `merge_since`, it is
    /// replaced by `merge(&found)` (the latest such one, if there are several) and returned as
    /// [`Opened::Merged`]; otherwise `new` is stored and returned as [`Opened::Created`].
    /// Returns only once the change is durable. `merge` must keep the id and bump the version.
    async fn open_callback(
        &self,
        new: &CallbackRequest,
        merge_since: DateTime<Utc>,
        merge: MergeCallback<'_>,
    ) -> StoreResult<(CallbackRequest, Opened)>;
    /// Replaces the stored callback `callback.id` of `callback.company_id` with `callback`, if
    /// its stored version is still `expected_version` (compare-and-swap: `false`, and nothing
    /// written, when someone else changed it first or no such callback exists for the company).
    /// Identity, company, phone and creation time are never changed.
    async fn update_callback(
        &self,
        callback: &CallbackRequest,
        expected_version: i64,
    ) -> StoreResult<bool>;
}

/// What assigning a callback to a staff member weighs: current load and past service.
#[async_trait]
pub trait AssignmentStore: Send + Sync {
    /// Open callbacks (pending, assigned, contacted) per assignee of a company; staff with
    /// none are absent.
    async fn open_callback_counts(&self, company: CompanyId) -> StoreResult<Vec<(StaffId, u32)>>;
    /// The staff members who served the customer: those of their appointments that were not
    /// cancelled, most recent first, each once.
    async fn staff_who_served(&self, customer: CustomerId) -> StoreResult<Vec<StaffId>>;
}

/// What the SLA monitor watches and writes: open callbacks by deadline, and escalations.
#[async_trait]
pub trait SlaStore: Send + Sync {
    /// Up to `limit` pending or assigned callbacks of every company, by deadline then id,
    /// starting after `after` (a keyset page: pass the last one's `(due_at, id)` for the next).
    async fn watched_callbacks(
        &self,
        after: Option<(DateTime<Utc>, CallbackId)>,
        limit: u32,
    ) -> StoreResult<Vec<CallbackRequest>>;
    /// [`CallbackStore::update_callback`] and, in the same transaction, stores `escalation`:
    /// both or neither (`false`, nothing written, when the version moved on).
    async fn escalate_callback(
        &self,
        callback: &CallbackRequest,
        expected_version: i64,
        escalation: &CallbackEscalation,
    ) -> StoreResult<bool>;
    /// A company's callback's escalations, oldest first.
    async fn callback_escalations(
        &self,
        company: CompanyId,
        callback: CallbackId,
    ) -> StoreResult<Vec<CallbackEscalation>>;
}

/// The admin API's bearer tokens (hashes only).
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new API token (hash only).
    async fn insert_api_token(&self, token: &ApiToken) -> StoreResult<()>;
    /// The unrevoked token with this hash.
    async fn api_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;
}

/// The audit log of admin changes.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the audit log.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A company's audit log, newest first.
    async fn list_audit(&self, company: CompanyId, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// A company's audit entries matching `filter`, newest first (by sequence number).
    async fn find_audit(
        &self,
        company: CompanyId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditRecord>>;
}

/// The admin API's filtered lists, deletes and statistics.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// The callback figures of one company (or one of its branches), as defined in
    /// `domain::callback_stats`.
    async fn callback_stats(
        &self,
        company: CompanyId,
        query: &StatsQuery,
    ) -> StoreResult<CallbackStats>;
    /// Deletes a dialled number of the company; `false` when it has no such number.
    async fn delete_phone_number(
        &self,
        company: CompanyId,
        number: &E164Number,
    ) -> StoreResult<bool>;
    /// Deletes a branch of the company unless numbers, staff or appointments refer to it.
    async fn delete_branch(&self, company: CompanyId, branch: BranchId) -> StoreResult<Deleted>;
    /// A company's customers matching `filter`, by phone number.
    async fn find_customers(
        &self,
        company: CompanyId,
        filter: &CustomerFilter,
    ) -> StoreResult<Vec<Customer>>;
    /// Deletes a customer of the company unless appointments refer to them (their callbacks
    /// keep the number and lose the link).
    async fn delete_customer(&self, company: CompanyId, id: CustomerId) -> StoreResult<Deleted>;
    /// A company's appointments matching `filter`, by start time, then id.
    async fn find_appointments(
        &self,
        company: CompanyId,
        filter: &AppointmentFilter,
    ) -> StoreResult<Vec<Appointment>>;
}
