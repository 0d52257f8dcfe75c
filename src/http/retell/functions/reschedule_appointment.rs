//! `reschedule_appointment`: move the caller's appointment to an offered slot (at any of the
//! company's branches) or to a day and time; the new time is taken before the old one is freed.

use super::answer::Answer;
use super::args::{
    appointment_arg, idempotency_key, moment_arg, slot_arg, staff_arg, Args, TO_MOVE,
};
use super::context::FunctionContext;
use super::offers::booking_answer;
use super::Function;
use crate::app::bookings::{BookingError, Move};
use crate::retell::speech::Need;
use serde_json::{json, Value};

pub async fn run(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let unknown = || Answer::need(ctx.tongue, "unknown_appointment", Need::Appointment);
    let Some(old) = appointment_arg(ctx, args, &TO_MOVE).await? else {
        return Ok(unknown());
    };
    let Some(service) = ctx.service(old.service_id) else {
        return Ok(unknown());
    };
    let context = &ctx.active.context;
    let (branch_id, staff_id, start) = match slot_arg(ctx, args, &["slot_id", "new_slot_id"]) {
        Some(Ok(slot)) if slot.service_id == old.service_id => {
            (Some(slot.branch_id), Some(slot.staff_id), slot.start)
        }
        Some(_) => return Ok(Answer::need(ctx.tongue, "invalid_slot", Need::Slot)),
        // A new time only: the practitioner stays unless the caller names another (a move to
        // someone else is not what "move my appointment" means).
        None => match moment_arg(ctx, args) {
            Ok(start) => (
                None,
                Some(staff_arg(ctx, args).unwrap_or(old.staff_id)),
                start,
            ),
            Err(answer) => return Ok(answer),
        },
    };
    let to = Move {
        start,
        branch_id,
        staff_id,
        idempotency_key: Some(idempotency_key(
            &context.call_id,
            Function::RescheduleAppointment,
            args.0,
        )),
        call_id: Some(context.call_id.clone()),
        language: Some(context.language),
    };
    let outcome = match ctx.app.bookings.reschedule(&old, to, None).await {
        Ok(outcome) => outcome,
        Err(BookingError::NotFound | BookingError::NotBooked(_)) => return Ok(unknown()),
        Err(BookingError::Engine(e)) => return Err(e.into()),
    };
    let answer = booking_answer(ctx, &service, outcome);
    if answer.code.is_some() {
        return Ok(answer);
    }
    let field = |key: &str| {
        answer
            .fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (label, staff, reference) = (field("label"), field("staff"), field("reference"));
    Ok(Answer {
        message: ctx.tongue.rescheduled(&label, &staff, &reference),
        ..answer
    }
    .with("previous_appointment_id", json!(old.id)))
}
