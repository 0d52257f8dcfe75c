//! Retell custom functions: arguments validated into domain types, answers with structured
//! fields and a sentence the agent can say. A caller-level failure (slot taken, closed, unknown
//! service) is a 200 with an error code and alternatives; only our own failures are 5xx.

use super::context::{active_call, ActiveCall, CallFacts};
use super::followup;
use super::payload::FunctionCall;
use super::speech::{Need, Tongue};
use super::verified::SignedBody;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::RETELL_FUNCTIONS_TOTAL;
use crate::notify::publish;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use callflow_actors::domain::availability::Unbookable;
use callflow_actors::domain::extraction::{
    match_service, match_staff, parse_date_argument, parse_time_argument, DateWish, TimeWish,
};
use callflow_actors::domain::slot_id::SlotRef;
use callflow_actors::domain::*;
use callflow_actors::{Availability, BookingOutcome, BookingRequest, SlotChoice, SlotQuery};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Longest note or reason we keep from a function call (characters).
const MAX_NOTE_CHARS: usize = 1000;

/// The functions callflow offers a Retell agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// Free slots for a service, day and time of day.
    CheckAvailability,
    /// Hold and book a slot.
    BookAppointment,
    /// Cancel an appointment.
    CancelAppointment,
    /// Move an appointment (the new time is taken before the old one is freed).
    RescheduleAppointment,
    /// Open (or merge into) a callback request.
    RequestCallback,
    /// Address, opening hours, services.
    GetBranchInfo,
}

impl Function {
    /// Every function, for docs and the 404 message.
    pub const ALL: [Function; 6] = [
        Function::CheckAvailability,
        Function::BookAppointment,
        Function::CancelAppointment,
        Function::RescheduleAppointment,
        Function::RequestCallback,
        Function::GetBranchInfo,
    ];

    /// The name in the URL and in Retell's tool configuration.
    pub fn name(self) -> &'static str {
        match self {
            Function::CheckAvailability => "check_availability",
            Function::BookAppointment => "book_appointment",
            Function::CancelAppointment => "cancel_appointment",
            Function::RescheduleAppointment => "reschedule_appointment",
            Function::RequestCallback => "request_callback",
            Function::GetBranchInfo => "get_branch_info",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `?call_id=…`: how an args-only tool names its call (Retell fills `{{call_id}}` in the URL).
#[derive(Debug, serde::Deserialize)]
pub struct FunctionQuery {
    call_id: Option<String>,
}

/// `POST /retell/functions/{name}`.
pub async fn handle(
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<FunctionQuery>,
    body: SignedBody,
) -> Result<HttpResponse, ApiError> {
    let function = Function::parse(&name).ok_or_else(|| {
        let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_function",
            format!("no function `{name}`; callflow offers {}", known.join(", ")),
        )
    })?;
    let request = FunctionCall::from_json(body.json::<Value>()?)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "malformed_function_call", m))?;
    let args = Args(&request.args);
    let call_id = request
        .call
        .as_ref()
        .map(|c| c.call_id.as_str())
        .or(query.call_id.as_deref())
        .or_else(|| args.text(&["call_id"]))
        .and_then(|id| CallId::parse(id).ok());
    let Some(call_id) = call_id else {
        return Ok(reply(
            function,
            Answer::need(Tongue::En, "unknown_call", Need::Call),
        ));
    };
    let call = request.call.as_ref();
    let (to, from) = (
        call.and_then(|c| c.dialled()),
        call.and_then(|c| c.caller()),
    );
    let facts = to.as_ref().map(|to| CallFacts {
        to,
        from: from.as_ref(),
        agent: call.and_then(|c| c.agent_id.as_deref()),
        branch_hint: call.and_then(|c| c.branch_hint()),
        detected_language: call.and_then(|c| c.language()),
    });
    let active = match active_call(&state, &call_id, facts).await {
        Ok(active) => active,
        Err(e) => {
            let tongue = call
                .and_then(|c| c.language())
                .map_or(Tongue::En, Tongue::from);
            return Ok(unavailable(function, tongue, &e));
        }
    };
    let Some(active) = active else {
        return Ok(reply(
            function,
            Answer::need(Tongue::En, "unknown_call", Need::Call),
        ));
    };
    let ctx = FunctionContext {
        state: &state,
        region: active
            .context
            .caller
            .as_ref()
            .and_then(E164Number::region)
            .unwrap_or_else(|| state.config.callbacks.default_region.clone()),
        tongue: Tongue::from(active.context.language),
        now: Utc::now(),
        active,
    };
    let answer = match function {
        Function::CheckAvailability => check_availability(&ctx, args).await,
        Function::BookAppointment => book_appointment(&ctx, args, &request.args).await,
        Function::CancelAppointment => cancel_appointment(&ctx, args).await,
        Function::RescheduleAppointment => reschedule_appointment(&ctx, args).await,
        Function::RequestCallback => request_callback(&ctx, args).await,
        Function::GetBranchInfo => Ok(get_branch_info(&ctx)),
    };
    match answer {
        Ok(answer) => Ok(reply(function, answer)),
        Err(e) => Ok(unavailable(function, ctx.tongue, &*e)),
    }
}

