//! Reading admin API bodies and queries field by field, so every invalid value is reported on
//! its own field (422 with `fields`), and unknown fields are refused rather than ignored.
//!
//! Each field is deserialised into its domain type on its own (`E164Number`, `Language`,
//! `WeeklyHours`, `chrono_tz::Tz`, …): a type that can only hold valid values is the
//! validation. Create handlers use [`Input::required`]; PATCH handlers use [`Input::patch`],
//! which changes only what the body names.

use crate::http::error::ApiError;
use crate::http::unstorable;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A JSON object being read, with the problems found so far.
pub struct Input {
    fields: Map<String, Value>,
    problems: BTreeMap<String, String>,
}

impl Input {
    /// Reads a body: empty is `{}`, anything but a JSON object is 400.
    pub fn from_body(raw: &[u8]) -> Result<Self, ApiError> {
        if raw.len() > super::MAX_JSON_BYTES {
            return Err(ApiError::payload_too_large(super::MAX_JSON_BYTES));
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::new(Map::new()));
        }
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(fields)) => Ok(Self::new(fields)),
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }

    /// Reads query parameters (all strings).
    pub fn from_query(query: &BTreeMap<String, String>) -> Self {
        Self::new(
            query
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// The fields, with a problem on each that holds a character a backend cannot store
    /// (a NUL): [`Input::finish`] refuses it with a 422 naming the field rather than the write
    /// failing with a 500. The value is stripped meanwhile, so a handler that looks something
    /// up by it before `finish` cannot hand the store a NUL either.
    fn new(mut fields: Map<String, Value>) -> Self {
        let mut problems = BTreeMap::new();
        for (name, value) in fields.iter_mut() {
            if unstorable::text_contains(name) || unstorable::contains(value) {
                problems.insert(name.clone(), unstorable::MESSAGE.to_owned());
                unstorable::strip(value);
            }
        }
        Self { fields, problems }
    }

    /// Records a problem with `field` (the first one per field is kept).
    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Whether the body names `field`.
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// The value of `field` if given and not null; a problem when it does not deserialise.
    pub fn optional<T: DeserializeOwned>(&mut self, field: &str) -> Option<T> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => None,
            Some(value) => self.convert(field, value),
        }
    }

    /// The value of `field`; "is required" when missing or null.
    pub fn required<T: DeserializeOwned>(&mut self, field: &str) -> Option<T> {
        if matches!(self.fields.get(field), None | Some(Value::Null)) {
            self.fields.remove(field);
            self.problem(field, "is required");
            return None;
        }
        self.optional(field)
    }

    /// Overwrites `target` with `field` when the body names it (null clears an `Option`).
    pub fn patch<T: DeserializeOwned>(&mut self, field: &str, target: &mut T) {
        if let Some(value) = self.fields.remove(field) {
            if let Some(v) = self.convert(field, value) {
                *target = v;
            }
        }
    }

    /// A query parameter parsed with `parse` (the error is the field's message).
    pub fn parsed<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = match self.fields.remove(field)? {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        parse(raw).map_err(|m| self.problem(field, m)).ok()
    }

    fn convert<T: DeserializeOwned>(&mut self, field: &str, value: Value) -> Option<T> {
        match serde_json::from_value::<T>(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(field, describe(&e.to_string()));
                None
            }
        }
    }

    /// 422 naming every problem and every field that was not read; `Ok` when there are none.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.fields.keys().cloned().collect();
        for field in unknown {
            self.problem(&field, "is not a field of this request");
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

/// A serde message for people: without the position suffix JSON values do not need.
fn describe(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message).trim();
    let message = message
        .strip_prefix("invalid type: ")
        .map(|rest| format!("has the wrong type ({rest})"))
        .unwrap_or_else(|| message.to_owned());
    message.chars().take(300).collect()
}

/// Trims a text field, refusing empty and over-long values.
pub fn text(input: &mut Input, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value?.trim().to_owned();
    if value.is_empty() {
        input.problem(field, "must not be empty");
        return None;
    }
    if value.chars().count() > max {
        input.problem(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(value)
}

/// A required text field, read as [`text`] reads it.
pub fn required_text(input: &mut Input, field: &str, max: usize) -> Option<String> {
    let value = input.required::<String>(field);
    text(input, field, value, max)
}

/// Overwrites `target` with the text field when the body names it (a PATCH of a required
/// text: null, empty and over-long values are refused, not applied).
pub fn patch_text(input: &mut Input, field: &str, target: &mut String, max: usize) {
    if input.has(field) {
        if let Some(value) = required_text(input, field, max) {
            *target = value;
        }
    }
}

/// An optional text field, trimmed: absent, null and blank are all `None`; over-long values
/// are refused.
pub fn optional_text(input: &mut Input, field: &str, max: usize) -> Option<String> {
    let value: Option<String> = input.optional(field);
    let value = value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        input.problem(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(value)
}

/// A page size from `limit` (1..=max, default `default`).
pub fn limit(input: &mut Input, default: u32, max: u32) -> u32 {
    input
        .parsed("limit", |raw| {
            raw.parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
        })
        .unwrap_or(default)
}

/// An RFC 3339 time from a query parameter.
pub fn time(input: &mut Input, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    input.parsed(field, |raw| {
        chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| "must be an RFC 3339 time such as 2030-06-03T14:30:00+02:00".to_owned())
    })
}
