//! Retell's request bodies as we read them: tolerant (everything but the call id is optional,
//! unknown fields are ignored, old `data` payloads are accepted) and typed at the edge.

use callflow_actors::domain::{CallId, E164Number, Language};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The one field every webhook has, read before anything else so an unknown event is accepted
/// whatever the rest of its body looks like.
#[derive(Debug, Deserialize)]
pub struct EventHead {
    /// `call_inbound`, `call_started`, `call_ended`, `call_analyzed`, `transcript_updated`, …
    pub event: String,
}

/// The webhook events Retell sends, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookEvent {
    /// `call_inbound`: answered with the branch's details.
    CallInbound,
    /// `call_started`.
    CallStarted,
    /// `call_ended`.
    CallEnded,
    /// `call_analyzed`.
    CallAnalyzed,
    /// `transcript_updated`: never deduplicated, each supersedes the last.
    TranscriptUpdated,
    /// `transfer_started`, `transfer_bridged`, `transfer_cancelled`, `transfer_ended`, …
    Transfer,
    /// Anything else: accepted and ignored (Retell adds events).
    Unknown,
}

impl WebhookEvent {
    /// The event a name stands for.
    pub fn parse(name: &str) -> Self {
        match name {
            "call_inbound" => Self::CallInbound,
            "call_started" => Self::CallStarted,
            "call_ended" => Self::CallEnded,
            "call_analyzed" => Self::CallAnalyzed,
            "transcript_updated" => Self::TranscriptUpdated,
            name if name.starts_with("transfer_") => Self::Transfer,
            _ => Self::Unknown,
        }
    }

    /// Whether it happens once per call, so a redelivery is recognised by event name + call id.
    pub fn is_lifecycle(self) -> bool {
        matches!(
            self,
            Self::CallStarted | Self::CallEnded | Self::CallAnalyzed | Self::Transfer
        )
    }

    /// The name as a metric label: made-up names all count as `other`, so they cannot grow
    /// the label set.
    pub fn label(self) -> &'static str {
        match self {
            Self::CallInbound => "call_inbound",
            Self::CallStarted => "call_started",
            Self::CallEnded => "call_ended",
            Self::CallAnalyzed => "call_analyzed",
            Self::TranscriptUpdated => "transcript_updated",
            Self::Transfer => "transfer",
            Self::Unknown => "other",
        }
    }
}

/// The `call_inbound` webhook.
#[derive(Debug, Deserialize)]
pub struct InboundEnvelope {
    /// The inbound call.
    #[serde(default)]
    pub call_inbound: Option<CallInbound>,
}

/// The body of `call_inbound`: the call does not exist yet, so there is no call id.
#[derive(Debug, Deserialize)]
pub struct CallInbound {
    /// The caller (E.164).
    #[serde(default, deserialize_with = "lenient::text")]
    pub from_number: Option<String>,
    /// The dialled number (E.164).
    pub to_number: String,
    /// The agent the number is bound to.
    #[serde(default, deserialize_with = "lenient::text")]
    pub agent_id: Option<String>,
    /// Custom SIP headers of the inbound leg (e.g. `x-tenant`).
    #[serde(default, deserialize_with = "lenient::map")]
    pub custom_sip_headers: HashMap<String, Value>,
}

