//! `cancel_appointment`: cancel the caller's appointment, named by id, reference, day or as
//! their only one.

use super::answer::Answer;
use super::args::{appointment_arg, Args, TO_CANCEL};
use super::context::FunctionContext;
use crate::app::bookings::BookingError;
use crate::retell::speech::Need;
use serde_json::json;

pub async fn run(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let unknown = || Answer::need(ctx.tongue, "unknown_appointment", Need::Appointment);
    let Some(appointment) = appointment_arg(ctx, args, &TO_CANCEL).await? else {
        return Ok(unknown());
    };
    let company = ctx.active.context.company_id;
    match ctx.app.bookings.cancel(company, appointment.id, None).await {
        Ok(cancelled) => {
            let after = cancelled.after;
            Ok(
                Answer::ok(ctx.tongue.cancelled(&ctx.label(after.starts_at)))
                    .with("appointment_id", json!(after.id))
                    .with("status", json!(after.status.as_str())),
            )
        }
        Err(BookingError::NotFound | BookingError::NotBooked(_)) => Ok(unknown()),
        Err(BookingError::Engine(e)) => Err(e.into()),
    }
}
