//! One constructor per event type: the only place a payload is shaped, whichever path raises
//! the event (the voice agent, the admin API, the SLA monitor).
//!
//! Every payload carries the entity as it is after the change and, next to its ids, the names a
//! receiver needs to act without calling back: branch, staff member, service, customer and the
//! customer's number ([`Names`]). The shapes are documented in the OpenAPI document
//! (`components.schemas.DomainEvent`).
//!
//! Appointment and call events get ids derived from what happened (UUIDv5 of type and entity):
//! a retried follow-up or a replay after a restart publishes the same id again, and the outbox
//! queues an event once per subscription, so receivers are not told twice. Callback events
//! happen once per durable change and get fresh time-ordered ids.

use super::{DomainEvent, EventType};
use callflow_actors::domain::sla::CallbackEscalation;
use callflow_actors::domain::{
    Appointment, AppointmentStatus, Call, CallbackRequest, CallbackStatus, CompanyId, E164Number,
    StaffId,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Namespace of derived event ids.
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_4c3e_9b2d_4e57_8c11_d0e5_f3a2_b7c9);

/// Names that make an event readable without a lookup; unknown ones are `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    /// The branch.
    pub branch: Option<String>,
    /// The staff member (the assignee, for a callback).
    pub staff: Option<String>,
    /// The service.
    pub service: Option<String>,
    /// The customer.
    pub customer: Option<String>,
    /// The customer's number.
    pub customer_phone: Option<E164Number>,
}

impl Names {
    /// `branch_name`, `staff_name`, `service_name`, `customer_name`, `customer_phone` into `data`.
    fn insert_into(&self, data: &mut Map<String, Value>) {
        data.insert("branch_name".into(), json!(self.branch));
        data.insert("staff_name".into(), json!(self.staff));
        data.insert("service_name".into(), json!(self.service));
        data.insert("customer_name".into(), json!(self.customer));
        data.insert("customer_phone".into(), json!(self.customer_phone));
    }
}

fn derived(
    t: EventType,
    company: CompanyId,
    key: &str,
    at: DateTime<Utc>,
    data: Value,
) -> DomainEvent {
    let mut event = DomainEvent::new(t, company, at, data);
    event.id = Uuid::new_v5(&EVENT_NAMESPACE, format!("{t}:{key}").as_bytes());
    event
}

