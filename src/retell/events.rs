//! Call events: accept durably, dedupe redeliveries, answer at once, do the slow work after.

use super::context::{active_call, CallFacts};
use super::followup;
use super::payload::RetellCall;
use super::verified::SignedBody;
use crate::events::EventType;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::RETELL_WEBHOOKS_TOTAL;
use crate::notify::publish;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use callflow_actors::domain::{Call, CallEvent, CallId, CallStatus};
use callflow_actors::{CallLogWrite, Recorded};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

/// Tries of a follow-up (and of marking it done) before it is left for the replay at the next
/// start.
const FOLLOW_UP_ATTEMPTS: u32 = 3;
/// Pause after the first failed try; doubled after each further one.
const FOLLOW_UP_FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Events read per batch by [`replay_unprocessed`].
const REPLAY_BATCH: u32 = 100;

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
    let (call, call_id) = call_of(&payload).map_err(|e| bad_request(&e))?;

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
    actix_web::rt::spawn(async move {
        if let Err(e) = follow_up_and_mark(&state, &record, &call).await {
            tracing::error!(error = %e, event = record.event, %call_id, dedupe_key = record.dedupe_key,
                "follow-up of a Retell event failed; it stays unprocessed and is replayed at the next start");
        }
    });
    Ok(HttpResponse::NoContent().finish())
}

/// The call object of an event payload (`call`, or `data` in very old payloads) and its id.
fn call_of(payload: &Value) -> Result<(RetellCall, CallId), String> {
    let call = payload
        .get("call")
        .or_else(|| payload.get("data"))
        .filter(|c| c.is_object())
        .ok_or("the event has no `call` object")?;
    let call: RetellCall = serde_json::from_value(call.clone())
        .map_err(|e| format!("`call` is not a Retell call object: {e}"))?;
    let call_id = call.id().ok_or("`call.call_id` is missing or invalid")?;
    Ok((call, call_id))
}

/// Runs an accepted event's follow-up and marks the event processed, each retried with backoff.
/// The follow-up is not retried once it succeeded, even if marking fails, so that its
/// callback is not opened (merged) twice by this node; a failed mark means a replay later.
async fn follow_up_and_mark(
    state: &AppState,
    record: &CallEvent,
    call: &RetellCall,
) -> anyhow::Result<()> {
    with_retries("follow-up", record, || {
        follow_up(state, &record.event, &record.call_id, call)
    })
    .await?;
    with_retries("marking processed", record, || async {
        // The follow-up's call-log writes are only queued: make them durable before the event
        // counts as done, or a stop in between would lose them.
        state.engine.flush().await?;
        state
            .store
            .mark_call_event_processed(&record.dedupe_key, Utc::now())
            .await?;
        Ok(())
    })
    .await
}

/// Runs `attempt` up to [`FOLLOW_UP_ATTEMPTS`] times, pausing 200 ms, 400 ms, … in between.
async fn with_retries<F, Fut>(what: &str, record: &CallEvent, mut attempt: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut backoff = FOLLOW_UP_FIRST_BACKOFF;
    let mut tried = 1;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) if tried < FOLLOW_UP_ATTEMPTS => {
                tracing::warn!(error = %e, what, tried, event = record.event, call_id = %record.call_id,
                    "a Retell event's follow-up failed; trying again");
                actix_web::rt::time::sleep(backoff).await;
                backoff *= 2;
                tried += 1;
            }
            Err(e) => return Err(e.context(format!("{what} failed {tried} times"))),
        }
    }
}

/// Replays the follow-up of every lifecycle event received before now and not marked processed
/// (its follow-up failed, or the process stopped before it finished), oldest first, marking
/// each done. Returns how many were replayed; events whose follow-up fails again are logged
/// and left for the next start. An error means the events could not be read at all.
///
/// Meant for start-up, before the server takes requests. A follow-up may run twice (a stop
/// between its work and the mark, or several nodes replaying at once); see `follow_up` for
/// what that does.
pub async fn replay_unprocessed(state: &AppState) -> anyhow::Result<usize> {
    let cut_off = Utc::now();
    let mut replayed = 0;
    // Events that failed again: they come back in every batch, so each batch asks for that
    // many more, and the replay ends when a batch brings nothing new.
    let mut failed: HashSet<String> = HashSet::new();
    loop {
        let limit = REPLAY_BATCH.saturating_add(u32::try_from(failed.len()).unwrap_or(u32::MAX));
        let batch = state.store.unprocessed_call_events(cut_off, limit).await?;
        let fresh: Vec<CallEvent> = batch
            .into_iter()
            .filter(|e| !failed.contains(&e.dedupe_key))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for record in fresh {
            match call_of(&record.payload) {
                Ok((call, _)) => match follow_up_and_mark(state, &record, &call).await {
                    Ok(()) => replayed += 1,
                    Err(e) => {
                        tracing::error!(error = %e, event = record.event, call_id = %record.call_id,
                            dedupe_key = record.dedupe_key, "replaying a Retell event failed; left for the next start");
                        failed.insert(record.dedupe_key);
                    }
                },
                Err(e) => {
                    // Cannot happen for events `handle` stored; a payload that never parses
                    // would be replayed forever, so it is marked and left to the audit.
                    tracing::error!(error = %e, event = record.event, call_id = %record.call_id,
                        dedupe_key = record.dedupe_key, "a stored Retell event has no usable call object; marked processed without a follow-up");
                    if let Err(e) = state
                        .store
                        .mark_call_event_processed(&record.dedupe_key, Utc::now())
                        .await
                    {
                        tracing::error!(error = %e, dedupe_key = record.dedupe_key, "could not mark a stored Retell event");
                        failed.insert(record.dedupe_key);
                    }
                }
            }
        }
    }
    Ok(replayed)
}

/// The slow part of an accepted event: actors, the call log, callbacks.
///
/// Safe to run again for the same event (a retry, or a replay after a stop between the work
/// and the mark): the call log is an upsert that keeps known fields and never moves a call's
/// status backwards; ending a call this node has no actor for is a no-op; a callback opened
/// again within the duplicate window merges into the first one. Not quite free, though: such a
/// merge appends the reason once more to the callback's notes (and bumps its version); a replay
/// after the window, or after the callback was closed, opens a second callback; relative dates
/// in the transcript ("Freitag") are read against the day of the replay; and replaying a
/// `call_started` whose call already ended starts a call actor that lives until its idle
/// timeout.
async fn follow_up(
    state: &AppState,
    event: &str,
    call_id: &CallId,
    call: &RetellCall,
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
            state
                .engine
                .log_call(CallLogWrite::Call(update.clone()))
                .await?;
            let branch = active.as_ref().map(|a| a.info.branch.name.as_str());
            publish::call(&state.events, EventType::CallStarted, &update, branch).await;
        }
        "call_ended" => {
            let summary = state.engine.end_call(call_id).await;
            update.status = CallStatus::Ended;
            update.ended_at = call.end_timestamp.and_then(DateTime::from_timestamp_millis);
            update.duration_ms = call.duration_ms;
            update.disconnection_reason = call.disconnection_reason.clone();
            update.transcript = call.transcript.clone();
            state
                .engine
                .log_call(CallLogWrite::Call(update.clone()))
                .await?;
            let branch = active.as_ref().map(|a| a.info.branch.name.as_str());
            publish::call(&state.events, EventType::CallEnded, &update, branch).await;
            if let Some(active) = active {
                followup::after_call_ended(state, &active, summary, call).await?;
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
                followup::after_call_analyzed(state, &active, call).await?;
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
