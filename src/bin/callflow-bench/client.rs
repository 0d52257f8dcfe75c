//! The HTTP side of the harness: signed Retell requests and plain GETs, each ending in a parsed
//! JSON answer or an [`ErrorKind`].

use crate::stats::ErrorKind;
use awc::error::SendRequestError;
use callflow::retell::signature;
use serde_json::Value;
use std::time::Duration;

/// Largest answer read (check_availability's answers are a few KiB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A server to drive.
pub struct Target {
    base: String,
    api_key: Vec<u8>,
    client: awc::Client,
}

impl Target {
    /// A client for `base` (`http://host:port`) signing with `api_key`, keeping at most
    /// `connections` connections open and giving up on a request after `timeout`.
    pub fn new(base: &str, api_key: &str, connections: usize, timeout: Duration) -> Self {
        let connector = awc::Connector::new().limit(connections).timeout(timeout);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .disable_redirects()
            .finish();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.as_bytes().to_vec(),
            client,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Signs `body` as Retell does (now, this key) and posts it to `path`.
    pub async fn post_signed(&self, path: &str, body: Vec<u8>) -> Result<Value, ErrorKind> {
        let header = signature::sign(&body, &self.api_key, chrono::Utc::now().timestamp_millis());
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header((signature::HEADER, header))
            .insert_header(("content-type", "application/json"));
        let mut response = request.send_body(body).await.map_err(classify)?;
        let status = response.status();
        let bytes = response
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(|_| ErrorKind::Transport)?;
        check_status(status.as_u16())?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| ErrorKind::BadBody)
    }

    /// `GET path`, the body as text.
    pub async fn get_text(&self, path: &str) -> Result<String, ErrorKind> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let bytes = response
            .body()
            .limit(16 * MAX_ANSWER_BYTES)
            .await
            .map_err(|_| ErrorKind::Transport)?;
        check_status(status.as_u16())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ErrorKind::BadBody)
    }
}

fn check_status(status: u16) -> Result<(), ErrorKind> {
    match status {
        200..=299 => Ok(()),
        400..=499 => Err(ErrorKind::Client4xx),
        _ => Err(ErrorKind::Server5xx),
    }
}

fn classify(e: SendRequestError) -> ErrorKind {
    match e {
        SendRequestError::Timeout => ErrorKind::Timeout,
        SendRequestError::Connect(awc::error::ConnectError::Timeout) => ErrorKind::Timeout,
        _ => ErrorKind::Transport,
    }
}

/// The outcome of a function answer: `ok`, or its error code (`slot_taken`, `no_slots`, …).
pub fn outcome(answer: &Value) -> &str {
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        return "ok";
    }
    answer
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("not_ok")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_name_the_error_code() {
        assert_eq!(outcome(&json!({"ok": true})), "ok");
        assert_eq!(
            outcome(&json!({"ok": false, "error": "slot_taken"})),
            "slot_taken"
        );
        assert_eq!(outcome(&json!(null)), "not_ok");
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        assert_eq!(check_status(204), Ok(()));
        assert_eq!(check_status(401), Err(ErrorKind::Client4xx));
        assert_eq!(check_status(503), Err(ErrorKind::Server5xx));
    }
}
