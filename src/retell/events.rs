//! Call events: accept durably, dedupe redeliveries, answer at once, do the slow work after.

use super::context::{active_call, CallFacts};
use super::followup;
use super::payload::RetellCall;
use super::verified::SignedBody;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::RETELL_WEBHOOKS_TOTAL;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use callflow_actors::domain::{Call, CallEvent, CallId, CallStatus};
use callflow_actors::{CallLogWrite, Recorded};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Lifecycle events happen once per call: a redelivery is recognised by event name + call id.
fn is_lifecycle(event: &str) -> bool {
    matches!(event, "call_started" | "call_ended" | "call_analyzed")
        || event.starts_with("transfer_")
}

/// Handles every event but `call_inbound`.
pub async fn handle(
    state: web::Data<AppState>,
    event: &str,
    body: &SignedBody,
) -> Result<HttpResponse, ApiError> {
    let known = is_lifecycle(event) || event == "transcript_updated";
    if !known {
        count(event_label(event), "ignored");
        tracing::info!(event, "ignored an unknown Retell event");
        return Ok(HttpResponse::NoContent().finish());
    }
    // Kept as received, for audits and replays; the call object is read from it.
    let payload: Value = body.json()?;
    let call = payload
        .get("call")
        .or_else(|| payload.get("data"))
        .filter(|c| c.is_object())
        .ok_or_else(|| bad_request("the event has no `call` object"))?;
    let call: RetellCall = serde_json::from_value(call.clone())
        .map_err(|e| bad_request(&format!("`call` is not a Retell call object: {e}")))?;
    let call_id = call
        .id()
        .ok_or_else(|| bad_request("`call.call_id` is missing or invalid"))?;

    if event == "transcript_updated" {
        // Never deduped: each update supersedes the last, and the call log keeps the latest.
        let mut update = Call::registered(call_id.clone());
        update.status = CallStatus::Ongoing;
        update.transcript = call.transcript.clone();
        state
            .engine
            .log_call(CallLogWrite::Call(update))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        count(event, "accepted");
        return Ok(HttpResponse::NoContent().finish());
    }

    let record = CallEvent {
        call_id: call_id.clone(),
        event: event.to_owned(),
        dedupe_key: format!("{event}:{call_id}"),
        payload,
        received_at: Utc::now(),
    };
    // Durable before we answer: if this fails Retell gets a 503 and delivers again.
    match state.store.record_call_event(&record).await {
        Ok(Recorded::Duplicate) => {
            count(event_label(event), "duplicate");
            return Ok(HttpResponse::NoContent().finish());
        }
        Ok(Recorded::New) => count(event_label(event), "accepted"),
        Err(e) => {
            tracing::error!(error = %e, event, %call_id, "could not store a Retell event");
            return Err(ApiError::unavailable(
                "event could not be stored; please retry",
            ));
        }
    }
    let event = event.to_owned();
    actix_web::rt::spawn(async move {
        if let Err(e) = follow_up(&state, &event, &call_id, call).await {
            tracing::error!(error = %e, event, %call_id, "follow-up of a Retell event failed");
        }
    });
    Ok(HttpResponse::NoContent().finish())
}

/// The slow part of an accepted event: actors, the call log, callbacks.
async fn follow_up(
    state: &AppState,
    event: &str,
    call_id: &CallId,
    call: RetellCall,
) -> anyhow::Result<()> {
    let (to, from) = (call.dialled(), call.caller());
    let facts = to.as_ref().map(|to| CallFacts {
        to,
        from: from.as_ref(),
        agent: call.agent_id.as_deref(),
        branch_hint: call.branch_hint(),
        detected_language: call.language(),
    });
    let active = active_call(state, call_id, facts).await?;
    let mut update = Call::registered(call_id.clone());
    update.from_number = from.clone();
    update.to_number = to.clone();
    update.agent_id = call.agent_id.clone();
    update.started_at = call
        .start_timestamp
        .and_then(DateTime::from_timestamp_millis);
    if let Some(active) = &active {
        update.company_id = Some(active.context.company_id);
        update.branch_id = Some(active.context.branch_id);
        update.language = Some(active.context.language);
    }
    match event {
        "call_started" => {
            update.status = CallStatus::Ongoing;
            state.engine.log_call(CallLogWrite::Call(update)).await?;
        }
        "call_ended" => {
            let summary = state.engine.end_call(call_id).await;
            update.status = CallStatus::Ended;
            update.ended_at = call.end_timestamp.and_then(DateTime::from_timestamp_millis);
            update.duration_ms = call.duration_ms;
            update.disconnection_reason = call.disconnection_reason.clone();
            update.transcript = call.transcript.clone();
            state.engine.log_call(CallLogWrite::Call(update)).await?;
            if let Some(active) = active {
                followup::after_call_ended(state, &active, summary, &call).await?;
            }
        }
        "call_analyzed" => {
            let analysis = call.call_analysis.as_ref();
            update.status = CallStatus::Analyzed;
            update.summary = analysis.and_then(|a| a.call_summary.clone());
            update.sentiment = analysis.and_then(|a| a.user_sentiment.clone());
            update.successful = analysis.and_then(|a| a.call_successful);
            state.engine.log_call(CallLogWrite::Call(update)).await?;
            // The call actor may still be alive if `call_ended` has not arrived: end it too.
            state.engine.end_call(call_id).await;
            if let Some(active) = active {
                followup::after_call_analyzed(state, &active, &call).await?;
            }
        }
        _ => {
            // transfer_*: recorded above; the call goes on elsewhere.
            state.engine.log_call(CallLogWrite::Call(update)).await?;
        }
    }
    Ok(())
}

fn bad_request(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", message)
}

/// Event names for metric labels: the known ones as they are, anything else as "other", so a
/// stream of made-up names cannot grow the label set.
fn event_label(event: &str) -> &str {
    match event {
        "call_started" | "call_ended" | "call_analyzed" | "transcript_updated" => event,
        e if e.starts_with("transfer_") => "transfer",
        _ => "other",
    }
}

fn count(event: &str, outcome: &'static str) {
    metrics::counter!(RETELL_WEBHOOKS_TOTAL, "event" => event.to_owned(), "outcome" => outcome)
        .increment(1);
}
