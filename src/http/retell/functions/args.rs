//! The arguments of a function call, read once for every function: tolerant of how LLMs fill
//! them in, validated into domain types, and answered with what to ask for when they are not
//! usable.

use super::answer::Answer;
use super::context::FunctionContext;
use super::Function;
use crate::app::bookings::SlotTarget;
use crate::retell::speech::Need;
use callflow_actors::domain::extraction::{
    match_service, match_staff, parse_date_argument, parse_time_argument, DateWish, TimeWish,
};
use callflow_actors::domain::{Appointment, BranchId, CallId, E164Number, Service, Staff, StaffId};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Longest note or reason we keep from a function call (characters).
pub const MAX_NOTE_CHARS: usize = 1000;

/// Read access to the args object, tolerant of how LLMs fill it in (numbers as strings and
/// strings as numbers, blank strings meaning "not given").
#[derive(Clone, Copy)]
pub struct Args<'a>(pub &'a Map<String, Value>);

impl<'a> Args<'a> {
    /// The first of `keys` present as a non-blank string.
    pub fn text(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| match self.0.get(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim()),
            _ => None,
        })
    }

    /// The first of `keys` as text, numbers included (an LLM may send 14 for a time).
    pub fn loose_text(&self, keys: &[&str]) -> Option<String> {
        self.text(keys).map(str::to_owned).or_else(|| {
            keys.iter().find_map(|k| match self.0.get(*k) {
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        })
    }

    /// The first of `keys` as caller text: cleaned and bounded.
    pub fn free_text(&self, keys: &[&str]) -> Option<String> {
        self.text(keys).map(clean).filter(|t| !t.is_empty())
    }
}

/// Free text from a caller: control characters out, bounded length.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_NOTE_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The phone number the args give under `keys` (read in the call's region), else the
/// caller's; the answer to give when neither is usable.
pub fn phone_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    keys: &[&str],
) -> Result<E164Number, Answer> {
    match args.text(keys) {
        Some(raw) => E164Number::parse_with_region(raw, &ctx.region)
            .map_err(|_| Answer::need(ctx.tongue, "invalid_phone", Need::Phone)),
        None => ctx
            .active
            .context
            .caller
            .clone()
            .ok_or_else(|| Answer::need(ctx.tongue, "missing_phone", Need::Phone)),
    }
}

/// The service named in the args, or the answer to give when there is none.
pub fn service_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<Arc<Service>, Answer> {
    let Some(named) = args.text(&["service", "service_name", "treatment"]) else {
        return Err(Answer::need(ctx.tongue, "missing_service", Need::Service));
    };
    match match_service(named, &ctx.active.info.services).and_then(|s| ctx.service(s.id)) {
        Some(service) => Ok(service),
        None => Err(Answer::fail(
            "unknown_service",
            ctx.tongue.unknown_service(&ctx.service_names()),
        )
        .with("services", json!(ctx.service_names()))),
    }
}

/// The days the args ask for.
#[derive(Clone, Copy, Debug)]
pub struct Days {
    /// The first.
    pub from: NaiveDate,
    /// The last.
    pub to: NaiveDate,
    /// Whether one particular day was named.
    pub single_day: bool,
}

/// The day(s) the args ask for: a given date, a week, or (when absent) the coming week.
pub fn dates_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<Days, Answer> {
    let today = ctx.today();
    match args.text(&["date", "day", "preferred_date"]) {
        None => Ok(Days {
            from: today,
            to: today + Duration::days(6),
            single_day: false,
        }),
        Some(raw) => match parse_date_argument(raw, today) {
            Some(DateWish::Day(day)) => Ok(Days {
                from: day,
                to: day,
                single_day: true,
            }),
            Some(DateWish::WeekOf(monday)) => Ok(Days {
                from: monday.max(today),
                to: monday + Duration::days(6),
                single_day: false,
            }),
            None => Err(Answer::need(ctx.tongue, "invalid_date", Need::Date)),
        },
    }
}

/// The time (or time of day) the args ask for; `Err` when one is given but not understood.
pub fn time_arg(args: Args<'_>) -> Result<Option<TimeWish>, ()> {
    time_arg_of(args, &["time", "time_preference", "preferred_time"])
}

fn time_arg_of(args: Args<'_>, keys: &[&str]) -> Result<Option<TimeWish>, ()> {
    match args.loose_text(keys) {
        None => Ok(None),
        Some(raw) => parse_time_argument(&raw).map(Some).ok_or(()),
    }
}

