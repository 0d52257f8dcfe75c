//! `/api/v1/callbacks`: open a callback request (or merge into the open one for the number),
//! list them in queue order, read one.
//!
//! `POST` answers 201 Created with the new callback and `"merged": false`, or 200 OK with the
//! open callback the request merged into and `"merged": true`; both carry `Location`.

use super::auth::{find_branch, store_error, Caller};
use crate::callbacks::{open_callback_for_caller, Opened};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};
use callflow_actors::domain::callback::{clean_notes, clean_text, CallbackDraft, CallbackPolicy};
use callflow_actors::domain::extraction::mentions_urgency;
use callflow_actors::domain::*;
use callflow_actors::CallbackFilter;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most callbacks one list answer holds.
pub const MAX_LIST_LIMIT: u32 = 500;

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

/// `GET /api/v1/callbacks` answer.
#[derive(Serialize)]
struct Listed {
    callbacks: Vec<CallbackRequest>,
}

/// `GET /api/v1/callbacks` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only callbacks in this state.
    status: Option<String>,
    /// At most this many (1 to 500, default 100).
    limit: Option<String>,
}

/// `POST /api/v1/callbacks`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let input = read_body(body.into_inner())?;
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
    let (callback, opened) = open_callback_for_caller(
        &*state.store,
        &policy,
        draft,
        mentions_urgency(&said),
        Utc::now(),
    )
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

/// `GET /api/v1/callbacks?status=pending&limit=50`: the caller's callbacks, most urgent first,
/// then oldest.
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = caller.callback_filter(list_filter(&query)?);
    let callbacks = state
        .store
        .find_callbacks(caller.company_id, &filter)
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(Listed { callbacks }))
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
        .store
        .callback(caller.company_id, id)
        .await
        .map_err(store_error)?
        .filter(|c| caller.may_see(c))
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(callback))
}

/// Reads the JSON value as a [`NewCallback`], naming the field a wrong type or unknown key is on.
fn read_body(value: serde_json::Value) -> Result<NewCallback, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
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
            "is not a field of a callback".to_owned()
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

/// The store filter a list query asks for (before the caller's scope narrows it).
fn list_filter(query: &ListQuery) -> Result<CallbackFilter, ApiError> {
    let mut problems = BTreeMap::new();
    let mut problem = |field: &str, message: String| {
        problems.insert(field.to_owned(), message);
    };
    let status = parse_opt(&mut problem, "status", query.status.as_deref(), |raw| {
        raw.parse::<CallbackStatus>().map_err(|_| {
            let all: Vec<_> = CallbackStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("must be one of {}", all.join(", "))
        })
    });
    let limit = parse_opt(&mut problem, "limit", query.limit.as_deref(), |raw| {
        raw.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| format!("must be a whole number from 1 to {MAX_LIST_LIMIT}"))
    });
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    Ok(CallbackFilter {
        status,
        limit: limit.unwrap_or(CallbackFilter::DEFAULT_LIMIT),
        ..CallbackFilter::default()
    })
}
