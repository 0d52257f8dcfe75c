//! The roles the engine reads and writes through: the catalogue it routes and schedules with,
//! the appointments it books, and the call log its persistence actor writes.

use super::StoreResult;
use crate::domain::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Outcome of recording a call event that may be a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this event was seen; it is now stored.
    New,
    /// Already stored under the same dedupe key; nothing changed.
    Duplicate,
}

/// A call-log write the persistence actor batches.
#[derive(Debug, Clone, PartialEq)]
pub enum CallLogWrite {
    /// Create or update a call (fields that are `None` keep their stored value).
    Call(Call),
    /// Store a webhook event unless its dedupe key is already stored.
    Event(CallEvent),
}

/// Companies, branches, dialled numbers, staff and services: what the registry loads its
/// routing table and actors from, and what seeding and the admin API write.
#[async_trait]
pub trait CatalogueStore: Send + Sync {
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
    /// The staff member `id` if they work at a branch of `company` (another company's staff
    /// are invisible).
    async fn staff_member(&self, company: CompanyId, id: StaffId) -> StoreResult<Option<Staff>>;
    /// The staff of every branch of `company`, by name, then id.
    async fn company_staff(&self, company: CompanyId) -> StoreResult<Vec<Staff>>;

    /// Creates or replaces a service.
    async fn upsert_service(&self, service: &Service) -> StoreResult<()>;
    /// A company's services, by name.
    async fn list_services(&self, company: CompanyId) -> StoreResult<Vec<Service>>;
}

/// Booked appointments: the engine's overlap-checked inserts and status changes, and what the
/// staff actors rebuild their calendars from.
#[async_trait]
pub trait AppointmentStore: Send + Sync {
    /// Stores a booked appointment, atomically refusing it with
    /// [`StoreError::Conflict`](super::StoreError::Conflict) when it overlaps another active
    /// appointment of the same staff member (buffers included). When an appointment with the
    /// same company and idempotency key exists, returns that one instead.
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
}

/// Calls and their webhook events: what the persistence actor batches, what start-up replays,
/// and the caller history routing asks for.
#[async_trait]
pub trait CallLogStore: Send + Sync {
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
}