/// One day and an exact time at the branch, or the answer asking for what is missing.
pub fn moment_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<DateTime<Utc>, Answer> {
    let day = match dates_arg(ctx, args)? {
        Days {
            from,
            single_day: true,
            ..
        } => from,
        _ => return Err(Answer::need(ctx.tongue, "missing_date", Need::Date)),
    };
    match time_arg(args) {
        Ok(Some(TimeWish::At(t))) => ctx.local(day, t),
        _ => None,
    }
    .ok_or_else(|| Answer::need(ctx.tongue, "missing_time", Need::Time))
}

/// The keys a staff member is named under.
const STAFF_KEYS: &[&str] = &["staff", "staff_name", "practitioner", "doctor"];

/// The staff member the args name, if the branch has one by that name.
pub fn staff_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Option<StaffId> {
    let named = args.text(STAFF_KEYS)?;
    match_staff(named, &ctx.active.info.staff).map(|s| s.id)
}

/// Who the caller asked for by name, for `service`: `Ok(None)` when they named nobody; the
/// answer to give when nobody here has that name or the person does not perform the service
/// (a named person is a requirement, never silently replaced).
pub fn named_staff_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    service: &Service,
) -> Result<Option<Arc<Staff>>, Answer> {
    let Some(named) = args.text(STAFF_KEYS) else {
        return Ok(None);
    };
    let staff = &ctx.active.info.staff;
    let qualified: Vec<String> = staff
        .iter()
        .filter(|s| s.active && s.performs(service))
        .map(|s| s.name.clone())
        .collect();
    let Some(person) = match_staff(named, staff).filter(|s| s.active) else {
        return Err(Answer::fail(
            "unknown_staff",
            ctx.tongue
                .unknown_staff(&clean(named), &service.name, &qualified),
        )
        .with("staff_qualified", json!(qualified)));
    };
    if !person.performs(service) {
        return Err(Answer::fail(
            "staff_does_not_perform_service",
            ctx.tongue
                .staff_does_not_perform(&person.name, &service.name, &qualified),
        )
        .with("staff", json!(person.name))
        .with("staff_qualified", json!(qualified)));
    }
    Ok(staff.iter().find(|s| s.id == person.id).cloned())
}

/// The slot an offer's `slot_id` (under `keys`) names, if the args give one; the answer when it
/// is not one of ours for this company.
pub fn slot_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    keys: &[&str],
) -> Option<Result<SlotTarget, Answer>> {
    let raw = args.text(keys)?;
    Some(
        ctx.app
            .bookings
            .slot(ctx.active.context.company_id, raw)
            .ok_or_else(|| Answer::need(ctx.tongue, "invalid_slot", Need::Slot)),
    )
}

/// Where and when the args want to book: a slot id we issued, or service + date + time.
pub struct Wanted {
    /// The branch of the slot (another branch's slot may have been offered).
    pub branch_id: BranchId,
    /// The service.
    pub service: Arc<Service>,
    /// The staff member, when the slot or the caller named one.
    pub staff: Option<StaffId>,
    /// The start.
    pub start: DateTime<Utc>,
}

/// The booking the args ask for, or the answer asking for what is missing.
pub fn wanted_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<Wanted, Answer> {
    if let Some(slot) = slot_arg(ctx, args, &["slot_id"]) {
        let slot = slot?;
        let service = ctx
            .service(slot.service_id)
            .ok_or_else(|| Answer::need(ctx.tongue, "invalid_slot", Need::Slot))?;
        return Ok(Wanted {
            branch_id: slot.branch_id,
            service,
            staff: Some(slot.staff_id),
            start: slot.start,
        });
    }
    let service = service_arg(ctx, args)?;
    let start = moment_arg(ctx, args)?;
    Ok(Wanted {
        branch_id: ctx.active.context.branch_id,
        service,
        staff: staff_arg(ctx, args),
        start,
    })
}

/// The args naming an existing appointment's day and time: `date`/`time` when cancelling; when
/// rescheduling those are the new time, so the current one is `old_date`/`old_time`.
pub struct AppointmentKeys {
    date: &'static [&'static str],
    time: &'static [&'static str],
}

/// The keys of the appointment to cancel.
pub const TO_CANCEL: AppointmentKeys = AppointmentKeys {
    date: &["date", "day"],
    time: &["time"],
};

