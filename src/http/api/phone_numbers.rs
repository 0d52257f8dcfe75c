//! `/api/v1/phone-numbers`: the numbers callers dial and the branch each reaches. Admins
//! create, re-point and delete them; managers and staff read their branch's.
//!
//! `{number}` in paths is the E.164 number (`+493012345678`; the `+` may be left out or sent
//! as `%2B`). Creating a number that any company already uses is 409 (numbers are global), and
//! so is naming a Retell agent id another company routes by.
//! A deleted number stops routing at once.

use super::access::{self, admin_only, changed, created, write_through};
use super::audit::Change;
use super::auth::{store_error, Caller};
use super::input::Input;
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::*;

/// Longest Retell agent id kept.
const MAX_AGENT_ID: usize = 200;

async fn company_numbers(state: &AppState, caller: &Caller) -> Result<Vec<PhoneNumber>, ApiError> {
    Ok(state
        .store
        .list_phone_numbers()
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|n| n.company_id == caller.company_id)
        .collect())
}

/// The caller's visible number named by the path; 404 otherwise.
async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<PhoneNumber, ApiError> {
    let not_found = || ApiError::not_found("no such phone number");
    let raw = raw.trim();
    let raw = if raw.starts_with('+') {
        raw.to_owned()
    } else {
        format!("+{raw}")
    };
    let number = E164Number::parse(&raw).map_err(|_| not_found())?;
    company_numbers(state, caller)
        .await?
        .into_iter()
        .find(|n| n.number == number && access::sees_branch(caller, n.branch_id))
        .ok_or_else(not_found)
}

/// `GET /api/v1/phone-numbers`
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let numbers: Vec<PhoneNumber> = company_numbers(&state, &caller)
        .await?
        .into_iter()
        .filter(|n| access::sees_branch(&caller, n.branch_id))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "phone_numbers": numbers })))
}

/// `GET /api/v1/phone-numbers/{number}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &caller, &number).await?))
}

/// `POST /api/v1/phone-numbers`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, "add phone numbers")?;
    let mut input = Input::from_body(&body)?;
    let region = state.config.callback_policy().default_region;
    let number = input.required::<String>("number").and_then(|raw| {
        E164Number::parse_with_region(raw.trim(), &region)
            .map_err(|e| input.problem("number", e.to_string()))
            .ok()
    });
    let (mut branch_id, mut retell_agent_id) = (None, None);
    read_rest(
        &state,
        &caller,
        &mut input,
        &mut branch_id,
        &mut retell_agent_id,
    )
    .await?;
    input.finish()?;
    // `finish` refused the request if the number was missing or invalid.
    let number = number.ok_or_else(|| ApiError::bad_request("number is required"))?;
    let entry = PhoneNumber {
        number,
        company_id: caller.company_id,
        branch_id,
        retell_agent_id,
    };
    let taken = state
        .store
        .list_phone_numbers()
        .await
        .map_err(store_error)?
        .iter()
        .any(|n| n.number == entry.number);
    if taken {
        return Err(access::conflict("that number is already in use"));
    }
    access::agents_free(&state, &caller, entry.retell_agent_id.as_deref()).await?;
    let change = Change::created("phone_number.create", "phone_number", &entry.number, &entry);
    let write = state.store.upsert_phone_number(&entry);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(created("/api/v1/phone-numbers", &entry.number, &entry))
}

/// `PATCH /api/v1/phone-numbers/{number}`: `branch_id`, `retell_agent_id`.
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    number: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &number).await?;
    admin_only(&caller, "change phone numbers")?;
    let mut input = Input::from_body(&body)?;
    let mut entry = old.clone();
    read_rest(
        &state,
        &caller,
        &mut input,
        &mut entry.branch_id,
        &mut entry.retell_agent_id,
    )
    .await?;
    input.finish()?;
    if entry.retell_agent_id != old.retell_agent_id {
        access::agents_free(&state, &caller, entry.retell_agent_id.as_deref()).await?;
    }
    let change = Change::updated(
        "phone_number.update",
        "phone_number",
        &entry.number,
        &old,
        &entry,
    );
    let write = state.store.upsert_phone_number(&entry);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(entry))
}

/// `DELETE /api/v1/phone-numbers/{number}`: 204; the number stops routing.
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &number).await?;
    admin_only(&caller, "delete phone numbers")?;
    let deleted = state
        .store
        .delete_phone_number(caller.company_id, &old.number)
        .await
        .map_err(store_error)?;
    if !deleted {
        return Err(ApiError::not_found("no such phone number"));
    }
    let change = Change::deleted("phone_number.delete", "phone_number", &old.number, &old);
    changed(&state, &caller, &req, change).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn read_rest(
    state: &AppState,
    caller: &Caller,
    input: &mut Input,
    branch_id: &mut Option<BranchId>,
    retell_agent_id: &mut Option<String>,
) -> Result<(), ApiError> {
    if input.has("branch_id") {
        let branch: Option<BranchId> = input.optional("branch_id");
        match branch {
            Some(id) => {
                let known = access::branches(state, caller.company_id)
                    .await?
                    .iter()
                    .any(|b| b.id == id);
                if known {
                    *branch_id = Some(id);
                } else {
                    input.problem("branch_id", "no such branch");
                }
            }
            None => *branch_id = None,
        }
    }
    if input.has("retell_agent_id") {
        let agent: Option<String> = input.optional("retell_agent_id");
        let agent = agent.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
        if agent.as_ref().is_some_and(|a| a.len() > MAX_AGENT_ID) {
            input.problem(
                "retell_agent_id",
                format!("must be at most {MAX_AGENT_ID} characters"),
            );
        } else {
            *retell_agent_id = agent;
        }
    }
    Ok(())
}
