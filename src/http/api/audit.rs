//! The audit log over HTTP: who the operator of a request is ([`actor`]), [`record`] for the
//! handlers' own changes (the entry itself is `crate::app::audit`), and `GET /api/v1/audit`.
//!
//! The client IP follows the rate limiter's rule: the peer address, or the
//! `Forwarded`/`X-Forwarded-For` address when `rate_limits.trust_forwarded_for` is on.

use super::auth::{store_error, Caller};
use super::cursor;
use super::input::{self, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::admin_query::{AuditFilter, AuditRecord};
use callflow_actors::domain::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

pub use crate::app::audit::{json, Actor, Change, AUDIT_FAILURES_TOTAL};

/// Most entries one page holds.
pub const MAX_LIMIT: u32 = 500;

/// The client address of `req`, by the rate limiter's rule.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        let info = req.connection_info();
        if let Some(ip) = info.realip_remote_addr().and_then(parse_ip) {
            return Some(ip);
        }
    }
    req.peer_addr().map(|a| a.ip())
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        })
}

/// The operator behind an admin request, as the use cases see them.
pub fn actor(state: &AppState, caller: &Caller, req: &HttpRequest) -> Actor {
    Actor {
        company_id: caller.company_id,
        token_id: caller.token_id,
        staff_id: caller.staff_id,
        ip: client_ip(req, state.config.rate_limits.trust_forwarded_for),
    }
}

/// Appends `change` to the caller's company's audit log (see `crate::app::audit` on failures).
pub async fn record(state: &AppState, caller: &Caller, req: &HttpRequest, change: Change<'_>) {
    let actor = actor(state, caller, req);
    crate::app::audit::record(&*state.store, &actor, change, state.app.bookings.now()).await;
}

#[derive(Serialize)]
struct Page {
    entries: Vec<AuditRecord>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/audit?entity_type=&entity_id=&action=&since=&cursor=&limit=`: admins only,
/// newest first.
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    if caller.role != Role::Admin {
        return Err(ApiError::forbidden("only admins may read the audit log"));
    }
    let mut q = Input::from_query(&query);
    let word = |raw: &str| -> Result<String, String> {
        if raw.chars().count() > 200 {
            Err("is too long".into())
        } else {
            Ok(raw.to_owned())
        }
    };
    let filter = AuditFilter {
        entity_type: q.parsed("entity_type", word),
        entity_id: q.parsed("entity_id", word),
        action: q.parsed("action", word),
        since: input::time(&mut q, "since"),
        before_id: q.parsed("cursor", |raw| {
            cursor::parse_audit(raw).ok_or_else(|| cursor::INVALID.to_owned())
        }),
        limit: input::limit(&mut q, 50, MAX_LIMIT),
    };
    q.finish()?;
    let limit = filter.limit;
    let entries = state
        .store
        .find_audit(caller.company_id, &filter)
        .await
        .map_err(store_error)?;
    let next_cursor = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| cursor::audit(e.id)))
        .flatten();
    Ok(HttpResponse::Ok().json(Page {
        entries,
        next_cursor,
    }))
}
