//! `/api/v1/webhooks` and `/api/v1/notifications`: notification subscriptions, their
//! deliveries (dead letters included) and the log of every attempt. Admins only (403 for other
//! roles); another company's subscriptions and deliveries answer 404.
//!
//! - `POST /webhooks` `{"kind", "target", "name"?, "description"?, "event_types"?}` → 201 with
//!   the subscription and its signing `secret`, shown this once. `kind` is `webhook` (target:
//!   an http(s) URL), `slack` or `teams` (an https URL; plain http only to a loopback host),
//!   or `email` (an address; needs `[smtp]`). `event_types` are `EventType` names; empty or
//!   absent means every event.
//! - `GET /webhooks`, `GET /webhooks/{id}`: never with the secret.
//! - `PATCH /webhooks/{id}` with any of `name`, `description` (null clears), `target`,
//!   `event_types`, `active` (switching on clears `disabled_reason`); `kind` cannot change.
//! - `DELETE /webhooks/{id}` → 204; its queued deliveries go with it (the log stays).
//! - `GET /webhooks/deliveries?status=pending|delivered|dead&subscription=ID&limit=N` (newest
//!   first, limit 1–500, default 100), `GET /webhooks/deliveries/{id}`.
//! - `POST /webhooks/deliveries/{id}/redeliver` → 200: a dead or delivered delivery is queued
//!   again, due now, with a fresh attempt budget; 409 when it is still pending.
//! - `GET /notifications?delivery=ID&limit=N`: the attempt log, newest first.
//!
//! Every change is written to the audit log (`webhook.create`, `webhook.update`,
//! `webhook.delete`, `webhook.redeliver`), without secrets.

use super::access::created;
use super::audit::{self, Change};
use super::auth::Caller;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::notify::outbox::{self, NewSubscription, OutboxError, Redelivered, SubscriptionPatch};
use crate::notify::signature;
use crate::notify::target::{parse_event_types, parse_target, Kind};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use callflow_actors::domain::Role;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most rows one list answer holds.
pub const MAX_LIST_LIMIT: u32 = 500;
/// Rows a list answers without `limit`.
const DEFAULT_LIST_LIMIT: u32 = 100;
/// Longest name.
const MAX_NAME_CHARS: usize = 200;
/// Longest description.
const MAX_DESCRIPTION_CHARS: usize = 2000;

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only admins manage notification subscriptions",
        ))
    }
}

fn outbox_error(error: OutboxError) -> ApiError {
    match error {
        OutboxError::Database(
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
        ) => ApiError::unavailable("the database is unavailable; try again shortly"),
        other => ApiError::internal(&other),
    }
}

/// The caller's company's subscription named by the path; 404 when there is none (an id
/// that does not parse names none).
async fn find_subscription(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<outbox::Subscription, ApiError> {
    let id: Uuid = raw.parse().map_err(|_| no_subscription())?;
    outbox::subscription_by_id(&state.notify.db, caller.company_id, id)
        .await
        .map_err(outbox_error)?
        .ok_or_else(no_subscription)
}

/// The audit log's entity type of a subscription.
const SUBSCRIPTION: &str = "webhook_subscription";

fn no_subscription() -> ApiError {
    ApiError::not_found("no such webhook subscription")
}

fn no_delivery() -> ApiError {
    ApiError::not_found("no such delivery")
}

/// The body as an object, or 400.
fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

/// Reads the fields of a create or patch body, one message per bad field.
struct Fields {
    map: Map<String, Value>,
    problems: BTreeMap<String, String>,
}

impl Fields {
    fn new(mut map: Map<String, Value>, known: &[&str]) -> Self {
        let mut problems = BTreeMap::new();
        for (key, value) in map.iter_mut() {
            if !known.contains(&key.as_str()) {
                let key: String = key.chars().take(64).collect();
                problems.insert(key, "is not a field of this request".into());
            } else if crate::http::unstorable::contains(value) {
                // Refused (422) and stripped meanwhile: no backend can store a NUL.
                problems.insert(key.clone(), crate::http::unstorable::MESSAGE.into());
                crate::http::unstorable::strip(value);
            }
        }
        Self { map, problems }
    }

    fn present(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string field: `None` when absent (or null), trimmed.
    fn text(&mut self, key: &str, max: usize) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.problems
                        .insert(key.into(), format!("must be at most {max} characters"));
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            Some(_) => {
                self.problems.insert(key.into(), "must be a string".into());
                None
            }
        }
    }

    fn names(&mut self, key: &str) -> Option<Vec<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect();
                let Some(names) = names else {
                    self.problems
                        .insert(key.into(), "must be a list of event type names".into());
                    return None;
                };
                match parse_event_types(&names) {
                    Ok(types) => Some(types.iter().map(|t| t.as_str().to_owned()).collect()),
                    Err(e) => {
                        self.problems.insert(key.into(), e);
                        None
                    }
                }
            }
            Some(_) => {
                self.problems
                    .insert(key.into(), "must be a list of event type names".into());
                None
            }
        }
    }

    fn flag(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.problems
                    .insert(key.into(), "must be true or false".into());
                None
            }
        }
    }

    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.insert(key.into(), message.into());
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

