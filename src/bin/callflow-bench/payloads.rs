//! Request bodies shaped like Retell's (see `examples/demo-call/*.json` and
//! `../shared/retell/REFERENCE.md`): webhook events with the call object, custom-function calls
//! with `name`, `call` and `args`. Bodies are serialised once and signed over those exact bytes.

use serde_json::{json, Map, Value};

/// The agent the demo seed assigns to the Berlin number (other numbers have none).
const AGENT_ID: &str = "agent_7742116d0d00d3806fcfaa9b8d";

/// Who calls whom: the parts of Retell's call object every step repeats.
#[derive(Debug, Clone)]
pub struct CallFacts {
    /// `call_id`, unique per simulated call.
    pub call_id: String,
    /// The caller (unique per simulated call, so each is a new customer).
    pub from: String,
    /// The practice's number dialled.
    pub to: String,
    /// Unix ms when the call started.
    pub started_ms: i64,
}

impl CallFacts {
    /// The facts of simulated call `index` of run `seed` dialling `to`.
    ///
    /// Caller numbers are German mobile numbers (`+49151` and eight digits): valid E.164, so
    /// bookings and callbacks accept them.
    pub fn new(seed: u64, index: u64, to: &str, started_ms: i64) -> Self {
        Self {
            call_id: call_id(seed, index),
            from: format!("+49151{:08}", index % 100_000_000),
            to: to.to_owned(),
            started_ms,
        }
    }

    fn call_object(&self, status: &str) -> Map<String, Value> {
        let mut call = Map::new();
        call.insert("call_type".into(), json!("phone_call"));
        call.insert("from_number".into(), json!(self.from));
        call.insert("to_number".into(), json!(self.to));
        call.insert("direction".into(), json!("inbound"));
        call.insert("call_id".into(), json!(self.call_id));
        call.insert("agent_id".into(), json!(AGENT_ID));
        call.insert("agent_version".into(), json!(3));
        call.insert("call_status".into(), json!(status));
        call.insert("metadata".into(), json!({}));
        call.insert("start_timestamp".into(), json!(self.started_ms));
        call.insert("data_storage_setting".into(), json!("everything"));
        call.insert("opt_in_signed_url".into(), json!(false));
        call
    }
}

/// `call_<run seed>_<index>`: readable, unique across runs with different seeds.
pub fn call_id(seed: u64, index: u64) -> String {
    format!("call_bench{seed:x}_{index:09}")
}

/// `call_inbound`: Retell asks which agent answers, before the call has an id.
pub fn call_inbound(facts: &CallFacts) -> Vec<u8> {
    body(&json!({
        "event": "call_inbound",
        "event_timestamp": facts.started_ms,
        "call_inbound": {
            "agent_id": AGENT_ID,
            "agent_version": 3,
            "from_number": facts.from,
            "to_number": facts.to,
        }
    }))
}

/// `call_started`.
pub fn call_started(facts: &CallFacts) -> Vec<u8> {
    body(&json!({ "event": "call_started", "call": facts.call_object("ongoing") }))
}

/// `call_ended`, `ended_ms` after the start.
pub fn call_ended(facts: &CallFacts, ended_ms: i64) -> Vec<u8> {
    let mut call = facts.call_object("ended");
    call.insert("end_timestamp".into(), json!(ended_ms));
    call.insert(
        "duration_ms".into(),
        json!(ended_ms.saturating_sub(facts.started_ms)),
    );
    call.insert("disconnection_reason".into(), json!("user_hangup"));
    call.insert("transcript".into(), json!(TRANSCRIPT));
    body(&json!({ "event": "call_ended", "call": call }))
}

