//! Opening callback requests: the one path every source goes through (the voice agent's
//! `request_callback`, a failed booking, a call that ended without one, `POST
//! /api/v1/callbacks`), so the rules in `callflow_actors::domain::callback` apply the same way
//! everywhere and a repeat request for a number merges instead of piling up.

use callflow_actors::domain::callback::{
    compute_priority, merge, new_callback, CallbackDraft, CallbackPolicy, PriorityFacts,
};
use callflow_actors::domain::{CallbackId, CallbackRequest};
use callflow_actors::{Store, StoreError};
use chrono::{DateTime, Utc};

pub use callflow_actors::Opened;

/// Opens a callback from `draft`, or merges it into the open callback for the same company and
/// number created within the duplicate window. Returns the stored callback and which of the two
/// happened, only once the change is durable.
///
/// The priority is the highest of `facts.given`, `draft.priority` and what the facts call for
/// (see [`compute_priority`]). Text in the draft is cleaned and bounded here, whatever the
/// caller already did.
#[tracing::instrument(skip_all, fields(company_id = %draft.company_id))]
pub async fn open_callback(
    store: &dyn Store,
    policy: &CallbackPolicy,
    draft: CallbackDraft,
    facts: PriorityFacts,
    now: DateTime<Utc>,
) -> Result<(CallbackRequest, Opened), StoreError> {
    let priority = compute_priority(&facts.with_given(draft.priority));
    let candidate = new_callback(CallbackId::new(), &draft, priority, policy, now);
    let merge_into = |existing: &CallbackRequest| merge(existing, &draft, priority, policy, now);
    let (callback, opened) = store
        .open_callback(&candidate, policy.merge_since(now), &merge_into)
        .await?;
    tracing::info!(
        callback_id = %callback.id,
        opened = ?opened,
        priority = %callback.priority,
        "callback opened"
    );
    Ok((callback, opened))
}

/// [`open_callback`] for a caller the store may know: fills in the customer (id, and name when
/// the draft has none) and takes VIP status and failed bookings from the customer record. The
/// given priority is `draft.priority`; `urgent_words` says whether the caller's words were
/// urgent (see `extraction::mentions_urgency`).
pub async fn open_callback_for_caller(
    store: &dyn Store,
    policy: &CallbackPolicy,
    draft: CallbackDraft,
    urgent_words: bool,
    now: DateTime<Utc>,
) -> Result<(CallbackRequest, Opened), StoreError> {
    let customer = store
        .customer_by_phone(draft.company_id, &draft.phone)
        .await?;
    let facts = PriorityFacts::for_customer(customer.as_ref(), None, urgent_words);
    let draft = draft.with_customer(customer.as_ref());
    open_callback(store, policy, draft, facts, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use callflow_actors::domain::{
        CallbackStatus, CompanyId, Customer, CustomerId, E164Number, Priority,
    };
    use callflow_actors::memory_store::MemoryStore;
    use chrono::{Duration, TimeZone};

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
        let policy = CallbackPolicy::default();
        let company = CompanyId::new();
        let facts = PriorityFacts::default();
        let (first, opened) = open_callback(&store, &policy, draft(company, "a"), facts, at(8, 0))
            .await
            .expect("opened");
        assert_eq!(opened, Opened::Created);
        assert_eq!(first.status, CallbackStatus::Pending);

        let urgent = CallbackDraft {
            priority: Some(Priority::Urgent),
            ..draft(company, "b")
        };
        let (second, opened) = open_callback(&store, &policy, urgent, facts, at(9, 0))
            .await
            .expect("merged");
        assert_eq!(opened, Opened::Merged);
        assert_eq!(second.id, first.id);
        assert_eq!(second.priority, Priority::Urgent);
        assert_eq!(second.due_at, at(10, 0));

        let later = at(10, 1);
        let (third, opened) = open_callback(&store, &policy, draft(company, "c"), facts, later)
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
        let (callback, _) = open_callback_for_caller(
            &store,
            &CallbackPolicy::default(),
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
