//! Retell's request bodies as we read them: tolerant (everything but the call id is optional,
//! unknown fields are ignored, old `data` payloads are accepted) and typed at the edge.

use callflow_actors::domain::{CallId, E164Number, Language};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Any webhook Retell posts to `/retell/webhook`.
#[derive(Debug, Deserialize)]
pub struct Webhook {
    /// `call_inbound`, `call_started`, `call_ended`, `call_analyzed`, `transcript_updated`, …
    pub event: String,
    /// The call (every event but `call_inbound`).
    #[serde(default, alias = "data")]
    pub call: Option<RetellCall>,
    /// The inbound call (only `call_inbound`).
    #[serde(default)]
    pub call_inbound: Option<CallInbound>,
}

/// The body of `call_inbound`: the call does not exist yet, so there is no call id.
#[derive(Debug, Deserialize)]
pub struct CallInbound {
    /// The caller (E.164).
    #[serde(default)]
    pub from_number: Option<String>,
    /// The dialled number (E.164).
    pub to_number: String,
    /// The agent the number is bound to.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Custom SIP headers of the inbound leg (e.g. `x-tenant`).
    #[serde(default)]
    pub custom_sip_headers: HashMap<String, Value>,
}

/// Retell's call object. Only `call_id` is required; the rest arrives as the call goes on.
#[derive(Debug, Default, Deserialize)]
pub struct RetellCall {
    /// Retell's call id.
    pub call_id: String,
    /// The caller.
    #[serde(default)]
    pub from_number: Option<String>,
    /// The dialled number.
    #[serde(default)]
    pub to_number: Option<String>,
    /// The agent.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// What we put in `call_inbound.metadata`, echoed back (or set by the integrator).
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// The dynamic variables the agent runs with.
    #[serde(default)]
    pub retell_llm_dynamic_variables: Option<HashMap<String, Value>>,
    /// Start, unix milliseconds.
    #[serde(default)]
    pub start_timestamp: Option<i64>,
    /// End, unix milliseconds.
    #[serde(default)]
    pub end_timestamp: Option<i64>,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration_ms: Option<i64>,
    /// Why the call ended: an open set of strings, stored as given.
    #[serde(default)]
    pub disconnection_reason: Option<String>,
    /// "Agent: …\nUser: …".
    #[serde(default)]
    pub transcript: Option<String>,
    /// Post-call analysis (only in `call_analyzed`).
    #[serde(default)]
    pub call_analysis: Option<CallAnalysis>,
}

/// Retell's post-call analysis.
#[derive(Debug, Default, Deserialize)]
pub struct CallAnalysis {
    /// A few sentences about the call.
    #[serde(default)]
    pub call_summary: Option<String>,
    /// "Positive", "Negative", "Neutral" or "Unknown".
    #[serde(default)]
    pub user_sentiment: Option<String>,
    /// Whether the agent reached the call's goal.
    #[serde(default)]
    pub call_successful: Option<bool>,
    /// Whether it reached a voicemail.
    #[serde(default)]
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
    /// The call the function runs in (absent for args-only bodies).
    pub call: Option<RetellCall>,
    /// The arguments the agent filled in.
    pub args: Map<String, Value>,
}

impl FunctionCall {
    /// Reads either body shape. A body with an object `args` and a `call` or `name` is the full
    /// shape; anything else that is an object is taken as the args themselves.
    pub fn from_json(body: Value) -> Result<Self, &'static str> {
        let Value::Object(mut object) = body else {
            return Err("the body must be a JSON object");
        };
        let full_shape = matches!(object.get("args"), Some(Value::Object(_)))
            && (object.contains_key("call") || object.contains_key("name"));
        if !full_shape {
            return Ok(Self {
                call: None,
                args: object,
            });
        }
        let call = match object.remove("call") {
            Some(Value::Null) | None => None,
            Some(call) => Some(
                serde_json::from_value(call)
                    .map_err(|_| "`call` must be a Retell call object with a call_id")?,
            ),
        };
        let Some(Value::Object(args)) = object.remove("args") else {
            return Err("`args` must be an object");
        };
        Ok(Self { call, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_full_function_body_and_the_args_only_body_both_read() {
        let full = FunctionCall::from_json(json!({
            "name": "check_availability",
            "call": {"call_id": "call_1", "to_number": "+493012345678"},
            "args": {"date": "2026-09-17"}
        }))
        .expect("full shape");
        assert_eq!(full.call.expect("call").call_id, "call_1");
        assert_eq!(full.args["date"], "2026-09-17");

        let args_only =
            FunctionCall::from_json(json!({"date": "2026-09-17", "service": "Kontrolle"}))
                .expect("args only");
        assert!(args_only.call.is_none());
        assert_eq!(args_only.args["service"], "Kontrolle");
    }

    #[test]
    fn a_function_body_that_is_not_an_object_is_refused() {
        assert!(FunctionCall::from_json(json!(["date"])).is_err());
        assert!(FunctionCall::from_json(json!({"name": "x", "call": 5, "args": {}})).is_err());
    }

    #[test]
    fn old_payloads_with_data_instead_of_call_are_accepted() {
        let webhook: Webhook = serde_json::from_value(json!({
            "event": "call_ended",
            "data": {"call_id": "call_2", "disconnection_reason": "a_reason_added_next_year"}
        }))
        .expect("parses");
        let call = webhook.call.expect("call");
        assert_eq!(call.call_id, "call_2");
        assert_eq!(
            call.disconnection_reason.as_deref(),
            Some("a_reason_added_next_year")
        );
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