/// A subscription just created, with its secret (shown once).
#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    subscription: &'a outbox::Subscription,
    secret: &'a str,
}

/// `POST /api/v1/webhooks`
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let mut fields = Fields::new(
        object(body.into_inner())?,
        &["kind", "target", "name", "description", "event_types"],
    );
    let kind = match fields.text("kind", 16) {
        None => {
            fields.problem("kind", "is required (webhook, slack, teams or email)");
            None
        }
        Some(raw) => match raw.parse::<Kind>() {
            Ok(Kind::Email) if !state.notify.email_enabled => {
                fields.problem(
                    "kind",
                    "e-mail needs an SMTP server: set [smtp] host in the configuration",
                );
                None
            }
            Ok(kind) => Some(kind),
            Err(e) => {
                fields.problem("kind", e);
                None
            }
        },
    };
    let raw_target = fields.text("target", usize::MAX);
    let target = match (kind, raw_target) {
        (Some(kind), Some(raw)) => match parse_target(kind, &raw) {
            Ok(t) => Some(t),
            Err(e) => {
                fields.problem("target", e);
                None
            }
        },
        (_, None) => {
            fields.problem("target", "is required");
            None
        }
        (None, Some(_)) => None,
    };
    let name = fields.text("name", MAX_NAME_CHARS);
    let description = fields
        .text("description", MAX_DESCRIPTION_CHARS)
        .filter(|d| !d.is_empty());
    let event_types = fields.names("event_types").unwrap_or_default();
    let (Some(kind), Some(target)) = (kind, target) else {
        return Err(fields.finish().err().unwrap_or_else(|| {
            ApiError::internal(&std::io::Error::other("validation lost its message"))
        }));
    };
    fields.finish()?;
    let secret = signature::new_secret().map_err(|e| ApiError::internal(&e))?;
    let new = NewSubscription {
        company_id: caller.company_id,
        name: name.unwrap_or_else(|| format!("{kind} subscription")),
        description,
        kind,
        target,
        secret,
        event_types,
    };
    let subscription = outbox::insert_subscription(&state.notify.db, &new, Utc::now())
        .await
        .map_err(outbox_error)?;
    let change = Change::created(
        "webhook.create",
        SUBSCRIPTION,
        subscription.id,
        &subscription,
    );
    audit::record(&state, &caller, &req, change).await;
    Ok(created(
        "/api/v1/webhooks",
        subscription.id,
        &Created {
            subscription: &subscription,
            secret: &new.secret,
        },
    ))
}

#[derive(Serialize)]
struct Listed<T: Serialize> {
    #[serde(flatten)]
    inner: BTreeMap<&'static str, Vec<T>>,
}

fn listed<T: Serialize>(key: &'static str, rows: Vec<T>) -> HttpResponse {
    HttpResponse::Ok().json(Listed {
        inner: BTreeMap::from([(key, rows)]),
    })
}

/// `GET /api/v1/webhooks`
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let rows = outbox::list_subscriptions(&state.notify.db, caller.company_id)
        .await
        .map_err(outbox_error)?;
    Ok(listed("webhooks", rows))
}

/// `GET /api/v1/webhooks/{id}`
pub async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    Ok(HttpResponse::Ok().json(find_subscription(&state, &caller, &id).await?))
}

