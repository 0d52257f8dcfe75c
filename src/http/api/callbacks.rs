//! `/api/v1/callbacks`: open a callback request (or merge into the open one for the number),
//! read one, and move it through its lifecycle (lists and stats: `callback_list`). Every
//! change is recorded in the audit log.
//!
//! `POST` answers 201 Created with the new callback and `"merged": false`, or 200 OK with the
//! open callback the request merged into and `"merged": true`; both carry `Location`.
//!
//! The lifecycle (rules in `callflow_actors::domain::callback::transition`):
//! `POST /api/v1/callbacks/{id}/{assign|contact|attempt|complete|cancel}` with a JSON body
//! (`note` on all of them, `staff_id` for assign (without one, the automatic assignment picks
//! someone other than the current assignee; 409 when nobody qualifies), `outcome` for attempt; an empty body is
//! `{}`) answers 200 with the changed callback. Every step is a compare-and-swap on the
//! callback's version: give the version you saw as `If-Match: 3` (or `"3"`) or as `"version": 3`
//! in the body (both must agree when both are given); with neither, the version read just
//! before the write is used, which still never overwrites a concurrent change (the write fails
//! with 409 instead) but may act on a state the client has not seen. 409 `conflict` says
//! whether the version was stale or the step is not allowed from the callback's state.
//! Staff act only on callbacks assigned to them and may not assign or cancel (403); managers act within their
//! branch, admins within their company. `POST /api/v1/callbacks/bulk` applies one of assign,
//! complete or cancel to up to 100 callbacks, each at its current version, and answers 200 with
//! one result per id.

use super::audit;
use super::auth::{find_branch, store_error, Caller};
use crate::app::callbacks::{Opened, Refusal, Requested, Step};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::http::header::{IF_MATCH, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::callback::{
    clean_notes, clean_text, CallbackAction, CallbackDraft, CallbackPolicy,
};
use callflow_actors::domain::extraction::mentions_urgency;
use callflow_actors::domain::*;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest phone number text read (anything longer is not a phone number).
const MAX_PHONE_CHARS: usize = 64;

/// The body of `POST /api/v1/callbacks`, every field as text so a wrong value is reported on
/// its field (422) rather than failing the whole body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCallback {
    phone: Option<String>,
    name: Option<String>,
    reason: Option<String>,
    notes: Option<String>,
    priority: Option<String>,
    branch: Option<String>,
    language: Option<String>,
    scheduled_for: Option<String>,
}

/// The values of a valid [`NewCallback`], and which field each problem is on.
struct Checked {
    phone: Option<E164Number>,
    name: Option<String>,
    reason: String,
    notes: Option<String>,
    priority: Option<Priority>,
    language: Option<Language>,
    scheduled_for: Option<DateTime<Utc>>,
    problems: BTreeMap<String, String>,
}

/// A callback as answered, with whether the request merged into it.
#[derive(Serialize)]
struct OpenedBody<'a> {
    #[serde(flatten)]
    callback: &'a CallbackRequest,
    merged: bool,
}

/// `POST /api/v1/callbacks`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input: NewCallback = read_body(body.into_inner())?;
    let policy = state.config.callback_policy();
    let mut checked = check(&input, &policy);
    let branch = resolve_branch(&state, &caller, input.branch.as_deref(), &mut checked).await?;
    let phone = match checked.phone.take() {
        Some(phone) if checked.problems.is_empty() => phone,
        _ => return Err(ApiError::invalid_fields(checked.problems)),
    };
    let said = format!(
        "{} {}",
        checked.reason,
        checked.notes.as_deref().unwrap_or("")
    );
    let draft = CallbackDraft {
        company_id: caller.company_id,
        branch_id: branch,
        customer_id: None,
        phone,
        name: checked.name,
        reason: checked.reason,
        notes: checked.notes,
        priority: checked.priority,
        language: checked.language,
        source_call_id: None,
        scheduled_for: checked.scheduled_for,
    };
    let actor = audit::actor(&state, &caller, &req);
    let (callback, opened) = state
        .app
        .callbacks
        .open(draft, mentions_urgency(&said), Some(&actor))
        .await
        .map_err(store_error)?;
    let merged = opened == Opened::Merged;
    let mut answer = if merged {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(answer
        .insert_header((LOCATION, format!("/api/v1/callbacks/{}", callback.id)))
        .json(OpenedBody {
            callback: &callback,
            merged,
        }))
}

