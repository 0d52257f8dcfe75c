//! The `Store` trait: everything the engine persists, and nothing about how.
//!
//! The server implements it with sqlx for SQLite and Postgres; the engine only ever sees this
//! trait, so engine tests can run against any implementation. Implementations must make each
//! method atomic: a call either happens completely or not at all.

use crate::admin_query::*;
use crate::domain::sla::CallbackEscalation;
use crate::domain::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A boxed error from the database driver, kept as the cause for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong when persisting.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The change contradicts what is stored (a double booking, a duplicate unique value).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database could not be reached or timed out; retrying may help.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// A stored value could not be read back into a domain type.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] BoxError),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Outcome of recording a call event that may be a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this event was seen; it is now stored.
    New,
    /// Already stored under the same dedupe key; nothing changed.
    Duplicate,
}

/// How [`Store::open_callback`] answered a request to be called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// No open callback for the number within the window: a new one was stored.
    Created,
    /// An open callback for the number was found and the request merged into it.
    Merged,
}

/// Which of a company's callbacks [`Store::find_callbacks`] returns.
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

/// Computes the merged row from the open callback found (see [`Store::open_callback`]).
pub type MergeCallback<'a> = &'a (dyn Fn(&CallbackRequest) -> CallbackRequest + Send + Sync);

/// A call-log write the persistence actor batches.
#[derive(Debug, Clone, PartialEq)]
pub enum CallLogWrite {
    /// Create or update a call (fields that are `None` keep their stored value).
    Call(Call),
    /// Store a webhook event unless its dedupe key is already stored.
    Event(CallEvent),
}

/// Everything the engine persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates or replaces a company.
    async fn upsert_company(&self, company: &Company) -> StoreResult<()>;
    /// The company with this slug.
    async fn company_by_slug(&self, slug: &str) -> StoreResult<Option<Company>>;
    /// All companies, by name.
    async fn list_companies(&self) -> StoreResult<Vec<Company>>;

    /// Creates or replaces a branch.
    async fn upsert_branch(&self, branch: &Branch) -> StoreResult<()>;
    /// Branches of one company, or of all companies, by name.
    async fn list_branches(&self, company: Option<CompanyId>) -> StoreResult<Vec<Branch>>;

    /// Creates or re-points a dialled number.
    async fn upsert_phone_number(&self, number: &PhoneNumber) -> StoreResult<()>;
    /// Every dialled number (the routing index is built from these).
    async fn list_phone_numbers(&self) -> StoreResult<Vec<PhoneNumber>>;

    /// Creates or replaces a staff member.
    async fn upsert_staff(&self, staff: &Staff) -> StoreResult<()>;
    /// Staff of one branch, or everyone, by name.
    async fn list_staff(&self, branch: Option<BranchId>) -> StoreResult<Vec<Staff>>;

    /// Creates or replaces a service.
    async fn upsert_service(&self, service: &Service) -> StoreResult<()>;
    /// A company's services, by name.
    async fn list_services(&self, company: CompanyId) -> StoreResult<Vec<Service>>;

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

    /// Stores a booked appointment, atomically refusing it with [`StoreError::Conflict`] when it
    /// overlaps another active appointment of the same staff member (buffers included). When an
    /// appointment with the same company and idempotency key exists, returns that one instead.
    async fn insert_appointment(&self, appointment: &Appointment) -> StoreResult<Appointment>;
    /// The company's appointment booked with this idempotency key.
    async fn appointment_by_key(
        &self,
        company: CompanyId,
        key: &str,
    ) -> StoreResult<Option<Appointment>>;
    /// One appointment.
    async fn appointment(&self, id: AppointmentId) -> StoreResult<Option<Appointment>>;
    /// A customer's active appointments starting at or after `from`, earliest first (at most 20):
    /// what a caller can mean by "my appointment".
    async fn upcoming_appointments(
        &self,
        customer: CustomerId,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>>;
    /// Whether the call booked an appointment that is still active (decides, after the call,
    /// whether the caller got what they wanted; works on any node, after any restart).
    async fn call_has_booking(&self, call: &CallId) -> StoreResult<bool>;
    /// A staff member's active appointments whose blocked time overlaps `[from, until)`.
    async fn staff_appointments(
        &self,
        staff: StaffId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>>;
    /// Changes an appointment's status; `None` when it does not exist.
    async fn set_appointment_status(
        &self,
        id: AppointmentId,
        status: AppointmentStatus,
    ) -> StoreResult<Option<Appointment>>;

    /// Creates or updates a call; fields that are `None` keep their stored value.
    async fn upsert_call(&self, call: &Call) -> StoreResult<()>;
    /// One call.
    async fn call(&self, id: &CallId) -> StoreResult<Option<Call>>;
    /// Stores a webhook event unless one with the same dedupe key is already stored.
    async fn record_call_event(&self, event: &CallEvent) -> StoreResult<Recorded>;
    /// Marks the event with this dedupe key as followed up (its actor, call-log and callback
    /// work done). Marking again keeps the first time; an unknown key is not an error.
    async fn mark_call_event_processed(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Up to `limit` events received before `received_before` that are not marked processed,
    /// oldest first (what start-up replays).
    async fn unprocessed_call_events(
        &self,
        received_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<CallEvent>>;
    /// Applies a batch of call-log writes in one transaction, in order.
    async fn apply_call_log(&self, writes: &[CallLogWrite]) -> StoreResult<()>;
    /// The branch of the caller's latest appointment or call with the company, if any.
    async fn caller_history(
        &self,
        company: CompanyId,
        caller: &E164Number,
    ) -> StoreResult<Option<BranchId>>;

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

    // Assignment and SLA watching (issue 5).
    /// Open callbacks (pending, assigned, contacted) per assignee of a company; staff with
    /// none are absent.
    async fn open_callback_counts(&self, company: CompanyId) -> StoreResult<Vec<(StaffId, u32)>>;
    /// The staff members who served the customer: those of their appointments that were not
    /// cancelled, most recent first, each once.
    async fn staff_who_served(&self, customer: CustomerId) -> StoreResult<Vec<StaffId>>;
    /// Up to `limit` pending or assigned callbacks of every company, by deadline then id,
    /// starting after `after` (a keyset page: pass the last one's `(due_at, id)` for the next).
    async fn watched_callbacks(
        &self,
        after: Option<(DateTime<Utc>, CallbackId)>,
        limit: u32,
    ) -> StoreResult<Vec<CallbackRequest>>;
    /// [`Store::update_callback`] and, in the same transaction, stores `escalation`: both or
    /// neither (`false`, nothing written, when the version moved on).
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

    /// Stores a new API token (hash only).
    async fn insert_api_token(&self, token: &ApiToken) -> StoreResult<()>;
    /// The unrevoked token with this hash.
    async fn api_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;

    /// Appends to the audit log.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A company's audit log, newest first.
    async fn list_audit(&self, company: CompanyId, limit: u32) -> StoreResult<Vec<AuditEntry>>;

    // Admin API (issue 5): filtered lists, deletes and statistics.

    /// A company's audit entries matching `filter`, newest first (by sequence number).
    async fn find_audit(
        &self,
        company: CompanyId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditRecord>>;
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
    /// One customer of the company.
    async fn customer(&self, company: CompanyId, id: CustomerId) -> StoreResult<Option<Customer>>;
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