/// Retell's call object. Only `call_id` is required; the rest arrives as the call goes on.
#[derive(Debug, Default, Deserialize)]
pub struct RetellCall {
    /// Retell's call id.
    pub call_id: String,
    /// The caller.
    #[serde(default, deserialize_with = "lenient::text")]
    pub from_number: Option<String>,
    /// The dialled number.
    #[serde(default, deserialize_with = "lenient::text")]
    pub to_number: Option<String>,
    /// The agent.
    #[serde(default, deserialize_with = "lenient::text")]
    pub agent_id: Option<String>,
    /// What we put in `call_inbound.metadata`, echoed back (or set by the integrator).
    #[serde(default, deserialize_with = "lenient::object")]
    pub metadata: Option<Map<String, Value>>,
    /// The dynamic variables the agent runs with.
    #[serde(default, deserialize_with = "lenient::optional_map")]
    pub retell_llm_dynamic_variables: Option<HashMap<String, Value>>,
    /// Start, unix milliseconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub start_timestamp: Option<i64>,
    /// End, unix milliseconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub end_timestamp: Option<i64>,
    /// Duration in milliseconds.
    #[serde(default, deserialize_with = "lenient::integer")]
    pub duration_ms: Option<i64>,
    /// Why the call ended: an open set of strings, stored as given.
    #[serde(default, deserialize_with = "lenient::text")]
    pub disconnection_reason: Option<String>,
    /// "Agent: …\nUser: …".
    #[serde(default, deserialize_with = "lenient::text")]
    pub transcript: Option<String>,
    /// Post-call analysis (only in `call_analyzed`).
    #[serde(default, deserialize_with = "lenient::optional")]
    pub call_analysis: Option<CallAnalysis>,
}

/// Retell's post-call analysis.
#[derive(Debug, Default, Deserialize)]
pub struct CallAnalysis {
    /// A few sentences about the call.
    #[serde(default, deserialize_with = "lenient::text")]
    pub call_summary: Option<String>,
    /// "Positive", "Negative", "Neutral" or "Unknown".
    #[serde(default, deserialize_with = "lenient::text")]
    pub user_sentiment: Option<String>,
    /// Whether the agent reached the call's goal.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub call_successful: Option<bool>,
    /// Whether it reached a voicemail.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub in_voicemail: Option<bool>,
}

impl RetellCall {
    /// The call id, validated.
    pub fn id(&self) -> Option<CallId> {
        CallId::parse(&self.call_id).ok()
    }

    /// The caller's number, when present and well formed.
    pub fn caller(&self) -> Option<E164Number> {
        self.from_number
            .as_deref()
            .and_then(|n| E164Number::parse(n).ok())
    }

    /// The dialled number, when present and well formed.
    pub fn dialled(&self) -> Option<E164Number> {
        self.to_number
            .as_deref()
            .and_then(|n| E164Number::parse(n).ok())
    }

    /// A branch named in the call's metadata (what our inbound answer put there).
    pub fn branch_hint(&self) -> Option<&str> {
        let metadata = self.metadata.as_ref()?;
        ["branch", "tenant_id"]
            .iter()
            .find_map(|key| metadata.get(*key).and_then(Value::as_str))
    }

    /// The language the conversation runs in, from the metadata or dynamic variables we set.
    pub fn language(&self) -> Option<Language> {
        let from_metadata = self
            .metadata
            .as_ref()
            .and_then(|m| m.get("language"))
            .and_then(Value::as_str);
        let from_variables = self
            .retell_llm_dynamic_variables
            .as_ref()
            .and_then(|v| v.get("language"))
            .and_then(Value::as_str);
        from_metadata
            .or(from_variables)
            .and_then(|l| Language::parse(l).ok())
    }
}

impl CallInbound {
    /// A branch named in a custom SIP header (`x-branch` or `x-tenant`).
    pub fn branch_hint(&self) -> Option<&str> {
        self.custom_sip_headers.iter().find_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            (name == "x-branch" || name == "x-tenant")
                .then(|| value.as_str())
                .flatten()
        })
    }

    /// A language Retell or the integrator put in a SIP header (`x-language`).
    pub fn language_hint(&self) -> Option<Language> {
        self.custom_sip_headers.iter().find_map(|(name, value)| {
            name.eq_ignore_ascii_case("x-language")
                .then(|| value.as_str().and_then(|l| Language::parse(l).ok()))
                .flatten()
        })
    }
}