fn object(entries: Value) -> Map<String, Value> {
    match entries {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn callback_event(
    t: EventType,
    callback: &CallbackRequest,
    names: &Names,
    extra: Value,
    at: DateTime<Utc>,
) -> DomainEvent {
    let mut data = object(json!({ "callback": callback }));
    names.insert_into(&mut data);
    data.extend(object(extra));
    DomainEvent::new(t, callback.company_id, at, Value::Object(data))
}

fn appointment_event(
    t: EventType,
    key: &str,
    appointment: &Appointment,
    names: &Names,
    extra: Value,
    at: DateTime<Utc>,
) -> DomainEvent {
    let mut data = object(json!({
        "appointment": appointment,
        "call_id": appointment.source_call_id,
        // The number the appointment is for (kept under its first name for older receivers).
        "caller": names.customer_phone,
    }));
    names.insert_into(&mut data);
    data.extend(object(extra));
    derived(t, appointment.company_id, key, at, Value::Object(data))
}

impl DomainEvent {
    /// `CallbackRequested`: a callback was opened (a merge into an open one raises nothing).
    pub fn callback_requested(
        callback: &CallbackRequest,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        callback_event(EventType::CallbackRequested, callback, names, json!({}), at)
    }

    /// `CallbackAssigned`: `after` went from `previous_staff_id` to its assignee, picked by the
    /// automatic assignment or by an operator.
    pub fn callback_assigned(
        after: &CallbackRequest,
        previous_staff_id: Option<StaffId>,
        automatic: bool,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        callback_event(
            EventType::CallbackAssigned,
            after,
            names,
            json!({
                "previous_staff_id": previous_staff_id,
                "staff_id": after.assigned_staff_id,
                "reason": after.assignment_reason,
                "automatic": automatic,
            }),
            at,
        )
    }

    /// `CallbackStatusChanged`: `after` left status `from` by `action` (`contact`, `attempt`,
    /// `complete`, `cancel`, `expire`).
    pub fn callback_status_changed(
        from: CallbackStatus,
        after: &CallbackRequest,
        action: &str,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        callback_event(
            EventType::CallbackStatusChanged,
            after,
            names,
            json!({ "from": from, "to": after.status, "action": action }),
            at,
        )
    }

    /// `CallbackSlaApproaching`: the callback's deadline is near.
    pub fn callback_sla_approaching(
        callback: &CallbackRequest,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        let minutes_left = (callback.due_at - at).num_minutes().max(0);
        callback_event(
            EventType::CallbackSlaApproaching,
            callback,
            names,
            json!({
                "due_at": callback.due_at,
                "minutes_left": minutes_left,
                "assigned_staff_id": callback.assigned_staff_id,
                "escalation_level": callback.escalation_level,
            }),
            at,
        )
    }

    /// `CallbackSlaBreached`: `before` missed its deadline; `after` is the callback as it now
    /// stands (escalated, or unchanged at the highest level: then `final` is true).
    pub fn callback_sla_breached(
        before: &CallbackRequest,
        after: &CallbackRequest,
        final_level: bool,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        callback_event(
            EventType::CallbackSlaBreached,
            after,
            names,
            json!({
                "due_at": before.due_at,
                "escalation_level": before.escalation_level,
                "assigned_staff_id": before.assigned_staff_id,
                "final": final_level,
            }),
            at,
        )
    }

    /// `CallbackEscalated`: a late callback moved up a level.
    pub fn callback_escalated(
        after: &CallbackRequest,
        escalation: &CallbackEscalation,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        callback_event(
            EventType::CallbackEscalated,
            after,
            names,
            json!({ "escalation": escalation }),
            at,
        )
    }

    /// `AppointmentBooked`.
    pub fn appointment_booked(appointment: &Appointment, names: &Names, at: DateTime<Utc>) -> Self {
        let key = appointment.id.to_string();
        appointment_event(
            EventType::AppointmentBooked,
            &key,
            appointment,
            names,
            json!({}),
            at,
        )
    }

    /// `AppointmentCancelled` (`appointment` as it is after the cancellation).
    pub fn appointment_cancelled(
        appointment: &Appointment,
        names: &Names,
        at: DateTime<Utc>,
    ) -> Self {
        let key = appointment.id.to_string();
        appointment_event(
            EventType::AppointmentCancelled,
            &key,
            appointment,
            names,
            json!({}),
            at,
        )
    }

    /// `AppointmentRescheduled`: `old` (now cancelled) became `new`; the old and new times and
    /// staff side by side. `names` are the new appointment's; `old_staff` the old one's person.
    pub fn appointment_rescheduled(
        old: &Appointment,
        new: &Appointment,
        names: &Names,
        old_staff: Option<&str>,
        at: DateTime<Utc>,
    ) -> Self {
        let mut previous = old.clone();
        previous.status = AppointmentStatus::Cancelled;
        let key = format!("{}>{}", old.id, new.id);
        appointment_event(
            EventType::AppointmentRescheduled,
            &key,
            new,
            names,
            json!({
                "previous_appointment": previous,
                "old": {
                    "appointment_id": old.id,
                    "starts_at": old.starts_at,
                    "ends_at": old.ends_at,
                    "staff_id": old.staff_id,
                    "staff_name": old_staff,
                },
                "new": {
                    "appointment_id": new.id,
                    "starts_at": new.starts_at,
                    "ends_at": new.ends_at,
                    "staff_id": new.staff_id,
                    "staff_name": names.staff,
                },
            }),
            at,
        )
    }

    /// `CallStarted` or `CallEnded` for a call routed to a company (others have no subscriber).
    pub fn call(
        t: EventType,
        call: &Call,
        branch_name: Option<&str>,
        at: DateTime<Utc>,
    ) -> Option<Self> {
        let company = call.company_id?;
        let data = json!({
            "call": {
                "id": call.id,
                "call_id": call.id,
                "branch_id": call.branch_id,
                "from_number": call.from_number,
                "to_number": call.to_number,
                "agent_id": call.agent_id,
                "language": call.language,
                "status": call.status,
                "started_at": call.started_at,
                "ended_at": call.ended_at,
                "duration_ms": call.duration_ms,
                "disconnection_reason": call.disconnection_reason,
            },
            "branch_name": branch_name,
        });
        Some(derived(t, company, &call.id.to_string(), at, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callflow_actors::domain::CallId;

    #[test]
    fn the_same_happening_gets_the_same_event_id() {
        let mut call = Call::registered(CallId::parse("call_1").expect("valid"));
        call.company_id = Some(CompanyId::new());
        let at = Utc::now();
        let a = DomainEvent::call(EventType::CallEnded, &call, None, at).expect("routed");
        let b = DomainEvent::call(EventType::CallEnded, &call, None, at).expect("routed");
        let c = DomainEvent::call(EventType::CallStarted, &call, None, at).expect("routed");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn a_call_of_no_company_raises_nothing() {
        let call = Call::registered(CallId::parse("call_2").expect("valid"));
        assert!(DomainEvent::call(EventType::CallStarted, &call, None, Utc::now()).is_none());
    }
}
