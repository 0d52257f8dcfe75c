//! `/api/v1/branches`: a company's locations. Admins create, change and delete them; managers
//! and staff read their own branch.
//!
//! Deleting a branch that phone numbers, staff or appointments still refer to is refused with
//! 409: re-point the numbers and deactivate the branch (`"active": false`) instead. An empty
//! branch is deleted; its tokens go with it and its callbacks lose the branch link. A Retell
//! agent id (`agent_by_language`) that another company routes by is 409.

use super::access::{self, admin_only, changed, created, write_through};
use super::audit::Change;
use super::auth::{store_error, Caller};
use super::input::{patch_text, required_text, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::*;
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Longest name or address kept.
const MAX_TEXT: usize = 200;

/// `GET /api/v1/branches`
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let branches: Vec<Branch> = access::branches(&state, caller.company_id)
        .await?
        .into_iter()
        .filter(|b| access::sees_branch(&caller, Some(b.id)))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "branches": branches })))
}

/// `GET /api/v1/branches/{id}` (id or slug)
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let branch = access::visible_branch(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(branch))
}

/// `POST /api/v1/branches`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, "create branches")?;
    let mut input = Input::from_body(&body)?;
    let name = required_text(&mut input, "name", MAX_TEXT);
    let slug = input.required::<String>("slug");
    let slug = slug_of(&mut input, slug);
    let time_zone = input.required::<Tz>("time_zone");
    let mut branch = Branch {
        id: BranchId::new(),
        company_id: caller.company_id,
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        address: String::new(),
        time_zone: time_zone.unwrap_or(Tz::UTC),
        languages: vec![Language::DE],
        active: true,
        fallback_branch_id: None,
        service_area_prefixes: Vec::new(),
        opening_hours: WeeklyHours::default(),
        date_overrides: Vec::new(),
        agent_by_language: BTreeMap::new(),
    };
    read_rest(&state, &caller, &mut input, &mut branch).await?;
    input.finish()?;
    let agents = branch.agent_by_language.values().map(String::as_str);
    access::agents_free(&state, &caller, agents).await?;
    let change = Change::created("branch.create", "branch", branch.id, &branch);
    let write = state.store.upsert_branch(&branch);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(created("/api/v1/branches", branch.id, &branch))
}

/// `PATCH /api/v1/branches/{id}`: changes the fields the body names.
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = access::visible_branch(&state, &caller, &id).await?;
    admin_only(&caller, "change branches")?;
    let mut input = Input::from_body(&body)?;
    let mut branch = old.clone();
    patch_text(&mut input, "name", &mut branch.name, MAX_TEXT);
    if input.has("slug") {
        let slug = input.required::<String>("slug");
        if let Some(slug) = slug_of(&mut input, slug) {
            branch.slug = slug;
        }
    }
    input.patch("time_zone", &mut branch.time_zone);
    read_rest(&state, &caller, &mut input, &mut branch).await?;
    input.finish()?;
    let new_agents = branch
        .agent_by_language
        .values()
        .filter(|a| !old.agent_by_language.values().any(|o| o == *a))
        .map(String::as_str);
    access::agents_free(&state, &caller, new_agents).await?;
    let change = Change::updated("branch.update", "branch", branch.id, &old, &branch);
    let write = state.store.upsert_branch(&branch);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(branch))
}

/// `DELETE /api/v1/branches/{id}`: 204, or 409 while something refers to the branch.
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = access::visible_branch(&state, &caller, &id).await?;
    admin_only(&caller, "delete branches")?;
    let outcome = state
        .store
        .delete_branch(caller.company_id, old.id)
        .await
        .map_err(store_error)?;
    access::deleted(
        outcome,
        "no such branch",
        "the branch still has phone numbers, staff or appointments; re-point or remove them, \
         or deactivate the branch with \"active\": false",
    )?;
    let change = Change::deleted("branch.delete", "branch", old.id, &old);
    changed(&state, &caller, &req, change).await;
    Ok(HttpResponse::NoContent().finish())
}

/// A slug: 1 to 64 of `a-z`, `0-9` and `-`.
fn slug_of(input: &mut Input, slug: Option<String>) -> Option<String> {
    let slug = slug?.trim().to_owned();
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Some(slug)
    } else {
        input.problem("slug", "must be 1 to 64 of a-z, 0-9 and -");
        None
    }
}

/// The optional fields shared by create and update.
async fn read_rest(
    state: &AppState,
    caller: &Caller,
    input: &mut Input,
    branch: &mut Branch,
) -> Result<(), ApiError> {
    if input.has("address") {
        let address: Option<String> = input.optional("address");
        let address = address.unwrap_or_default().trim().to_owned();
        if address.chars().count() > MAX_TEXT {
            input.problem("address", format!("must be at most {MAX_TEXT} characters"));
        } else {
            branch.address = address;
        }
    }
    input.patch("languages", &mut branch.languages);
    if branch.languages.is_empty() {
        input.problem("languages", "must name at least one language");
    }
    input.patch("active", &mut branch.active);
    input.patch("opening_hours", &mut branch.opening_hours);
    input.patch("date_overrides", &mut branch.date_overrides);
    input.patch("agent_by_language", &mut branch.agent_by_language);
    let mut prefixes = branch.service_area_prefixes.clone();
    input.patch("service_area_prefixes", &mut prefixes);
    if prefixes.iter().any(|p| {
        !(p.starts_with('+') && p.len() >= 2 && p[1..].chars().all(|c| c.is_ascii_digit()))
    }) {
        input.problem(
            "service_area_prefixes",
            "each must be + and digits, such as +4930",
        );
    } else {
        branch.service_area_prefixes = prefixes;
    }
    if input.has("fallback_branch_id") {
        let fallback: Option<BranchId> = input.optional("fallback_branch_id");
        match fallback {
            Some(id) if id == branch.id => {
                input.problem("fallback_branch_id", "must be another branch")
            }
            Some(id) => {
                let known = access::branches(state, caller.company_id)
                    .await?
                    .iter()
                    .any(|b| b.id == id);
                if known {
                    branch.fallback_branch_id = Some(id);
                } else {
                    input.problem("fallback_branch_id", "no such branch");
                }
            }
            None => branch.fallback_branch_id = None,
        }
    }
    Ok(())
}
