//! `/api/v1/services`: what can be booked, shared by a company's branches. Everyone reads
//! them; admins manage them.
//!
//! `DELETE` deactivates (`"active": false`): booked appointments keep referring to the
//! service. Names are unique per company (409 on a duplicate).

use super::access::{admin_only, created, write_through};
use super::audit::Change;
use super::auth::{store_error, Caller};
use super::input::{patch_text, required_text, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::*;

/// Longest name kept.
const MAX_NAME: usize = 200;
/// Longest service (a working day).
const MAX_DURATION: u32 = 24 * 60;
/// Longest buffer before or after.
const MAX_BUFFER: u32 = 240;

async fn all(state: &AppState, caller: &Caller) -> Result<Vec<Service>, ApiError> {
    state
        .store
        .list_services(caller.company_id)
        .await
        .map_err(store_error)
}

async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<Service, ApiError> {
    let not_found = || ApiError::not_found("no such service");
    let id: ServiceId = raw.trim().parse().map_err(|_| not_found())?;
    all(state, caller)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(not_found)
}

/// `GET /api/v1/services`
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let services = all(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "services": services })))
}

/// `GET /api/v1/services/{id}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &caller, &id).await?))
}

/// `POST /api/v1/services`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, "add services")?;
    let mut input = Input::from_body(&body)?;
    let name = required_text(&mut input, "name", MAX_NAME);
    let duration = input.required::<u32>("duration_minutes");
    let mut service = Service {
        id: ServiceId::new(),
        company_id: caller.company_id,
        name: name.unwrap_or_default(),
        duration_minutes: duration.unwrap_or(1),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        required_skills: Vec::new(),
        active: true,
    };
    read_rest(&mut input, &mut service);
    input.finish()?;
    let change = Change::created("service.create", "service", service.id, &service);
    let write = state.store.upsert_service(&service);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(created("/api/v1/services", service.id, &service))
}

/// `PATCH /api/v1/services/{id}`
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    admin_only(&caller, "change services")?;
    let mut input = Input::from_body(&body)?;
    let mut service = old.clone();
    patch_text(&mut input, "name", &mut service.name, MAX_NAME);
    input.patch("duration_minutes", &mut service.duration_minutes);
    read_rest(&mut input, &mut service);
    input.finish()?;
    let change = Change::updated("service.update", "service", service.id, &old, &service);
    let write = state.store.upsert_service(&service);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(service))
}

/// `DELETE /api/v1/services/{id}`: deactivates; 200 with the service.
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    admin_only(&caller, "remove services")?;
    let service = Service {
        active: false,
        ..old.clone()
    };
    let change = Change::updated("service.deactivate", "service", service.id, &old, &service);
    let write = state.store.upsert_service(&service);
    write_through(&state, &caller, &req, write, change).await?;
    Ok(HttpResponse::Ok().json(service))
}

fn read_rest(input: &mut Input, service: &mut Service) {
    if !(1..=MAX_DURATION).contains(&service.duration_minutes) {
        input.problem(
            "duration_minutes",
            format!("must be from 1 to {MAX_DURATION}"),
        );
    }
    input.patch("buffer_before_minutes", &mut service.buffer_before_minutes);
    input.patch("buffer_after_minutes", &mut service.buffer_after_minutes);
    for (field, value) in [
        ("buffer_before_minutes", service.buffer_before_minutes),
        ("buffer_after_minutes", service.buffer_after_minutes),
    ] {
        if value > MAX_BUFFER {
            input.problem(field, format!("must be from 0 to {MAX_BUFFER}"));
        }
    }
    let mut skills = service.required_skills.clone();
    input.patch("required_skills", &mut skills);
    let skills: Vec<String> = skills.iter().map(|s| s.trim().to_owned()).collect();
    if skills
        .iter()
        .any(|s| s.is_empty() || s.chars().count() > 64)
    {
        input.problem("required_skills", "each must be 1 to 64 characters");
    } else {
        service.required_skills = skills;
    }
    input.patch("active", &mut service.active);
}
