//! `check_availability`: free slots for a service, day and time of day, with the next days
//! when the day asked for has nothing.

use super::answer::Answer;
use super::args::{dates_arg, named_staff_arg, service_arg, time_arg, Args, Days};
use super::context::FunctionContext;
use super::offers::{labels, offered_slots};
use crate::retell::speech::Need;
use callflow_actors::domain::availability::Unbookable;
use callflow_actors::domain::extraction::TimeWish;
use callflow_actors::domain::Staff;
use callflow_actors::SlotQuery;
use chrono::Duration;
use serde_json::{json, Value};

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
        preferred_staff: None,
        only_staff: None,
        language: Some(ctx.active.context.language),
        served_before: Vec::new(),
        other_branches: true,
    };
    let person = match named_staff_arg(ctx, args, &service) {
        Ok(person) => person,
        Err(answer) => return Ok(answer),
    };
    if let Some(person) = person {
        return with_person(ctx, &service.name, &person, query).await;
    }
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

/// How many days ahead a named person's nearest times are looked for when they are not free
/// when the caller wished.
const PERSON_SEARCH_DAYS: i64 = 14;

/// The caller asked for `person`: offer their times; when they are not free at the wished time
/// (or day), say so, offer their nearest times and, second, someone else at the wished time.
async fn with_person(
    ctx: &FunctionContext<'_>,
    service: &str,
    person: &Staff,
    query: SlotQuery,
) -> anyhow::Result<Answer> {
    let bookings = &ctx.app.bookings;
    let theirs_query = SlotQuery {
        only_staff: Some(person.id),
        preferred_staff: Some(person.id),
        other_branches: false,
        ..query.clone()
    };
    let theirs = bookings.find(&theirs_query).await?;
    // Free when wished: at the wished time, or (a day or a time of day only) at all.
    if theirs.wanted_free || (query.wanted.is_none() && !theirs.slots.is_empty()) {
        let labels = labels(ctx, &theirs);
        let message = match (theirs.wanted_free, labels.first()) {
            (true, Some(first)) => ctx.tongue.wanted_free(first),
            _ => {
                let times: Vec<_> = theirs
                    .slots
                    .iter()
                    .map(|s| s.start.with_timezone(&ctx.zone()))
                    .collect();
                ctx.tongue
                    .staff_offer(&person.name, &[ctx.tongue.moments(&times)])
            }
        };
        return Ok(Answer::ok(message)
            .with("service", json!(service))
            .with("staff", json!(person.name))
            .with("staff_free", json!(true))
            .with("wanted_time_free", json!(theirs.wanted_free))
            .with("slots", offered_slots(ctx, &theirs)));
    }
    // Not free when wished: their nearest times over the next days (the same time of day
    // first), and who else is free at the wished time.
    let theirs = if theirs.slots.is_empty() || query.wanted.is_some() {
        let from = query.from.max(ctx.today());
        let later = SlotQuery {
            from,
            to: from + Duration::days(PERSON_SEARCH_DAYS),
            ..theirs_query
        };
        let mut later = bookings.find(&later).await?;
        later.slots.retain(|s| Some(s.start) != query.wanted);
        later
    } else {
        theirs
    };
    let mut others = bookings
        .find(&SlotQuery {
            other_branches: false,
            ..query.clone()
        })
        .await?;
    others
        .slots
        .retain(|s| s.staff_id != person.id && query.wanted.is_none_or(|wanted| s.start == wanted));
    others.slots.truncate(2);
    let wish = match query.wanted {
        Some(at) => ctx.tongue.on_moment(at.with_timezone(&ctx.zone())),
        None => ctx.tongue.on_day(query.from),
    };
    // At the wished time only the person differs; on a wished day each has its time.
    let others_said: Vec<String> = others
        .slots
        .iter()
        .map(|s| match query.wanted {
            Some(_) => s.staff_name.clone(),
            None => ctx.tongue.with_person(&ctx.slot_label(s), &s.staff_name),
        })
        .collect();
    let their_times: Vec<_> = theirs
        .slots
        .iter()
        .map(|s| s.start.with_timezone(&ctx.zone()))
        .collect();
    let theirs_said: Vec<String> = match their_times.is_empty() {
        true => Vec::new(),
        false => vec![ctx.tongue.moments(&their_times)],
    };
    let message = ctx
        .tongue
        .staff_not_free(&person.name, &wish, &theirs_said, &others_said);
    let mut slots = offered_slots(ctx, &theirs);
    let others_slots = offered_slots(ctx, &others);
    if let (Value::Array(all), Value::Array(more)) = (&mut slots, others_slots) {
        all.extend(more);
    }
    Ok(Answer::ok(message)
        .with("service", json!(service))
        .with("staff", json!(person.name))
        .with("staff_free", json!(false))
        .with("wanted_time_free", json!(false))
        .with("slots", slots))
}