/// Our failure, not the caller's: still a sentence the agent can say, with a 503 so Retell
/// retries (booking is idempotent, so a retry cannot book twice).
fn unavailable(function: Function, tongue: Tongue, e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, function = function.name(), "custom function failed");
    metrics::counter!(RETELL_FUNCTIONS_TOTAL, "function" => function.name(), "outcome" => "failed")
        .increment(1);
    HttpResponse::ServiceUnavailable()
        .json(Answer::fail("temporarily_unavailable", tongue.try_later()).into_json())
}

fn reply(function: Function, answer: Answer) -> HttpResponse {
    let outcome = answer.code.unwrap_or("ok");
    metrics::counter!(RETELL_FUNCTIONS_TOTAL, "function" => function.name(), "outcome" => outcome)
        .increment(1);
    HttpResponse::Ok().json(answer.into_json())
}

/// Everything a function needs about the call it runs in.
struct FunctionContext<'a> {
    state: &'a AppState,
    /// Region a number without a country code is read in: the caller's, else
    /// `callbacks.default_region`.
    region: String,
    tongue: Tongue,
    now: DateTime<Utc>,
    active: ActiveCall,
}

impl FunctionContext<'_> {
    fn zone(&self) -> Tz {
        self.active.info.branch.time_zone
    }

    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.zone()).date_naive()
    }

    fn label(&self, at: DateTime<Utc>) -> String {
        self.tongue.moment(at.with_timezone(&self.zone()))
    }

    /// How a slot is said: at another branch, with that branch's name, so two offers at the
    /// same time are told apart.
    fn slot_label(&self, slot: &SlotChoice) -> String {
        let moment = self.label(slot.start);
        if slot.branch_id == self.active.context.branch_id {
            return moment;
        }
        let branch = self
            .state
            .engine
            .branch(slot.branch_id)
            .map(|b| b.branch.name.clone())
            .unwrap_or_default();
        match self.tongue {
            Tongue::De => format!("{moment} in unserer {branch}"),
            Tongue::En => format!("{moment} at our {branch}"),
        }
    }

    fn local(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.zone()
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The company's service with this id, from the branch's cached catalogue.
    fn service(&self, id: ServiceId) -> Option<Arc<Service>> {
        self.active
            .info
            .services
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    fn service_names(&self) -> Vec<String> {
        self.active
            .info
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Branch, staff and service names of an appointment, for its events.
    fn names(&self, a: &Appointment, service: &Service) -> publish::Names {
        publish::Names {
            branch: Some(self.active.info.branch.name.clone()),
            staff: self
                .active
                .info
                .staff
                .iter()
                .find(|s| s.id == a.staff_id)
                .map(|s| s.name.clone()),
            service: Some(service.name.clone()),
        }
    }

    fn staff_name(&self, id: StaffId) -> String {
        self.active
            .info
            .staff
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
}

/// A function's answer: `{"ok", "error"?, "message", …fields}`.
#[derive(Debug)]
struct Answer {
    code: Option<&'static str>,
    message: String,
    fields: Map<String, Value>,
}

impl Answer {
    fn ok(message: String) -> Self {
        Self {
            code: None,
            message,
            fields: Map::new(),
        }
    }

    fn fail(code: &'static str, message: String) -> Self {
        Self {
            code: Some(code),
            message,
            fields: Map::new(),
        }
    }

    fn need(tongue: Tongue, code: &'static str, need: Need) -> Self {
        Self::fail(code, tongue.need(need))
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_owned(), value);
        self
    }

    fn into_json(self) -> Value {
        let mut body = Map::new();
        body.insert("ok".into(), json!(self.code.is_none()));
        if let Some(code) = self.code {
            body.insert("error".into(), json!(code));
        }
        body.insert("message".into(), json!(self.message));
        body.extend(self.fields);
        Value::Object(body)
    }
}

/// Read access to the args object, tolerant of how LLMs fill it in (numbers as strings and
/// strings as numbers, blank strings meaning "not given").
#[derive(Clone, Copy)]
struct Args<'a>(&'a Map<String, Value>);

impl<'a> Args<'a> {
    /// The first of `keys` present as a non-blank string.
    fn text(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| match self.0.get(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim()),
            _ => None,
        })
    }

    /// The first of `keys` as text, numbers included (an LLM may send 14 for a time).
    fn loose_text(&self, keys: &[&str]) -> Option<String> {
        self.text(keys).map(str::to_owned).or_else(|| {
            keys.iter().find_map(|k| match self.0.get(*k) {
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        })
    }
}

/// Free text from a caller: control characters out, bounded length.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_NOTE_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The service named in the args, or the answer to give when there is none.
fn service_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<Arc<Service>, Answer> {
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

/// The day(s) the args ask for: a given date, a week, or (when absent) the coming week.
fn dates_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
) -> Result<(NaiveDate, NaiveDate, bool), Answer> {
    let today = ctx.today();
    match args.text(&["date", "day", "preferred_date"]) {
        None => Ok((today, today + Duration::days(6), false)),
        Some(raw) => match parse_date_argument(raw, today) {
            Some(DateWish::Day(day)) => Ok((day, day, true)),
            Some(DateWish::WeekOf(monday)) => {
                Ok((monday.max(today), monday + Duration::days(6), false))
            }
            None => Err(Answer::need(ctx.tongue, "invalid_date", Need::Date)),
        },
    }
}

fn time_arg(args: Args<'_>) -> Result<Option<TimeWish>, ()> {
    time_arg_of(args, &["time", "time_preference", "preferred_time"])
}

fn time_arg_of(args: Args<'_>, keys: &[&str]) -> Result<Option<TimeWish>, ()> {
    match args.loose_text(keys) {
        None => Ok(None),
        Some(raw) => parse_time_argument(&raw).map(Some).ok_or(()),
    }
}

fn staff_arg(ctx: &FunctionContext<'_>, args: Args<'_>) -> Option<StaffId> {
    let named = args.text(&["staff", "staff_name", "practitioner", "doctor"])?;
    match_staff(named, &ctx.active.info.staff).map(|s| s.id)
}

async fn check_availability(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let service = match service_arg(ctx, args) {
        Ok(service) => service,
        Err(answer) => return Ok(answer),
    };
    let (from, to, single_day) = match dates_arg(ctx, args) {
        Ok(range) => range,
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
    let found = ctx.state.engine.find_slots(&query, ctx.now).await?;
    if found.slots.is_empty() && single_day {
        // Nothing that day (past, closed, full): say so and offer the next days instead.
        let later = SlotQuery {
            from: from.max(ctx.today()) + Duration::days(1),
            to: from.max(ctx.today()) + Duration::days(7),
            wanted: None,
            ..query
        };
        let next = ctx.state.engine.find_slots(&later, ctx.now).await?;
        let labels: Vec<String> = next.slots.iter().map(|s| ctx.slot_label(s)).collect();
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
    let slots = offered_slots(ctx, &found);
    let labels: Vec<String> = found.slots.iter().map(|s| ctx.slot_label(s)).collect();
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
        .with("slots", slots))
}

/// The slots as the agent sees them: opaque id, local time, who, where, how to say it.
fn offered_slots(ctx: &FunctionContext<'_>, found: &Availability) -> Value {
    let zone = ctx.zone();
    let slots: Vec<Value> = found
        .slots
        .iter()
        .map(|s: &SlotChoice| {
            let local = s.start.with_timezone(&zone);
            let branch = ctx
                .state
                .engine
                .branch(s.branch_id)
                .map(|b| b.branch.name.clone())
                .unwrap_or_default();
            json!({
                "slot_id": s.slot_id,
                "start": local.to_rfc3339(),
                "date": local.format("%Y-%m-%d").to_string(),
                "time": local.format("%H:%M").to_string(),
                "staff": s.staff_name,
                "branch": branch,
                "other_branch": s.branch_id != ctx.active.context.branch_id,
                "label": ctx.slot_label(s),
            })
        })
        .collect();
    Value::Array(slots)
}

/// Idempotency key of a booking function call: Retell's retry carries the same call id,
/// function name and arguments (serde_json's map is sorted, so the JSON is canonical).
fn idempotency_key(call: &CallId, function: Function, args: &Map<String, Value>) -> String {
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

/// Where and when the args want to book: a slot id we issued, or service + date + time.
struct Wanted {
    /// The branch of the slot (another branch's slot may have been offered).
    branch_id: BranchId,
    service: Arc<Service>,
    staff: Option<StaffId>,
    start: DateTime<Utc>,
}

fn wanted_slot(ctx: &FunctionContext<'_>, args: Args<'_>) -> Result<Wanted, Answer> {
    if let Some(id) = args.text(&["slot_id"]) {
        let slot: SlotRef = ctx
            .state
            .engine
            .slot_ids()
            .decode(id)
            .map_err(|_| Answer::need(ctx.tongue, "invalid_slot", Need::Slot))?;
        let service = ctx
            .service(slot.service_id)
            .ok_or_else(|| Answer::need(ctx.tongue, "invalid_slot", Need::Slot))?;
        // Offers can come from the company's other branches: book where the staff member works.
        let branch_id = ctx
            .state
            .engine
            .staff(slot.staff_id)
            .map(|s| s.branch_id)
            .filter(|b| {
                ctx.state
                    .engine
                    .branch(*b)
                    .is_some_and(|info| info.company.id == ctx.active.context.company_id)
            })
            .ok_or_else(|| Answer::need(ctx.tongue, "invalid_slot", Need::Slot))?;
        return Ok(Wanted {
            branch_id,
            service,
            staff: Some(slot.staff_id),
            start: slot.start,
        });
    }
    let service = service_arg(ctx, args)?;
    let day = match dates_arg(ctx, args)? {
        (day, _, true) => day,
        _ => return Err(Answer::need(ctx.tongue, "missing_date", Need::Date)),
    };
    let start = match time_arg(args) {
        Ok(Some(TimeWish::At(t))) => ctx.local(day, t),
        _ => None,
    }
    .ok_or_else(|| Answer::need(ctx.tongue, "missing_time", Need::Time))?;
    Ok(Wanted {
        branch_id: ctx.active.context.branch_id,
        service,
        staff: staff_arg(ctx, args),
        start,
    })
}

/// The customer a booking is for: recognised by phone number, created when new.
async fn customer_for(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
) -> anyhow::Result<Result<Customer, Answer>> {
    let given = args.text(&["phone_number", "phone", "callback_number"]);
    let phone = match given {
        Some(raw) => match E164Number::parse_with_region(raw, &ctx.region) {
            Ok(phone) => phone,
            Err(_) => return Ok(Err(Answer::need(ctx.tongue, "invalid_phone", Need::Phone))),
        },
        None => match &ctx.active.context.caller {
            Some(caller) => caller.clone(),
            None => return Ok(Err(Answer::need(ctx.tongue, "missing_phone", Need::Phone))),
        },
    };
    let company = ctx.active.context.company_id;
    if let Some(customer) = ctx.state.store.customer_by_phone(company, &phone).await? {
        return Ok(Ok(customer));
    }
    let customer = Customer {
        id: CustomerId::new(),
        company_id: company,
        phone,
        name: args
            .text(&["patient_name", "customer_name", "name"])
            .map(clean),
        external_ref: None,
        preferred_language: Some(ctx.active.context.language),
        preferred_staff_id: None,
        vip: false,
        failed_booking_count: 0,
    };
    ctx.state.store.upsert_customer(&customer).await?;
    Ok(Ok(customer))
}

async fn book_appointment(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    raw_args: &Map<String, Value>,
) -> anyhow::Result<Answer> {
    let wanted = match wanted_slot(ctx, args) {
        Ok(wanted) => wanted,
        Err(answer) => return Ok(answer),
    };
    let customer = match customer_for(ctx, args).await? {
        Ok(customer) => customer,
        Err(answer) => return Ok(answer),
    };
    let call_id = ctx.active.context.call_id.clone();
    let request = BookingRequest {
        company_id: ctx.active.context.company_id,
        branch_id: wanted.branch_id,
        service_id: wanted.service.id,
        staff_id: wanted.staff,
        start: wanted.start,
        customer_id: customer.id,
        idempotency_key: Some(idempotency_key(
            &call_id,
            Function::BookAppointment,
            raw_args,
        )),
        call_id: Some(call_id),
        notes: args.text(&["notes", "note", "comment"]).map(clean),
        language: Some(ctx.active.context.language),
    };
    let outcome = ctx.state.engine.book(&request, ctx.now).await?;
    if let BookingOutcome::Booked(a) = &outcome {
        let names = ctx.names(a, &wanted.service);
        publish::appointment_booked(&ctx.state.events, a, Some(&customer.phone), &names, None);
    }
    booking_answer(ctx, &wanted.service, Some(&customer), outcome).await
}

/// The answer to a booking or rescheduling outcome; failures count against the customer, so
/// a third failure makes their callback high priority.
async fn booking_answer(
    ctx: &FunctionContext<'_>,
    service: &Service,
    customer: Option<&Customer>,
    outcome: BookingOutcome,
) -> anyhow::Result<Answer> {
    let alternatives = |found: &Availability| -> (Vec<String>, Value) {
        (
            found.slots.iter().map(|s| ctx.slot_label(s)).collect(),
            offered_slots(ctx, found),
        )
    };
    let answer = match outcome {
        BookingOutcome::Booked(a) | BookingOutcome::Replayed(a) => {
            let label = ctx.label(a.starts_at);
            let staff = ctx.staff_name(a.staff_id);
            return Ok(Answer::ok(ctx.tongue.booked(&label, &service.name, &staff))
                .with("appointment_id", json!(a.id))
                .with("reference", json!(reference(a.id)))
                .with(
                    "start",
                    json!(a.starts_at.with_timezone(&ctx.zone()).to_rfc3339()),
                )
                .with("service", json!(service.name))
                .with("staff", json!(staff))
                .with("label", json!(label)));
        }
        BookingOutcome::Taken(found) => {
            let (labels, slots) = alternatives(&found);
            Answer::fail("slot_taken", ctx.tongue.taken(&labels)).with("alternatives", slots)
        }
        BookingOutcome::Unbookable(why, found) => {
            let (labels, slots) = alternatives(&found);
            Answer::fail(unbookable_code(why), ctx.tongue.unbookable(why, &labels))
                .with("alternatives", slots)
        }
    };
    if let Some(customer) = customer {
        ctx.state.store.record_failed_booking(customer.id).await?;
    }
    Ok(answer)
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
fn reference(id: AppointmentId) -> String {
    let hex = id.0.simple().to_string();
    hex[hex.len() - 8..].to_ascii_uppercase()
}

/// The args naming an existing appointment's day and time: `date`/`time` when cancelling; when
/// rescheduling those are the new time, so the current one is `old_date`/`old_time`.
struct AppointmentKeys {
    date: &'static [&'static str],
    time: &'static [&'static str],
}

const TO_CANCEL: AppointmentKeys = AppointmentKeys {
    date: &["date", "day"],
    time: &["time"],
};

const TO_MOVE: AppointmentKeys = AppointmentKeys {
    date: &["old_date", "current_date"],
    time: &["old_time", "current_time"],
};

/// The appointment the args mean, if it is this company's and still booked: by its id, or
/// among the caller's upcoming appointments by the spoken reference, by day (and time), or as
/// the only one they have. A caller on a later call knows no id, only "my appointment".
async fn appointment_arg(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
    keys: &AppointmentKeys,
) -> anyhow::Result<Option<Appointment>> {
    let company = ctx.active.context.company_id;
    if let Some(raw) = args.text(&["appointment_id", "booking_id"]) {
        // A garbled id names nothing; it must not fall back to "the caller's only one".
        let Ok(id) = raw.parse::<AppointmentId>() else {
            return Ok(None);
        };
        let found = ctx.state.store.appointment(id).await?;
        return Ok(found.filter(|a| a.company_id == company && a.is_active()));
    }
    let phone = match args.text(&["phone_number", "phone"]) {
        Some(raw) => E164Number::parse_with_region(raw, &ctx.region).ok(),
        None => ctx.active.context.caller.clone(),
    };
    let Some(phone) = phone else {
        return Ok(None);
    };
    let Some(customer) = ctx.state.store.customer_by_phone(company, &phone).await? else {
        return Ok(None);
    };
    let upcoming = ctx
        .state
        .store
        .upcoming_appointments(customer.id, ctx.now)
        .await?;
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
    let time = match time_arg_of(args, keys.time) {
        Ok(Some(TimeWish::At(t))) => Some(t),
        _ => None,
    };
    let zone = ctx.zone();
    let mut matching = upcoming.into_iter().filter(|a| {
        let local = a.starts_at.with_timezone(&zone);
        reference_wanted
            .as_ref()
            .is_none_or(|r| *r == reference(a.id))
            && day.is_none_or(|d| local.date_naive() == d)
            && time.is_none_or(|t| local.time() == t)
    });
    // Only an unambiguous match counts: cancelling the wrong appointment is worse than asking.
    Ok(match (matching.next(), matching.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

async fn cancel_appointment(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let Some(appointment) = appointment_arg(ctx, args, &TO_CANCEL).await? else {
        return Ok(Answer::need(
            ctx.tongue,
            "unknown_appointment",
            Need::Appointment,
        ));
    };
    let company = ctx.active.context.company_id;
    match ctx.state.engine.cancel(company, appointment.id).await? {
        Some(cancelled) => {
            if let Some(service) = ctx.service(cancelled.service_id) {
                let names = ctx.names(&cancelled, &service);
                let caller = ctx.active.context.caller.as_ref();
                publish::appointment_cancelled(&ctx.state.events, &cancelled, caller, &names, None);
            }
            Ok(
                Answer::ok(ctx.tongue.cancelled(&ctx.label(cancelled.starts_at)))
                    .with("appointment_id", json!(cancelled.id))
                    .with("status", json!(cancelled.status.as_str())),
            )
        }
        None => Ok(Answer::need(
            ctx.tongue,
            "unknown_appointment",
            Need::Appointment,
        )),
    }
}

async fn reschedule_appointment(
    ctx: &FunctionContext<'_>,
    args: Args<'_>,
) -> anyhow::Result<Answer> {
    let Some(old) = appointment_arg(ctx, args, &TO_MOVE).await? else {
        return Ok(Answer::need(
            ctx.tongue,
            "unknown_appointment",
            Need::Appointment,
        ));
    };
    let Some(service) = ctx.service(old.service_id) else {
        return Ok(Answer::need(
            ctx.tongue,
            "unknown_appointment",
            Need::Appointment,
        ));
    };
    let (staff, start) = if let Some(id) = args.text(&["slot_id", "new_slot_id"]) {
        match ctx.state.engine.slot_ids().decode(id) {
            Ok(slot) if slot.service_id == old.service_id => (Some(slot.staff_id), slot.start),
            _ => return Ok(Answer::need(ctx.tongue, "invalid_slot", Need::Slot)),
        }
    } else {
        let day = match dates_arg(ctx, args) {
            Ok((day, _, true)) => day,
            Ok(_) => return Ok(Answer::need(ctx.tongue, "missing_date", Need::Date)),
            Err(answer) => return Ok(answer),
        };
        let Some(start) = (match time_arg(args) {
            Ok(Some(TimeWish::At(t))) => ctx.local(day, t),
            _ => None,
        }) else {
            return Ok(Answer::need(ctx.tongue, "missing_time", Need::Time));
        };
        (staff_arg(ctx, args), start)
    };
    let call_id = ctx.active.context.call_id.clone();
    let request = BookingRequest {
        company_id: old.company_id,
        branch_id: old.branch_id,
        service_id: old.service_id,
        staff_id: staff,
        start,
        customer_id: old.customer_id,
        idempotency_key: Some(idempotency_key(
            &call_id,
            Function::RescheduleAppointment,
            args.0,
        )),
        call_id: Some(call_id),
        notes: old.notes.clone(),
        language: Some(ctx.active.context.language),
    };
    let outcome = ctx
        .state
        .engine
        .reschedule(old.id, &request, ctx.now)
        .await?;
    if let BookingOutcome::Booked(new) = &outcome {
        let (events, caller) = (&ctx.state.events, ctx.active.context.caller.as_ref());
        let names = ctx.names(new, &service);
        publish::appointment_booked(events, new, caller, &names, Some(old.id));
        let names = ctx.names(&old, &service);
        publish::appointment_cancelled(events, &old, caller, &names, Some(new.id));
    }
    // A failed move leaves the old appointment in place, so it does not count as a failed booking.
    let answer = booking_answer(ctx, &service, None, outcome).await?;
    if answer.code.is_none() {
        let label = answer
            .fields
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Ok(Answer {
            message: ctx.tongue.rescheduled(&label),
            ..answer
        }
        .with("previous_appointment_id", json!(old.id)));
    }
    Ok(answer)
}

async fn request_callback(ctx: &FunctionContext<'_>, args: Args<'_>) -> anyhow::Result<Answer> {
    let phone = match args.text(&["phone_number", "phone", "callback_number"]) {
        Some(raw) => match E164Number::parse_with_region(raw, &ctx.region) {
            Ok(phone) => phone,
            Err(_) => return Ok(Answer::need(ctx.tongue, "invalid_phone", Need::Phone)),
        },
        None => match &ctx.active.context.caller {
            Some(caller) => caller.clone(),
            None => return Ok(Answer::need(ctx.tongue, "missing_phone", Need::Phone)),
        },
    };
    let reason = args
        .text(&["reason", "topic", "message"])
        .map(clean)
        .unwrap_or_else(|| match ctx.tongue {
            Tongue::De => "Rückruf erbeten".to_owned(),
            Tongue::En => "Callback requested".to_owned(),
        });
    let scheduled_for = scheduled_for(ctx, args);
    let opened = followup::open_callback(
        ctx.state,
        &ctx.active,
        followup::CallbackAsk {
            phone,
            name: args
                .text(&["name", "customer_name", "patient_name"])
                .map(clean),
            reason,
            notes: args.text(&["notes"]).map(clean),
            priority: args
                .text(&["priority"])
                .and_then(|p| p.to_ascii_lowercase().parse::<Priority>().ok()),
            scheduled_for,
        },
        ctx.now,
    )
    .await?;
    let urgent = opened.callback.priority != Priority::Normal;
    Ok(
        Answer::ok(ctx.tongue.callback_opened(opened.merged, urgent))
            .with("callback_id", json!(opened.callback.id))
            .with("priority", json!(opened.callback.priority.as_str()))
            .with("merged", json!(opened.merged))
            .with(
                "due_at",
                json!(opened
                    .callback
                    .due_at
                    .with_timezone(&ctx.zone())
                    .to_rfc3339()),
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

fn get_branch_info(ctx: &FunctionContext<'_>) -> Answer {
    let info = &ctx.active.info;
    let branch = &info.branch;
    let tongue = ctx.tongue;
    let today = ctx.today();
    let week: Map<String, Value> = (0..7)
        .map(|offset| {
            let day = today + Duration::days(offset);
            (
                tongue.weekday(chrono::Datelike::weekday(&day)).to_owned(),
                json!(tongue.hours(branch.hours_on(day))),
            )
        })
        .collect();
    let services: Vec<Value> = info
        .services
        .iter()
        .map(|s| json!({"name": s.name, "duration_minutes": s.duration_minutes}))
        .collect();
    let hours_today = tongue.hours(branch.hours_on(today));
    let message = match tongue {
        Tongue::De => format!(
            "{} finden Sie in {}. Heute haben wir {} geöffnet.",
            branch.name, branch.address, hours_today
        ),
        Tongue::En => format!(
            "{} is at {}. Today we're open {}.",
            branch.name, branch.address, hours_today
        ),
    };
    Answer::ok(message)
        .with("company", json!(info.company.name))
        .with("branch", json!(branch.name))
        .with("address", json!(branch.address))
        .with("opening_hours_today", json!(hours_today))
        .with("opening_hours_next_7_days", Value::Object(week))
        .with("services", json!(services))
        .with(
            "languages",
            json!(branch
                .languages
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()),
        )
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

    #[test]
    fn every_function_name_round_trips() {
        for f in Function::ALL {
            assert_eq!(Function::parse(f.name()), Some(f));
        }
        assert_eq!(Function::parse("drop_tables"), None);
    }
}
