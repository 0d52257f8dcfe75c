//! A function's answer: `{"ok", "error"?, "message", …fields}`, where `message` is the sentence
//! the agent says.

use crate::retell::speech::{Need, Tongue};
use serde_json::{json, Map, Value};

/// A function's answer.
#[derive(Debug)]
pub struct Answer {
    /// The error code (`slot_taken`, `missing_date`, …); `None` when it worked.
    pub code: Option<&'static str>,
    /// What the agent says.
    pub message: String,
    /// Structured fields for the agent's next step.
    pub fields: Map<String, Value>,
}

impl Answer {
    /// It worked.
    pub fn ok(message: String) -> Self {
        Self {
            code: None,
            message,
            fields: Map::new(),
        }
    }

    /// It did not, for the caller's reason `code`.
    pub fn fail(code: &'static str, message: String) -> Self {
        Self {
            code: Some(code),
            message,
            fields: Map::new(),
        }
    }

    /// Something is missing or unclear: the agent asks for it.
    pub fn need(tongue: Tongue, code: &'static str, need: Need) -> Self {
        Self::fail(code, tongue.need(need))
    }

    /// With one more field.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// The JSON body.
    pub fn into_json(self) -> Value {
        let mut body = Map::new();
        body.insert("ok".into(), json!(self.code.is_none()));
        if let Some(code) = self.code {
            body.insert("error".into(), json!(code));
        }
        body.insert("message".into(), json!(self.message));
        body.extend(self.fields);
        Value::Object(body)
    }
}