/// A custom-function request: `{name, call, args}`, or with "args only" just the args object.
#[derive(Debug)]
pub struct FunctionCall {
    /// The function the full shape names (`None` for args-only bodies, and when `name` is
    /// absent or `null`); a `name` that is not a string is kept as its JSON text, so it can
    /// never match a function.
    pub name: Option<String>,
    /// The call the function runs in (absent for args-only bodies).
    pub call: Option<RetellCall>,
    /// The arguments the agent filled in.
    pub args: Map<String, Value>,
}

impl FunctionCall {
    /// Reads either body shape. A body with an object `args` and a `call` or `name`, or with a
    /// `call` object and no `args`, is the full shape; any other object is the args themselves
    /// (an args-only body may well have a `name` field: the caller's).
    pub fn from_json(body: Value) -> Result<Self, &'static str> {
        let Value::Object(mut object) = body else {
            return Err("the body must be a JSON object");
        };
        let args_object = matches!(object.get("args"), Some(Value::Object(_)));
        let no_args = matches!(object.get("args"), None | Some(Value::Null));
        let call_object = matches!(object.get("call"), Some(Value::Object(_)));
        let full_shape = (args_object && (call_object || object.contains_key("name")))
            || (call_object && no_args);
        if !full_shape {
            return Ok(Self {
                name: None,
                call: None,
                args: object,
            });
        }
        let name = match object.remove("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name),
            Some(other) => Some(other.to_string()),
        };
        let call = match object.remove("call") {
            Some(Value::Null) | None => None,
            Some(call) => Some(
                serde_json::from_value(call)
                    .map_err(|_| "`call` must be a Retell call object with a call_id")?,
            ),
        };
        let args = match object.remove("args") {
            Some(Value::Object(args)) => args,
            _ => Map::new(),
        };
        Ok(Self { name, call, args })
    }

    /// Whether the body may run `function`: an args-only body (or a full one without a name)
    /// always may; a full body only when it names that function. The signature covers the body,
    /// not the path, so a body signed for one function must not run another.
    pub fn names_function(&self, function: &str) -> bool {
        self.name.as_deref().is_none_or(|name| name == function)
    }
}

