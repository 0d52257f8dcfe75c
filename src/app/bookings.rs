//! Slots and appointments: find free slots, book, cancel, reschedule, for the voice agent and
//! the admin API alike.
//!
//! Booking goes through the engine: the staff member's actor holds the slot, the store commits
//! it (refusing overlaps), and the calendar actor knows at once. Each change publishes its event
//! here once durable (`AppointmentBooked`, `AppointmentCancelled`, `AppointmentRescheduled`),
//! on a task of its own so the answer does not wait for the outbox, and an operator's change is
//! audited. A refused booking made during a call counts against the customer (a third failure
//! makes their callback high priority).

use super::audit::{self, Actor, Change};
use super::names;
use crate::events::{DomainEvent, Events};
use callflow_actors::clock::Clock;
use callflow_actors::domain::{
    Appointment, AppointmentId, AppointmentStatus, BranchId, CallId, CompanyId, Customer,
    CustomerId, E164Number, Language, ServiceId, StaffId,
};
use callflow_actors::{
    Availability, BookingOutcome, BookingRequest, Engine, EngineError, SlotQuery, Store, StoreError,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Why a booking use case could not run (a refusal of the slot itself is a [`BookingOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// The engine (or the store behind it) failed or refused a reference.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The appointment is not booked (cancelled, completed, no-show): nothing to change.
    #[error("the appointment is {0}, not booked")]
    NotBooked(AppointmentStatus),
    /// No such appointment in this company.
    #[error("no such appointment")]
    NotFound,
}

impl From<StoreError> for BookingError {
    fn from(e: StoreError) -> Self {
        Self::Engine(EngineError::Store(e))
    }
}

/// A slot an offer named by its id: where, with whom, what and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotTarget {
    /// The branch the staff member works at (offers can come from other branches).
    pub branch_id: BranchId,
    /// The staff member.
    pub staff_id: StaffId,
    /// The service.
    pub service_id: ServiceId,
    /// The start.
    pub start: DateTime<Utc>,
}

/// Where an appointment should move to.
#[derive(Clone, Debug)]
pub struct Move {
    /// The new start.
    pub start: DateTime<Utc>,
    /// The branch of the new time, when it differs from the appointment's (a slot offered at
    /// another branch).
    pub branch_id: Option<BranchId>,
    /// The staff member, when chosen; `None` lets the engine pick the best free one.
    pub staff_id: Option<StaffId>,
    /// Same key, same outcome (a retried function call).
    pub idempotency_key: Option<String>,
    /// The call moving it (owns the hold).
    pub call_id: Option<CallId>,
    /// The call's language (for staff ranking).
    pub language: Option<Language>,
}

/// A cancellation that happened: the appointment before and after.
#[derive(Clone, Debug)]
pub struct Cancelled {
    /// As it was.
    pub before: Appointment,
    /// As it is now (cancelled).
    pub after: Appointment,
}

/// The booking use cases.
#[derive(Clone)]
pub struct Bookings {
    store: Arc<dyn Store>,
    engine: Engine,
    events: Events,
    clock: Arc<dyn Clock>,
}

impl Bookings {
    /// The use cases over `engine` and its store.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Engine,
        events: Events,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            engine,
            events,
            clock,
        }
    }

    /// The current time, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Free slots for `query`, ranked, with alternatives.
    pub async fn find(&self, query: &SlotQuery) -> Result<Availability, EngineError> {
        self.engine.find_slots(query, self.now()).await
    }

    /// The name of a staff member, from the engine's cache.
    pub fn staff_name(&self, id: StaffId) -> Option<String> {
        names::staff(&self.engine, id)
    }

    /// The slot a slot id we issued names, if it is valid and of a staff member of `company`.
    pub fn slot(&self, company: CompanyId, slot_id: &str) -> Option<SlotTarget> {
        let slot = self.engine.slot_ids().decode(slot_id).ok()?;
        let branch_id = self
            .engine
            .staff(slot.staff_id)
            .map(|s| s.branch_id)
            .filter(|b| {
                self.engine
                    .branch(*b)
                    .is_some_and(|info| info.company.id == company)
            })?;
        Some(SlotTarget {
            branch_id,
            staff_id: slot.staff_id,
            service_id: slot.service_id,
            start: slot.start,
        })
    }

    /// The appointment `id` of `company`, in any status.
    pub async fn appointment(
        &self,
        company: CompanyId,
        id: AppointmentId,
    ) -> Result<Option<Appointment>, StoreError> {
        Ok(self
            .store
            .appointment(id)
            .await?
            .filter(|a| a.company_id == company))
    }

    /// The appointment `id` of `company` (in any status) if it is the appointment of the
    /// customer with one of `phones`: what a caller may name by id. Another customer's
    /// appointment is `None`, as if there were none (an id is no proof of whose it is).
    pub async fn appointment_of_caller(
        &self,
        company: CompanyId,
        id: AppointmentId,
        phones: &[&E164Number],
    ) -> Result<Option<Appointment>, StoreError> {
        let Some(appointment) = self.appointment(company, id).await? else {
            return Ok(None);
        };
        for phone in phones {
            let customer = self.store.customer_by_phone(company, phone).await?;
            if customer.is_some_and(|c| c.id == appointment.customer_id) {
                return Ok(Some(appointment));
            }
        }
        Ok(None)
    }

    /// The booked appointments from now on of the customer with this number, if there is one.
    pub async fn upcoming_for(
        &self,
        company: CompanyId,
        phone: &E164Number,
    ) -> Result<Vec<Appointment>, StoreError> {
        match self.store.customer_by_phone(company, phone).await? {
            Some(customer) => {
                self.store
                    .upcoming_appointments(customer.id, self.now())
                    .await
            }
            None => Ok(Vec::new()),
        }
    }

    /// The customer of `company` with this number, stored first (with `name` and `language`)
    /// when new.
    pub async fn customer_for(
        &self,
        company: CompanyId,
        phone: E164Number,
        name: Option<String>,
        language: Option<Language>,
    ) -> Result<Customer, StoreError> {
        if let Some(customer) = self.store.customer_by_phone(company, &phone).await? {
            return Ok(customer);
        }
        let customer = Customer {
            id: CustomerId::new(),
            company_id: company,
            phone,
            name,
            external_ref: None,
            preferred_language: language,
            preferred_staff_id: None,
            vip: false,
            failed_booking_count: 0,
        };
        self.store.upsert_customer(&customer).await?;
        Ok(customer)
    }

    /// Books `request` for `customer` (when the caller has them at hand; else it is read for
    /// the event). An operator's booking is audited as `appointment.create`; a refusal during a
    /// call counts against the customer.
    pub async fn book(
        &self,
        request: &BookingRequest,
        customer: Option<&Customer>,
        by: Option<&Actor>,
    ) -> Result<BookingOutcome, EngineError> {
        let now = self.now();
        let outcome = self.engine.book(request, now).await?;
        match &outcome {
            BookingOutcome::Booked(appointment) => {
                self.publish_booked(appointment, customer.cloned());
                if let Some(actor) = by {
                    let change = Change::created(
                        "appointment.create",
                        "appointment",
                        appointment.id,
                        appointment,
                    );
                    audit::record(&*self.store, actor, change, now).await;
                }
            }
            BookingOutcome::Replayed(_) => {}
            BookingOutcome::Taken(_) | BookingOutcome::Unbookable(..) => {
                if request.call_id.is_some() {
                    self.store
                        .record_failed_booking(request.customer_id)
                        .await?;
                }
            }
        }
        Ok(outcome)
    }

    /// Cancels appointment `id` of `company` if it is booked; audited when an operator does it.
    pub async fn cancel(
        &self,
        company: CompanyId,
        id: AppointmentId,
        by: Option<&Actor>,
    ) -> Result<Cancelled, BookingError> {
        let before = self
            .appointment(company, id)
            .await?
            .ok_or(BookingError::NotFound)?;
        if before.status != AppointmentStatus::Booked {
            return Err(BookingError::NotBooked(before.status));
        }
        let after = self
            .engine
            .cancel(company, id)
            .await?
            .ok_or(BookingError::NotFound)?;
        let now = self.now();
        let cancelled = after.clone();
        self.publish(move |engine, store| async move {
            let names = names::appointment(&engine, &*store, &cancelled, None).await;
            Some(DomainEvent::appointment_cancelled(&cancelled, &names, now))
        });
        if let Some(actor) = by {
            let change = Change::updated("appointment.cancel", "appointment", id, &before, &after);
            audit::record(&*self.store, actor, change, now).await;
        }
        Ok(Cancelled { before, after })
    }

    /// Moves `old` (which must be booked) to `to`: the new time is booked first and the old
    /// one cancelled only then, so the customer never ends up with neither. Publishes one
    /// `AppointmentRescheduled`; audited as `appointment.reschedule` when an operator does it.
    pub async fn reschedule(
        &self,
        old: &Appointment,
        to: Move,
        by: Option<&Actor>,
    ) -> Result<BookingOutcome, BookingError> {
        if old.status != AppointmentStatus::Booked {
            return Err(BookingError::NotBooked(old.status));
        }
        let request = BookingRequest {
            company_id: old.company_id,
            branch_id: to.branch_id.unwrap_or(old.branch_id),
            service_id: old.service_id,
            staff_id: to.staff_id,
            start: to.start,
            customer_id: old.customer_id,
            call_id: to.call_id,
            idempotency_key: to.idempotency_key,
            notes: old.notes.clone(),
            language: to.language,
        };
        let now = self.now();
        let outcome = self.engine.reschedule(old.id, &request, now).await?;
        if let BookingOutcome::Booked(new) = &outcome {
            let (old, new) = (old.clone(), new.clone());
            let old_staff = names::staff(&self.engine, old.staff_id);
            if let Some(actor) = by {
                let change =
                    Change::updated("appointment.reschedule", "appointment", old.id, &old, &new);
                audit::record(&*self.store, actor, change, now).await;
            }
            self.publish(move |engine, store| async move {
                let names = names::appointment(&engine, &*store, &new, None).await;
                Some(DomainEvent::appointment_rescheduled(
                    &old,
                    &new,
                    &names,
                    old_staff.as_deref(),
                    now,
                ))
            });
        }
        Ok(outcome)
    }

    fn publish_booked(&self, appointment: &Appointment, customer: Option<Customer>) {
        let (appointment, now) = (appointment.clone(), self.now());
        self.publish(move |engine, store| async move {
            let names = names::appointment(&engine, &*store, &appointment, customer.as_ref()).await;
            Some(DomainEvent::appointment_booked(&appointment, &names, now))
        });
    }

    /// Builds and publishes an event on a task of its own: the names may need a read, and the
    /// outbox insert is a commit of its own, neither of which the answer should wait for.
    fn publish<F, Fut>(&self, build: F)
    where
        F: FnOnce(Engine, Arc<dyn Store>) -> Fut + 'static,
        Fut: std::future::Future<Output = Option<DomainEvent>> + 'static,
    {
        let (engine, store, events) =
            (self.engine.clone(), self.store.clone(), self.events.clone());
        actix_rt::spawn(async move {
            if let Some(event) = build(engine, store).await {
                events.publish(event).await;
            }
        });
    }
}
