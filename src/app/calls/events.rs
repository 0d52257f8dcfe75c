//! Call events: accepted durably and deduplicated, answered at once, the slow work done after
//! (and replayed at the next start when it did not finish).

use super::{CallError, CallFacts, Calls};
use crate::events::{DomainEvent, EventType};
use crate::retell::payload::{RetellCall, WebhookEvent};
use callflow_actors::domain::{Call, CallEvent, CallId, CallStatus};
use callflow_actors::{CallLogWrite, EngineError, Recorded, StoreError};
use chrono::DateTime;
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

/// Tries of a follow-up (and of marking it done) before it is left for the replay at the next
/// start.
const FOLLOW_UP_ATTEMPTS: u32 = 3;
/// Pause after the first failed try; doubled after each further one.
const FOLLOW_UP_FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Events read per batch by [`Calls::replay_unprocessed`].
const REPLAY_BATCH: u32 = 100;

/// The call events that happen once per call and have work to do after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallEventKind {
    /// The call started.
    Started,
    /// The call ended: holds are released, a missed booking becomes a callback.
    Ended,
    /// The analysis is in: an unsuccessful call becomes a callback.
    Analyzed,
    /// A transfer happened: recorded; the call goes on elsewhere.
    Transfer,
}

impl CallEventKind {
    /// The kind of a webhook event, for the lifecycle events.
    pub fn of(event: WebhookEvent) -> Option<Self> {
        match event {
            WebhookEvent::CallStarted => Some(Self::Started),
            WebhookEvent::CallEnded => Some(Self::Ended),
            WebhookEvent::CallAnalyzed => Some(Self::Analyzed),
            WebhookEvent::Transfer => Some(Self::Transfer),
            WebhookEvent::CallInbound | WebhookEvent::TranscriptUpdated | WebhookEvent::Unknown => {
                None
            }
        }
    }
}

/// Whether an accepted event was new or a redelivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// New: stored, its follow-up runs now.
    New,
    /// Seen before: nothing done.
    Duplicate,
}

