//! Retell custom functions: arguments validated into domain types, answers with structured
//! fields and a sentence the agent can say. A caller-level failure (slot taken, closed, unknown
//! service) is a 200 with an error code and alternatives; only our own failures are 5xx.

//!
//! Each function is a module of its own that reads its arguments through [`args`] (shared, so
//! every function understands a phone number, a date or a slot id the same way), calls one use
//! case of `crate::app` and puts the outcome into words ([`offers`], `crate::retell::speech`).

mod answer;
mod args;
mod book_appointment;
mod cancel_appointment;
mod check_availability;
mod context;
mod get_branch_info;
mod offers;
mod request_callback;
mod reschedule_appointment;

use super::verified::SignedBody;
use crate::app::calls::CallFacts;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::metrics::RETELL_FUNCTIONS_TOTAL;
use crate::retell::payload::FunctionCall;
use crate::retell::speech::{Need, Tongue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use answer::Answer;
use args::Args;
use callflow_actors::domain::{CallId, E164Number};
use context::FunctionContext;
use serde_json::Value;

/// The functions callflow offers a Retell agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// Free slots for a service, day and time of day.
    CheckAvailability,
    /// Hold and book a slot.
    BookAppointment,
    /// Cancel an appointment.
    CancelAppointment,
    /// Move an appointment (the new time is taken before the old one is freed).
    RescheduleAppointment,
    /// Open (or merge into) a callback request.
    RequestCallback,
    /// Address, opening hours, services.
    GetBranchInfo,
}

impl Function {
    /// Every function, for docs and the 404 message.
    pub const ALL: [Function; 6] = [
        Function::CheckAvailability,
        Function::BookAppointment,
        Function::CancelAppointment,
        Function::RescheduleAppointment,
        Function::RequestCallback,
        Function::GetBranchInfo,
    ];

    /// The name in the URL and in Retell's tool configuration.
    pub fn name(self) -> &'static str {
        match self {
            Function::CheckAvailability => "check_availability",
            Function::BookAppointment => "book_appointment",
            Function::CancelAppointment => "cancel_appointment",
            Function::RescheduleAppointment => "reschedule_appointment",
            Function::RequestCallback => "request_callback",
            Function::GetBranchInfo => "get_branch_info",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `?call_id=…`: how an args-only tool names its call (Retell fills `{{call_id}}` in the URL).
#[derive(Debug, serde::Deserialize)]
pub struct FunctionQuery {
    call_id: Option<String>,
}

/// `POST /retell/functions/{name}`.
pub async fn handle(
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: web::Query<FunctionQuery>,
    body: SignedBody,
) -> Result<HttpResponse, ApiError> {
    let function = Function::parse(&name).ok_or_else(|| {
        let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_function",
            format!("no function `{name}`; callflow offers {}", known.join(", ")),
        )
    })?;
    let request = FunctionCall::from_json(body.json::<Value>()?)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "malformed_function_call", m))?;
    if !request.names_function(function.name()) {
        metrics::counter!(RETELL_FUNCTIONS_TOTAL, "function" => function.name(), "outcome" => "function_mismatch")
            .increment(1);
        tracing::warn!(
            path = function.name(),
            "refused a function call whose body names another function"
        );
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "function_mismatch",
            format!(
                "the body names another function than `{}`, the one in the path",
                function.name()
            ),
        ));
    }
    let args = Args(&request.args);
    let call_id = request
        .call
        .as_ref()
        .map(|c| c.call_id.as_str())
        .or(query.call_id.as_deref())
        .or_else(|| args.text(&["call_id"]))
        .and_then(|id| CallId::parse(id).ok());
    let Some(call_id) = call_id else {
        return Ok(reply(
            function,
            Answer::need(Tongue::En, "unknown_call", Need::Call),
        ));
    };
    let call = request.call.as_ref();
    let (to, from) = (
        call.and_then(|c| c.dialled()),
        call.and_then(|c| c.caller()),
    );
    let facts = to.as_ref().map(|to| CallFacts {
        to,
        from: from.as_ref(),
        agent: call.and_then(|c| c.agent_id.as_deref()),
        branch_hint: call.and_then(|c| c.branch_hint()),
        detected_language: call.and_then(|c| c.language()),
    });
    let app = &state.app;
    let active = match app.calls.active_call(&call_id, facts).await {
        Ok(active) => active,
        Err(e) => {
            let tongue = call
                .and_then(|c| c.language())
                .map_or(Tongue::En, Tongue::from);
            return Ok(unavailable(function, tongue, &e));
        }
    };
    let Some(active) = active else {
        return Ok(reply(
            function,
            Answer::need(Tongue::En, "unknown_call", Need::Call),
        ));
    };
    let ctx = FunctionContext {
        app,
        region: active
            .context
            .caller
            .as_ref()
            .and_then(E164Number::region)
            .unwrap_or_else(|| app.callbacks.settings().callbacks.default_region.clone()),
        tongue: Tongue::from(active.context.language),
        now: app.bookings.now(),
        active,
    };
    let answer = match function {
        Function::CheckAvailability => check_availability::run(&ctx, args).await,
        Function::BookAppointment => book_appointment::run(&ctx, args).await,
        Function::CancelAppointment => cancel_appointment::run(&ctx, args).await,
        Function::RescheduleAppointment => reschedule_appointment::run(&ctx, args).await,
        Function::RequestCallback => request_callback::run(&ctx, args).await,
        Function::GetBranchInfo => Ok(get_branch_info::run(&ctx)),
    };
    match answer {
        Ok(answer) => Ok(reply(function, answer)),
        Err(e) => Ok(unavailable(function, ctx.tongue, &*e)),
    }
}

/// Our failure, not the caller's: still a sentence the agent can say, with a 503 so Retell
/// retries (booking is idempotent, so a retry cannot book twice).
fn unavailable(function: Function, tongue: Tongue, e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, function = function.name(), "custom function failed");
    metrics::counter!(RETELL_FUNCTIONS_TOTAL, "function" => function.name(), "outcome" => "failed")
        .increment(1);
    HttpResponse::ServiceUnavailable()
        .json(Answer::fail("temporarily_unavailable", tongue.try_later()).into_json())
}

fn reply(function: Function, answer: Answer) -> HttpResponse {
    let outcome = answer.code.unwrap_or("ok");
    metrics::counter!(RETELL_FUNCTIONS_TOTAL, "function" => function.name(), "outcome" => outcome)
        .increment(1);
    HttpResponse::Ok().json(answer.into_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_name_round_trips() {
        for f in Function::ALL {
            assert_eq!(Function::parse(f.name()), Some(f));
        }
        assert_eq!(Function::parse("drop_tables"), None);
    }
}
