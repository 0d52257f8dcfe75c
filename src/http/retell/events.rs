//! Call events other than `call_inbound`: accepted durably by the call use cases
//! (`crate::app::calls`), answered at once; the slow work runs after the answer.

use super::verified::SignedBody;
use crate::app::calls::{call_of, Accepted};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::RETELL_WEBHOOKS_TOTAL;
use crate::retell::payload::WebhookEvent;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::Value;

/// Handles every event but `call_inbound`; `name` is the event as Retell named it.
pub async fn handle(
    state: &AppState,
    event: WebhookEvent,
    name: &str,
    body: &SignedBody,
) -> Result<HttpResponse, ApiError> {
    if event == WebhookEvent::Unknown {
        count(event, "ignored");
        tracing::info!(event = name, "ignored an unknown Retell event");
        return Ok(HttpResponse::NoContent().finish());
    }
    // Kept as received, for audits and replays; the call object is read from it.
    let payload: Value = body.json()?;
    let (call, call_id) = call_of(&payload)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", e))?;
    let calls = &state.app.calls;
    if event == WebhookEvent::TranscriptUpdated {
        calls
            .transcript_updated(&call_id, call.transcript.clone())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        count(event, "accepted");
        return Ok(HttpResponse::NoContent().finish());
    }
    // Durable before we answer: if this fails Retell gets a 503 and delivers again.
    match calls.accept(name, payload, call, call_id.clone()).await {
        Ok(Accepted::Duplicate) => count(event, "duplicate"),
        Ok(Accepted::New) => count(event, "accepted"),
        Err(e) => {
            tracing::error!(error = %e, event = name, %call_id, "could not store a Retell event");
            return Err(ApiError::unavailable(
                "event could not be stored; please retry",
            ));
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

fn count(event: WebhookEvent, outcome: &'static str) {
    metrics::counter!(RETELL_WEBHOOKS_TOTAL, "event" => event.label(), "outcome" => outcome)
        .increment(1);
}
