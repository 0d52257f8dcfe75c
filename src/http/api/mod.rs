//! The admin API under `/api/v1`: JSON in and out, bearer-token auth ([`auth::Caller`]), every
//! query scoped to the caller's company.
//!
//! Errors follow `super::error`: 400 when a body or query cannot be read (malformed JSON),
//! 415 for a body that is not JSON, 422 with per-field messages for invalid values, 401 without
//! a valid token, 403 for a branch the caller may not act for, 404 for what does not exist or
//! belongs to someone else, 413 for oversized bodies.

pub mod auth;
pub mod callbacks;
pub mod webhooks;

use super::error::ApiError;
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

/// Largest JSON body the admin API reads (`server.max_body_bytes` applies too; the smaller
/// wins). Admin requests are small; this keeps a slow client from making us buffer much.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The `/api/v1` scope with every admin route.
pub fn scope() -> actix_web::Scope {
    web::scope("/api/v1")
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BYTES)
                .error_handler(json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .service(
            web::resource("/callbacks")
                .route(web::post().to(callbacks::create))
                .route(web::get().to(callbacks::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/callbacks/bulk")
                .route(web::post().to(callbacks::bulk))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/callbacks/{id}")
                .route(web::get().to(callbacks::get))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/callbacks/{id}/{action}")
                .route(web::post().to(callbacks::act))
                .default_service(web::to(method_not_allowed)),
        )
        // Notifications (src/http/api/webhooks.rs); `deliveries` before `{id}`, which would
        // take it for an id.
        .service(
            web::resource("/webhooks")
                .route(web::post().to(webhooks::create))
                .route(web::get().to(webhooks::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/webhooks/deliveries")
                .route(web::get().to(webhooks::deliveries))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/webhooks/deliveries/{id}")
                .route(web::get().to(webhooks::delivery))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/webhooks/deliveries/{id}/redeliver")
                .route(web::post().to(webhooks::redeliver))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/webhooks/{id}")
                .route(web::get().to(webhooks::get))
                .route(web::patch().to(webhooks::update))
                .route(web::delete().to(webhooks::delete))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/notifications")
                .route(web::get().to(webhooks::log))
                .default_service(web::to(method_not_allowed)),
        )
        .default_service(web::to(no_such_endpoint))
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