/// `call_analyzed`.
pub fn call_analyzed(facts: &CallFacts, ended_ms: i64, successful: bool) -> Vec<u8> {
    let mut call = facts.call_object("ended");
    call.insert("end_timestamp".into(), json!(ended_ms));
    call.insert(
        "duration_ms".into(),
        json!(ended_ms.saturating_sub(facts.started_ms)),
    );
    call.insert("disconnection_reason".into(), json!("user_hangup"));
    call.insert("transcript".into(), json!(TRANSCRIPT));
    call.insert(
        "call_analysis".into(),
        json!({
            "call_summary": "Lasttest-Anruf.",
            "user_sentiment": "Neutral",
            "call_successful": successful,
            "in_voicemail": false,
        }),
    );
    body(&json!({ "event": "call_analyzed", "call": call }))
}

/// A custom-function call (`POST /retell/functions/<name>`) with the call object.
pub fn function(facts: &CallFacts, name: &str, args: Value) -> Vec<u8> {
    let mut call = facts.call_object("ongoing");
    call.insert("transcript".into(), json!(TRANSCRIPT));
    body(&json!({ "name": name, "call": call, "args": args }))
}

/// `check_availability` args: a service on a day, optionally a time of day.
pub fn check_availability_args(service: &str, date: &str, period: Option<&str>) -> Value {
    let mut args = json!({ "service": service, "date": date });
    if let Some(period) = period {
        args["time_preference"] = json!(period);
    }
    args
}

/// `book_appointment` args for an offered slot id.
pub fn book_appointment_args(facts: &CallFacts, service: &str, slot_id: &str) -> Value {
    json!({
        "slot_id": slot_id,
        "service": service,
        "patient_name": "Lasttest Anrufer",
        "phone_number": facts.from,
        "notes": "callflow-bench",
    })
}

/// `request_callback` args.
pub fn request_callback_args(facts: &CallFacts) -> Value {
    json!({
        "reason": "Rückruf wegen eines Termins (Lasttest)",
        "phone_number": facts.from,
        "name": "Lasttest Anrufer",
    })
}

/// A short transcript, so bodies carry text like real ones without dominating the run.
const TRANSCRIPT: &str =
    "Agent: Zahnarztpraxis Dr. Müller, guten Tag. Wie kann ich Ihnen helfen?\n\
User: Ich hätte gern einen Termin.\nAgent: Einen Moment, ich schaue nach freien Terminen.\n";

fn body(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail (string keys only).
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CallFacts {
        CallFacts::new(42, 7, "+493012345678", 1_789_456_442_640)
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    #[test]
    fn webhooks_carry_the_event_and_the_call_object_like_retell() {
        let f = facts();
        let started = parse(&call_started(&f));
        assert_eq!(started["event"], "call_started");
        assert_eq!(started["call"]["call_id"], f.call_id);
        assert_eq!(started["call"]["to_number"], "+493012345678");
        let ended = parse(&call_ended(&f, f.started_ms + 65_200));
        assert_eq!(ended["call"]["duration_ms"], 65_200);
        assert_eq!(ended["call"]["call_status"], "ended");
        let analyzed = parse(&call_analyzed(&f, f.started_ms + 1, true));
        assert_eq!(analyzed["call"]["call_analysis"]["call_successful"], true);
        let inbound = parse(&call_inbound(&f));
        assert_eq!(inbound["call_inbound"]["from_number"], f.from);
        assert!(inbound.get("call").is_none());
    }

    #[test]
    fn functions_carry_name_call_and_args() {
        let f = facts();
        let args = book_appointment_args(&f, "Kontrolluntersuchung", "s1_abc");
        let call = parse(&function(&f, "book_appointment", args));
        assert_eq!(call["name"], "book_appointment");
        assert_eq!(call["call"]["call_id"], f.call_id);
        assert_eq!(call["args"]["slot_id"], "s1_abc");
    }

    #[test]
    fn callers_and_call_ids_are_unique_per_call_and_valid() {
        let a = CallFacts::new(1, 1, "+493012345678", 0);
        let b = CallFacts::new(1, 2, "+493012345678", 0);
        assert_ne!(a.call_id, b.call_id);
        assert_ne!(a.from, b.from);
        assert!(callflow_actors::domain::E164Number::parse(&a.from).is_ok());
        assert!(callflow_actors::domain::CallId::parse(&a.call_id).is_ok());
    }
}
