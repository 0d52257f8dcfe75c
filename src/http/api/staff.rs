//! `/api/v1/staff`: the people who are booked and call back. Admins manage everyone in their
//! company, managers the staff of their branch; staff read their branch's.
//!
//! `DELETE` deactivates (`"active": false`) instead of deleting: appointments, callbacks and
//! the audit log keep referring to the person, and they can be reactivated. A deactivated
//! member takes no new bookings or callbacks; their booked appointments stay.

use super::access::{self, created, write_through};
use super::audit::Change;
use super::auth::Caller;
use super::input::{patch_text, required_text, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::*;
use std::collections::BTreeMap;

/// Longest name kept.
const MAX_NAME: usize = 200;
/// Longest e-mail address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;

/// 403 unless the caller may change staff of `branch`.
fn may_manage(caller: &Caller, branch: BranchId) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Manager if caller.branch_id == Some(branch) => Ok(()),
        _ => Err(ApiError::forbidden(
            "only admins and the branch's managers may change staff",
        )),
    }
}

/// The staff member `raw` the caller may see; 404 otherwise.
async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<Staff, ApiError> {
    let not_found = || ApiError::not_found("no such staff member");
    let id: StaffId = raw.trim().parse().map_err(|_| not_found())?;
    access::company_staff(state, caller.company_id)
        .await?
        .into_iter()
        .find(|s| s.id == id && access::sees_branch(caller, Some(s.branch_id)))
        .ok_or_else(not_found)
}

/// `GET /api/v1/staff?branch=`
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut q = Input::from_query(&query);
    let branch = q.parsed("branch", |raw| Ok(raw.to_owned()));
    q.finish()?;
    let branch = match branch {
        Some(raw) => Some(access::visible_branch(&state, &caller, &raw).await?.id),
        None => None,
    };
    let staff: Vec<Staff> = access::company_staff(&state, caller.company_id)
        .await?
        .into_iter()
        .filter(|s| access::sees_branch(&caller, Some(s.branch_id)))
        .filter(|s| branch.is_none_or(|b| b == s.branch_id))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "staff": staff })))
}

/// `GET /api/v1/staff/{id}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &caller, &id).await?))
}

/// `POST /api/v1/staff`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    access::admin_or_manager(&caller, "add staff")?;
    let mut input = Input::from_body(&body)?;
    let branch = if input.has("branch_id") || caller.role == Role::Admin {
        input.required::<String>("branch_id")
    } else {
        caller.branch_id.map(|b| b.to_string())
    };
    let branch_id = match branch {
        Some(raw) => {
            let branches = access::branches(&state, caller.company_id).await?;
            match super::auth::find_branch(&branches, &raw) {
                Some(b) => {
                    may_manage(&caller, b.id)?;
                    Some(b.id)
                }
                None => {
                    input.problem("branch_id", "no such branch");
                    None
                }
            }
        }
        None => None,
    };
    let name = required_text(&mut input, "name", MAX_NAME);
    let role = input.required::<StaffRole>("role");
    let mut member = Staff {
        id: StaffId::new(),
        branch_id: branch_id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        role: role.unwrap_or(StaffRole::Reception),
        skills: Vec::new(),
        languages: Vec::new(),
        working_hours: WeeklyHours::default(),
        breaks: WeeklyHours::default(),
        date_overrides: Vec::new(),
        active: true,
        email: None,
    };
    read_rest(&mut input, &mut member);
    input.finish()?;
    let change = Change::created("staff.create", "staff", member.id, &member);
    let write = state.store.upsert_staff(&member);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(created("/api/v1/staff", member.id, &member))
}

/// `PATCH /api/v1/staff/{id}`: changes the fields the body names; `branch_id` (moving someone)
/// is for admins.
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    may_manage(&caller, old.branch_id)?;
    let mut input = Input::from_body(&body)?;
    let mut member = old.clone();
    if input.has("branch_id") {
        let raw = input.required::<String>("branch_id");
        if let Some(raw) = raw {
            let branches = access::branches(&state, caller.company_id).await?;
            match super::auth::find_branch(&branches, &raw) {
                Some(b) if b.id == old.branch_id => {}
                Some(b) if caller.role == Role::Admin => member.branch_id = b.id,
                Some(_) => {
                    return Err(ApiError::forbidden(
                        "only admins may move staff to another branch",
                    ))
                }
                None => input.problem("branch_id", "no such branch"),
            }
        }
    }
    patch_text(&mut input, "name", &mut member.name, MAX_NAME);
    input.patch("role", &mut member.role);
    read_rest(&mut input, &mut member);
    input.finish()?;
    let change = Change::updated("staff.update", "staff", member.id, &old, &member);
    let write = state.store.upsert_staff(&member);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(member))
}

/// `DELETE /api/v1/staff/{id}`: deactivates; 200 with the member.
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    may_manage(&caller, old.branch_id)?;
    let member = Staff {
        active: false,
        ..old.clone()
    };
    let change = Change::updated("staff.deactivate", "staff", member.id, &old, &member);
    let write = state.store.upsert_staff(&member);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(member))
}

/// The optional fields shared by create and update.
fn read_rest(input: &mut Input, member: &mut Staff) {
    let mut skills = member.skills.clone();
    input.patch("skills", &mut skills);
    let skills: Vec<String> = skills.iter().map(|s| s.trim().to_owned()).collect();
    if skills
        .iter()
        .any(|s| s.is_empty() || s.chars().count() > 64)
    {
        input.problem("skills", "each must be 1 to 64 characters");
    } else {
        member.skills = skills;
    }
    input.patch("languages", &mut member.languages);
    input.patch("working_hours", &mut member.working_hours);
    input.patch("breaks", &mut member.breaks);
    input.patch("date_overrides", &mut member.date_overrides);
    input.patch("active", &mut member.active);
    if input.has("email") {
        let email: Option<String> = input.optional("email");
        match email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) {
            Some(e) if !plausible_email(&e) => input.problem(
                "email",
                "must be an e-mail address such as anna@example.com",
            ),
            email => member.email = email,
        }
    }
}

/// `local@domain.tld`, no spaces, at most 254 characters: enough to catch typos; delivery is
/// the real check.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}
