//! The JSON error body every endpoint uses: `{"error": {"code": "...", "message": "..."}}`,
//! plus `"fields": {"name": "what is wrong"}` when submitted values are invalid (422).
//! 5xx bodies never carry internals; the cause is logged with the request id instead.

use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// An error answer with a stable machine-readable code and a sentence for people.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: BTreeMap<String, String>,
    /// Answer with `WWW-Authenticate: Bearer` (a 401 of the bearer-token API).
    bearer_challenge: bool,
    /// Answer with `Retry-After: <seconds>` (a 429).
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fields: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            bearer_challenge: false,
            retry_after: None,
        }
    }

    /// 400 for a body or query that cannot be read at all (malformed JSON, wrong content type).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 for readable input with invalid values: one message per field name.
    pub fn invalid_fields(fields: BTreeMap<String, String>) -> Self {
        Self {
            fields,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "some values are invalid; see fields",
            )
        }
    }

    /// 401 when credentials are missing or not valid; answered with a `WWW-Authenticate:
    /// Bearer` challenge.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            bearer_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }

    /// 403 when the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for something that does not exist, or that the caller may not know exists.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The per-field messages of a 422 (empty otherwise).
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// 404 for a path that does not exist.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// 413 for a body over the configured limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 429 when a rate limit is exhausted; answered with `Retry-After` in whole seconds (at
    /// least 1), rounded up from `wait`.
    pub fn rate_limited(wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        Self {
            retry_after: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; try again in {secs} s"),
            )
        }
    }

    /// 503 while a dependency is down.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 for an unexpected failure: logs the cause, answers without it.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.bearer_challenge {
            // RFC 6750: a 401 tells the client which scheme to authenticate with.
            response.insert_header((
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"callflow\""),
            ));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((RETRY_AFTER, secs));
        }
        response.json(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
            fields: &self.fields,
        })
    }
}

pub use crate::telemetry::ErrorChain;
