//! The extractor every Retell endpoint takes its body through: the raw bytes, accepted only
//! when `X-Retell-Signature` verifies on exactly those bytes.

use crate::http::error::ApiError;
use crate::http::unstorable;
use crate::http::AppState;
use crate::retell::signature::{self, SignatureError};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

pub use crate::retell::signature::SIGNATURE_HEADER;

/// A request body whose Retell signature verified.
pub struct SignedBody(pub web::Bytes);

impl SignedBody {
    /// The body parsed as JSON (400 with the position of the problem when it is not), with
    /// every NUL stripped from its strings: no backend can store one (see
    /// [`crate::http::unstorable`]), and a transcript or a name is no less usable without it.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let malformed = |e: &dyn std::fmt::Display| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("request body is not a valid Retell payload: {e}"),
            )
        };
        let mut value: serde_json::Value =
            serde_json::from_slice(&self.0).map_err(|e| malformed(&e))?;
        unstorable::strip(&mut value);
        serde_path_to_error::deserialize(value).map_err(|e| malformed(&e))
    }
}

impl FromRequest for SignedBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let header = req
            .headers()
            .get(SIGNATURE_HEADER)
            .map(|v| v.to_str().map(str::to_owned));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::unavailable("server is starting"))?;
            let body = body.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(state.config.server.max_body_bytes)
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_body",
                        "could not read the body",
                    )
                }
            })?;
            let header = match header {
                None => None,
                // A header with bytes that are not visible ASCII cannot be a valid signature.
                Some(Err(_)) => return Err(refuse(SignatureError::Malformed)),
                Some(Ok(value)) => Some(value),
            };
            let retell = &state.config.retell;
            let tolerance_ms = i64::try_from(retell.signature_tolerance_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            signature::verify(
                header.as_deref(),
                &body,
                retell.api_key.expose().as_bytes(),
                chrono::Utc::now().timestamp_millis(),
                tolerance_ms,
            )
            .map_err(refuse)?;
            Ok(SignedBody(body))
        })
    }
}

/// 401 without detail: the reason goes to the log and a metric, never to the caller.
fn refuse(reason: SignatureError) -> ApiError {
    let label = match reason {
        SignatureError::Missing => "missing",
        SignatureError::Malformed => "malformed",
        SignatureError::Stale => "stale",
        SignatureError::Mismatch => "mismatch",
    };
    metrics::counter!(crate::metrics::RETELL_SIGNATURE_FAILURES_TOTAL, "reason" => label)
        .increment(1);
    tracing::warn!(
        reason = label,
        "refused a Retell request with a bad signature"
    );
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized")
}