/// `GET /api/v1/callbacks/{id}`: 404 unless the caller may see it.
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("no such callback");
    let id: CallbackId = id.parse().map_err(|_| not_found())?;
    let callback = state
        .app
        .callbacks
        .get(caller.company_id, id)
        .await
        .map_err(store_error)?
        .filter(|c| caller.may_see(c))
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(callback))
}

/// Reads the JSON value as a `T` (a [`NewCallback`], an [`ActionBody`]), naming the field a
/// wrong type or unknown key is on.
fn read_body<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    // Callback texts are cleaned of control characters rather than refused; NUL goes first,
    // everywhere in the body, since no backend can store it (Postgres refuses it).
    crate::http::unstorable::strip(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." {
            // An unknown key: serde names it in backticks in the message.
            message
                .split('`')
                .nth(1)
                .unwrap_or("body")
                .chars()
                .take(64)
                .collect()
        } else {
            path
        };
        let message = if message.starts_with("unknown field") {
            "is not a field of this request".to_owned()
        } else if field == "version" {
            "must be a whole number".to_owned()
        } else if field.starts_with("ids") {
            "must be a list of callback ids".to_owned()
        } else {
            "must be a string".to_owned()
        };
        ApiError::invalid_fields(BTreeMap::from([(field, message)]))
    })
}

/// Validates every field that needs no database, collecting one message per bad field.
fn check(input: &NewCallback, policy: &CallbackPolicy) -> Checked {
    let mut problems = BTreeMap::new();
    let mut problem = |field: &str, message: String| {
        problems.insert(field.to_owned(), message);
    };
    let phone = match input.phone.as_deref().map(str::trim) {
        None | Some("") => {
            problem("phone", "is required".into());
            None
        }
        Some(raw) if raw.chars().count() > MAX_PHONE_CHARS => {
            problem("phone", "is too long to be a phone number".into());
            None
        }
        Some(raw) => E164Number::parse_with_region(raw, &policy.default_region)
            .map_err(|e| problem("phone", format!("{e}")))
            .ok(),
    };
    let reason = clean_text(input.reason.as_deref().unwrap_or(""), usize::MAX);
    if reason.is_empty() {
        problem("reason", "is required".into());
    }
    bounded(&mut problem, "reason", &reason, policy.max_reason_chars);
    let name = input
        .name
        .as_deref()
        .map(|n| clean_text(n, usize::MAX))
        .filter(|n| !n.is_empty());
    bounded(
        &mut problem,
        "name",
        name.as_deref().unwrap_or(""),
        policy.max_name_chars,
    );
    let notes = input
        .notes
        .as_deref()
        .map(|n| clean_notes(n, usize::MAX))
        .filter(|n| !n.is_empty());
    bounded(
        &mut problem,
        "notes",
        notes.as_deref().unwrap_or(""),
        policy.max_notes_chars,
    );
    let priority = parse_opt(&mut problem, "priority", input.priority.as_deref(), |raw| {
        raw.parse::<Priority>()
            .map_err(|_| "must be one of normal, high, urgent".to_owned())
    });
    let language = parse_opt(&mut problem, "language", input.language.as_deref(), |raw| {
        Language::parse(raw).map_err(|e| e.to_string())
    });
    let scheduled_for = parse_opt(
        &mut problem,
        "scheduled_for",
        input.scheduled_for.as_deref(),
        |raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    "must be an RFC 3339 time such as 2030-06-03T14:30:00+02:00".to_owned()
                })
        },
    );
    Checked {
        phone,
        name,
        reason,
        notes,
        priority,
        language,
        scheduled_for,
        problems,
    }
}

