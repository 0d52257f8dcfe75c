//! An in-memory store (every role of [`crate::store`]), for engine tests and benchmarks that need no database. It follows the
//! same contract as the SQL stores (atomic overlap check, idempotency keys, event dedupe), and
//! can be told to fail, to test how the engine copes with an unavailable database.

use crate::admin_query::*;
use crate::domain::sla::CallbackEscalation;
use crate::domain::*;
use crate::store::prelude::*;
use crate::store::{CallLogWrite, CallbackFilter, MergeCallback, Opened, Recorded};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
struct Tables {
    companies: HashMap<CompanyId, Company>,
    branches: HashMap<BranchId, Branch>,
    numbers: HashMap<E164Number, PhoneNumber>,
    staff: HashMap<StaffId, Staff>,
    services: HashMap<ServiceId, Service>,
    customers: HashMap<CustomerId, Customer>,
    appointments: HashMap<AppointmentId, Appointment>,
    calls: HashMap<CallId, Call>,
    /// By dedupe key: insertion order (the tie-break of equal receipt times), the event, and
    /// when it was marked processed.
    events: HashMap<String, (usize, CallEvent, Option<DateTime<Utc>>)>,
    callbacks: HashMap<CallbackId, CallbackRequest>,
    escalations: Vec<CallbackEscalation>,
    tokens: Vec<ApiToken>,
    audit: Vec<AuditEntry>,
}

