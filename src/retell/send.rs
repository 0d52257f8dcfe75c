//! `callflow retell send FILE`: signs a Retell payload with the configured key, exactly as
//! Retell does, posts it to the right endpoint and prints the answer.

use super::signature;
use super::signature::SIGNATURE_HEADER;
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;

/// The endpoint a payload goes to: functions by their name, everything else to the webhook.
pub fn endpoint_for(payload: &Value) -> anyhow::Result<String> {
    if let Some(event) = payload.get("event").and_then(Value::as_str) {
        if event.is_empty() {
            bail!("`event` is empty");
        }
        return Ok("/retell/webhook".to_owned());
    }
    match payload.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() && payload.get("args").is_some() => {
            Ok(format!("/retell/functions/{name}"))
        }
        _ => bail!(
            "the file is neither a webhook (with \"event\") nor a function call (with \"name\" and \"args\")"
        ),
    }
}

/// What the server answered.
pub struct Sent {
    /// The URL posted to.
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// The body, pretty-printed when it is JSON.
    pub body: String,
}

/// Signs the file's bytes as they are (so umlauts and spacing stay what Retell would send) and
/// posts them to `base_url`.
pub async fn send(file: &Path, base_url: &str, api_key: &str) -> anyhow::Result<Sent> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let payload: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    let url = format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        endpoint_for(&payload)?
    );
    let header = signature::sign(
        &body,
        api_key.as_bytes(),
        chrono::Utc::now().timestamp_millis(),
    );
    let client = awc::Client::default();
    let mut response = client
        .post(&url)
        .insert_header((SIGNATURE_HEADER, header))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
    let bytes = response
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the answer from {url}: {e}"))?;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => serde_json::to_string_pretty(&json)?,
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Ok(Sent {
        url,
        status: response.status().as_u16(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_go_to_the_endpoint_retell_would_use() {
        let webhook = json!({"event": "call_started", "call": {"call_id": "c"}});
        assert_eq!(endpoint_for(&webhook).expect("webhook"), "/retell/webhook");
        let function = json!({"name": "book_appointment", "call": {}, "args": {}});
        assert_eq!(
            endpoint_for(&function).expect("function"),
            "/retell/functions/book_appointment"
        );
        assert!(endpoint_for(&json!({"args": {}})).is_err());
    }
}