fn bounded(problem: &mut impl FnMut(&str, String), field: &str, text: &str, max_chars: usize) {
    if text.chars().count() > max_chars {
        problem(field, format!("must be at most {max_chars} characters"));
    }
}

fn parse_opt<T>(
    problem: &mut impl FnMut(&str, String),
    field: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    parse(raw).map_err(|message| problem(field, message)).ok()
}

/// The branch the callback belongs to: the one named (slug or id) if the caller may act for
/// it, else a manager's or staff member's own. Naming another company's branch is the same as
/// naming none that exists (422); a branch of the company the caller may not act for is 403.
async fn resolve_branch(
    state: &AppState,
    caller: &Caller,
    wanted: Option<&str>,
    checked: &mut Checked,
) -> Result<Option<BranchId>, ApiError> {
    let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
        return Ok(caller.branch_id);
    };
    let branches = state
        .store
        .list_branches(Some(caller.company_id))
        .await
        .map_err(store_error)?;
    let Some(branch) = find_branch(&branches, wanted) else {
        checked
            .problems
            .insert("branch".into(), "no such branch".into());
        return Ok(None);
    };
    if !caller.may_act_for(Some(branch.id)) {
        return Err(ApiError::forbidden(
            "you may only open callbacks for your own branch",
        ));
    }
    Ok(Some(branch.id))
}

/// Most callbacks one bulk request acts on.
pub const MAX_BULK_IDS: usize = 100;

/// The body of `POST /api/v1/callbacks/{id}/{action}`; which fields an action takes is checked
/// after reading.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    staff_id: Option<String>,
    outcome: Option<String>,
    note: Option<String>,
    version: Option<i64>,
}

/// The body of `POST /api/v1/callbacks/bulk`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    action: Option<String>,
    ids: Option<Vec<String>>,
    staff_id: Option<String>,
    note: Option<String>,
}

/// A lifecycle step, as named in the API path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepName {
    /// `assign`: to a named staff member, or to the automatic pick.
    Assign,
    /// `contact`: the customer was reached.
    Contact,
    /// `attempt`: a try that did not reach them.
    Attempt,
    /// `complete`: done.
    Complete,
    /// `cancel`: no longer wanted.
    Cancel,
}

impl StepName {
    /// Every step an operator takes.
    pub const ALL: [StepName; 5] = [
        Self::Assign,
        Self::Contact,
        Self::Attempt,
        Self::Complete,
        Self::Cancel,
    ];

    /// The steps `POST /api/v1/callbacks/bulk` takes.
    pub const BULK: [StepName; 3] = [Self::Assign, Self::Complete, Self::Cancel];

    /// The name in the path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assign => "assign",
            Self::Contact => "contact",
            Self::Attempt => "attempt",
            Self::Complete => "complete",
            Self::Cancel => "cancel",
        }
    }

    /// The step of a name, if it is one of `among`.
    pub fn parse(name: &str, among: &[StepName]) -> Option<Self> {
        among.iter().copied().find(|s| s.as_str() == name)
    }
}

fn refusal_code(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::NotFound => "not_found",
        Refusal::Invalid(_) => "invalid",
        Refusal::Conflict(_) => "conflict",
        Refusal::Failed(_) => "internal",
    }
}

fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::NotFound => "no such callback".into(),
        Refusal::Conflict(m) => m.clone(),
        Refusal::Invalid(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("; "),
        Refusal::Failed(e) => e.to_string(),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound => ApiError::not_found("no such callback"),
        Refusal::Invalid(fields) => ApiError::invalid_fields(fields),
        Refusal::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
        Refusal::Failed(e) => store_error(e),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_fields(BTreeMap::from([(field.to_owned(), message.into())]))
}

/// `POST /api/v1/callbacks/{id}/{action}`
pub async fn act(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, name) = path.into_inner();
    let step = StepName::parse(&name, &StepName::ALL).ok_or_else(ApiError::route_not_found)?;
    managers_only(&caller, step)?;
    let body: ActionBody = read_optional_body(&body)?;
    let expected = expected_version(&req, body.version)?;
    let requested = requested(&state, &caller, step, &body).await?;
    let actor = audit::actor(&state, &caller, &req);
    let Step { after, .. } = apply(&state, &caller, &actor, &id, &requested, expected)
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Ok().json(after))
}

