//! Opening callback requests: the one path every source goes through (the voice agent's
//! `request_callback`, a failed booking, a call that ended without one, `POST
//! /api/v1/callbacks`), so the rules in `callflow_actors::domain::callback` apply the same way
//! everywhere and a repeat request for a number merges instead of piling up.

use crate::assignment::{self, Purpose};
use crate::events::{DomainEvent, EventType, Events};
use crate::http::AppState;
use crate::sla::SlaHandle;
use callflow_actors::domain::assignment::AssignmentRules;
use callflow_actors::domain::callback::{
    compute_priority, merge, new_callback, CallbackDraft, CallbackPolicy, PriorityFacts,
};
use callflow_actors::domain::{CallbackId, CallbackRequest};
use callflow_actors::{Engine, Store, StoreError};
use chrono::{DateTime, Utc};

pub use callflow_actors::Opened;

/// What opening a callback needs besides the request itself.
pub struct Opening<'a> {
    /// Where callbacks are stored.
    pub store: &'a dyn Store,
    /// The engine, whose cached branch facts spare assignment three queries (optional).
    pub engine: Option<&'a Engine>,
    /// How callbacks are opened and merged.
    pub policy: CallbackPolicy,
    /// New callbacks are assigned automatically by these rules; `None` leaves them pending.
    pub auto_assign: Option<AssignmentRules>,
    /// Where the change is announced.
    pub events: &'a Events,
    /// The SLA monitor, told about merges (which publish no event; their deadline may move).
    pub sla: Option<&'a SlaHandle>,
}

impl<'a> Opening<'a> {
    /// Everything from the server's state and configuration.
    pub fn from_state(state: &'a AppState) -> Self {
        Self {
            store: &*state.store,
            engine: Some(&state.engine),
            policy: state.config.callback_policy(),
            auto_assign: state
                .config
                .callbacks
                .auto_assign
                .then(|| state.config.assignment_rules()),
            events: &state.events,
            sla: Some(&state.sla),
        }
    }
}

/// A callback domain event: `data` is `{"callback": <the callback>, ...extra}` (`extra` must
/// be a JSON object; anything else is left out).
pub fn callback_event(
    event_type: EventType,
    callback: &CallbackRequest,
    extra: serde_json::Value,
    at: DateTime<Utc>,
) -> DomainEvent {
    let mut data = serde_json::Map::new();
    data.insert(
        "callback".into(),
        serde_json::to_value(callback).unwrap_or(serde_json::Value::Null),
    );
    if let serde_json::Value::Object(fields) = extra {
        data.extend(fields);
    }
    DomainEvent::new(
        event_type,
        callback.company_id,
        at,
        serde_json::Value::Object(data),
    )
}

/// Opens a callback from `draft`, or merges it into the open callback for the same company and
/// number created within the duplicate window. Returns the stored callback and which of the two
/// happened, only once the change is durable.
///
/// The priority is the highest of `facts.given`, `draft.priority` and what the facts call for
/// (see [`compute_priority`]). Text in the draft is cleaned and bounded here, whatever the
/// caller already did. A new callback is assigned automatically when `opening.auto_assign` is
/// set and someone qualifies (see `domain::assignment`); it is stored already assigned, so
/// nobody ever sees it pending. Publishes CallbackRequested (and CallbackAssigned) for a new
/// callback; a merge publishes nothing.
#[tracing::instrument(skip_all, fields(company_id = %draft.company_id))]
pub async fn open_callback(
    opening: &Opening<'_>,
    draft: CallbackDraft,
    facts: PriorityFacts,
    now: DateTime<Utc>,
) -> Result<(CallbackRequest, Opened), StoreError> {
    let policy = &opening.policy;
    let priority = compute_priority(&facts.with_given(draft.priority));
    let mut candidate = new_callback(CallbackId::new(), &draft, priority, policy, now);
    let mut reason = None;
    if let Some(rules) = &opening.auto_assign {
        match assignment::pick(
            opening.store,
            opening.engine,
            rules,
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
                    reason = Some(pick.reason);
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
    let merge_into = |existing: &CallbackRequest| merge(existing, &draft, priority, policy, now);
    let (callback, opened) = opening
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
            opening
                .events
                .publish(callback_event(
                    EventType::CallbackRequested,
                    &callback,
                    serde_json::json!({}),
                    now,
                ))
                .await;
            if let (Some(staff), Some(reason)) = (callback.assigned_staff_id, reason) {
                opening
                    .events
                    .publish(callback_event(
                        EventType::CallbackAssigned,
                        &callback,
                        serde_json::json!({
                            "previous_staff_id": null,
                            "staff_id": staff,
                            "reason": reason,
                            "automatic": true,
                        }),
                        now,
                    ))
                    .await;
            }
        }
        Opened::Merged => {
            if let Some(sla) = opening.sla {
                sla.changed(&callback);
            }
        }
    }
    Ok((callback, opened))
}

/// [`open_callback`] for a caller the store may know: fills in the customer (id, and name when
/// the draft has none) and takes VIP status and failed bookings from the customer record. The
/// given priority is `draft.priority`; `urgent_words` says whether the caller's words were
/// urgent (see `extraction::mentions_urgency`).
pub async fn open_callback_for_caller(
    opening: &Opening<'_>,
    draft: CallbackDraft,
    urgent_words: bool,
    now: DateTime<Utc>,
) -> Result<(CallbackRequest, Opened), StoreError> {
    let customer = opening
        .store
        .customer_by_phone(draft.company_id, &draft.phone)
        .await?;
    let facts = PriorityFacts::for_customer(customer.as_ref(), None, urgent_words);
    let draft = draft.with_customer(customer.as_ref());
    open_callback(opening, draft, facts, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use callflow_actors::domain::{
        CallbackStatus, CompanyId, Customer, CustomerId, E164Number, Priority,
    };
    use callflow_actors::memory_store::MemoryStore;
    use callflow_actors::store::prelude::*;
    use chrono::{Duration, TimeZone};

    fn opening<'a>(store: &'a MemoryStore, events: &'a Events) -> Opening<'a> {
        Opening {
            store,
            engine: None,
            policy: CallbackPolicy::default(),
            auto_assign: None,
            events,
            sla: None,
        }
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
        let store = MemoryStore::new();
        let events = Events::new();
        let opening = opening(&store, &events);
        let company = CompanyId::new();
        let facts = PriorityFacts::default();
        let (first, opened) = open_callback(&opening, draft(company, "a"), facts, at(8, 0))
            .await
            .expect("opened");
        assert_eq!(opened, Opened::Created);
        assert_eq!(first.status, CallbackStatus::Pending);

        let urgent = CallbackDraft {
            priority: Some(Priority::Urgent),
            ..draft(company, "b")
        };
        let (second, opened) = open_callback(&opening, urgent, facts, at(9, 0))
            .await
            .expect("merged");
        assert_eq!(opened, Opened::Merged);
        assert_eq!(second.id, first.id);
        assert_eq!(second.priority, Priority::Urgent);
        assert_eq!(second.due_at, at(10, 0));

        let later = at(10, 1);
        let (third, opened) = open_callback(&opening, draft(company, "c"), facts, later)
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
        let store = MemoryStore::new();
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
        let events = Events::new();
        let (callback, _) = open_callback_for_caller(
            &opening(&store, &events),
            draft(company, "Rückruf"),
            false,
            at(8, 0),
        )
        .await
        .expect("opened");
        assert_eq!(callback.priority, Priority::Urgent);
        assert_eq!(callback.customer_id, Some(vip.id));
        assert_eq!(callback.name.as_deref(), Some("Dr. Ingrid Vogel"));
    }
}
