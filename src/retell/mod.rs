//! Retell AI: signed webhooks, the inbound answer, call events and custom functions.
//!
//! Every request is verified on its raw bytes before anything else reads it
//! ([`verified::SignedBody`]); payloads are parsed tolerantly ([`payload`]); the engine is
//! reached through [`context`], so inbound answers, events and functions place a call alike.

pub mod context;
pub mod events;
pub mod followup;
pub mod functions;
pub mod inbound;
pub mod payload;
pub mod send;
pub mod signature;
pub mod speech;
pub mod verified;

use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use payload::{EventHead, InboundEnvelope};
use verified::SignedBody;

/// Registers `POST /retell/webhook` and `POST /retell/functions/{name}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/retell/webhook", web::post().to(webhook)).route(
        "/retell/functions/{name}",
        web::post().to(functions::handle),
    );
}

/// `POST /retell/webhook`: `call_inbound` is answered with the branch's details; every other
/// event is accepted (2xx) once durable.
async fn webhook(state: web::Data<AppState>, body: SignedBody) -> Result<HttpResponse, ApiError> {
    // The event name first: an unknown event is accepted whatever else its body holds.
    let head: EventHead = body.json()?;
    if head.event == "call_inbound" {
        let envelope: InboundEnvelope = body.json()?;
        let inbound = envelope.call_inbound.ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_event",
                "a call_inbound event needs a `call_inbound` object",
            )
        })?;
        let answer = inbound::answer(&state, &inbound).await.map_err(|e| {
            tracing::error!(error = %e, "could not answer an inbound call");
            ApiError::unavailable("inbound call could not be answered; please retry")
        })?;
        metrics::counter!(crate::metrics::RETELL_WEBHOOKS_TOTAL, "event" => "call_inbound", "outcome" => "accepted").increment(1);
        return Ok(HttpResponse::Ok().json(answer));
    }
    events::handle(state, &head.event, &body).await
}