/// `POST /api/v1/callbacks/bulk`: `{"action": "assign"|"complete"|"cancel", "ids": [...],
/// "staff_id"?, "note"?}`; 200 with `{"results": [{"id", "ok": true, "status", "version"} |
/// {"id", "ok": false, "error": {"code", "message"}}]}` in the order of `ids`.
pub async fn bulk(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: BulkBody = read_optional_body(&body)?;
    let mut problems = BTreeMap::new();
    let step = StepName::parse(
        body.action.as_deref().map(str::trim).unwrap_or(""),
        &StepName::BULK,
    );
    if step.is_none() {
        problems.insert(
            "action".to_owned(),
            "must be one of assign, complete, cancel".to_owned(),
        );
    }
    let ids = body.ids.clone().unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_BULK_IDS {
        problems.insert(
            "ids".to_owned(),
            format!("must list 1 to {MAX_BULK_IDS} callback ids"),
        );
    }
    if step != Some(StepName::Assign) && body.staff_id.is_some() {
        problems.insert("staff_id".to_owned(), "is only for assign".to_owned());
    }
    let Some(step) = step.filter(|_| problems.is_empty()) else {
        return Err(ApiError::invalid_fields(problems));
    };
    managers_only(&caller, step)?;
    let action_body = ActionBody {
        staff_id: body.staff_id.clone(),
        outcome: None,
        note: body.note.clone(),
        version: None,
    };
    let requested = requested(&state, &caller, step, &action_body).await?;
    let actor = audit::actor(&state, &caller, &req);
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let result = match apply(&state, &caller, &actor, &id, &requested, None).await {
            Ok(Step { after, .. }) => serde_json::json!({
                "id": id,
                "ok": true,
                "status": after.status,
                "version": after.version,
            }),
            Err(Refusal::Failed(e)) => return Err(store_error(e)),
            Err(refusal) => serde_json::json!({
                "id": id,
                "ok": false,
                "error": {"code": refusal_code(&refusal), "message": refusal_message(&refusal)},
            }),
        };
        results.push(result);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results })))
}

/// Assigning and cancelling are for managers and admins: staff take what they are given and
/// close it by contact and completion (or failed attempts).
fn managers_only(caller: &Caller, step: StepName) -> Result<(), ApiError> {
    if caller.role == Role::Staff && matches!(step, StepName::Assign | StepName::Cancel) {
        return Err(ApiError::forbidden(format!(
            "only managers and admins may {} callbacks",
            step.as_str()
        )));
    }
    Ok(())
}

/// A body that may be empty (read as `{}`) or a JSON object.
fn read_optional_body<T: DeserializeOwned + Default>(raw: &[u8]) -> Result<T, ApiError> {
    if raw.len() > super::MAX_JSON_BYTES {
        return Err(ApiError::payload_too_large(super::MAX_JSON_BYTES));
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    read_body(value)
}

/// The version the client expects: `If-Match` (a number, quoted or not) or `version` in the
/// body; 422 when they disagree or the header is not a version.
fn expected_version(req: &HttpRequest, in_body: Option<i64>) -> Result<Option<i64>, ApiError> {
    let header = match req.headers().get(IF_MATCH) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("").trim();
            let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
            Some(text.parse::<i64>().map_err(|_| {
                invalid("If-Match", "must be the callback's version, a whole number")
            })?)
        }
    };
    match (header, in_body) {
        (Some(h), Some(b)) if h != b => Err(invalid(
            "version",
            "differs from the If-Match header; give one version",
        )),
        (h, b) => Ok(h.or(b)),
    }
}

