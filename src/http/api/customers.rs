//! `/api/v1/customers`: the people who call, recognised by number within a company. Everyone
//! in the company reads them (staff call them back); admins manage them.
//!
//! A customer with appointments cannot be deleted (409): the appointments are the business's
//! records. Without appointments they are deleted; their callbacks keep the number and lose
//! the link. Numbers are unique per company (409 on a duplicate). The engine reads customers
//! from the store on every call, so there is nothing to reload.

use super::access::{self, admin_only, conflict, created, write_error};
use super::audit::{self, Change};
use super::auth::{store_error, Caller};
use super::cursor;
use super::input::{self, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::admin_query::CustomerFilter;
use callflow_actors::domain::*;
use std::collections::BTreeMap;

/// Longest name or external reference kept.
const MAX_TEXT: usize = 200;
/// Most customers one page holds.
pub const MAX_LIMIT: u32 = 500;

async fn visible(state: &AppState, caller: &Caller, raw: &str) -> Result<Customer, ApiError> {
    let not_found = || ApiError::not_found("no such customer");
    let id: CustomerId = raw.trim().parse().map_err(|_| not_found())?;
    state
        .store
        .customer(caller.company_id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)
}

/// `GET /api/v1/customers?phone=&cursor=&limit=`, by number.
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut q = Input::from_query(&query);
    let region = state.config.callback_policy().default_region;
    let filter = CustomerFilter {
        phone: q.parsed("phone", |raw| {
            E164Number::parse_with_region(raw, &region).map_err(|e| e.to_string())
        }),
        after_phone: q.parsed("cursor", |raw| {
            cursor::parse_customer(raw).ok_or_else(|| cursor::INVALID.to_owned())
        }),
        limit: input::limit(&mut q, 100, MAX_LIMIT),
    };
    q.finish()?;
    let customers = state
        .store
        .find_customers(caller.company_id, &filter)
        .await
        .map_err(store_error)?;
    let next_cursor = (customers.len() == filter.limit as usize)
        .then(|| customers.last().map(cursor::customer))
        .flatten();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "customers": customers,
        "next_cursor": next_cursor,
    })))
}

/// `GET /api/v1/customers/{id}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(visible(&state, &caller, &id).await?))
}

/// `POST /api/v1/customers`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller, "add customers")?;
    let mut input = Input::from_body(&body)?;
    let phone = read_phone(&state, &mut input);
    let mut details = Details::default();
    read_rest(&state, &caller, &mut input, &mut details).await?;
    input.finish()?;
    // `finish` refused the request if the phone was missing or invalid.
    let phone = phone.ok_or_else(|| ApiError::bad_request("phone is required"))?;
    let customer = details.onto(Customer {
        id: CustomerId::new(),
        company_id: caller.company_id,
        phone,
        name: None,
        external_ref: None,
        preferred_language: None,
        preferred_staff_id: None,
        vip: false,
        failed_booking_count: 0,
    });
    if state
        .store
        .customer_by_phone(caller.company_id, &customer.phone)
        .await
        .map_err(store_error)?
        .is_some()
    {
        return Err(conflict("a customer with that phone number exists"));
    }
    // No reload: the engine reads customers from the store on every call.
    save(&state, &customer).await?;
    let change = Change::created("customer.create", "customer", customer.id, &customer);
    audit::record(&state, &caller, &req, change).await;
    Ok(created("/api/v1/customers", customer.id, &customer))
}

/// `PATCH /api/v1/customers/{id}`
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    admin_only(&caller, "change customers")?;
    let mut input = Input::from_body(&body)?;
    let mut customer = old.clone();
    if input.has("phone") {
        if let Some(phone) = read_phone(&state, &mut input) {
            customer.phone = phone;
        }
    }
    let mut details = Details::of(&customer);
    read_rest(&state, &caller, &mut input, &mut details).await?;
    input.finish()?;
    let customer = details.onto(customer);
    save(&state, &customer).await?;
    let change = Change::updated("customer.update", "customer", customer.id, &old, &customer);
    audit::record(&state, &caller, &req, change).await;
    Ok(HttpResponse::Ok().json(customer))
}

/// `DELETE /api/v1/customers/{id}`: 204, or 409 while they have appointments.
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let old = visible(&state, &caller, &id).await?;
    admin_only(&caller, "delete customers")?;
    let outcome = state
        .store
        .delete_customer(caller.company_id, old.id)
        .await
        .map_err(store_error)?;
    access::deleted(outcome, "no such customer", "the customer has appointments")?;
    let change = Change::deleted("customer.delete", "customer", old.id, &old);
    audit::record(&state, &caller, &req, change).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Stores `customer` (a duplicate number is 409).
async fn save(state: &AppState, customer: &Customer) -> Result<(), ApiError> {
    state
        .store
        .upsert_customer(customer)
        .await
        .map_err(write_error)
}

/// The fields of a customer that are read the same way on create and update.
#[derive(Default)]
struct Details {
    name: Option<String>,
    external_ref: Option<String>,
    preferred_language: Option<Language>,
    preferred_staff_id: Option<StaffId>,
    vip: bool,
}

impl Details {
    fn of(c: &Customer) -> Self {
        Self {
            name: c.name.clone(),
            external_ref: c.external_ref.clone(),
            preferred_language: c.preferred_language,
            preferred_staff_id: c.preferred_staff_id,
            vip: c.vip,
        }
    }

    fn onto(self, c: Customer) -> Customer {
        Customer {
            name: self.name,
            external_ref: self.external_ref,
            preferred_language: self.preferred_language,
            preferred_staff_id: self.preferred_staff_id,
            vip: self.vip,
            ..c
        }
    }
}

fn read_phone(state: &AppState, input: &mut Input) -> Option<E164Number> {
    let raw: Option<String> = input.required("phone");
    let region = state.config.callback_policy().default_region;
    raw.and_then(|raw| {
        E164Number::parse_with_region(raw.trim(), &region)
            .map_err(|e| input.problem("phone", e.to_string()))
            .ok()
    })
}

async fn read_rest(
    state: &AppState,
    caller: &Caller,
    input: &mut Input,
    customer: &mut Details,
) -> Result<(), ApiError> {
    for (field, target) in [
        ("name", &mut customer.name),
        ("external_ref", &mut customer.external_ref),
    ] {
        // An over-long value is refused (422), so what it leaves in `target` is never stored.
        if input.has(field) {
            *target = input::optional_text(input, field, MAX_TEXT);
        }
    }
    input.patch("preferred_language", &mut customer.preferred_language);
    input.patch("vip", &mut customer.vip);
    if input.has("preferred_staff_id") {
        let staff: Option<StaffId> = input.optional("preferred_staff_id");
        match staff {
            Some(id) => {
                let known = super::access::company_staff(state, caller.company_id)
                    .await?
                    .iter()
                    .any(|s| s.id == id);
                if known {
                    customer.preferred_staff_id = Some(id);
                } else {
                    input.problem("preferred_staff_id", "no such staff member");
                }
            }
            None => customer.preferred_staff_id = None,
        }
    }
    Ok(())
}
