//! The admin API under `/api/v1`: JSON in and out, bearer-token auth ([`auth::Caller`]), every
//! query scoped to the caller's company.
//!
//! Errors follow `super::error`: 400 when a body or query cannot be read (malformed JSON),
//! 415 for a body that is not JSON, 422 with per-field messages for invalid values, 401 without
//! a valid token, 403 for a branch the caller may not act for, 404 for what does not exist or
//! belongs to someone else, 413 for oversized bodies.

pub mod access;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod branches;
pub mod callback_list;
pub mod callbacks;
pub mod cursor;
pub mod customers;
pub mod input;
pub mod openapi;
pub mod phone_numbers;
pub mod services;
pub mod staff;
pub mod webhooks;

use super::error::ApiError;
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Route};

/// Largest JSON body the admin API reads (`server.max_body_bytes` applies too; the smaller
/// wins). Admin requests are small; this keeps a slow client from making us buffer much.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// One admin API route: its path below `/api/v1` (actix pattern), its method and handler.
pub struct Endpoint {
    /// Path below `/api/v1`, such as `/branches/{id}`.
    pub path: &'static str,
    /// HTTP method.
    pub method: Method,
    route: fn() -> Route,
}

fn endpoint(path: &'static str, method: Method, route: fn() -> Route) -> Endpoint {
    Endpoint {
        path,
        method,
        route,
    }
}

/// Every admin API route, in matching order (fixed paths before `{id}` on the same prefix).
/// The scope is built from this table, and a test holds the OpenAPI document to it in both
/// directions, so neither can drift from the other.
pub fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint("/openapi.json", M::GET, || web::get().to(openapi::document)),
        endpoint("/audit", M::GET, || web::get().to(audit::list)),
        // Callbacks.
        endpoint("/callbacks", M::GET, || web::get().to(callback_list::list)),
        endpoint("/callbacks", M::POST, || web::post().to(callbacks::create)),
        endpoint("/callbacks/stats", M::GET, || {
            web::get().to(callback_list::stats)
        }),
        endpoint("/callbacks/bulk", M::POST, || {
            web::post().to(callbacks::bulk)
        }),
        endpoint("/callbacks/{id}", M::GET, || web::get().to(callbacks::get)),
        endpoint("/callbacks/{id}/{action}", M::POST, || {
            web::post().to(callbacks::act)
        }),
        // Branches.
        endpoint("/branches", M::GET, || web::get().to(branches::list)),
        endpoint("/branches", M::POST, || web::post().to(branches::create)),
        endpoint("/branches/{id}", M::GET, || web::get().to(branches::get)),
        endpoint("/branches/{id}", M::PATCH, || {
            web::patch().to(branches::update)
        }),
        endpoint("/branches/{id}", M::DELETE, || {
            web::delete().to(branches::delete)
        }),
        // Phone numbers.
        endpoint("/phone-numbers", M::GET, || {
            web::get().to(phone_numbers::list)
        }),
        endpoint("/phone-numbers", M::POST, || {
            web::post().to(phone_numbers::create)
        }),
        endpoint("/phone-numbers/{number}", M::GET, || {
            web::get().to(phone_numbers::get)
        }),
        endpoint("/phone-numbers/{number}", M::PATCH, || {
            web::patch().to(phone_numbers::update)
        }),
        endpoint("/phone-numbers/{number}", M::DELETE, || {
            web::delete().to(phone_numbers::delete)
        }),
        // Staff.
        endpoint("/staff", M::GET, || web::get().to(staff::list)),
        endpoint("/staff", M::POST, || web::post().to(staff::create)),
        endpoint("/staff/{id}", M::GET, || web::get().to(staff::get)),
        endpoint("/staff/{id}", M::PATCH, || web::patch().to(staff::update)),
        endpoint("/staff/{id}", M::DELETE, || web::delete().to(staff::delete)),
        // Services.
        endpoint("/services", M::GET, || web::get().to(services::list)),
        endpoint("/services", M::POST, || web::post().to(services::create)),
        endpoint("/services/{id}", M::GET, || web::get().to(services::get)),
        endpoint("/services/{id}", M::PATCH, || {
            web::patch().to(services::update)
        }),
        endpoint("/services/{id}", M::DELETE, || {
            web::delete().to(services::delete)
        }),
        // Customers.
        endpoint("/customers", M::GET, || web::get().to(customers::list)),
        endpoint("/customers", M::POST, || web::post().to(customers::create)),
        endpoint("/customers/{id}", M::GET, || web::get().to(customers::get)),
        endpoint("/customers/{id}", M::PATCH, || {
            web::patch().to(customers::update)
        }),
        endpoint("/customers/{id}", M::DELETE, || {
            web::delete().to(customers::delete)
        }),
        // Appointments.
        endpoint("/appointments", M::GET, || {
            web::get().to(appointments::list)
        }),
        endpoint("/appointments", M::POST, || {
            web::post().to(appointments::create)
        }),
        endpoint("/appointments/{id}", M::GET, || {
            web::get().to(appointments::get)
        }),
        endpoint("/appointments/{id}/cancel", M::POST, || {
            web::post().to(appointments::cancel)
        }),
        endpoint("/appointments/{id}/reschedule", M::POST, || {
            web::post().to(appointments::reschedule)
        }),
        // Notifications: `deliveries` before `{id}`, which would take it for an id.
        endpoint("/webhooks", M::GET, || web::get().to(webhooks::list)),
        endpoint("/webhooks", M::POST, || web::post().to(webhooks::create)),
        endpoint("/webhooks/deliveries", M::GET, || {
            web::get().to(webhooks::deliveries)
        }),
        endpoint("/webhooks/deliveries/{id}", M::GET, || {
            web::get().to(webhooks::delivery)
        }),
        endpoint("/webhooks/deliveries/{id}/redeliver", M::POST, || {
            web::post().to(webhooks::redeliver)
        }),
        endpoint("/webhooks/{id}", M::GET, || web::get().to(webhooks::get)),
        endpoint("/webhooks/{id}", M::PATCH, || {
            web::patch().to(webhooks::update)
        }),
        endpoint("/webhooks/{id}", M::DELETE, || {
            web::delete().to(webhooks::delete)
        }),
        endpoint("/notifications", M::GET, || web::get().to(webhooks::log)),
    ]
}

/// The `/api/v1` scope with every route of [`endpoints`]; a known path with another method
/// is 405, an unknown path 404, both with our error body.
pub fn scope() -> actix_web::Scope {
    let mut scope = web::scope("/api/v1")
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BYTES)
                .error_handler(json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error));
    let table = endpoints();
    let mut paths: Vec<&'static str> = Vec::new();
    for e in &table {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        for e in table.iter().filter(|e| e.path == path) {
            resource = resource.route((e.route)());
        }
        scope = scope.service(resource.default_service(web::to(method_not_allowed)));
    }
    scope.default_service(web::to(no_such_endpoint))
}

/// Unknown paths below `/api/v1` answer with our error body, like the rest of the server.
async fn no_such_endpoint() -> Result<HttpResponse, ApiError> {
    Err(ApiError::route_not_found())
}

/// A known path with a method it does not have.
async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not support that method",
    ))
}

/// Unreadable JSON bodies as our error body instead of actix's plain text.
fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let answer = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::payload_too_large(*limit),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("the body is not valid JSON: {e}"))
        }
        _ => ApiError::bad_request("the body could not be read"),
    };
    answer.into()
}

fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("the query string could not be read: {error}")).into()
}