/// The domain action a request asks for, with its input checked (422 naming the field).
async fn requested(
    state: &AppState,
    caller: &Caller,
    step: StepName,
    body: &ActionBody,
) -> Result<Requested, ApiError> {
    let policy = &state.app.callbacks.settings().callbacks;
    let mut problems = BTreeMap::new();
    let note = body
        .note
        .as_deref()
        .map(|n| clean_notes(n, usize::MAX))
        .filter(|n| !n.is_empty());
    if note
        .as_deref()
        .is_some_and(|n| n.chars().count() > policy.max_notes_chars)
    {
        problems.insert(
            "note".to_owned(),
            format!("must be at most {} characters", policy.max_notes_chars),
        );
    }
    if step != StepName::Assign && body.staff_id.is_some() {
        problems.insert("staff_id".to_owned(), "is only for assign".to_owned());
    }
    if step != StepName::Attempt && body.outcome.is_some() {
        problems.insert("outcome".to_owned(), "is only for attempt".to_owned());
    }
    let action = match step {
        StepName::Assign => match body.staff_id.as_deref().map(str::trim) {
            None | Some("") => {
                return match problems.is_empty() {
                    true => Ok(Requested::AutoAssign { note }),
                    false => Err(ApiError::invalid_fields(problems)),
                };
            }
            Some(raw) => match raw.parse::<StaffId>() {
                Ok(staff) => {
                    match assignable(state, caller, staff).await? {
                        Ok(()) => {}
                        Err(message) => {
                            problems.insert("staff_id".to_owned(), message);
                        }
                    }
                    Some(CallbackAction::Assign {
                        staff,
                        note: note.clone(),
                    })
                }
                Err(_) => {
                    problems.insert("staff_id".to_owned(), "is not a staff id".to_owned());
                    None
                }
            },
        },
        StepName::Attempt => match body.outcome.as_deref().map(str::trim) {
            None | Some("") => {
                problems.insert("outcome".to_owned(), "is required".to_owned());
                None
            }
            Some(raw) => match raw.parse::<AttemptOutcome>() {
                Ok(outcome) => Some(CallbackAction::Attempt {
                    outcome,
                    note: note.clone(),
                }),
                Err(_) => {
                    problems.insert(
                        "outcome".to_owned(),
                        "must be one of no_answer, busy, wrong_number".to_owned(),
                    );
                    None
                }
            },
        },
        StepName::Contact => Some(CallbackAction::Contact { note: note.clone() }),
        StepName::Complete => Some(CallbackAction::Complete { note: note.clone() }),
        StepName::Cancel => Some(CallbackAction::Cancel { note: note.clone() }),
    };
    match action {
        Some(action) if problems.is_empty() => Ok(Requested::Action(action)),
        _ => Err(ApiError::invalid_fields(problems)),
    }
}

/// Whether `staff` may be given callbacks by `caller`: an active staff member of the caller's
/// company, and of the caller's branch for a manager. `Err` is the store failing; `Ok(Err)` the
/// message for the `staff_id` field.
async fn assignable(
    state: &AppState,
    caller: &Caller,
    staff: StaffId,
) -> Result<Result<(), String>, ApiError> {
    let member = state
        .app
        .callbacks
        .staff_member(caller.company_id, staff)
        .await
        .map_err(store_error)?;
    Ok(match member {
        None => Err("no such staff member".to_owned()),
        Some(member) if !member.active => Err("is not active".to_owned()),
        Some(member) if !caller.may_act_for(Some(member.branch_id)) => {
            Err("works at another branch than yours".to_owned())
        }
        Some(_) => Ok(()),
    })
}

/// Applies `requested` to callback `raw_id` if the caller may see it (see
/// [`crate::app::Callbacks::step`]).
async fn apply(
    state: &AppState,
    caller: &Caller,
    actor: &audit::Actor,
    raw_id: &str,
    requested: &Requested,
    expected: Option<i64>,
) -> Result<Step, Refusal> {
    let id: CallbackId = raw_id.trim().parse().map_err(|_| Refusal::NotFound)?;
    state
        .app
        .callbacks
        .step(actor, |c| caller.may_see(c), id, requested, expected)
        .await
}
