//! Opening a callback request, or merging a repeat request for the same number into the open
//! one, so the rules in `callflow_actors::domain::callback` apply the same way for every source
//! and a caller who asks twice is not called twice.

use super::super::assignment::{self, Purpose};
use super::super::audit::{self, Actor, Change};
use super::Callbacks;
use crate::events::DomainEvent;
use callflow_actors::domain::callback::{
    compute_priority, merge, new_callback, CallbackDraft, PriorityFacts,
};
use callflow_actors::domain::{CallbackId, CallbackRequest};
use callflow_actors::StoreError;
use chrono::{DateTime, Utc};

pub use callflow_actors::Opened;

impl Callbacks {
    /// Opens a callback from `draft`, or merges it into the open callback for the same company
    /// and number created within the duplicate window. Returns the stored callback and which of
    /// the two happened, only once the change is durable.
    ///
    /// The caller is looked up by number: the customer (id, and name when the draft has none),
    /// VIP status and failed bookings come from the customer record. The priority is the
    /// highest of `draft.priority`, what the customer's record calls for and `urgent_words`
    /// (whether the caller's words were urgent, see `extraction::mentions_urgency`); see
    /// [`compute_priority`]. Text in the draft is cleaned and bounded, whatever the adapter did.
    /// A new callback is assigned automatically when `auto_assign` is on and someone qualifies
    /// (see `domain::assignment`); it is stored already assigned, so nobody ever sees it
    /// pending. Publishes `CallbackRequested` (and `CallbackAssigned`) for a new callback; a
    /// merge publishes nothing and tells the SLA monitor. An operator's request is audited as
    /// `callback.create` or `callback.merge`.
    #[tracing::instrument(skip_all, fields(company_id = %draft.company_id))]
    pub async fn open(
        &self,
        draft: CallbackDraft,
        urgent_words: bool,
        by: Option<&Actor>,
    ) -> Result<(CallbackRequest, Opened), StoreError> {
        let customer = self
            .store
            .customer_by_phone(draft.company_id, &draft.phone)
            .await?;
        let facts = PriorityFacts::for_customer(customer.as_ref(), None, urgent_words);
        let draft = draft.with_customer(customer.as_ref());
        let now = self.now();
        let (callback, opened) = self.open_with(draft, facts, now).await?;
        if let Some(actor) = by {
            let action = match opened {
                Opened::Created => "callback.create",
                Opened::Merged => "callback.merge",
            };
            let change = Change {
                action,
                entity_type: "callback",
                entity_id: callback.id.to_string(),
                old: None,
                new: audit::json(&callback),
            };
            audit::record(&*self.store, actor, change, now).await;
        }
        Ok((callback, opened))
    }