/// Deserializers that take what Retell (or an integrator's proxy) may send for optional
/// fields: a number as a string, a float for an integer, `null` for a map. A field that cannot
/// be read is left empty instead of refusing the whole event (Retell would only retry it and
/// then give up).
mod lenient {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};
    use std::collections::HashMap;

    /// A string, or a number written as text.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// An integer, a float (truncated) or either as text.
    pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let as_float = |f: f64| f.is_finite().then_some(f as i64);
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(as_float)),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(as_float))
            }
            _ => None,
        })
    }

    /// A boolean, or `"true"` / `"false"` in any case.
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(b) => Some(b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        })
    }

    /// A JSON object, or nothing.
    pub fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Map<String, Value>>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Object(map) => Some(map),
            _ => None,
        })
    }

    /// A map, with `null` or anything else read as empty.
    pub fn map<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, Value>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Object(map) => map.into_iter().collect(),
            _ => HashMap::new(),
        })
    }

    /// A map, or nothing.
    pub fn optional_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<HashMap<String, Value>>, D::Error> {
        Ok(object(d)?.map(|m| m.into_iter().collect()))
    }

    /// Any value that reads as `T`, else nothing.
    pub fn optional<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(serde_json::from_value(Value::deserialize(d)?).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_read_as_their_kind_and_unknown_ones_as_unknown() {
        assert_eq!(WebhookEvent::parse("call_ended"), WebhookEvent::CallEnded);
        assert_eq!(
            WebhookEvent::parse("transfer_bridged"),
            WebhookEvent::Transfer
        );
        assert_eq!(
            WebhookEvent::parse("call_teleported"),
            WebhookEvent::Unknown
        );
        assert!(WebhookEvent::Transfer.is_lifecycle());
        assert!(!WebhookEvent::TranscriptUpdated.is_lifecycle());
        assert_eq!(WebhookEvent::parse("made_up").label(), "other");
    }
    use serde_json::json;

    #[test]
    fn the_full_function_body_and_the_args_only_body_both_read() {
        let full = FunctionCall::from_json(json!({
            "name": "check_availability",
            "call": {"call_id": "call_1", "to_number": "+493012345678"},
            "args": {"date": "2026-09-17"}
        }))
        .expect("full shape");
        assert_eq!(full.name.as_deref(), Some("check_availability"));
        assert!(full.names_function("check_availability"));
        assert!(!full.names_function("request_callback"));
        assert_eq!(full.call.expect("call").call_id, "call_1");
        assert_eq!(full.args["date"], "2026-09-17");

        let args_only =
            FunctionCall::from_json(json!({"date": "2026-09-17", "service": "Kontrolle"}))
                .expect("args only");
        assert!(args_only.call.is_none());
        assert_eq!(args_only.args["service"], "Kontrolle");
        assert!(args_only.names_function("request_callback"));

        // An args-only body may carry the caller's `name`: it is an argument, not the function.
        let with_caller = FunctionCall::from_json(json!({"name": "Jürgen Weiß", "phone": "x"}))
            .expect("args only");
        assert!(with_caller.names_function("request_callback"));
        assert_eq!(with_caller.args["name"], "Jürgen Weiß");

        let odd = FunctionCall::from_json(json!({"name": 5, "call": {"call_id": "c"}, "args": {}}))
            .expect("full shape");
        assert!(!odd.names_function("get_branch_info"));
    }

    #[test]
    fn a_function_body_that_is_not_an_object_is_refused() {
        assert!(FunctionCall::from_json(json!(["date"])).is_err());
        assert!(FunctionCall::from_json(json!({"name": "x", "call": 5, "args": {}})).is_err());
    }

    #[test]
    fn optional_fields_are_read_tolerantly_and_never_refuse_the_event() {
        let call: RetellCall = serde_json::from_value(json!({
            "call_id": "call_2",
            "duration_ms": "65200",
            "start_timestamp": 1.7e12,
            "end_timestamp": null,
            "disconnection_reason": "a_reason_added_next_year",
            "metadata": "not an object",
            "retell_llm_dynamic_variables": null,
            "call_analysis": {"call_successful": "TRUE", "call_summary": 5}
        }))
        .expect("parses");
        assert_eq!(call.duration_ms, Some(65_200));
        assert_eq!(call.start_timestamp, Some(1_700_000_000_000));
        assert_eq!(call.end_timestamp, None);
        assert_eq!(
            call.disconnection_reason.as_deref(),
            Some("a_reason_added_next_year")
        );
        assert!(call.metadata.is_none());
        let analysis = call.call_analysis.expect("analysis");
        assert_eq!(analysis.call_successful, Some(true));
        assert_eq!(analysis.call_summary.as_deref(), Some("5"));

        let inbound: CallInbound = serde_json::from_value(json!({
            "to_number": "+493012345678", "custom_sip_headers": null
        }))
        .expect("parses");
        assert!(inbound.custom_sip_headers.is_empty());
    }

    #[test]
    fn branch_hints_come_from_sip_headers_and_metadata() {
        let inbound: CallInbound = serde_json::from_value(json!({
            "from_number": "+4915123456789",
            "to_number": "+493012345678",
            "custom_sip_headers": {"X-Tenant": "praxis-mueller-berlin"}
        }))
        .expect("parses");
        assert_eq!(inbound.branch_hint(), Some("praxis-mueller-berlin"));

        let call: RetellCall = serde_json::from_value(json!({
            "call_id": "call_3",
            "metadata": {"tenant_id": "praxis-mueller-hamburg", "language": "en"}
        }))
        .expect("parses");
        assert_eq!(call.branch_hint(), Some("praxis-mueller-hamburg"));
        assert_eq!(call.language(), Some(Language::EN));
    }
}