/// A `Store` in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    failing: AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every call fails with `StoreError::Unavailable`.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Number of call events stored (for tests).
    pub fn event_count(&self) -> usize {
        self.lock().map(|t| t.events.len()).unwrap_or(0)
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Tables>> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory store set to fail".into()));
        }
        // A panic while holding the lock cannot leave a table half-written: every write below
        // is a single insert.
        Ok(self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Callbacks of different branches stay apart (each branch calls back about its own matter,
/// and a branch's staff must not see another branch's notes); one without a branch joins any.
fn same_branch_or_unbranched(open: Option<BranchId>, new: Option<BranchId>) -> bool {
    match (open, new) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn merge_call(old: &Call, new: &Call) -> Call {
    let rank = |s: CallStatus| CallStatus::ALL.iter().position(|x| *x == s).unwrap_or(0);
    Call {
        id: new.id.clone(),
        company_id: new.company_id.or(old.company_id),
        branch_id: new.branch_id.or(old.branch_id),
        from_number: new.from_number.clone().or_else(|| old.from_number.clone()),
        to_number: new.to_number.clone().or_else(|| old.to_number.clone()),
        agent_id: new.agent_id.clone().or_else(|| old.agent_id.clone()),
        language: new.language.or(old.language),
        status: if rank(new.status) > rank(old.status) {
            new.status
        } else {
            old.status
        },
        started_at: new.started_at.or(old.started_at),
        ended_at: new.ended_at.or(old.ended_at),
        duration_ms: new.duration_ms.or(old.duration_ms),
        disconnection_reason: new
            .disconnection_reason
            .clone()
            .or_else(|| old.disconnection_reason.clone()),
        // A transcript from an earlier stage (a late `transcript_updated`) never replaces the
        // final one.
        transcript: if rank(new.status) >= rank(old.status) {
            new.transcript.clone().or_else(|| old.transcript.clone())
        } else {
            old.transcript.clone().or_else(|| new.transcript.clone())
        },
        summary: new.summary.clone().or_else(|| old.summary.clone()),
        sentiment: new.sentiment.clone().or_else(|| old.sentiment.clone()),
        successful: new.successful.or(old.successful),
    }
}

impl Tables {
    fn upsert_call(&mut self, call: &Call) {
        let merged = match self.calls.get(&call.id) {
            Some(old) => merge_call(old, call),
            None => call.clone(),
        };
        self.calls.insert(call.id.clone(), merged);
    }

    fn record_event(&mut self, event: &CallEvent) -> Recorded {
        if self.events.contains_key(&event.dedupe_key) {
            return Recorded::Duplicate;
        }
        let order = self.events.len();
        self.events
            .insert(event.dedupe_key.clone(), (order, event.clone(), None));
        Recorded::New
    }
}

#[async_trait]
impl HealthStore for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        self.lock().map(|_| ())
    }
}

#[async_trait]
impl CatalogueStore for MemoryStore {
    async fn upsert_company(&self, company: &Company) -> StoreResult<()> {
        self.lock()?.companies.insert(company.id, company.clone());
        Ok(())
    }

    async fn company_by_slug(&self, slug: &str) -> StoreResult<Option<Company>> {
        Ok(self
            .lock()?
            .companies
            .values()
            .find(|c| c.slug == slug)
            .cloned())
    }

    async fn list_companies(&self) -> StoreResult<Vec<Company>> {
        let mut all: Vec<_> = self.lock()?.companies.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn upsert_branch(&self, branch: &Branch) -> StoreResult<()> {
        self.lock()?.branches.insert(branch.id, branch.clone());
        Ok(())
    }

    async fn list_branches(&self, company: Option<CompanyId>) -> StoreResult<Vec<Branch>> {
        let mut all: Vec<_> = self
            .lock()?
            .branches
            .values()
            .filter(|b| company.is_none_or(|c| c == b.company_id))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn upsert_phone_number(&self, number: &PhoneNumber) -> StoreResult<()> {
        self.lock()?
            .numbers
            .insert(number.number.clone(), number.clone());
        Ok(())
    }

    async fn list_phone_numbers(&self) -> StoreResult<Vec<PhoneNumber>> {
        Ok(self.lock()?.numbers.values().cloned().collect())
    }

    async fn upsert_staff(&self, staff: &Staff) -> StoreResult<()> {
        self.lock()?.staff.insert(staff.id, staff.clone());
        Ok(())
    }

    async fn list_staff(&self, branch: Option<BranchId>) -> StoreResult<Vec<Staff>> {
        let mut all: Vec<_> = self
            .lock()?
            .staff
            .values()
            .filter(|s| branch.is_none_or(|b| b == s.branch_id))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn staff_member(&self, company: CompanyId, id: StaffId) -> StoreResult<Option<Staff>> {
        let tables = self.lock()?;
        Ok(tables
            .staff
            .get(&id)
            .filter(|s| {
                tables
                    .branches
                    .get(&s.branch_id)
                    .is_some_and(|b| b.company_id == company)
            })
            .cloned())
    }

    async fn company_staff(&self, company: CompanyId) -> StoreResult<Vec<Staff>> {
        let tables = self.lock()?;
        let mut all: Vec<Staff> = tables
            .staff
            .values()
            .filter(|s| {
                tables
                    .branches
                    .get(&s.branch_id)
                    .is_some_and(|b| b.company_id == company)
            })
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn upsert_service(&self, service: &Service) -> StoreResult<()> {
        self.lock()?.services.insert(service.id, service.clone());
        Ok(())
    }

    async fn list_services(&self, company: CompanyId) -> StoreResult<Vec<Service>> {
        let mut all: Vec<_> = self
            .lock()?
            .services
            .values()
            .filter(|s| s.company_id == company)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }
}

#[async_trait]
impl AppointmentStore for MemoryStore {
    async fn call_has_booking(&self, call: &CallId) -> StoreResult<bool> {
        Ok(self
            .lock()?
            .appointments
            .values()
            .any(|a| a.source_call_id.as_ref() == Some(call) && a.is_active()))
    }

    async fn insert_appointment(&self, a: &Appointment) -> StoreResult<Appointment> {
        let mut tables = self.lock()?;
        if let Some(key) = &a.idempotency_key {
            let existing = tables
                .appointments
                .values()
                .find(|x| x.company_id == a.company_id && x.idempotency_key.as_ref() == Some(key));
            if let Some(existing) = existing {
                return Ok(existing.clone());
            }
        }
        let overlaps = a.is_active()
            && tables.appointments.values().any(|x| {
                x.staff_id == a.staff_id
                    && x.is_active()
                    && x.blocked_from < a.blocked_until
                    && x.blocked_until > a.blocked_from
            });
        if overlaps {
            return Err(StoreError::Conflict(
                "the staff member is already booked at that time".into(),
            ));
        }
        tables.appointments.insert(a.id, a.clone());
        Ok(a.clone())
    }

    async fn appointment_by_key(
        &self,
        company: CompanyId,
        key: &str,
    ) -> StoreResult<Option<Appointment>> {
        Ok(self
            .lock()?
            .appointments
            .values()
            .find(|a| a.company_id == company && a.idempotency_key.as_deref() == Some(key))
            .cloned())
    }

    async fn appointment(&self, id: AppointmentId) -> StoreResult<Option<Appointment>> {
        Ok(self.lock()?.appointments.get(&id).cloned())
    }

    async fn upcoming_appointments(
        &self,
        customer: CustomerId,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        let mut found: Vec<_> = self
            .lock()?
            .appointments
            .values()
            .filter(|a| a.customer_id == customer && a.is_active() && a.starts_at >= from)
            .cloned()
            .collect();
        found.sort_by_key(|a| a.starts_at);
        found.truncate(20);
        Ok(found)
    }

    async fn staff_appointments(
        &self,
        staff: StaffId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        let mut found: Vec<_> = self
            .lock()?
            .appointments
            .values()
            .filter(|a| {
                a.staff_id == staff
                    && a.is_active()
                    && a.blocked_from < until
                    && a.blocked_until > from
            })
            .cloned()
            .collect();
        found.sort_by_key(|a| a.blocked_from);
        Ok(found)
    }

    async fn set_appointment_status(
        &self,
        id: AppointmentId,
        status: AppointmentStatus,
    ) -> StoreResult<Option<Appointment>> {
        let mut tables = self.lock()?;
        Ok(tables.appointments.get_mut(&id).map(|a| {
            a.status = status;
            a.clone()
        }))
    }
}

#[async_trait]
impl CallLogStore for MemoryStore {
    async fn upsert_call(&self, call: &Call) -> StoreResult<()> {
        self.lock()?.upsert_call(call);
        Ok(())
    }

    async fn call(&self, id: &CallId) -> StoreResult<Option<Call>> {
        Ok(self.lock()?.calls.get(id).cloned())
    }

    async fn record_call_event(&self, event: &CallEvent) -> StoreResult<Recorded> {
        Ok(self.lock()?.record_event(event))
    }

    async fn mark_call_event_processed(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some((_, _, processed)) = self.lock()?.events.get_mut(dedupe_key) {
            processed.get_or_insert(at);
        }
        Ok(())
    }

    async fn unprocessed_call_events(
        &self,
        received_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<CallEvent>> {
        let tables = self.lock()?;
        let mut pending: Vec<_> = tables
            .events
            .values()
            .filter(|(_, e, processed)| processed.is_none() && e.received_at < received_before)
            .collect();
        pending.sort_by_key(|(order, e, _)| (e.received_at, *order));
        Ok(pending
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, e, _)| e.clone())
            .collect())
    }

    async fn apply_call_log(&self, writes: &[CallLogWrite]) -> StoreResult<()> {
        let mut tables = self.lock()?;
        for write in writes {
            match write {
                CallLogWrite::Call(call) => tables.upsert_call(call),
                CallLogWrite::Event(event) => {
                    tables.record_event(event);
                }
            }
        }
        Ok(())
    }

    async fn caller_history(
        &self,
        company: CompanyId,
        caller: &E164Number,
    ) -> StoreResult<Option<BranchId>> {
        let tables = self.lock()?;
        let customers: HashSet<CustomerId> = tables
            .customers
            .values()
            .filter(|c| c.company_id == company && &c.phone == caller)
            .map(|c| c.id)
            .collect();
        let by_appointment = tables
            .appointments
            .values()
            .filter(|a| customers.contains(&a.customer_id))
            .max_by_key(|a| a.created_at)
            .map(|a| (a.created_at, a.branch_id));
        let by_call = tables
            .calls
            .values()
            .filter(|c| c.company_id == Some(company) && c.from_number.as_ref() == Some(caller))
            .filter_map(|c| Some((c.started_at?, c.branch_id?)))
            .max_by_key(|(at, _)| *at);
        Ok(by_appointment
            .into_iter()
            .chain(by_call)
            .max_by_key(|(at, _)| *at)
            .map(|(_, b)| b))
    }
}

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn upsert_customer(&self, customer: &Customer) -> StoreResult<()> {
        let mut tables = self.lock()?;
        let clash = tables.customers.values().any(|c| {
            c.id != customer.id && c.company_id == customer.company_id && c.phone == customer.phone
        });
        if clash {
            return Err(StoreError::Conflict(
                "a customer with this phone number exists".into(),
            ));
        }
        tables.customers.insert(customer.id, customer.clone());
        Ok(())
    }

    async fn record_failed_booking(&self, customer: CustomerId) -> StoreResult<()> {
        if let Some(c) = self.lock()?.customers.get_mut(&customer) {
            c.failed_booking_count = c.failed_booking_count.saturating_add(1);
        }
        Ok(())
    }

    async fn customer_by_phone(
        &self,
        company: CompanyId,
        phone: &E164Number,
    ) -> StoreResult<Option<Customer>> {
        Ok(self
            .lock()?
            .customers
            .values()
            .find(|c| c.company_id == company && &c.phone == phone)
            .cloned())
    }

    async fn customer(&self, company: CompanyId, id: CustomerId) -> StoreResult<Option<Customer>> {
        Ok(self
            .lock()?
            .customers
            .get(&id)
            .filter(|c| c.company_id == company)
            .cloned())
    }
}

#[async_trait]
impl CallbackStore for MemoryStore {
    async fn insert_callback(&self, callback: &CallbackRequest) -> StoreResult<()> {
        self.lock()?.callbacks.insert(callback.id, callback.clone());
        Ok(())
    }

    async fn callback(
        &self,
        company: CompanyId,
        id: CallbackId,
    ) -> StoreResult<Option<CallbackRequest>> {
        Ok(self
            .lock()?
            .callbacks
            .get(&id)
            .filter(|c| c.company_id == company)
            .cloned())
    }

    async fn find_callbacks(
        &self,
        company: CompanyId,
        filter: &CallbackFilter,
    ) -> StoreResult<Vec<CallbackRequest>> {
        let mut all: Vec<_> = self
            .lock()?
            .callbacks
            .values()
            .filter(|c| c.company_id == company)
            .filter(|c| filter.status.is_none_or(|s| s == c.status))
            .filter(|c| filter.branch_id.is_none_or(|b| Some(b) == c.branch_id))
            .filter(|c| {
                filter
                    .assigned_staff_id
                    .is_none_or(|s| Some(s) == c.assigned_staff_id)
            })
            .filter(|c| filter.priority.is_none_or(|p| p == c.priority))
            .filter(|c| {
                filter
                    .overdue_at
                    .is_none_or(|now| c.status.is_open() && c.due_at < now)
            })
            .filter(|c| {
                filter
                    .after
                    .as_ref()
                    .is_none_or(|cursor| filter.sort.is_after(c, cursor))
            })
            .cloned()
            .collect();
        all.sort_by(|x, y| filter.sort.compare(x, y));
        all.truncate(filter.limit as usize);
        Ok(all)
    }

    async fn open_callback(
        &self,
        new: &CallbackRequest,
        merge_since: DateTime<Utc>,
        merge: MergeCallback<'_>,
    ) -> StoreResult<(CallbackRequest, Opened)> {
        // One lock around find-and-write: the same atomicity the SQL stores get from a lock.
        let mut tables = self.lock()?;
        let open = tables
            .callbacks
            .values()
            .filter(|c| {
                c.company_id == new.company_id
                    && c.phone == new.phone
                    && c.status.is_open()
                    && c.created_at >= merge_since
                    && same_branch_or_unbranched(c.branch_id, new.branch_id)
            })
            .max_by_key(|c| (c.created_at, c.id))
            .cloned();
        match open {
            Some(existing) => {
                // The row keeps its identity whatever `merge` returns, as in the SQL stores.
                let merged = CallbackRequest {
                    id: existing.id,
                    company_id: existing.company_id,
                    ..merge(&existing)
                };
                tables.callbacks.insert(merged.id, merged.clone());
                Ok((merged, Opened::Merged))
            }
            None => {
                tables.callbacks.insert(new.id, new.clone());
                Ok((new.clone(), Opened::Created))
            }
        }
    }

    async fn update_callback(
        &self,
        callback: &CallbackRequest,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut tables = self.lock()?;
        let Some(stored) = tables
            .callbacks
            .get_mut(&callback.id)
            .filter(|c| c.company_id == callback.company_id && c.version == expected_version)
        else {
            return Ok(false);
        };
        *stored = CallbackRequest {
            id: stored.id,
            company_id: stored.company_id,
            phone: stored.phone.clone(),
            created_at: stored.created_at,
            ..callback.clone()
        };
        Ok(true)
    }
}

#[async_trait]
impl AssignmentStore for MemoryStore {
    async fn open_callback_counts(&self, company: CompanyId) -> StoreResult<Vec<(StaffId, u32)>> {
        let mut counts: HashMap<StaffId, u32> = HashMap::new();
        for c in self.lock()?.callbacks.values() {
            if c.company_id == company && c.status.is_open() {
                if let Some(staff) = c.assigned_staff_id {
                    *counts.entry(staff).or_default() += 1;
                }
            }
        }
        Ok(counts.into_iter().collect())
    }

    async fn staff_who_served(&self, customer: CustomerId) -> StoreResult<Vec<StaffId>> {
        let tables = self.lock()?;
        let mut served: Vec<(DateTime<Utc>, StaffId)> = tables
            .appointments
            .values()
            .filter(|a| a.customer_id == customer && a.status != AppointmentStatus::Cancelled)
            .map(|a| (a.starts_at, a.staff_id))
            .collect();
        served.sort_by(|a, b| b.cmp(a));
        let mut seen = HashSet::new();
        Ok(served
            .into_iter()
            .filter(|(_, s)| seen.insert(*s))
            .map(|(_, s)| s)
            .collect())
    }
}

#[async_trait]
impl SlaStore for MemoryStore {
    async fn watched_callbacks(
        &self,
        after: Option<(DateTime<Utc>, CallbackId)>,
        limit: u32,
    ) -> StoreResult<Vec<CallbackRequest>> {
        let tables = self.lock()?;
        let mut page: Vec<&CallbackRequest> = tables
            .callbacks
            .values()
            .filter(|c| matches!(c.status, CallbackStatus::Pending | CallbackStatus::Assigned))
            .filter(|c| after.is_none_or(|cursor| (c.due_at, c.id) > cursor))
            .collect();
        // The first `limit` in O(n), so paging through many callbacks stays linear per page.
        let limit = (limit as usize).min(page.len());
        if limit < page.len() {
            page.select_nth_unstable_by_key(limit, |c| (c.due_at, c.id));
            page.truncate(limit);
        }
        page.sort_by_key(|c| (c.due_at, c.id));
        Ok(page.into_iter().cloned().collect())
    }

    async fn escalate_callback(
        &self,
        callback: &CallbackRequest,
        expected_version: i64,
        escalation: &CallbackEscalation,
    ) -> StoreResult<bool> {
        // One lock around both writes: the atomicity the SQL stores get from a transaction.
        let mut tables = self.lock()?;
        let Some(stored) = tables
            .callbacks
            .get_mut(&callback.id)
            .filter(|c| c.company_id == callback.company_id && c.version == expected_version)
        else {
            return Ok(false);
        };
        *stored = CallbackRequest {
            id: stored.id,
            company_id: stored.company_id,
            phone: stored.phone.clone(),
            created_at: stored.created_at,
            ..callback.clone()
        };
        tables.escalations.push(escalation.clone());
        Ok(true)
    }

    async fn callback_escalations(
        &self,
        company: CompanyId,
        callback: CallbackId,
    ) -> StoreResult<Vec<CallbackEscalation>> {
        let tables = self.lock()?;
        if tables
            .callbacks
            .get(&callback)
            .is_none_or(|c| c.company_id != company)
        {
            return Ok(Vec::new());
        }
        Ok(tables
            .escalations
            .iter()
            .filter(|e| e.callback_id == callback)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn insert_api_token(&self, token: &ApiToken) -> StoreResult<()> {
        self.lock()?.tokens.push(token.clone());
        Ok(())
    }

    async fn api_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self
            .lock()?
            .tokens
            .iter()
            .find(|t| t.token_hash == hash && t.revoked_at.is_none())
            .cloned())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.lock()?.audit.push(entry.clone());
        Ok(())
    }

    async fn list_audit(&self, company: CompanyId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let tables = self.lock()?;
        let mut entries: Vec<_> = tables
            .audit
            .iter()
            .filter(|e| e.company_id == company)
            .cloned()
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.at));
        entries.truncate(limit as usize);
        Ok(entries)
    }

    async fn find_audit(
        &self,
        company: CompanyId,
        filter: &AuditFilter,
    ) -> StoreResult<Vec<AuditRecord>> {
        let tables = self.lock()?;
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        Ok(tables
            .audit
            .iter()
            .enumerate()
            .rev()
            .map(|(i, e)| (i64::try_from(i).unwrap_or(i64::MAX) + 1, e))
            .filter(|(id, e)| {
                e.company_id == company
                    && same(&filter.entity_type, &e.entity_type)
                    && same(&filter.entity_id, &e.entity_id)
                    && same(&filter.action, &e.action)
                    && filter.since.is_none_or(|t| e.at >= t)
                    && filter.before_id.is_none_or(|b| *id < b)
            })
            .take(filter.limit as usize)
            .map(|(id, e)| AuditRecord {
                id,
                entry: e.clone(),
            })
            .collect())
    }
}

#[async_trait]
impl AdminStore for MemoryStore {
    async fn callback_stats(
        &self,
        company: CompanyId,
        query: &StatsQuery,
    ) -> StoreResult<CallbackStats> {
        let tables = self.lock()?;
        let callbacks: Vec<CallbackRequest> = tables
            .callbacks
            .values()
            .filter(|c| c.company_id == company)
            .cloned()
            .collect();
        Ok(crate::domain::callback_stats::compute(&callbacks, query))
    }

    async fn delete_phone_number(
        &self,
        company: CompanyId,
        number: &E164Number,
    ) -> StoreResult<bool> {
        let mut tables = self.lock()?;
        if tables
            .numbers
            .get(number)
            .is_some_and(|n| n.company_id == company)
        {
            tables.numbers.remove(number);
            return Ok(true);
        }
        Ok(false)
    }

    async fn delete_branch(&self, company: CompanyId, branch: BranchId) -> StoreResult<Deleted> {
        let mut tables = self.lock()?;
        if tables
            .branches
            .get(&branch)
            .is_none_or(|b| b.company_id != company)
        {
            return Ok(Deleted::NotFound);
        }
        let in_use = tables.numbers.values().any(|n| n.branch_id == Some(branch))
            || tables.staff.values().any(|s| s.branch_id == branch)
            || tables.appointments.values().any(|a| a.branch_id == branch);
        if in_use {
            return Ok(Deleted::InUse);
        }
        tables.branches.remove(&branch);
        for b in tables.branches.values_mut() {
            if b.fallback_branch_id == Some(branch) {
                b.fallback_branch_id = None;
            }
        }
        for c in tables.companies.values_mut() {
            if c.default_branch_id == Some(branch) {
                c.default_branch_id = None;
            }
        }
        for c in tables.callbacks.values_mut() {
            if c.branch_id == Some(branch) {
                c.branch_id = None;
            }
        }
        tables.tokens.retain(|t| t.branch_id != Some(branch));
        Ok(Deleted::Deleted)
    }

    async fn find_customers(
        &self,
        company: CompanyId,
        filter: &CustomerFilter,
    ) -> StoreResult<Vec<Customer>> {
        let tables = self.lock()?;
        let mut found: Vec<Customer> = tables
            .customers
            .values()
            .filter(|c| c.company_id == company)
            .filter(|c| filter.phone.as_ref().is_none_or(|p| *p == c.phone))
            .filter(|c| {
                filter
                    .after_phone
                    .as_deref()
                    .is_none_or(|after| c.phone.as_str() > after)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| a.phone.as_str().cmp(b.phone.as_str()));
        found.truncate(filter.limit as usize);
        Ok(found)
    }

    async fn delete_customer(&self, company: CompanyId, id: CustomerId) -> StoreResult<Deleted> {
        let mut tables = self.lock()?;
        if tables
            .customers
            .get(&id)
            .is_none_or(|c| c.company_id != company)
        {
            return Ok(Deleted::NotFound);
        }
        if tables.appointments.values().any(|a| a.customer_id == id) {
            return Ok(Deleted::InUse);
        }
        tables.customers.remove(&id);
        for c in tables.callbacks.values_mut() {
            if c.customer_id == Some(id) {
                c.customer_id = None;
            }
        }
        Ok(Deleted::Deleted)
    }

    async fn find_appointments(
        &self,
        company: CompanyId,
        filter: &AppointmentFilter,
    ) -> StoreResult<Vec<Appointment>> {
        let tables = self.lock()?;
        let mut found: Vec<Appointment> = tables
            .appointments
            .values()
            .filter(|a| a.company_id == company)
            .filter(|a| filter.branch_id.is_none_or(|b| b == a.branch_id))
            .filter(|a| filter.staff_id.is_none_or(|s| s == a.staff_id))
            .filter(|a| filter.customer_id.is_none_or(|c| c == a.customer_id))
            .filter(|a| filter.status.is_none_or(|s| s == a.status))
            .filter(|a| filter.from.is_none_or(|t| a.starts_at >= t))
            .filter(|a| filter.until.is_none_or(|t| a.starts_at < t))
            .filter(|a| {
                filter
                    .after
                    .is_none_or(|(at, id)| (a.starts_at, a.id) > (at, id))
            })
            .cloned()
            .collect();
        found.sort_by_key(|a| (a.starts_at, a.id));
        found.truncate(filter.limit as usize);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(name: &str, minute: u32) -> CallEvent {
        CallEvent {
            call_id: CallId::parse("call_mem").expect("valid"),
            event: name.into(),
            dedupe_key: format!("{name}:call_mem"),
            payload: serde_json::json!({"event": name}),
            received_at: Utc
                .with_ymd_and_hms(2030, 6, 3, 9, minute, 0)
                .single()
                .expect("valid time"),
        }
    }

    #[actix_rt::test]
    async fn unprocessed_events_come_oldest_first_until_marked() {
        let store = MemoryStore::new();
        let (ended, started, analyzed) = (
            event("call_ended", 5),
            event("call_started", 0),
            event("call_analyzed", 9),
        );
        for e in [&ended, &started, &analyzed] {
            store.record_call_event(e).await.expect("recorded");
        }
        let before = analyzed.received_at;
        let pending = store
            .unprocessed_call_events(before, 10)
            .await
            .expect("read");
        assert_eq!(pending, vec![started.clone(), ended.clone()]);
        assert_eq!(
            store
                .unprocessed_call_events(before, 1)
                .await
                .expect("read"),
            vec![started.clone()]
        );
        store
            .mark_call_event_processed(&started.dedupe_key, before)
            .await
            .expect("marked");
        store
            .mark_call_event_processed("call_started:unknown", before)
            .await
            .expect("an unknown key is no error");
        assert_eq!(
            store
                .unprocessed_call_events(before, 10)
                .await
                .expect("read"),
            vec![ended]
        );
    }

    #[actix_rt::test]
    async fn callbacks_update_by_compare_and_swap_within_their_company() {
        use crate::domain::callback::{new_callback, CallbackDraft, CallbackPolicy};
        let store = MemoryStore::new();
        let now = Utc
            .with_ymd_and_hms(2030, 6, 3, 9, 0, 0)
            .single()
            .expect("valid time");
        let draft = CallbackDraft {
            company_id: CompanyId::new(),
            branch_id: None,
            customer_id: None,
            phone: E164Number::parse("+4915123456789").expect("valid"),
            name: None,
            reason: "Termin".into(),
            notes: None,
            priority: None,
            language: None,
            source_call_id: None,
            scheduled_for: None,
        };
        let cb = new_callback(
            CallbackId::new(),
            &draft,
            Priority::Normal,
            &CallbackPolicy::default(),
            now,
        );
        store.insert_callback(&cb).await.expect("stored");
        let changed = CallbackRequest {
            status: CallbackStatus::Cancelled,
            version: 2,
            ..cb.clone()
        };
        let elsewhere = CallbackRequest {
            company_id: CompanyId::new(),
            ..changed.clone()
        };
        assert!(!store.update_callback(&elsewhere, 1).await.expect("update"));
        assert!(store.update_callback(&changed, 1).await.expect("update"));
        assert!(!store.update_callback(&changed, 1).await.expect("update"));
        assert_eq!(
            store.callback(cb.company_id, cb.id).await.expect("read"),
            Some(changed)
        );
    }
}
