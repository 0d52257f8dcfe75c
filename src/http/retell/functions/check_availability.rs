//! `check_availability`: free slots for a service, day and time of day, with the next days
//! when the day asked for has nothing.

use super::answer::Answer;
use super::args::{dates_arg, service_arg, staff_arg, time_arg, Args, Days};
use super::context::FunctionContext;
use super::offers::{labels, offered_slots};
use crate::retell::speech::Need;
use callflow_actors::domain::availability::Unbookable;
use callflow_actors::domain::extraction::TimeWish;
use callflow_actors::SlotQuery;
use chrono::Duration;
use serde_json::json;

pub async fn run(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let service = match service_arg(ctx, args) {
        Ok(service) => service,
        Err(answer) => return Ok(answer),
    };
    let Days {
        from,
        to,
        single_day,
    } = match dates_arg(ctx, args) {
        Ok(days) => days,
        Err(answer) => return Ok(answer),
    };
    let Ok(time) = time_arg(args) else {
        return Ok(Answer::need(ctx.tongue, "invalid_time", Need::Time));
    };
    let (wanted, window) = match time {
        Some(TimeWish::At(t)) if single_day => (ctx.local(from, t), None),
        // A time on no particular day: look around it on each day of the range.
        Some(TimeWish::At(t)) => (None, Some((t, t + Duration::hours(1)))),
        Some(TimeWish::Period(p)) => (None, Some(p.window())),
        None => (None, None),
    };
    let query = SlotQuery {
        branch_id: ctx.active.context.branch_id,
        service_id: service.id,
        from,
        to,
        wanted,
        window,
        preferred_staff: staff_arg(ctx, args),
        language: Some(ctx.active.context.language),
        served_before: Vec::new(),
        other_branches: true,
    };
    let bookings = &ctx.app.bookings;
    let found = bookings.find(&query).await?;
    if found.slots.is_empty() && single_day {
        // Nothing that day (past, closed, full): say so and offer the next days instead.
        let later = SlotQuery {
            from: from.max(ctx.today()) + Duration::days(1),
            to: from.max(ctx.today()) + Duration::days(7),
            wanted: None,
            ..query
        };
        let next = bookings.find(&later).await?;
        let labels = labels(ctx, &next);
        let (code, message) = if from < ctx.today() {
            (
                "in_the_past",
                ctx.tongue.unbookable(Unbookable::InThePast, &labels),
            )
        } else if ctx.active.info.branch.hours_on(from).is_closed() {
            (
                "closed_that_day",
                ctx.tongue.unbookable(Unbookable::OutsideHours, &labels),
            )
        } else {
            ("no_slots", ctx.tongue.nothing_free_that_day(&labels))
        };
        return Ok(Answer::fail(code, message)
            .with("service", json!(service.name))
            .with("slots", json!([]))
            .with("alternatives", offered_slots(ctx, &next)));
    }
    let labels = labels(ctx, &found);
    let message = match (found.wanted_free, labels.first()) {
        (_, None) => {
            return Ok(Answer::fail("no_slots", ctx.tongue.nothing_free()).with("slots", json!([])))
        }
        (true, Some(first)) => ctx.tongue.wanted_free(first),
        (false, Some(_)) => ctx.tongue.offer(&labels),
    };
    Ok(Answer::ok(message)
        .with("service", json!(service.name))
        .with("wanted_time_free", json!(found.wanted_free))
        .with("slots", offered_slots(ctx, &found)))
}