/// `PATCH /api/v1/webhooks/{id}`
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let current = find_subscription(&state, &caller, &id).await?;
    let id = current.id;
    let mut fields = Fields::new(
        object(body.into_inner())?,
        &[
            "name",
            "description",
            "target",
            "event_types",
            "active",
            "kind",
        ],
    );
    if fields.present("kind") {
        fields.problem(
            "kind",
            "cannot change; create a new subscription of the other kind",
        );
    }
    let mut patch = SubscriptionPatch {
        name: fields.text("name", MAX_NAME_CHARS),
        ..SubscriptionPatch::default()
    };
    if fields.present("description") {
        patch.description = Some(
            fields
                .text("description", MAX_DESCRIPTION_CHARS)
                .filter(|d| !d.is_empty()),
        );
    }
    if let Some(raw) = fields.text("target", usize::MAX) {
        match parse_target(current.kind, &raw) {
            Ok(t) => patch.target = Some(t),
            Err(e) => fields.problem("target", e),
        }
    }
    if fields.present("event_types") {
        patch.event_types = Some(fields.names("event_types").unwrap_or_default());
    }
    patch.active = fields.flag("active");
    fields.finish()?;
    let db = &state.notify.db;
    let updated = outbox::update_subscription(db, caller.company_id, id, &patch, Utc::now())
        .await
        .map_err(outbox_error)?
        .ok_or_else(no_subscription)?;
    let change = Change::updated("webhook.update", SUBSCRIPTION, id, &current, &updated);
    audit::record(&state, &caller, &req, change).await;
    Ok(HttpResponse::Ok().json(updated))
}

/// `DELETE /api/v1/webhooks/{id}`
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let current = find_subscription(&state, &caller, &id).await?;
    // Still 404 if it went between the read and the delete: someone else deleted it.
    if !outbox::delete_subscription(&state.notify.db, caller.company_id, current.id)
        .await
        .map_err(outbox_error)?
    {
        return Err(no_subscription());
    }
    let change = Change::deleted("webhook.delete", SUBSCRIPTION, current.id, &current);
    audit::record(&state, &caller, &req, change).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of the delivery and log lists.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    subscription: Option<String>,
    delivery: Option<String>,
    limit: Option<String>,
}

impl ListQuery {
    fn limit(&self, problems: &mut BTreeMap<String, String>) -> u32 {
        match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LIST_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
                _ => {
                    problems.insert(
                        "limit".into(),
                        format!("must be a whole number from 1 to {MAX_LIST_LIMIT}"),
                    );
                    DEFAULT_LIST_LIMIT
                }
            },
        }
    }

    fn id(raw: Option<&str>, key: &str, problems: &mut BTreeMap<String, String>) -> Option<Uuid> {
        let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
        match raw.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                problems.insert(key.into(), "must be an id".into());
                None
            }
        }
    }
}

/// `GET /api/v1/webhooks/deliveries`
pub async fn deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let mut problems = BTreeMap::new();
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s @ ("pending" | "delivered" | "dead")) => Some(s),
        Some(_) => {
            problems.insert("status".into(), "must be pending, delivered or dead".into());
            None
        }
    };
    let subscription = ListQuery::id(query.subscription.as_deref(), "subscription", &mut problems);
    let limit = query.limit(&mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let rows = outbox::list_deliveries(
        &state.notify.db,
        caller.company_id,
        status,
        subscription,
        limit,
    )
    .await
    .map_err(outbox_error)?;
    Ok(listed("deliveries", rows))
}

/// `GET /api/v1/webhooks/deliveries/{id}`
pub async fn delivery(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let id: Uuid = id.parse().map_err(|_| no_delivery())?;
    let found = outbox::delivery_by_id(&state.notify.db, caller.company_id, id)
        .await
        .map_err(outbox_error)?
        .ok_or_else(no_delivery)?;
    Ok(HttpResponse::Ok().json(found))
}

/// `POST /api/v1/webhooks/deliveries/{id}/redeliver`
pub async fn redeliver(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let id: Uuid = id.parse().map_err(|_| no_delivery())?;
    match outbox::redeliver(&state.notify.db, caller.company_id, id, Utc::now())
        .await
        .map_err(outbox_error)?
    {
        Redelivered::Queued(delivery) => {
            state.notify.wake();
            // The entry records what redelivering changed: the status and the fresh count.
            let queued =
                serde_json::json!({"status": delivery.status, "attempts": delivery.attempts});
            let change = Change::created("webhook.redeliver", "webhook_delivery", id, &queued);
            audit::record(&state, &caller, &req, change).await;
            Ok(HttpResponse::Ok().json(delivery))
        }
        Redelivered::AlreadyPending => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the delivery is still pending; it is retried on its own",
        )),
        Redelivered::NotFound => Err(no_delivery()),
    }
}

/// `GET /api/v1/notifications`
pub async fn log(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&caller)?;
    let mut problems = BTreeMap::new();
    let delivery = ListQuery::id(query.delivery.as_deref(), "delivery", &mut problems);
    let limit = query.limit(&mut problems);
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let rows = outbox::list_log(&state.notify.db, caller.company_id, delivery, limit)
        .await
        .map_err(outbox_error)?;
    Ok(listed("notifications", rows))
}
