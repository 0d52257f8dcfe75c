//! `book_appointment`: hold and book a slot (an offered `slot_id`, or service + date + time)
//! for the caller, who becomes a customer when new.

use super::answer::Answer;
use super::args::{idempotency_key, phone_arg, wanted_arg, Args};
use super::context::FunctionContext;
use super::offers::booking_answer;
use super::Function;
use callflow_actors::BookingRequest;

pub async fn run(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let wanted = match wanted_arg(ctx, args) {
        Ok(wanted) => wanted,
        Err(answer) => return Ok(answer),
    };
    let phone = match phone_arg(ctx, args, &["phone_number", "phone", "callback_number"]) {
        Ok(phone) => phone,
        Err(answer) => return Ok(answer),
    };
    let context = &ctx.active.context;
    let bookings = &ctx.app.bookings;
    let customer = bookings
        .customer_for(
            context.company_id,
            phone,
            args.free_text(&["patient_name", "customer_name", "name"]),
            Some(context.language),
        )
        .await?;
    let request = BookingRequest {
        company_id: context.company_id,
        branch_id: wanted.branch_id,
        service_id: wanted.service.id,
        staff_id: wanted.staff,
        start: wanted.start,
        customer_id: customer.id,
        idempotency_key: Some(idempotency_key(
            &context.call_id,
            Function::BookAppointment,
            args.0,
        )),
        call_id: Some(context.call_id.clone()),
        notes: args.free_text(&["notes", "note", "comment"]),
        language: Some(context.language),
    };
    let outcome = bookings.book(&request, Some(&customer), None).await?;
    Ok(booking_answer(ctx, &wanted.service, outcome))
}
