//! `/api/v1/appointments`: list (by branch, staff member, customer, status, time range; cursor
//! pages by start time), read, book, cancel and reschedule.
//!
//! Booking goes through the engine, like the voice agent's: the staff member's actor holds the
//! slot, the store commits it (refusing overlaps), and the calendar actor knows at once. A
//! taken slot is 409 with free `alternatives`; a time that cannot be booked (closed, too
//! soon, off the slot grid) is 422 on `start`. Rescheduling books the new time first and
//! cancels the old one only then. Admins book anywhere in their company, managers at their
//! branch; staff read their own appointments.

use super::access::{self, conflict, created};
use super::audit;
use super::auth::{store_error, Caller};
use super::cursor;
use super::input::{self, Input};
use crate::app::bookings::{BookingError, Move};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::admin_query::AppointmentFilter;
use callflow_actors::domain::*;
use callflow_actors::{Availability, BookingOutcome, BookingRequest, EngineError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Most appointments one page holds.
pub const MAX_LIMIT: u32 = 500;
/// Longest notes kept.
const MAX_NOTES: usize = 2000;
/// Longest idempotency key.
const MAX_KEY: usize = 200;

/// Whether the caller may see `a`: admins all, managers their branch's, staff their own.
fn sees(caller: &Caller, a: &Appointment) -> bool {
    a.company_id == caller.company_id
        && match caller.role {
            Role::Admin => true,
            Role::Manager => caller.branch_id == Some(a.branch_id),
            Role::Staff => caller.staff_id == Some(a.staff_id),
        }
}

/// 403 unless the caller may book or change appointments at `branch`.
fn may_book(caller: &Caller, branch: BranchId) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Manager if caller.branch_id == Some(branch) => Ok(()),
        _ => Err(ApiError::forbidden(
            "only admins and the branch's managers may book or change appointments",
        )),
    }
}

async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<Appointment, ApiError> {
    let not_found = || ApiError::not_found("no such appointment");
    let id: AppointmentId = raw.trim().parse().map_err(|_| not_found())?;
    state
        .app
        .bookings
        .appointment(caller.company_id, id)
        .await
        .map_err(store_error)?
        .filter(|a| sees(caller, a))
        .ok_or_else(not_found)
}

/// `GET /api/v1/appointments?branch=&staff=&customer=&status=&from=&until=&cursor=&limit=`
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut q = Input::from_query(&query);
    let staff: Option<StaffId> = q.parsed("staff", |raw| {
        raw.parse().map_err(|_| "must be a staff id".to_owned())
    });
    let customer: Option<CustomerId> = q.parsed("customer", |raw| {
        raw.parse().map_err(|_| "must be a customer id".to_owned())
    });
    let status = q.parsed("status", |raw| {
        raw.parse::<AppointmentStatus>()
            .map_err(|_| "must be one of booked, cancelled, completed, no_show".to_owned())
    });
    let from = input::time(&mut q, "from");
    let until = input::time(&mut q, "until");
    let after = q.parsed("cursor", |raw| {
        cursor::parse_appointment(raw).ok_or_else(|| cursor::INVALID.to_owned())
    });
    let limit = input::limit(&mut q, 100, MAX_LIMIT);
    let branch = q.parsed("branch", |raw| Ok(raw.to_owned()));
    q.finish()?;
    let branch = match branch {
        Some(raw) => Some(access::visible_branch(&state, &caller, &raw).await?.id),
        None => None,
    };
    let filter = AppointmentFilter {
        branch_id: match caller.role {
            Role::Manager => caller.branch_id,
            _ => branch,
        },
        staff_id: match caller.role {
            Role::Staff => caller.staff_id,
            _ => staff,
        },
        customer_id: customer,
        status,
        from,
        until,
        after,
        limit,
    };
    let appointments = state
        .store
        .find_appointments(caller.company_id, &filter)
        .await
        .map_err(store_error)?;
    let next_cursor = (appointments.len() == limit as usize)
        .then(|| appointments.last().map(cursor::appointment))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "appointments": appointments,
        "next_cursor": next_cursor,
    })))
}

/// `GET /api/v1/appointments/{id}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &caller, &id).await?))
}

/// `POST /api/v1/appointments`: `{branch_id, service_id, customer_id, start, staff_id?,
/// notes?, idempotency_key?}`; 201 (200 when the idempotency key replays a booking).
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    access::admin_or_manager(&caller, "book appointments")?;
    let mut input = Input::from_body(&body)?;
    let branch = if input.has("branch_id") || caller.role == Role::Admin {
        input.required::<BranchId>("branch_id")
    } else {
        caller.branch_id
    };
    let branch = match branch {
        Some(id) => {
            let known = access::branches(&state, caller.company_id)
                .await?
                .iter()
                .any(|b| b.id == id);
            if known {
                may_book(&caller, id)?;
                Some(id)
            } else {
                input.problem("branch_id", "no such branch");
                None
            }
        }
        None => None,
    };
    let service_id = input.required::<ServiceId>("service_id");
    let customer_id = input.required::<CustomerId>("customer_id");
    if let Some(id) = customer_id {
        let known = state
            .store
            .customer(caller.company_id, id)
            .await
            .map_err(store_error)?;
        if known.is_none() {
            input.problem("customer_id", "no such customer");
        }
    }
    let staff_id = input.optional::<StaffId>("staff_id");
    bookable_staff(&state, &mut input, staff_id);
    let start = read_start(&mut input);
    let notes = input::optional_text(&mut input, "notes", MAX_NOTES);
    let idempotency_key = input::optional_text(&mut input, "idempotency_key", MAX_KEY);
    input.finish()?;
    let (Some(branch_id), Some(service_id), Some(customer_id), Some(start)) =
        (branch, service_id, customer_id, start)
    else {
        return Err(ApiError::bad_request("the booking is incomplete"));
    };
    let request = BookingRequest {
        company_id: caller.company_id,
        branch_id,
        service_id,
        staff_id,
        start,
        customer_id,
        call_id: None,
        idempotency_key,
        notes,
        language: None,
    };
    let actor = audit::actor(&state, &caller, &req);
    let outcome = state
        .app
        .bookings
        .book(&request, None, Some(&actor))
        .await
        .map_err(engine_error)?;
    match outcome {
        BookingOutcome::Booked(appointment) => Ok(created(
            "/api/v1/appointments",
            appointment.id,
            &appointment,
        )),
        BookingOutcome::Replayed(appointment) => Ok(HttpResponse::Ok().json(appointment)),
        other => Ok(refused(other)),
    }
}

