//! Callbacks from calls: asked for by the caller, or opened because a call ended without the
//! booking the caller wanted, with what the transcript reveals.

use super::context::ActiveCall;
use super::payload::RetellCall;
use super::speech::Tongue;
use crate::callbacks;
use crate::http::AppState;
use callflow_actors::call::CallSummary;
use callflow_actors::domain::callback::CallbackDraft;
use callflow_actors::domain::extraction::{
    extract, mentions_urgency, DateWish, Extracted, TimeWish,
};
use callflow_actors::domain::*;
use chrono::{DateTime, Utc};

/// What a caller (or a failed call) asks to be called back about.
#[derive(Clone, Debug)]
pub struct CallbackAsk {
    /// Number to call back.
    pub phone: E164Number,
    /// Name the caller gave.
    pub name: Option<String>,
    /// Why.
    pub reason: String,
    /// Anything else worth knowing.
    pub notes: Option<String>,
    /// A priority the agent set explicitly.
    pub priority: Option<Priority>,
    /// When the caller wants to be called.
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// A callback opened (durably) or merged into an open one.
#[derive(Clone, Debug)]
pub struct OpenedCallback {
    /// The callback as stored.
    pub callback: CallbackRequest,
    /// Whether it merged into an open request for the same number.
    pub merged: bool,
}

/// Opens a callback for a call; returns once it is durable.
pub async fn open_callback(
    state: &AppState,
    active: &ActiveCall,
    ask: CallbackAsk,
    now: DateTime<Utc>,
) -> anyhow::Result<OpenedCallback> {
    let context = &active.context;
    let said = format!(
        "{} {}",
        ask.reason,
        ask.notes.as_deref().unwrap_or_default()
    );
    let draft = CallbackDraft {
        company_id: context.company_id,
        branch_id: Some(context.branch_id),
        customer_id: context.customer_id,
        phone: ask.phone,
        name: ask.name,
        reason: ask.reason,
        notes: ask.notes,
        priority: ask.priority,
        language: Some(context.language),
        source_call_id: Some(context.call_id.clone()),
        scheduled_for: ask.scheduled_for,
    };
    let (callback, opened) = callbacks::open_callback_for_caller(
        &callbacks::Opening::from_state(state),
        draft,
        mentions_urgency(&said),
        now,
    )
    .await?;
    Ok(OpenedCallback {
        merged: opened == callbacks::Opened::Merged,
        callback,
    })
}

/// After `call_ended`: a call that wanted a booking and got none becomes a callback.
pub async fn after_call_ended(
    state: &AppState,
    active: &ActiveCall,
    summary: Option<CallSummary>,
    call: &RetellCall,
) -> anyhow::Result<()> {
    let bookings = summary.map(|s| s.bookings).unwrap_or_default();
    // The store, not the call actor, is the word on whether the call booked: the actor may be
    // gone (restart, another node, idle timeout) or fresh.
    if bookings.booked > 0
        || state
            .store
            .call_has_booking(&active.context.call_id)
            .await?
    {
        return Ok(());
    }
    let now = Utc::now();
    let transcript = call.transcript.as_deref().unwrap_or_default();
    let info = &active.info;
    let today = now.with_timezone(&info.branch.time_zone).date_naive();
    let calling_code = active
        .context
        .caller
        .as_ref()
        .and_then(E164Number::country_calling_code)
        .unwrap_or_else(|| "49".to_owned());
    let found = extract(
        transcript,
        today,
        &info.services,
        &info.staff,
        &calling_code,
    );
    if bookings.failed == 0 && !found.booking_intent {
        return Ok(());
    }
    let Some(phone) = found
        .phone
        .clone()
        .or_else(|| active.context.caller.clone())
    else {
        tracing::warn!(call_id = %active.context.call_id, "a call without a booking left no number to call back");
        return Ok(());
    };
    let tongue = Tongue::from(active.context.language);
    let ask = CallbackAsk {
        phone,
        name: found.name.clone(),
        reason: missed_booking_reason(tongue, &found, bookings.failed),
        notes: None,
        priority: found.urgent.then_some(Priority::High),
        scheduled_for: None,
    };
    let opened = open_callback(state, active, ask, now).await?;
    tracing::info!(call_id = %active.context.call_id, callback_id = %opened.callback.id, merged = opened.merged, "call ended without a booking; callback opened");
    Ok(())
}

/// After `call_analyzed`: a call the analysis judged unsuccessful becomes a callback (merged
/// into the one `call_ended` may already have opened).
pub async fn after_call_analyzed(
    state: &AppState,
    active: &ActiveCall,
    call: &RetellCall,
) -> anyhow::Result<()> {
    let Some(analysis) = &call.call_analysis else {
        return Ok(());
    };
    if analysis.call_successful != Some(false)
        || analysis.in_voicemail == Some(true)
        || state
            .store
            .call_has_booking(&active.context.call_id)
            .await?
    {
        return Ok(());
    }
    let Some(phone) = active.context.caller.clone() else {
        return Ok(());
    };
    let tongue = Tongue::from(active.context.language);
    let reason = match tongue {
        Tongue::De => "Anruf laut Auswertung nicht erfolgreich",
        Tongue::En => "Call judged unsuccessful by the analysis",
    };
    let ask = CallbackAsk {
        phone,
        name: None,
        reason: reason.to_owned(),
        notes: analysis.call_summary.clone(),
        priority: None,
        scheduled_for: None,
    };
    open_callback(state, active, ask, Utc::now()).await?;
    Ok(())
}

/// "Booking not completed: Professionelle Zahnreinigung, 2026-09-17, 09:30 (2 failed attempts)".
fn missed_booking_reason(tongue: Tongue, found: &Extracted, failed: u32) -> String {
    let mut wish = Vec::new();
    if let Some(service) = &found.service_name {
        wish.push(service.clone());
    }
    match found.date {
        Some(DateWish::Day(day)) => wish.push(day.format("%Y-%m-%d").to_string()),
        Some(DateWish::WeekOf(monday)) => wish.push(format!(
            "{} {}",
            match tongue {
                Tongue::De => "Woche ab",
                Tongue::En => "week of",
            },
            monday.format("%Y-%m-%d")
        )),
        None => {}
    }
    match found.time {
        Some(TimeWish::At(t)) => wish.push(t.format("%H:%M").to_string()),
        Some(TimeWish::Period(p)) => {
            let (from, to) = p.window();
            wish.push(format!("{}–{}", from.format("%H:%M"), to.format("%H:%M")));
        }
        None => {}
    }
    let head = match tongue {
        Tongue::De => "Terminwunsch nicht gebucht",
        Tongue::En => "Booking wish not booked",
    };
    let mut reason = if wish.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {}", wish.join(", "))
    };
    if failed > 0 {
        reason.push_str(&match tongue {
            Tongue::De => format!(" ({failed} fehlgeschlagene Buchungsversuche)"),
            Tongue::En => format!(" ({failed} failed booking attempts)"),
        });
    }
    reason
}
