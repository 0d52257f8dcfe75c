//! The Retell adapter: `POST /retell/webhook` and `POST /retell/functions/{name}`.
//!
//! Every request is verified on its raw bytes before anything else reads it
//! ([`verified::SignedBody`]), parsed with the wire types of `crate::retell::payload`, handed to
//! one use case of `crate::app` and answered in Retell's shapes.

mod events;
pub mod functions;
pub mod inbound;
pub mod verified;

use crate::http::error::ApiError;
use crate::http::AppState;
use crate::retell::payload::{EventHead, InboundEnvelope, WebhookEvent};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
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
    let event = WebhookEvent::parse(&head.event);
    if event != WebhookEvent::CallInbound {
        return events::handle(&state, event, &head.event, &body).await;
    }
    let envelope: InboundEnvelope = body.json()?;
    let inbound = envelope.call_inbound.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            "a call_inbound event needs a `call_inbound` object",
        )
    })?;
    let answer = inbound::answer(&state.app.calls, &inbound)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not answer an inbound call");
            ApiError::unavailable("inbound call could not be answered; please retry")
        })?;
    metrics::counter!(crate::metrics::RETELL_WEBHOOKS_TOTAL, "event" => "call_inbound", "outcome" => "accepted").increment(1);
    Ok(HttpResponse::Ok().json(answer))
}