/// `POST /api/v1/appointments/{id}/cancel`: 200 with the cancelled appointment; 409 unless it
/// is booked.
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    may_book(&caller, old.branch_id)?;
    let actor = audit::actor(&state, &caller, &req);
    let cancelled = state
        .app
        .bookings
        .cancel(caller.company_id, old.id, Some(&actor))
        .await
        .map_err(booking_error)?;
    Ok(HttpResponse::Ok().json(cancelled.after))
}

/// `POST /api/v1/appointments/{id}/reschedule`: `{start, staff_id?}`; 200 with the new
/// appointment (the old one is cancelled), 409 with alternatives when the time is taken.
pub async fn reschedule(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    may_book(&caller, old.branch_id)?;
    let mut input = Input::from_body(&body)?;
    let start = read_start(&mut input);
    let staff_id = input.optional::<StaffId>("staff_id");
    bookable_staff(&state, &mut input, staff_id);
    input.finish()?;
    let start = start.ok_or_else(|| ApiError::bad_request("start is required"))?;
    // An operator moves the time; the practitioner stays unless they name another.
    let to = Move {
        start,
        branch_id: None,
        staff_id: staff_id.or(Some(old.staff_id)),
        idempotency_key: None,
        call_id: None,
        language: None,
    };
    let actor = audit::actor(&state, &caller, &req);
    let outcome = state
        .app
        .bookings
        .reschedule(&old, to, Some(&actor))
        .await
        .map_err(booking_error)?;
    match outcome {
        BookingOutcome::Booked(new) | BookingOutcome::Replayed(new) => {
            Ok(HttpResponse::Ok().json(new))
        }
        other => Ok(refused(other)),
    }
}

/// A staff member asked for by id must be active in the running engine: the engine books
/// whoever it is given, so a deactivated member is refused here (422 on `staff_id`).
fn bookable_staff(state: &AppState, input: &mut Input, staff: Option<StaffId>) {
    if let Some(id) = staff {
        if !state.engine.staff(id).is_some_and(|s| s.active) {
            input.problem("staff_id", "no such active staff member");
        }
    }
}

fn read_start(input: &mut Input) -> Option<DateTime<Utc>> {
    let raw: Option<String> = input.required("start");
    raw.and_then(|raw| {
        DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                input.problem(
                    "start",
                    "must be an RFC 3339 time such as 2030-06-03T14:30:00+02:00",
                )
            })
            .ok()
    })
}

/// The answer for a booking that did not happen: 409 (taken) or 422 (not bookable), with the
/// free alternatives.
fn refused(outcome: BookingOutcome) -> HttpResponse {
    let (status, code, message, fields, alternatives): (_, _, String, _, Availability) =
        match outcome {
            BookingOutcome::Unbookable(why, alternatives) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "some values are invalid; see fields".into(),
                BTreeMap::from([("start".to_owned(), why.to_string())]),
                alternatives,
            ),
            BookingOutcome::Taken(alternatives) => (
                StatusCode::CONFLICT,
                "conflict",
                "that time is already taken".into(),
                BTreeMap::new(),
                alternatives,
            ),
            BookingOutcome::Booked(_) | BookingOutcome::Replayed(_) => {
                return HttpResponse::InternalServerError().finish()
            }
        };
    let mut body = serde_json::json!({
        "error": {"code": code, "message": message},
        "alternatives": alternatives.slots,
    });
    if !fields.is_empty() {
        body["fields"] = serde_json::json!(fields);
    }
    HttpResponse::build(status).json(body)
}

/// A booking use case's refusal as an answer: 404 for no such appointment, 409 unless it is
/// booked, else as [`engine_error`].
fn booking_error(error: BookingError) -> ApiError {
    match error {
        BookingError::NotFound => ApiError::not_found("no such appointment"),
        BookingError::NotBooked(status) => {
            conflict(format!("the appointment is {status}, not booked"))
        }
        BookingError::Engine(e) => engine_error(e),
    }
}

/// An engine failure as an answer: unknown references are 422 on their field, an overlap the
/// store refused is 409, an overloaded engine 503.
fn engine_error(error: EngineError) -> ApiError {
    let field = |name: &str, message: &str| {
        ApiError::invalid_fields(BTreeMap::from([(name.to_owned(), message.to_owned())]))
    };
    match error {
        EngineError::UnknownBranch => field("branch_id", "no such branch"),
        EngineError::UnknownService => field("service_id", "no such service at this company"),
        EngineError::UnknownStaff => field("staff_id", "no such staff member at this branch"),
        EngineError::Store(callflow_actors::StoreError::Conflict(m)) => conflict(m),
        EngineError::Store(e) => store_error(e),
        EngineError::Unavailable(_) => {
            ApiError::unavailable("the booking engine is busy; try again shortly")
        }
    }
}
