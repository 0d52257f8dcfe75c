//! The audit log: [`record`] writes one entry per change made through the admin API (token,
//! action, entity, old and new values, client IP, time), and `GET /api/v1/audit` reads them.
//!
//! Entries are written right after the change is durable. The change and its entry are two
//! writes, not one transaction: if the entry cannot be written the change stands, the failure
//! is logged at error level and counted in `callflow_audit_failures_total`, and the client
//! still gets the answer for the change it made.
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
use chrono::Utc;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};

/// Counts audit entries that could not be written.
pub const AUDIT_FAILURES_TOTAL: &str = "callflow_audit_failures_total";

/// Most entries one page holds.
pub const MAX_LIMIT: u32 = 500;

/// One change to record.
pub struct Change<'a> {
    /// What was done: `<entity>.<verb>` (`staff.update`, `callback.assign`, …).
    pub action: &'a str,
    /// Kind of entity (`branch`, `phone_number`, `staff`, `service`, `customer`,
    /// `appointment`, `callback`).
    pub entity_type: &'a str,
    /// Which one.
    pub entity_id: String,
    /// Before (none for a creation).
    pub old: Option<serde_json::Value>,
    /// After (none for a deletion).
    pub new: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    /// `entity` was created: nothing before.
    pub fn created<T: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        entity: &T,
    ) -> Self {
        Self::new(action, entity_type, entity_id, None, json(entity))
    }

    /// `old` became `new` (an update, or a state change such as a deactivation).
    pub fn updated<T: Serialize, U: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: &T,
        new: &U,
    ) -> Self {
        Self::new(action, entity_type, entity_id, json(old), json(new))
    }

    /// `old` was deleted: nothing after.
    pub fn deleted<T: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: &T,
    ) -> Self {
        Self::new(action, entity_type, entity_id, json(old), None)
    }

    fn new(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
    ) -> Self {
        Self {
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            old,
            new,
        }
    }
}

/// A value as JSON for the log (`None` if it cannot be serialised, which our types always can).
pub fn json<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

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

/// Appends `change` to the caller's company's audit log (see the module docs on failures).
pub async fn record(state: &AppState, caller: &Caller, req: &HttpRequest, change: Change<'_>) {
    let entry = AuditEntry {
        company_id: caller.company_id,
        token_id: Some(caller.token_id),
        action: change.action.to_owned(),
        entity_type: change.entity_type.to_owned(),
        entity_id: change.entity_id,
        old_value: change.old,
        new_value: change.new,
        ip: client_ip(req, state.config.rate_limits.trust_forwarded_for).map(|ip| ip.to_string()),
        at: Utc::now(),
    };
    if let Err(error) = state.store.append_audit(&entry).await {
        metrics::counter!(AUDIT_FAILURES_TOTAL).increment(1);
        tracing::error!(
            error = %crate::http::error::ErrorChain(&error),
            action = %entry.action,
            entity_type = %entry.entity_type,
            entity_id = %entry.entity_id,
            token_id = %caller.token_id,
            "audit entry lost: the change was made but could not be logged"
        );
    }
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
