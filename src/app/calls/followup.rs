//! Callbacks from calls: asked for by the caller, or opened because a call ended without the
//! booking the caller wanted, with what the transcript reveals.

use super::{ActiveCall, CallError, Calls};
use crate::app::callbacks::Opened;
use crate::retell::payload::RetellCall;
use crate::retell::speech::Tongue;
use callflow_actors::call::CallSummary;
use callflow_actors::domain::callback::CallbackDraft;
use callflow_actors::domain::extraction::{
    extract, mentions_urgency, DateWish, Extracted, TimeWish,
};
use callflow_actors::domain::phone::calling_code_of_region;
use callflow_actors::domain::*;
use callflow_actors::StoreError;
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

impl Calls {
    /// Opens a callback for a call (or merges it into the caller's open one); returns once it is
    /// durable.
    pub async fn open_callback(
        &self,
        active: &ActiveCall,
        ask: CallbackAsk,
    ) -> Result<OpenedCallback, StoreError> {
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
        let (callback, opened) = self
            .callbacks
            .open(draft, mentions_urgency(&said), None)
            .await?;
        Ok(OpenedCallback {
            merged: opened == Opened::Merged,
            callback,
        })
    }

    /// After `call_ended`: a call that wanted a booking and got none becomes a callback.
    pub(super) async fn after_call_ended(
        &self,
        active: &ActiveCall,
        summary: Option<CallSummary>,
        call: &RetellCall,
    ) -> Result<(), CallError> {
        let bookings = summary.map(|s| s.bookings).unwrap_or_default();
        // The store, not the call actor, is the word on whether the call booked: the actor may be
        // gone (restart, another node, idle timeout) or fresh.
        if bookings.booked > 0 || self.store.call_has_booking(&active.context.call_id).await? {
            return Ok(());
        }
        let now = self.now();
        let transcript = call.transcript.as_deref().unwrap_or_default();
        let info = &active.info;
        let today = now.with_timezone(&info.branch.time_zone).date_naive();
        // Numbers said without a country code are the caller's country's, else the configured
        // region's (as everywhere else numbers are read).
        let calling_code = active
            .context
            .caller
            .as_ref()
            .and_then(E164Number::country_calling_code)
            .or_else(|| calling_code_of_region(&self.callbacks.settings().callbacks.default_region))
            .unwrap_or_default();
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
        let opened = self.open_callback(active, ask).await?;
        tracing::info!(call_id = %active.context.call_id, callback_id = %opened.callback.id, merged = opened.merged, "call ended without a booking; callback opened");
        Ok(())
    }

    /// After `call_analyzed`: a call the analysis judged unsuccessful becomes a callback (merged
    /// into the one `call_ended` may already have opened).
    pub(super) async fn after_call_analyzed(
        &self,
        active: &ActiveCall,
        call: &RetellCall,
    ) -> Result<(), CallError> {
        let Some(analysis) = &call.call_analysis else {
            return Ok(());
        };
        if analysis.call_successful != Some(false)
            || analysis.in_voicemail == Some(true)
            || self.store.call_has_booking(&active.context.call_id).await?
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
        self.open_callback(active, ask).await?;
        Ok(())
    }
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
