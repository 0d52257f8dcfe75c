//! The engine handle: what the HTTP side calls. Clonable; wraps the actors' addresses and turns
//! mailbox errors into typed errors. Routing and branch facts are read straight from the
//! registry's indexes (no mailbox round trip); slot searches go to branch actors; holds, bookings
//! and releases go to the staff actor that owns the calendar, and commits to the persistence actor.

use crate::branch::{FindSlots, SlotSearch};
use crate::call::{
    BookingTried, CallContext, CallSummary, EndCall, HoldSettled, HoldTaken, TouchCall,
};
use crate::clock::{Clock, SystemClock};
use crate::domain::availability::{branch_refuses, Interval, ServiceTiming, Slot, Unbookable};
use crate::domain::calendar::{Hold, HoldId};
use crate::domain::offer::OfferReason;
use crate::domain::routing::{self, InboundCall, Routing};
use crate::domain::slot_id::{SlotIdCodec, SlotRef};
use crate::domain::*;
use crate::metrics as m;
use crate::persistence::{CommitAppointment, CommitStatus, Flush, LogCall, PersistenceActor};
use crate::registry::{BranchInfo, Directory, LoadSummary, Registry, Reload, StartCall};
use crate::settings::EngineSettings;
use crate::staff::{
    AppointmentCancelled, ConfirmHold, ExpireHolds, HoldRefused, HoldSlot, ReleaseHold, StaffActor,
};
use crate::store::{CallLogWrite, Store, StoreError};
use actix::prelude::*;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// What went wrong in the engine (user-level outcomes such as "slot taken" are not errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An actor did not answer (restarting or overloaded); retrying may help.
    #[error("engine temporarily unavailable")]
    Unavailable(#[from] MailboxError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such branch (or not this company's).
    #[error("unknown branch")]
    UnknownBranch,
    /// No such service at this company.
    #[error("unknown service")]
    UnknownService,
    /// No such staff member at this branch.
    #[error("unknown staff member")]
    UnknownStaff,
}

/// A slot search as the HTTP side asks it.
#[derive(Clone, Debug)]
pub struct SlotQuery {
    /// Where.
    pub branch_id: BranchId,
    /// What.
    pub service_id: ServiceId,
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// The exact time asked for.
    pub wanted: Option<DateTime<Utc>>,
    /// Local time-of-day window.
    pub window: Option<(NaiveTime, NaiveTime)>,
    /// Preferred staff member (a weight: others are still offered).
    pub preferred_staff: Option<StaffId>,
    /// Only this staff member (the caller asked for them by name: a requirement, not a
    /// weight); the other branches are then not searched.
    pub only_staff: Option<StaffId>,
    /// The call's language.
    pub language: Option<Language>,
    /// Staff who served the customer before.
    pub served_before: Vec<StaffId>,
    /// Also look at the company's other branches when this one has nothing.
    pub other_branches: bool,
}

/// A slot offered to a caller, with what is needed to book and say it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SlotChoice {
    /// Opaque id to book it with.
    pub slot_id: String,
    /// Branch.
    pub branch_id: BranchId,
    /// Staff member.
    pub staff_id: StaffId,
    /// Staff member's name.
    pub staff_name: String,
    /// Customer's start time (UTC).
    pub start: DateTime<Utc>,
    /// Customer's end time (UTC).
    pub end: DateTime<Utc>,
    /// Why it is offered.
    pub reason: OfferReason,
}

/// The answer to a slot search.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Availability {
    /// Whether the wanted time is free.
    pub wanted_free: bool,
    /// Slots to offer, best first.
    pub slots: Vec<SlotChoice>,
    /// Why the top staff member ranks first (stored with a booking).
    pub top_reason: Option<String>,
}

