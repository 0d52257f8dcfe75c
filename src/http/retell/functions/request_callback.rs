//! `request_callback`: open a callback request for the caller (or merge it into their open
//! one), at a time they asked for when they named one.

use super::answer::Answer;
use super::args::{phone_arg, Args};
use super::context::FunctionContext;
use crate::app::calls::CallbackAsk;
use crate::retell::speech::Tongue;
use callflow_actors::domain::extraction::{
    parse_date_argument, parse_time_argument, DateWish, TimeWish,
};
use callflow_actors::domain::Priority;
use chrono::{DateTime, Utc};
use serde_json::json;

pub async fn run(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let phone = match phone_arg(ctx, args, &["phone_number", "phone", "callback_number"]) {
        Ok(phone) => phone,
        Err(answer) => return Ok(answer),
    };
    let reason = args
        .free_text(&["reason", "topic", "message"])
        .unwrap_or_else(|| match ctx.tongue {
            Tongue::De => "Rückruf erbeten".to_owned(),
            Tongue::En => "Callback requested".to_owned(),
        });
    let ask = CallbackAsk {
        phone,
        name: args.free_text(&["name", "customer_name", "patient_name"]),
        reason,
        notes: args.free_text(&["notes"]),
        priority: args
            .text(&["priority"])
            .and_then(|p| p.to_ascii_lowercase().parse::<Priority>().ok()),
        scheduled_for: scheduled_for(ctx, args),
    };
    let opened = ctx.app.calls.open_callback(&ctx.active, ask).await?;
    let callback = &opened.callback;
    Ok(
        Answer::ok(ctx.tongue.callback_opened(opened.merged, callback.priority))
            .with("callback_id", json!(callback.id))
            .with("priority", json!(callback.priority.as_str()))
            .with("merged", json!(opened.merged))
            .with(
                "due_at",
                json!(callback.due_at.with_timezone(&ctx.zone()).to_rfc3339()),
            ),
    )
}

/// A time the caller asked to be called back at, if the args name a day and a time.
fn scheduled_for(ctx: &FunctionContext<'_>, args: Args<'_>) -> Option<DateTime<Utc>> {
    let raw = args.text(&["preferred_time", "callback_time", "scheduled_for"])?;
    if let Ok(exact) = DateTime::parse_from_rfc3339(raw) {
        return Some(exact.with_timezone(&Utc));
    }
    let day = match parse_date_argument(raw, ctx.today()) {
        Some(DateWish::Day(day)) => day,
        _ => ctx.today(),
    };
    let time = match parse_time_argument(raw)? {
        TimeWish::At(t) => t,
        TimeWish::Period(p) => p.window().0,
    };
    ctx.local(day, time).filter(|t| *t > ctx.now)
}
