//! Domain events: what happened, said once, for everyone who reacts to it.
//!
//! Code that changes state publishes an event *after* the change is durable; listeners (the
//! SLA monitor, the notification outbox) react. Publishing counts the event in
//! `callflow_domain_events_total{type}` and hands it to every listener in turn, so a caller
//! that awaits [`Events::publish`] knows each listener has taken it (the outbox, for one, has
//! written its deliveries durably by then).
//!
//! Every event type has one constructor in [`payloads`], used by every path that raises it,
//! so one type always has one payload shape.

pub mod payloads;

pub use payloads::Names;

use async_trait::async_trait;
use callflow_actors::domain::CompanyId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// Domain events published, by type.
pub const DOMAIN_EVENTS_TOTAL: &str = "callflow_domain_events_total";

/// The kinds of domain events. Their names are the `type` field of webhook bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum EventType {
    /// A callback request was opened (not on a merge into an open one).
    CallbackRequested,
    /// A callback was given to a staff member (automatically or by an operator).
    CallbackAssigned,
    /// A callback's status changed (contacted, completed, cancelled, expired, unreachable).
    CallbackStatusChanged,
    /// A callback's SLA is about to run out.
    CallbackSlaApproaching,
    /// A callback's SLA ran out before it was done.
    CallbackSlaBreached,
    /// A late callback moved up an escalation level.
    CallbackEscalated,
    /// An appointment was booked.
    AppointmentBooked,
    /// An appointment was cancelled.
    AppointmentCancelled,
    /// An appointment moved to another time (or staff member): one event, old and new.
    AppointmentRescheduled,
    /// A call started.
    CallStarted,
    /// A call ended.
    CallEnded,
}

impl EventType {
    /// Every event type, in declaration order.
    pub const ALL: [EventType; 11] = [
        EventType::CallbackRequested,
        EventType::CallbackAssigned,
        EventType::CallbackStatusChanged,
        EventType::CallbackSlaApproaching,
        EventType::CallbackSlaBreached,
        EventType::CallbackEscalated,
        EventType::AppointmentBooked,
        EventType::AppointmentCancelled,
        EventType::AppointmentRescheduled,
        EventType::CallStarted,
        EventType::CallEnded,
    ];

    /// The name on the wire and in metrics (`"CallbackRequested"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CallbackRequested => "CallbackRequested",
            EventType::CallbackAssigned => "CallbackAssigned",
            EventType::CallbackStatusChanged => "CallbackStatusChanged",
            EventType::CallbackSlaApproaching => "CallbackSlaApproaching",
            EventType::CallbackSlaBreached => "CallbackSlaBreached",
            EventType::CallbackEscalated => "CallbackEscalated",
            EventType::AppointmentBooked => "AppointmentBooked",
            EventType::AppointmentCancelled => "AppointmentCancelled",
            EventType::AppointmentRescheduled => "AppointmentRescheduled",
            EventType::CallStarted => "CallStarted",
            EventType::CallEnded => "CallEnded",
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown event type {s:?}"))
    }
}

/// One thing that happened in one company.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DomainEvent {
    /// Unique per event; receivers deduplicate on it.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Whose it is (never sent to another company's subscribers).
    #[serde(skip)]
    pub company_id: CompanyId,
    /// The entity as it is after the change (a callback, an appointment, a call), plus
    /// event-specific fields.
    pub data: serde_json::Value,
}

impl DomainEvent {
    /// A new event with a fresh time-ordered id.
    pub fn new(
        event_type: EventType,
        company_id: CompanyId,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type,
            at,
            company_id,
            data,
        }
    }
}

/// Something that reacts to domain events.
#[async_trait]
pub trait EventListener: Send + Sync + 'static {
    /// Takes one event. Errors are the listener's to log and recover from (publishing never
    /// fails the change that already happened).
    async fn on_event(&self, event: &DomainEvent);
}

/// The publisher: cheap to clone, shared by every worker.
#[derive(Clone, Default)]
pub struct Events {
    listeners: Arc<RwLock<Vec<Arc<dyn EventListener>>>>,
}

impl Events {
    /// A publisher without listeners (events are only counted).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a listener; it sees every event published from now on.
    pub fn subscribe(&self, listener: Arc<dyn EventListener>) {
        self.listeners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(listener);
    }

    /// Counts `event` and hands it to every listener, in the order they subscribed.
    pub async fn publish(&self, event: DomainEvent) {
        metrics::counter!(DOMAIN_EVENTS_TOTAL, "type" => event.event_type.as_str()).increment(1);
        tracing::debug!(event_id = %event.id, event_type = %event.event_type, "domain event");
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for listener in listeners {
            listener.on_event(&event).await;
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.listeners.read().map(|l| l.len()).unwrap_or_default();
        f.debug_struct("Events").field("listeners", &count).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<EventType>>);

    #[async_trait]
    impl EventListener for Recorder {
        async fn on_event(&self, event: &DomainEvent) {
            self.0.lock().expect("not poisoned").push(event.event_type);
        }
    }

    #[test]
    fn every_type_reads_back_from_its_name() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
        assert!("callback.requested".parse::<EventType>().is_err());
    }

    #[actix_web::test]
    async fn every_listener_sees_each_event_in_order() {
        let events = Events::new();
        let first = Arc::new(Recorder::default());
        let second = Arc::new(Recorder::default());
        events.subscribe(first.clone());
        events.subscribe(second.clone());
        let company = CompanyId::new();
        for t in [EventType::CallStarted, EventType::CallEnded] {
            events
                .publish(DomainEvent::new(
                    t,
                    company,
                    Utc::now(),
                    serde_json::json!({}),
                ))
                .await;
        }
        let want = vec![EventType::CallStarted, EventType::CallEnded];
        assert_eq!(*first.0.lock().expect("not poisoned"), want);
        assert_eq!(*second.0.lock().expect("not poisoned"), want);
    }

    #[test]
    fn the_body_has_id_type_time_and_data_but_not_the_company() {
        let event = DomainEvent::new(
            EventType::CallbackRequested,
            CompanyId::new(),
            Utc::now(),
            serde_json::json!({"callback": {"id": "x"}}),
        );
        let body = serde_json::to_value(&event).expect("serialises");
        assert_eq!(body["type"], "CallbackRequested");
        assert!(body.get("id").is_some() && body.get("at").is_some());
        assert_eq!(body["data"]["callback"]["id"], "x");
        assert!(body.get("company_id").is_none());
    }
}