/// A booking as the HTTP side asks it.
#[derive(Clone, Debug)]
pub struct BookingRequest {
    /// Company (checked against the branch).
    pub company_id: CompanyId,
    /// Branch.
    pub branch_id: BranchId,
    /// Service.
    pub service_id: ServiceId,
    /// Staff member, when chosen (from a slot id or by name); else the best-ranked free one.
    pub staff_id: Option<StaffId>,
    /// Customer's start time.
    pub start: DateTime<Utc>,
    /// Customer.
    pub customer_id: CustomerId,
    /// The call booking it (owns the hold).
    pub call_id: Option<CallId>,
    /// Same key, same appointment.
    pub idempotency_key: Option<String>,
    /// Notes from the caller.
    pub notes: Option<String>,
    /// Call language (for staff ranking).
    pub language: Option<Language>,
}

/// What became of a booking request.
#[derive(Clone, Debug, PartialEq)]
pub enum BookingOutcome {
    /// Booked now (durable).
    Booked(Appointment),
    /// The same request was booked before: the same appointment.
    Replayed(Appointment),
    /// Someone else has the slot; here is what is free instead.
    Taken(Availability),
    /// The time cannot be booked (closed, too soon, …); here is what is free instead.
    Unbookable(Unbookable, Availability),
}

