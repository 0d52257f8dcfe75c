//! How slots and booking outcomes are put to the caller: the offered slots with their ids and
//! labels, and the answer to a booking or a move.

use super::answer::Answer;
use super::context::FunctionContext;
use callflow_actors::domain::availability::Unbookable;
use callflow_actors::domain::{AppointmentId, Service};
use callflow_actors::{Availability, BookingOutcome, SlotChoice};
use serde_json::{json, Value};

/// The slots as the agent sees them: opaque id, local time, who, where, how to say it.
pub fn offered_slots(ctx: &FunctionContext<'_>, found: &Availability) -> Value {
    let zone = ctx.zone();
    let slots: Vec<Value> = found
        .slots
        .iter()
        .map(|s: &SlotChoice| {
            let local = s.start.with_timezone(&zone);
            json!({
                "slot_id": s.slot_id,
                "start": local.to_rfc3339(),
                "date": local.format("%Y-%m-%d").to_string(),
                "time": local.format("%H:%M").to_string(),
                "staff": s.staff_name,
                "branch": ctx.branch_name(s.branch_id),
                "other_branch": s.branch_id != ctx.active.context.branch_id,
                "label": ctx.slot_label(s),
            })
        })
        .collect();
    Value::Array(slots)
}

/// How the slots are said, in order.
pub fn labels(ctx: &FunctionContext<'_>, found: &Availability) -> Vec<String> {
    found.slots.iter().map(|s| ctx.slot_label(s)).collect()
}

/// The answer to a booking or rescheduling outcome.
pub fn booking_answer(
    ctx: &FunctionContext<'_>,
    service: &Service,
    outcome: BookingOutcome,
) -> Answer {
    match outcome {
        BookingOutcome::Booked(a) | BookingOutcome::Replayed(a) => {
            let label = ctx.label(a.starts_at);
            let staff = ctx.staff_name(a.staff_id);
            let reference = reference(a.id);
            Answer::ok(ctx.tongue.booked(&label, &service.name, &staff, &reference))
                .with("appointment_id", json!(a.id))
                .with("reference", json!(reference))
                .with(
                    "start",
                    json!(a.starts_at.with_timezone(&ctx.zone()).to_rfc3339()),
                )
                .with("service", json!(service.name))
                .with("staff", json!(staff))
                .with("label", json!(label))
        }
        BookingOutcome::Taken(found) => {
            Answer::fail("slot_taken", ctx.tongue.taken(&labels(ctx, &found)))
                .with("alternatives", offered_slots(ctx, &found))
        }
        BookingOutcome::Unbookable(why, found) => Answer::fail(
            unbookable_code(why),
            ctx.tongue.unbookable(why, &labels(ctx, &found)),
        )
        .with("alternatives", offered_slots(ctx, &found)),
    }
}

fn unbookable_code(why: Unbookable) -> &'static str {
    match why {
        Unbookable::TooSoon => "too_soon",
        Unbookable::BeyondHorizon => "beyond_horizon",
        Unbookable::InThePast => "in_the_past",
        Unbookable::OutsideHours => "outside_opening_hours",
        Unbookable::NotOnGrid => "not_a_slot_start",
        Unbookable::Taken => "slot_taken",
    }
}

/// A short reference people can read out: the last eight hex digits of the id, upper case.
/// Those are random bits (the leading ones of a UUIDv7 are its timestamp, shared by every
/// booking in the same minute).
pub fn reference(id: AppointmentId) -> String {
    let hex = id.0.simple().to_string();
    hex[hex.len() - 8..].to_ascii_uppercase()
}
