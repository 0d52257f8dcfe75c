//! The outbox listener: turns each domain event into durable delivery rows, one per matching
//! active subscription of the event's company, plus the built-in e-mail alerts to staff when
//! `[smtp]` is configured, and wakes the delivery worker.

use super::outbox::{self, NewDelivery, OutboxError};
use super::target::{filter_matches, Kind};
use super::ENQUEUED_TOTAL;
use crate::events::{DomainEvent, EventListener, EventType};
use crate::store::Database;
use async_trait::async_trait;
use callflow_actors::domain::{BranchId, Staff, StaffId, StaffRole};
use callflow_actors::{Store, StoreError};
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Why an event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Staff could not be read for an alert.
    #[error("cannot read staff for an alert: {0}")]
    Store(#[from] StoreError),
    /// The event does not serialise (cannot happen for our types).
    #[error("cannot serialise the event: {0}")]
    Json(#[from] serde_json::Error),
}

/// Subscribes to [`crate::events::Events`] and fills the outbox.
pub struct OutboxListener {
    db: Database,
    store: Arc<dyn Store>,
    /// Whether e-mail is configured (built-in staff alerts are queued only then).
    email_alerts: bool,
    wake: Arc<Notify>,
}

impl OutboxListener {
    /// A listener writing to `db` and waking `wake`.
    pub fn new(db: Database, store: Arc<dyn Store>, email_alerts: bool, wake: Arc<Notify>) -> Self {
        Self {
            db,
            store,
            email_alerts,
            wake,
        }
    }

    /// Queues the event's deliveries; returns how many were queued.
    pub async fn enqueue(&self, event: &DomainEvent) -> Result<u64, EnqueueError> {
        let mut deliveries: Vec<NewDelivery> =
            outbox::active_subscriptions(&self.db, event.company_id)
                .await?
                .into_iter()
                .filter(|(_, _, filter)| filter_matches(filter, event.event_type))
                .map(|(id, kind, _)| NewDelivery {
                    subscription_id: Some(id),
                    kind,
                    recipient: None,
                })
                .collect();
        if self.email_alerts && alert_audience(event.event_type).is_some() {
            let staff = self.staff_of(event).await?;
            deliveries.extend(
                alert_recipients(event.event_type, &event.data, &staff)
                    .into_iter()
                    .map(|address| NewDelivery {
                        subscription_id: None,
                        kind: Kind::Email,
                        recipient: Some(address),
                    }),
            );
        }
        if deliveries.is_empty() {
            return Ok(0);
        }
        let payload = serde_json::to_value(event)?;
        let queued = outbox::enqueue(
            &self.db,
            event.company_id,
            event.id,
            event.event_type.as_str(),
            &payload,
            &deliveries,
            Utc::now(),
        )
        .await?;
        for d in &deliveries {
            metrics::counter!(ENQUEUED_TOTAL, "kind" => d.kind.as_str()).increment(1);
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// The staff an alert may go to: the callback's branch, or the whole company when the
    /// event names no branch of it.
    async fn staff_of(&self, event: &DomainEvent) -> Result<Vec<Staff>, StoreError> {
        let named = id_field(&event.data, "branch_id").map(BranchId);
        if let Some(branch) = named {
            let branches = self.store.list_branches(Some(event.company_id)).await?;
            if branches.iter().any(|b| b.id == branch) {
                return self.store.list_staff(Some(branch)).await;
            }
        }
        self.store.company_staff(event.company_id).await
    }
}

#[async_trait]
impl EventListener for OutboxListener {
    async fn on_event(&self, event: &DomainEvent) {
        let started = Instant::now();
        match self.enqueue(event).await {
            Ok(queued) => {
                tracing::debug!(event_id = %event.id, queued, took = ?started.elapsed(), "notifications queued")
            }
            Err(e) => {
                tracing::error!(error = %e, event_id = %event.id, event_type = %event.event_type,
                "cannot queue the notifications of an event; they are lost")
            }
        }
    }
}

/// Who gets a built-in e-mail alert for an event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The callback's assignee.
    Assignee,
    /// The managers of the callback's branch.
    Managers,
}

/// The built-in alert of an event type, if it has one.
pub fn alert_audience(t: EventType) -> Option<Audience> {
    match t {
        EventType::CallbackSlaApproaching => Some(Audience::Assignee),
        EventType::CallbackSlaBreached | EventType::CallbackEscalated => Some(Audience::Managers),
        _ => None,
    }
}

/// A uuid field of the event's callback (`data.callback.<key>`) or of the data itself.
fn id_field(data: &Value, key: &str) -> Option<uuid::Uuid> {
    data.get("callback")
        .and_then(|c| c.get(key))
        .or_else(|| data.get(key))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// The e-mail addresses of a built-in alert, without duplicates: the assignee for "SLA
/// approaching", the active managers among `staff` for "escalated" and for a "breached" at the
/// highest level (`"final": true`). Below it a breach always comes with an escalation, whose
/// mail says where the callback went: one mail per breach, not two.
pub fn alert_recipients(t: EventType, data: &Value, staff: &[Staff]) -> Vec<String> {
    let final_breach = data.get("final").and_then(Value::as_bool) == Some(true);
    if t == EventType::CallbackSlaBreached && !final_breach {
        return Vec::new();
    }
    let with_email = |s: &Staff| {
        s.active
            .then(|| {
                s.email
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| e.contains('@'))
            })
            .flatten()
            .map(str::to_owned)
    };
    let mut addresses: Vec<String> = match alert_audience(t) {
        Some(Audience::Assignee) => {
            let assignee = id_field(data, "assigned_staff_id").map(StaffId);
            staff
                .iter()
                .filter(|s| Some(s.id) == assignee)
                .filter_map(with_email)
                .collect()
        }
        Some(Audience::Managers) => staff
            .iter()
            .filter(|s| s.role == StaffRole::Manager)
            .filter_map(with_email)
            .collect(),
        None => Vec::new(),
    };
    addresses.sort_by_key(|a| a.to_ascii_lowercase());
    addresses.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    addresses
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(role: StaffRole, email: Option<&str>, active: bool) -> Staff {
        Staff {
            id: StaffId::new(),
            branch_id: BranchId::new(),
            name: "x".into(),
            role,
            skills: vec![],
            languages: vec![],
            working_hours: Default::default(),
            breaks: Default::default(),
            date_overrides: vec![],
            active,
            email: email.map(str::to_owned),
        }
    }

    #[test]
    fn sla_approaching_goes_to_the_assignee() {
        let assignee = member(StaffRole::Reception, Some("anna@example.com"), true);
        let other = member(StaffRole::Manager, Some("boss@example.com"), true);
        let data = json!({"callback": {"assigned_staff_id": assignee.id.to_string()}});
        let staff = vec![assignee, other];
        assert_eq!(
            alert_recipients(EventType::CallbackSlaApproaching, &data, &staff),
            vec!["anna@example.com".to_owned()]
        );
        assert!(alert_recipients(EventType::CallbackSlaApproaching, &json!({}), &staff).is_empty());
    }

    #[test]
    fn breaches_and_escalations_go_to_active_managers_with_an_address() {
        let staff = vec![
            member(StaffRole::Manager, Some("boss@example.com"), true),
            member(StaffRole::Manager, Some("BOSS@example.com"), true),
            member(StaffRole::Manager, None, true),
            member(StaffRole::Manager, Some("gone@example.com"), false),
            member(StaffRole::Reception, Some("anna@example.com"), true),
        ];
        let want = vec!["boss@example.com".to_owned()];
        assert_eq!(
            alert_recipients(EventType::CallbackEscalated, &json!({}), &staff),
            want
        );
        assert_eq!(
            alert_recipients(
                EventType::CallbackSlaBreached,
                &json!({"final": true}),
                &staff
            ),
            want
        );
        assert!(
            alert_recipients(
                EventType::CallbackSlaBreached,
                &json!({"final": false}),
                &staff
            )
            .is_empty(),
            "an escalation follows and mails them"
        );
        assert!(alert_recipients(EventType::CallEnded, &json!({}), &staff).is_empty());
    }
}