/// The keys of the appointment to move.
pub const TO_MOVE: AppointmentKeys = AppointmentKeys {
    date: &["old_date", "current_date"],
    time: &["old_time", "current_time"],
};

/// The appointment the args mean, if it is the caller's (the customer with the phone number
/// the args give, or with the caller's number) and still booked: by its id, or among the
/// caller's upcoming appointments by the spoken reference, by day (and time), or as the only
/// one they have. A caller on a later call knows no id, only "my appointment".
pub async fn appointment_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    keys: &AppointmentKeys,
) -> anyhow::Result<Option<Appointment>> {
    let company = ctx.active.context.company_id;
    let bookings = &ctx.app.bookings;
    let named_phone = args
        .text(&["phone_number", "phone"])
        .map(|raw| E164Number::parse_with_region(raw, &ctx.region).ok());
    if let Some(raw) = args.text(&["appointment_id", "booking_id"]) {
        // A garbled id names nothing; it must not fall back to "the caller's only one".
        let Ok(id) = raw.parse() else {
            return Ok(None);
        };
        // An id alone proves nothing: it must be an appointment of this caller.
        let phones: Vec<&E164Number> = named_phone
            .iter()
            .flatten()
            .chain(ctx.active.context.caller.as_ref())
            .collect();
        let found = bookings.appointment_of_caller(company, id, &phones).await?;
        return Ok(found.filter(Appointment::is_active));
    }
    let phone = match named_phone {
        Some(phone) => phone,
        None => ctx.active.context.caller.clone(),
    };
    let Some(phone) = phone else {
        return Ok(None);
    };
    let upcoming = bookings.upcoming_for(company, &phone).await?;
    let reference_wanted = args.text(&["reference", "booking_reference"]).map(|r| {
        r.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase()
    });
    let day = match args.text(keys.date) {
        Some(raw) => match parse_date_argument(raw, ctx.today()) {
            Some(DateWish::Day(day)) => Some(day),
            _ => return Ok(None),
        },
        None => None,
    };
    let time: Option<NaiveTime> = match time_arg_of(args, keys.time) {
        Ok(Some(TimeWish::At(t))) => Some(t),
        _ => None,
    };
    let zone = ctx.zone();
    let mut matching = upcoming.into_iter().filter(|a| {
        let local = a.starts_at.with_timezone(&zone);
        reference_wanted
            .as_ref()
            .is_none_or(|r| *r == super::offers::reference(a.id))
            && day.is_none_or(|d| local.date_naive() == d)
            && time.is_none_or(|t| local.time() == t)
    });
    // Only an unambiguous match counts: cancelling the wrong appointment is worse than asking.
    Ok(match (matching.next(), matching.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

/// Idempotency key of a booking function call: Retell's retry carries the same call id,
/// function name and arguments (serde_json's map is sorted, so the JSON is canonical).
pub fn idempotency_key(call: &CallId, function: Function, args: &Map<String, Value>) -> String {
    let canonical = canonical_json(&Value::Object(args.clone()));
    let digest = Sha256::new()
        .chain_update(call.as_str())
        .chain_update([0])
        .chain_update(function.name())
        .chain_update([0])
        .chain_update(canonical)
        .finalize();
    format!("retell:{}", hex::encode(digest))
}

/// JSON with object keys sorted at every level, whatever map type serde_json was built with.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_call_function_and_arguments_give_the_same_key_in_any_key_order() {
        let call = CallId::parse("call_bb3bb233d7f204595a9201d0b7").expect("valid");
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"date":"2026-09-17","time":"09:30"}"#).expect("json");
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"time":"09:30","date":"2026-09-17"}"#).expect("json");
        let other: Map<String, Value> =
            serde_json::from_str(r#"{"time":"10:30","date":"2026-09-17"}"#).expect("json");
        let key = |args| idempotency_key(&call, Function::BookAppointment, args);
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&other));
        assert_ne!(
            key(&a),
            idempotency_key(&call, Function::RescheduleAppointment, &a)
        );
    }

    #[test]
    fn caller_text_loses_control_characters_and_is_bounded() {
        assert_eq!(
            clean("  Hallo\u{0007} Welt\u{001b}[31m\n "),
            "Hallo Welt[31m"
        );
        assert_eq!(clean(&"ä".repeat(5000)).chars().count(), MAX_NOTE_CHARS);
    }
}