/// The call object of a stored event payload (`call`, or `data` in very old payloads) and its
/// id.
pub fn call_of(payload: &Value) -> Result<(RetellCall, CallId), String> {
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

impl Calls {
    /// Keeps the latest transcript of an ongoing call (never deduplicated: each update
    /// supersedes the last). Queued in the call log, batched.
    pub async fn transcript_updated(
        &self,
        call_id: &CallId,
        transcript: Option<String>,
    ) -> Result<(), EngineError> {
        let mut update = Call::registered(call_id.clone());
        update.status = CallStatus::Ongoing;
        update.transcript = transcript;
        self.engine.log_call(CallLogWrite::Call(update)).await
    }

    /// Stores a lifecycle event durably (deduplicated on event name + call id), then runs its
    /// follow-up on a task of its own. Returns once the event is durable: if this fails, Retell
    /// must deliver again.
    pub async fn accept(
        &self,
        event: &str,
        payload: Value,
        call: RetellCall,
        call_id: CallId,
    ) -> Result<Accepted, StoreError> {
        let record = CallEvent {
            call_id: call_id.clone(),
            event: event.to_owned(),
            dedupe_key: format!("{event}:{call_id}"),
            payload,
            received_at: self.now(),
        };
        if self.store.record_call_event(&record).await? == Recorded::Duplicate {
            return Ok(Accepted::Duplicate);
        }
        let calls = self.clone();
        actix_rt::spawn(async move {
            if let Err(e) = calls.follow_up_and_mark(&record, &call).await {
                tracing::error!(error = %e, event = record.event, %call_id, dedupe_key = record.dedupe_key,
                    "follow-up of a Retell event failed; it stays unprocessed and is replayed at the next start");
            }
        });
        Ok(Accepted::New)
    }

    /// Replays the follow-up of every lifecycle event received before now and not marked
    /// processed (its follow-up failed, or the process stopped before it finished), oldest
    /// first, marking each done. Returns how many were replayed; events whose follow-up fails
    /// again are logged and left for the next start. An error means the events could not be
    /// read at all.
    ///
    /// Meant for start-up, before the server takes requests. A follow-up may run twice (a stop
    /// between its work and the mark, or several nodes replaying at once); see
    /// [`Calls::follow_up`] for what that does.
    pub async fn replay_unprocessed(&self) -> Result<usize, StoreError> {
        let cut_off = self.now();
        let mut replayed = 0;
        // Events that failed again: they come back in every batch, so each batch asks for that
        // many more, and the replay ends when a batch brings nothing new.
        let mut failed: HashSet<String> = HashSet::new();
        loop {
            let limit =
                REPLAY_BATCH.saturating_add(u32::try_from(failed.len()).unwrap_or(u32::MAX));
            let batch = self.store.unprocessed_call_events(cut_off, limit).await?;
            let fresh: Vec<CallEvent> = batch
                .into_iter()
                .filter(|e| !failed.contains(&e.dedupe_key))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for record in fresh {
                match call_of(&record.payload) {
                    Ok((call, _)) => match self.follow_up_and_mark(&record, &call).await {
                        Ok(()) => replayed += 1,
                        Err(e) => {
                            tracing::error!(error = %e, event = record.event, call_id = %record.call_id,
                                dedupe_key = record.dedupe_key, "replaying a Retell event failed; left for the next start");
                            failed.insert(record.dedupe_key);
                        }
                    },
                    Err(e) => {
                        // Cannot happen for events `accept` stored; a payload that never parses
                        // would be replayed forever, so it is marked and left to the audit.
                        tracing::error!(error = %e, event = record.event, call_id = %record.call_id,
                            dedupe_key = record.dedupe_key, "a stored Retell event has no usable call object; marked processed without a follow-up");
                        if let Err(e) = self
                            .store
                            .mark_call_event_processed(&record.dedupe_key, self.now())
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

    /// Runs an accepted event's follow-up and marks the event processed, each retried with
    /// backoff. The follow-up is not retried once it succeeded, even if marking fails, so that
    /// its callback is not opened (merged) twice by this node; a failed mark means a replay
    /// later.
    async fn follow_up_and_mark(
        &self,
        record: &CallEvent,
        call: &RetellCall,
    ) -> Result<(), CallError> {
        let Some(kind) = CallEventKind::of(WebhookEvent::parse(&record.event)) else {
            return Ok(());
        };
        with_retries("follow-up", record, || {
            self.follow_up(kind, &record.call_id, call)
        })
        .await?;
        with_retries("marking processed", record, || async {
            // The follow-up's call-log writes are only queued: make them durable before the
            // event counts as done, or a stop in between would lose them.
            self.engine.flush().await?;
            self.store
                .mark_call_event_processed(&record.dedupe_key, self.now())
                .await?;
            Ok(())
        })
        .await
    }

    /// The slow part of an accepted event: actors, the call log, callbacks.
    ///
    /// Safe to run again for the same event (a retry, or a replay after a stop between the
    /// work and the mark): the call log is an upsert that keeps known fields and never moves a
    /// call's status backwards; ending a call this node has no actor for is a no-op; a callback
    /// opened again within the duplicate window merges into the first one. Not quite free,
    /// though: such a merge appends the reason once more to the callback's notes (and bumps its
    /// version); a replay after the window, or after the callback was closed, opens a second
    /// callback; relative dates in the transcript ("Freitag") are read against the day of the
    /// replay; and replaying a `call_started` whose call already ended starts a call actor that
    /// lives until its idle timeout.
    async fn follow_up(
        &self,
        kind: CallEventKind,
        call_id: &CallId,
        call: &RetellCall,
    ) -> Result<(), CallError> {
        let (to, from) = (call.dialled(), call.caller());
        let facts = to.as_ref().map(|to| CallFacts {
            to,
            from: from.as_ref(),
            agent: call.agent_id.as_deref(),
            branch_hint: call.branch_hint(),
            detected_language: call.language(),
        });
        let active = self.active_call(call_id, facts).await?;
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
        let branch = active.as_ref().map(|a| a.info.branch.name.clone());
        match kind {
            CallEventKind::Started => {
                update.status = CallStatus::Ongoing;
                self.engine
                    .log_call(CallLogWrite::Call(update.clone()))
                    .await?;
                self.publish_call(EventType::CallStarted, &update, branch.as_deref())
                    .await;
            }
            CallEventKind::Ended => {
                let summary = self.engine.end_call(call_id).await;
                update.status = CallStatus::Ended;
                update.ended_at = call.end_timestamp.and_then(DateTime::from_timestamp_millis);
                update.duration_ms = call.duration_ms;
                update.disconnection_reason = call.disconnection_reason.clone();
                update.transcript = call.transcript.clone();
                self.engine
                    .log_call(CallLogWrite::Call(update.clone()))
                    .await?;
                self.publish_call(EventType::CallEnded, &update, branch.as_deref())
                    .await;
                if let Some(active) = active {
                    self.after_call_ended(&active, summary, call).await?;
                }
            }
            CallEventKind::Analyzed => {
                let analysis = call.call_analysis.as_ref();
                update.status = CallStatus::Analyzed;
                update.summary = analysis.and_then(|a| a.call_summary.clone());
                update.sentiment = analysis.and_then(|a| a.user_sentiment.clone());
                update.successful = analysis.and_then(|a| a.call_successful);
                self.engine.log_call(CallLogWrite::Call(update)).await?;
                // The call actor may still be alive if `call_ended` has not arrived: end it too.
                self.engine.end_call(call_id).await;
                if let Some(active) = active {
                    self.after_call_analyzed(&active, call).await?;
                }
            }
            CallEventKind::Transfer => {
                self.engine.log_call(CallLogWrite::Call(update)).await?;
            }
        }
        Ok(())
    }

    async fn publish_call(&self, t: EventType, call: &Call, branch: Option<&str>) {
        if let Some(event) = DomainEvent::call(t, call, branch, self.now()) {
            self.events.publish(event).await;
        }
    }
}

/// Runs `attempt` up to [`FOLLOW_UP_ATTEMPTS`] times, pausing 200 ms, 400 ms, … in between.
async fn with_retries<F, Fut>(
    what: &str,
    record: &CallEvent,
    mut attempt: F,
) -> Result<(), CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), CallError>>,
{
    let mut backoff = FOLLOW_UP_FIRST_BACKOFF;
    let mut tried = 1;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) if tried < FOLLOW_UP_ATTEMPTS => {
                tracing::warn!(error = %e, what, tried, event = record.event, call_id = %record.call_id,
                    "a Retell event's follow-up failed; trying again");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                tried += 1;
            }
            Err(e) => {
                tracing::warn!(what, tried, "giving up on a Retell event's follow-up");
                return Err(e);
            }
        }
    }
}