/// The engine's handle.
#[derive(Clone)]
pub struct Engine {
    registry: Addr<Registry>,
    persistence: Addr<PersistenceActor>,
    directory: Arc<Directory>,
    store: Arc<dyn Store>,
    settings: Arc<EngineSettings>,
    codec: SlotIdCodec,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// Starts the actors on an arbiter of their own and loads everything from the store. Holds
    /// expire by the system clock.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        Self::start_with_clock(store, settings, Arc::new(SystemClock)).await
    }

    /// [`Engine::start`] with hold expiry on `clock`: the server passes the clock its requests
    /// read `now` from; tests pass a [`crate::clock::ManualClock`], advance it past the hold
    /// lifetime and call [`Engine::expire_holds`] instead of sleeping.
    pub async fn start_with_clock(
        store: Arc<dyn Store>,
        settings: EngineSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        let settings = Arc::new(settings);
        let arbiter = Arbiter::new().handle();
        let directory = Arc::new(Directory::default());
        let persistence = {
            let (store, capacity) = (store.clone(), settings.mailbox_capacity);
            Supervisor::start_in_arbiter(&arbiter, move |_| {
                PersistenceActor::new(store, 256, Duration::from_millis(50), capacity)
            })
        };
        let registry = {
            let (store, settings, directory, actors, clock) = (
                store.clone(),
                settings.clone(),
                directory.clone(),
                arbiter.clone(),
                clock.clone(),
            );
            Registry::start_in_arbiter(&arbiter, move |_| {
                Registry::new(store, settings, directory, actors).with_clock(clock)
            })
        };
        registry.send(Reload { company: None }).await??;
        let codec = SlotIdCodec::new(&settings.slot_secret);
        Ok(Self {
            registry,
            persistence,
            directory,
            store,
            settings,
            codec,
            clock,
        })
    }

    /// Reloads one company (or all) after the admin side changed it.
    pub async fn reload(&self, company: Option<CompanyId>) -> Result<LoadSummary, EngineError> {
        Ok(self.registry.send(Reload { company }).await??)
    }

    /// The store the engine persists through.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The clock holds expire by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Removes, at every staff actor, the holds that have expired by the engine's clock; returns
    /// how many. The system clock does this by timer; a manual clock arms none, so a test calls
    /// this after advancing it. (An expired hold blocks no slot even before it is removed.)
    pub async fn expire_holds(&self) -> Result<usize, EngineError> {
        let actors: Vec<Addr<StaffActor>> = self
            .directory
            .staff
            .iter()
            .map(|e| e.addr.clone())
            .collect();
        let mut expired = 0;
        for actor in actors {
            expired += actor.send(ExpireHolds).await?;
        }
        Ok(expired)
    }

    /// Routes an inbound call (no mailbox round trip).
    pub fn route(&self, call: &InboundCall<'_>) -> Routing {
        let routing = routing::resolve(&self.directory.routing, call);
        match &routing {
            Routing::Routed(route) => {
                metrics::counter!(m::CALLS_ROUTED_TOTAL, "method" => route.method.as_str())
                    .increment(1)
            }
            Routing::Unrouted(_) => metrics::counter!(m::CALLS_UNROUTED_TOTAL).increment(1),
        }
        routing
    }

    /// The company an inbound call is for, before its branch is chosen.
    pub fn company_of(&self, call: &InboundCall<'_>) -> Option<CompanyId> {
        routing::company_of(&self.directory.routing, call)
    }

    /// Cached facts of a branch.
    pub fn branch(&self, id: BranchId) -> Option<Arc<BranchInfo>> {
        self.directory.branches.get(&id).map(|e| e.info.clone())
    }

    /// A staff member as the engine knows them (their branch decides where a slot is booked).
    pub fn staff(&self, id: StaffId) -> Option<Arc<Staff>> {
        self.directory.staff.get(&id).map(|e| e.staff.clone())
    }

    /// The actor of a staff member (for operations and fault-injection drills).
    pub fn staff_actor(&self, id: StaffId) -> Option<Addr<StaffActor>> {
        self.directory.staff.get(&id).map(|e| e.addr.clone())
    }

    /// The codec of opaque slot ids.
    pub fn slot_ids(&self) -> &SlotIdCodec {
        &self.codec
    }

    fn service(&self, info: &BranchInfo, id: ServiceId) -> Result<Arc<Service>, EngineError> {
        info.services
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or(EngineError::UnknownService)
    }

    /// Finds free slots (and, when asked, at the company's other branches if this one has none).
    pub async fn find_slots(
        &self,
        query: &SlotQuery,
        now: DateTime<Utc>,
    ) -> Result<Availability, EngineError> {
        let entry = self
            .directory
            .branches
            .get(&query.branch_id)
            .map(|e| e.clone())
            .ok_or(EngineError::UnknownBranch)?;
        let service = self.service(&entry.info, query.service_id)?;
        let search = entry
            .addr
            .send(self.find_message(query, service.clone(), None, now))
            .await?;
        let availability = self.to_availability(&entry.info, query.service_id, &search);
        Ok(self
            .with_other_branches(&entry.info, query, service, availability, now)
            .await)
    }

    fn find_message(
        &self,
        q: &SlotQuery,
        service: Arc<Service>,
        only: Option<StaffId>,
        now: DateTime<Utc>,
    ) -> FindSlots {
        FindSlots {
            service,
            from: q.from,
            to: q.to,
            wanted: q.wanted,
            window: q.window,
            preferred_staff: q.preferred_staff,
            only_staff: only.or(q.only_staff),
            language: q.language,
            served_before: q.served_before.clone(),
            now,
        }
    }

    async fn other_branch_slots(
        &self,
        home: &BranchInfo,
        q: &SlotQuery,
        service: Arc<Service>,
        now: DateTime<Utc>,
    ) -> Vec<SlotChoice> {
        let siblings: Vec<_> = self
            .directory
            .branches
            .iter()
            .filter(|e| {
                e.info.company.id == home.company.id
                    && e.info.branch.id != home.branch.id
                    && e.info.branch.active
            })
            .map(|e| e.clone())
            .collect();
        let mut choices = Vec::new();
        for sibling in siblings {
            let Ok(search) = sibling
                .addr
                .send(self.find_message(q, service.clone(), None, now))
                .await
            else {
                continue;
            };
            choices.extend(
                self.to_availability(&sibling.info, q.service_id, &search)
                    .slots
                    .into_iter()
                    .map(|mut c| {
                        c.reason = OfferReason::OtherBranch;
                        c
                    }),
            );
        }
        choices.sort_by_key(|c| c.start);
        choices.truncate(self.settings.max_slots_offered);
        choices
    }

    fn to_availability(
        &self,
        info: &BranchInfo,
        service_id: ServiceId,
        search: &SlotSearch,
    ) -> Availability {
        let name = |id: StaffId| {
            info.staff
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        Availability {
            wanted_free: search.offer.wanted_free,
            slots: search
                .offer
                .slots
                .iter()
                .map(|o| SlotChoice {
                    slot_id: self.codec.encode(&SlotRef {
                        staff_id: o.staff_id,
                        service_id,
                        start: o.slot.start,
                    }),
                    branch_id: info.branch.id,
                    staff_id: o.staff_id,
                    staff_name: name(o.staff_id),
                    start: o.slot.start,
                    end: o.slot.end,
                    reason: o.reason,
                })
                .collect(),
            top_reason: search.ranking.first().map(|s| s.reason.clone()),
        }
    }

    async fn with_other_branches(
        &self,
        home: &BranchInfo,
        query: &SlotQuery,
        service: Arc<Service>,
        mut availability: Availability,
        now: DateTime<Utc>,
    ) -> Availability {
        if availability.slots.is_empty() && query.other_branches && query.only_staff.is_none() {
            availability.slots = self.other_branch_slots(home, query, service, now).await;
        }
        availability
    }

    /// Books a slot: hold at the staff actor, durable commit, confirm; acknowledged only after
    /// the commit. Idempotent on `idempotency_key`. A slot that is taken or not bookable is an
    /// outcome with alternatives, not an error. The call's actor learns how it went, so the
    /// end of the call knows whether the caller got what they wanted.
    pub async fn book(
        &self,
        req: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<BookingOutcome, EngineError> {
        let outcome = self.book_slot(req, now).await;
        if let Some(call) = req
            .call_id
            .as_ref()
            .and_then(|id| self.directory.calls.get(id))
        {
            let booked = matches!(
                outcome,
                Ok(BookingOutcome::Booked(_) | BookingOutcome::Replayed(_))
            );
            call.do_send(BookingTried { booked });
        }
        outcome
    }

    async fn book_slot(
        &self,
        req: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<BookingOutcome, EngineError> {
        let mut req = req.clone();
        if let Some(key) = &req.idempotency_key {
            match self.replay(req.company_id, key).await? {
                Replay::Booked(existing) => {
                    metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "replayed").increment(1);
                    return Ok(BookingOutcome::Replayed(*existing));
                }
                Replay::Fresh(free_key) => req.idempotency_key = Some(free_key),
            }
        }
        let req = &req;
        let entry = self.branch_entry(req.company_id, req.branch_id)?;
        let service = self.service(&entry.info, req.service_id)?;
        let query = self.query_around(&entry.info, req);
        let (staff_id, reason) = match req.staff_id {
            Some(id) => (id, "requested by the caller".to_owned()),
            None => match self
                .best_staff_at(&entry, &query, service.clone(), req.start, now)
                .await?
            {
                Ok(best) => best,
                Err(alternatives) => {
                    let alternatives = self
                        .with_other_branches(
                            &entry.info,
                            &query,
                            service.clone(),
                            alternatives,
                            now,
                        )
                        .await;
                    // Nobody is free: because the branch cannot be booked then at all (past,
                    // closed, off the grid), or because everyone qualified is busy.
                    return Ok(
                        match branch_refuses(
                            &entry.info.branch,
                            &ServiceTiming::from(&*service),
                            req.start,
                            &self.settings.rules,
                            now,
                        ) {
                            Some(why) => {
                                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "unbookable")
                                    .increment(1);
                                BookingOutcome::Unbookable(why, alternatives)
                            }
                            None => {
                                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "taken")
                                    .increment(1);
                                BookingOutcome::Taken(alternatives)
                            }
                        },
                    );
                }
            },
        };
        let staff = self
            .directory
            .staff
            .get(&staff_id)
            .map(|e| e.clone())
            .ok_or(EngineError::UnknownStaff)?;
        if staff.staff.branch_id != req.branch_id {
            return Err(EngineError::UnknownStaff);
        }
        let owner = req.call_id.clone().unwrap_or_else(CallId::for_api);
        let timing = ServiceTiming::from(&*service);
        let hold_request = HoldSlot {
            start: req.start,
            timing,
            owner: owner.clone(),
            ttl: self.settings.hold_ttl,
            now,
        };
        let hold = match staff.addr.send(hold_request).await? {
            Ok(hold) => hold,
            Err(refused) => return self.refused(refused, &query, now).await,
        };
        let appointment =
            new_appointment(req, staff_id, Slot::new(req.start, &timing), reason, now);
        match self
            .persistence
            .send(CommitAppointment { appointment })
            .await?
        {
            Ok(stored) => {
                self.confirm(&staff.addr, &hold, &owner, &stored, now).await;
                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "booked").increment(1);
                Ok(BookingOutcome::Booked(stored))
            }
            Err(StoreError::Conflict(_)) => {
                // Another node booked it first: the database is the final word. Teach this
                // node's staff actor what the database holds there, so it stops offering it.
                self.release(&staff.addr, hold.id, &owner).await;
                self.learn_from_store(&staff.addr, staff_id, hold.blocked)
                    .await;
                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "taken").increment(1);
                Ok(BookingOutcome::Taken(self.find_slots(&query, now).await?))
            }
            Err(e) => {
                self.release(&staff.addr, hold.id, &owner).await;
                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "failed").increment(1);
                Err(e.into())
            }
        }
    }

    fn branch_entry(
        &self,
        company: CompanyId,
        branch: BranchId,
    ) -> Result<crate::registry::BranchEntry, EngineError> {
        self.directory
            .branches
            .get(&branch)
            .map(|e| e.clone())
            .filter(|e| e.info.company.id == company)
            .ok_or(EngineError::UnknownBranch)
    }

    fn query_around(&self, info: &BranchInfo, req: &BookingRequest) -> SlotQuery {
        let local_date = req.start.with_timezone(&info.branch.time_zone).date_naive();
        SlotQuery {
            branch_id: req.branch_id,
            service_id: req.service_id,
            from: local_date,
            to: local_date,
            wanted: Some(req.start),
            window: None,
            preferred_staff: req.staff_id,
            only_staff: None,
            language: req.language,
            served_before: Vec::new(),
            other_branches: true,
        }
    }

    /// The best-ranked staff member free at `start` and why, or the alternatives when nobody is.
    async fn best_staff_at(
        &self,
        entry: &crate::registry::BranchEntry,
        query: &SlotQuery,
        service: Arc<Service>,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Result<(StaffId, String), Availability>, EngineError> {
        let search = entry
            .addr
            .send(self.find_message(query, service, None, now))
            .await?;
        let best = search
            .offer
            .slots
            .first()
            .filter(|o| search.offer.wanted_free && o.slot.start == start);
        Ok(match best {
            Some(best) => {
                let reason = search
                    .ranking
                    .iter()
                    .find(|r| r.staff_id == best.staff_id)
                    .map(|r| r.reason.clone());
                Ok((best.staff_id, reason.unwrap_or_default()))
            }
            None => Err(self.to_availability(&entry.info, query.service_id, &search)),
        })
    }

    /// What an idempotency key leads to: the active appointment it booked, or the key to book
    /// under. A key whose appointment was cancelled since is extended with that appointment's
    /// id, so the same request books afresh once, and a retry of that finds it again.
    async fn replay(&self, company: CompanyId, key: &str) -> Result<Replay, EngineError> {
        let mut key = key.to_owned();
        // Each cancelled round adds one link; a caller would have to book and cancel the same
        // request many times to reach the bound, after which it is booked under a fresh key.
        for _ in 0..16 {
            match self.store.appointment_by_key(company, &key).await? {
                Some(existing) if existing.is_active() => {
                    return Ok(Replay::Booked(Box::new(existing)))
                }
                Some(cancelled) => key = format!("{key}~{}", cancelled.id),
                None => return Ok(Replay::Fresh(key)),
            }
        }
        Ok(Replay::Fresh(format!("{key}~{}", uuid::Uuid::new_v4())))
    }

    async fn refused(
        &self,
        refused: HoldRefused,
        query: &SlotQuery,
        now: DateTime<Utc>,
    ) -> Result<BookingOutcome, EngineError> {
        let alternatives = self.find_slots(query, now).await?;
        Ok(match refused {
            HoldRefused::Taken => {
                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "taken").increment(1);
                BookingOutcome::Taken(alternatives)
            }
            HoldRefused::Unbookable(why) => {
                metrics::counter!(m::BOOKINGS_TOTAL, "outcome" => "unbookable").increment(1);
                BookingOutcome::Unbookable(why, alternatives)
            }
        })
    }

    /// Turns the hold into the committed appointment at the staff actor. The commit is what
    /// counts: if the hold lapsed meanwhile, the appointment is recorded there anyway.
    async fn confirm(
        &self,
        staff: &Addr<StaffActor>,
        hold: &Hold,
        owner: &CallId,
        stored: &Appointment,
        now: DateTime<Utc>,
    ) {
        let confirmed = staff
            .send(ConfirmHold {
                hold: hold.id,
                owner: owner.clone(),
                appointment: stored.id,
                now,
            })
            .await;
        if !matches!(confirmed, Ok(Ok(()))) {
            if let Some(blocked) = Interval::new(stored.blocked_from, stored.blocked_until) {
                staff.do_send(crate::staff::AppointmentBooked {
                    id: stored.id,
                    blocked,
                });
            }
        }
        self.settle_hold(owner, hold.id);
    }

    async fn release(&self, staff: &Addr<StaffActor>, hold: HoldId, owner: &CallId) {
        if let Err(e) = staff
            .send(ReleaseHold {
                hold,
                owner: owner.clone(),
            })
            .await
        {
            // The hold expires by its own timer anyway.
            tracing::warn!(error = %e, "could not release hold");
        }
        self.settle_hold(owner, hold);
    }

    async fn learn_from_store(
        &self,
        staff: &Addr<StaffActor>,
        staff_id: StaffId,
        around: Interval,
    ) {
        match self
            .store
            .staff_appointments(staff_id, around.start, around.end)
            .await
        {
            Ok(found) => {
                for a in found {
                    if let Some(blocked) = Interval::new(a.blocked_from, a.blocked_until) {
                        staff.do_send(crate::staff::AppointmentBooked { id: a.id, blocked });
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the conflicting appointment"),
        }
    }

    fn settle_hold(&self, owner: &CallId, hold: HoldId) {
        if let Some(call) = self.directory.calls.get(owner) {
            call.do_send(HoldSettled { hold });
        }
    }

    /// Holds a slot for a call without booking it (released when the call ends or the hold expires).
    pub async fn hold(
        &self,
        call: &CallId,
        slot: &SlotRef,
        now: DateTime<Utc>,
    ) -> Result<Result<Hold, HoldRefused>, EngineError> {
        let staff = self
            .directory
            .staff
            .get(&slot.staff_id)
            .map(|e| e.clone())
            .ok_or(EngineError::UnknownStaff)?;
        let info = self
            .branch(staff.staff.branch_id)
            .ok_or(EngineError::UnknownBranch)?;
        let service = self.service(&info, slot.service_id)?;
        let request = HoldSlot {
            start: slot.start,
            timing: ServiceTiming::from(&*service),
            owner: call.clone(),
            ttl: self.settings.hold_ttl,
            now,
        };
        let held = staff.addr.send(request).await?;
        if let (Ok(hold), Some(actor)) = (&held, self.directory.calls.get(call)) {
            actor.do_send(HoldTaken {
                hold: hold.id,
                staff: staff.addr.clone(),
            });
        }
        Ok(held)
    }

    /// Cancels an appointment of the company; frees its time. `None` when there is no such
    /// appointment.
    pub async fn cancel(
        &self,
        company: CompanyId,
        id: AppointmentId,
    ) -> Result<Option<Appointment>, EngineError> {
        match self.store.appointment(id).await? {
            Some(a) if a.company_id == company => {}
            _ => return Ok(None),
        }
        let cancelled = self
            .persistence
            .send(CommitStatus {
                id,
                status: AppointmentStatus::Cancelled,
            })
            .await??;
        if let Some(a) = &cancelled {
            if let Some(staff) = self.directory.staff.get(&a.staff_id) {
                staff.addr.do_send(AppointmentCancelled { id: a.id });
            }
        }
        Ok(cancelled)
    }

    /// Moves an appointment: the new slot is booked first and the old one cancelled only then,
    /// so the customer never ends up with neither.
    pub async fn reschedule(
        &self,
        old: AppointmentId,
        new: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<BookingOutcome, EngineError> {
        let outcome = self.book(new, now).await?;
        if let BookingOutcome::Booked(_) | BookingOutcome::Replayed(_) = &outcome {
            self.cancel(new.company_id, old).await?;
        }
        Ok(outcome)
    }

    /// Starts (or finds) the actor of a call.
    pub async fn start_call(&self, context: CallContext) -> Result<(), EngineError> {
        self.registry.send(StartCall { context }).await?;
        Ok(())
    }

    /// The context of an active call, postponing its idle timeout.
    pub async fn touch_call(&self, call: &CallId) -> Option<CallContext> {
        let actor = self.directory.calls.get(call).map(|a| a.clone())?;
        actor.send(TouchCall).await.ok()
    }

    /// Ends a call: its actor releases its holds and stops. `None` when this node has no
    /// actor for the call (never started here, idle-ended, or ended before).
    pub async fn end_call(&self, call: &CallId) -> Option<CallSummary> {
        let actor = self.directory.calls.get(call).map(|a| a.clone())?;
        actor.send(EndCall).await.ok()
    }

    /// Active calls on this node.
    pub fn active_calls(&self) -> usize {
        self.directory.calls.len()
    }

    /// Queues a call-log write (batched; retried a bounded number of times while the database
    /// is unavailable; a write the database refuses is set aside with a metric and an error).
    pub async fn log_call(&self, write: CallLogWrite) -> Result<(), EngineError> {
        Ok(self.persistence.send(LogCall(write)).await?)
    }

    /// Writes everything queued; returns once durable, or once the bounded tries are over.
    pub async fn flush(&self) -> Result<(), EngineError> {
        Ok(self.persistence.send(Flush).await?)
    }
}

/// See [`Engine::replay`].
enum Replay {
    Booked(Box<Appointment>),
    Fresh(String),
}

fn new_appointment(
    req: &BookingRequest,
    staff_id: StaffId,
    slot: Slot,
    reason: String,
    now: DateTime<Utc>,
) -> Appointment {
    Appointment {
        id: AppointmentId::new(),
        company_id: req.company_id,
        branch_id: req.branch_id,
        staff_id,
        customer_id: req.customer_id,
        service_id: req.service_id,
        starts_at: slot.start,
        ends_at: slot.end,
        blocked_from: slot.blocked.start,
        blocked_until: slot.blocked.end,
        status: AppointmentStatus::Booked,
        source_call_id: req.call_id.clone(),
        idempotency_key: req.idempotency_key.clone(),
        assignment_reason: Some(reason),
        notes: req.notes.clone(),
        created_at: now,
    }
}