    /// [`Callbacks::open`] with the priority facts given and no customer lookup.
    async fn open_with(
        &self,
        draft: CallbackDraft,
        facts: PriorityFacts,
        now: DateTime<Utc>,
    ) -> Result<(CallbackRequest, Opened), StoreError> {
        let policy = &self.settings.callbacks;
        let priority = compute_priority(&facts.with_given(draft.priority));
        let mut candidate = new_callback(CallbackId::new(), &draft, priority, policy, now);
        let mut automatic = false;
        if self.settings.auto_assign {
            match assignment::pick(
                &*self.store,
                self.engine.as_ref(),
                &self.settings.assignment,
                &candidate,
                &[],
                Purpose::Assign,
                now,
            )
            .await
            {
                Ok(Ok(pick)) => {
                    if let Some(assigned) = assignment::assign(&candidate, &pick, policy, now) {
                        // A new row starts at version 1, whatever steps it took before it was stored.
                        candidate = CallbackRequest {
                            version: candidate.version,
                            ..assigned
                        };
                        automatic = true;
                    }
                }
                Ok(Err(why)) => {
                    tracing::info!(reason = %why, "nobody to assign the callback to; it stays pending");
                }
                // Assignment is a convenience: the request must not be lost because of it.
                Err(e) => {
                    tracing::warn!(error = %e, "could not pick an assignee; the callback stays pending")
                }
            }
        }
        let merge_into =
            |existing: &CallbackRequest| merge(existing, &draft, priority, policy, now);
        let (callback, opened) = self
            .store
            .open_callback(&candidate, policy.merge_since(now), &merge_into)
            .await?;
        tracing::info!(
            callback_id = %callback.id,
            opened = ?opened,
            priority = %callback.priority,
            assigned_staff_id = ?callback.assigned_staff_id,
            "callback opened"
        );
        match opened {
            Opened::Created => {
                let names = self.names(&callback);
                self.events
                    .publish(DomainEvent::callback_requested(&callback, &names, now))
                    .await;
                if automatic && callback.assigned_staff_id.is_some() {
                    self.events
                        .publish(DomainEvent::callback_assigned(
                            &callback, None, true, &names, now,
                        ))
                        .await;
                }
            }
            Opened::Merged => {
                if let Some(watch) = self.watch.get() {
                    watch.changed(&callback);
                }
            }
        }
        Ok((callback, opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Settings;
    use crate::events::Events;
    use crate::sla::ManualClock;
    use callflow_actors::domain::assignment::AssignmentRules;
    use callflow_actors::domain::callback::CallbackPolicy;
    use callflow_actors::domain::sla::SlaRules;
    use callflow_actors::domain::{
        CallbackStatus, CompanyId, Customer, CustomerId, E164Number, Priority,
    };
    use callflow_actors::memory_store::MemoryStore;
    use callflow_actors::store::prelude::*;
    use chrono::{Duration, TimeZone};
    use std::sync::Arc;

    fn callbacks(store: &Arc<MemoryStore>, clock: &Arc<ManualClock>) -> Callbacks {
        let settings = Settings {
            callbacks: CallbackPolicy::default(),
            assignment: AssignmentRules::default(),
            auto_assign: false,
            sla: SlaRules::default(),
        };
        Callbacks::new(store.clone(), None, Events::new(), clock.clone(), settings)
    }

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 6, 3, hour, minute, 0)
            .single()
            .expect("valid time")
    }

    fn draft(company: CompanyId, reason: &str) -> CallbackDraft {
        CallbackDraft {
            company_id: company,
            branch_id: None,
            customer_id: None,
            phone: E164Number::parse("+4915212345678").expect("valid"),
            name: None,
            reason: reason.into(),
            notes: None,
            priority: None,
            language: None,
            source_call_id: None,
            scheduled_for: None,
        }
    }

    #[actix_web::test]
    async fn a_repeat_request_within_the_window_merges_and_a_later_one_opens_anew() {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(at(8, 0)));
        let callbacks = callbacks(&store, &clock);
        let company = CompanyId::new();
        let (first, opened) = callbacks
            .open(draft(company, "a"), false, None)
            .await
            .expect("opened");
        assert_eq!(opened, Opened::Created);
        assert_eq!(first.status, CallbackStatus::Pending);

        clock.set(at(9, 0));
        let urgent = CallbackDraft {
            priority: Some(Priority::Urgent),
            ..draft(company, "b")
        };
        let (second, opened) = callbacks.open(urgent, false, None).await.expect("merged");
        assert_eq!(opened, Opened::Merged);
        assert_eq!(second.id, first.id);
        assert_eq!(second.priority, Priority::Urgent);
        assert_eq!(second.due_at, at(10, 0));

        let later = at(10, 1);
        clock.set(later);
        let (third, opened) = callbacks
            .open(draft(company, "c"), false, None)
            .await
            .expect("opened");
        assert_eq!(
            opened,
            Opened::Created,
            "the first is older than the window"
        );
        assert_ne!(third.id, first.id);
        assert_eq!(third.due_at, later + Duration::hours(24));
    }

    #[actix_web::test]
    async fn a_known_vip_caller_is_urgent_and_recognised() {
        let store = Arc::new(MemoryStore::new());
        let company = CompanyId::new();
        let vip = Customer {
            id: CustomerId::new(),
            company_id: company,
            phone: E164Number::parse("+4915212345678").expect("valid"),
            name: Some("Dr. Ingrid Vogel".into()),
            external_ref: None,
            preferred_language: None,
            preferred_staff_id: None,
            vip: true,
            failed_booking_count: 0,
        };
        store.upsert_customer(&vip).await.expect("stored");
        let clock = Arc::new(ManualClock::new(at(8, 0)));
        let (callback, _) = callbacks(&store, &clock)
            .open(draft(company, "Rückruf"), false, None)
            .await
            .expect("opened");
        assert_eq!(callback.priority, Priority::Urgent);
        assert_eq!(callback.customer_id, Some(vip.id));
        assert_eq!(callback.name.as_deref(), Some("Dr. Ingrid Vogel"));
    }
}
