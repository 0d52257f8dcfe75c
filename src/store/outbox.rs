//! The notification tables: subscriptions, the delivery outbox and the attempt log (used by
//! `crate::notify`, which re-exports this module as `notify::outbox`).
//!
//! One set of statements for both backends (`$N` placeholders, `RETURNING`, `ON CONFLICT`);
//! [`on_pool!`] instantiates each for the pool at hand. Times are computed in Rust and bound,
//! so no SQL date function differs between SQLite and Postgres.

use super::Database;
use crate::notify::target::Kind;
use callflow_actors::domain::CompanyId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::FromRow;
use uuid::Uuid;

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database failed.
    #[error("notification store: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value is not what we write.
    #[error("notification store holds an invalid value: {0}")]
    Corrupt(String),
}

/// A subscription as shown to admins (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    /// Identity.
    pub id: Uuid,
    /// Label for people.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// How it is delivered.
    pub kind: Kind,
    /// URL or e-mail address.
    pub target: String,
    /// Event type names it takes; empty takes all.
    pub event_types: Vec<String>,
    /// Whether events are queued for it.
    pub active: bool,
    /// Why it was switched off automatically (410 Gone), if it was.
    pub disabled_reason: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A new subscription, validated.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    /// Owner.
    pub company_id: CompanyId,
    /// Label.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// How.
    pub kind: Kind,
    /// Where.
    pub target: String,
    /// The signing secret.
    pub secret: String,
    /// Filter (names); empty takes all.
    pub event_types: Vec<String>,
}

/// A change to a subscription; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionPatch {
    /// New label.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New target, already validated for the subscription's kind.
    pub target: Option<String>,
    /// New filter.
    pub event_types: Option<Vec<String>>,
    /// Switch on or off (switching on clears `disabled_reason`).
    pub active: Option<bool>,
}

/// A delivery as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    /// Identity.
    pub id: Uuid,
    /// The subscription, or `None` for a built-in staff alert.
    pub subscription_id: Option<Uuid>,
    /// How.
    pub kind: Kind,
    /// The alert's recipient (built-in alerts only).
    pub recipient: Option<String>,
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// The last HTTP status or SMTP reply code.
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The event body as sent (`{"id","type","at","data"}`).
    pub payload: serde_json::Value,
}

/// A delivery a worker has claimed (its lease runs) and must now attempt.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// Identity.
    pub id: Uuid,
    /// The subscription, or `None` for a built-in alert.
    pub subscription_id: Option<Uuid>,
    /// Owner.
    pub company_id: CompanyId,
    /// How.
    pub kind: Kind,
    /// Recipient of a built-in alert.
    pub recipient: Option<String>,
    /// The event.
    pub event_id: Uuid,
    /// Its type name.
    pub event_type: String,
    /// The event body.
    pub payload: serde_json::Value,
    /// This attempt's number (1 for the first); also the fence of the lease: only the
    /// holder of this attempt may record its outcome.
    pub attempt: i32,
}

/// Where a claimed delivery goes, read when it is attempted (so a changed URL applies to
/// retries).
#[derive(Clone, Debug)]
pub struct Destination {
    /// URL or address.
    pub target: String,
    /// Signing secret (webhooks).
    pub secret: String,
    /// False when the subscription was switched off or deleted.
    pub active: bool,
}

/// How an attempt ended, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the receiver.
    Delivered,
    /// Failed; retried at `next_attempt_at`.
    Retry(DateTime<Utc>),
    /// Failed for the last time.
    Dead,
    /// The receiver answered 410 Gone: dead, and the subscription switched off.
    Gone,
}

impl Outcome {
    /// The log's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::Dead => "dead",
            Outcome::Gone => "gone",
        }
    }
}

/// One attempt's record.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// What happened.
    pub outcome: Outcome,
    /// HTTP status or SMTP reply code.
    pub status_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
    /// Redacted target for the log.
    pub target: String,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// One line of the notification log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntry {
    /// Identity (increasing).
    pub id: i64,
    /// The delivery.
    pub delivery_id: Uuid,
    /// Its subscription (none for built-in alerts).
    pub subscription_id: Option<Uuid>,
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// How.
    pub kind: String,
    /// URL without path, or e-mail address.
    pub target: String,
    /// Attempt number.
    pub attempt: i32,
    /// `delivered`, `retry`, `dead` or `gone`.
    pub outcome: String,
    /// HTTP status or SMTP reply code.
    pub status_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: i32,
    /// When.
    pub at: DateTime<Utc>,
}

/// A delivery row to queue.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// The subscription, or `None` for a built-in alert.
    pub subscription_id: Option<Uuid>,
    /// How.
    pub kind: Kind,
    /// Recipient of a built-in alert.
    pub recipient: Option<String>,
}

fn kind_of(raw: &str) -> Result<Kind, OutboxError> {
    raw.parse()
        .map_err(|_| OutboxError::Corrupt(format!("kind {raw:?}")))
}

const SUBSCRIPTION_COLUMNS: &str = "id, name, description, kind, target, event_types, active, \
     disabled_reason, created_at, updated_at";

/// A row of [`SUBSCRIPTION_COLUMNS`], in that order.
type SubscriptionRow = (
    Uuid,
    String,
    Option<String>,
    String,
    String,
    Json<Vec<String>>,
    bool,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn subscription(row: SubscriptionRow) -> Result<Subscription, OutboxError> {
    Ok(Subscription {
        id: row.0,
        name: row.1,
        description: row.2,
        kind: kind_of(&row.3)?,
        target: row.4,
        event_types: row.5 .0,
        active: row.6,
        disabled_reason: row.7,
        created_at: row.8,
        updated_at: row.9,
    })
}

/// The row of `table` with `id` if it belongs to `company`, as `columns`.
async fn company_row<R>(
    db: &Database,
    columns: &str,
    table: &str,
    company: CompanyId,
    id: Uuid,
) -> Result<Option<R>, OutboxError>
where
    R: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let sql = format!("SELECT {columns} FROM {table} WHERE company_id = $1 AND id = $2");
    let row = on_pool!(db, |pool| sqlx::query_as(&sql)
        .bind(company.0)
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    Ok(row)
}

/// Stores a new subscription.
pub async fn insert_subscription(
    db: &Database,
    new: &NewSubscription,
    now: DateTime<Utc>,
) -> Result<Subscription, OutboxError> {
    let id = Uuid::now_v7();
    let sql = "INSERT INTO webhook_subscriptions \
         (id, company_id, kind, target, secret, event_types, active, created_at, name, description, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, $9, $7)";
    on_pool!(db, |pool| sqlx::query(sql)
        .bind(id)
        .bind(new.company_id.0)
        .bind(new.kind.as_str())
        .bind(&new.target)
        .bind(&new.secret)
        .bind(Json(&new.event_types))
        .bind(now)
        .bind(&new.name)
        .bind(&new.description)
        .execute(pool)
        .await
        .map(|_| ()))?;
    subscription_by_id(db, new.company_id, id)
        .await?
        .ok_or_else(|| OutboxError::Corrupt("inserted subscription vanished".into()))
}

/// The company's subscriptions, oldest first.
pub async fn list_subscriptions(
    db: &Database,
    company: CompanyId,
) -> Result<Vec<Subscription>, OutboxError> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE company_id = $1 \
         ORDER BY created_at, id"
    );
    let rows: Vec<SubscriptionRow> = on_pool!(db, |pool| sqlx::query_as(&sql)
        .bind(company.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(subscription).collect()
}

/// One of the company's subscriptions.
pub async fn subscription_by_id(
    db: &Database,
    company: CompanyId,
    id: Uuid,
) -> Result<Option<Subscription>, OutboxError> {
    company_row(
        db,
        SUBSCRIPTION_COLUMNS,
        "webhook_subscriptions",
        company,
        id,
    )
    .await?
    .map(subscription)
    .transpose()
}

/// Applies `patch` to one of the company's subscriptions; `None` when there is no such one.
pub async fn update_subscription(
    db: &Database,
    company: CompanyId,
    id: Uuid,
    patch: &SubscriptionPatch,
    now: DateTime<Utc>,
) -> Result<Option<Subscription>, OutboxError> {
    // One statement: each column keeps its value unless the patch names it.
    let sql = "UPDATE webhook_subscriptions SET \
         name = CASE WHEN $3 THEN $4 ELSE name END, \
         description = CASE WHEN $5 THEN $6 ELSE description END, \
         target = CASE WHEN $7 THEN $8 ELSE target END, \
         event_types = CASE WHEN $9 THEN $10 ELSE event_types END, \
         active = CASE WHEN $11 THEN $12 ELSE active END, \
         disabled_reason = CASE WHEN $11 AND $12 THEN NULL ELSE disabled_reason END, \
         updated_at = $13 \
         WHERE company_id = $1 AND id = $2";
    let changed = on_pool!(db, |pool| sqlx::query(sql)
        .bind(company.0)
        .bind(id)
        .bind(patch.name.is_some())
        .bind(patch.name.clone().unwrap_or_default())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(patch.target.is_some())
        .bind(patch.target.clone().unwrap_or_default())
        .bind(patch.event_types.is_some())
        .bind(Json(patch.event_types.clone().unwrap_or_default()))
        .bind(patch.active.is_some())
        .bind(patch.active.unwrap_or(false))
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Ok(None);
    }
    subscription_by_id(db, company, id).await
}

/// Deletes one of the company's subscriptions and its deliveries; false when there was none.
pub async fn delete_subscription(
    db: &Database,
    company: CompanyId,
    id: Uuid,
) -> Result<bool, OutboxError> {
    let sql = "DELETE FROM webhook_subscriptions WHERE company_id = $1 AND id = $2";
    let deleted = on_pool!(db, |pool| sqlx::query(sql)
        .bind(company.0)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(deleted > 0)
}

/// The company's active subscriptions with their filters: `(id, kind, event type names)`.
pub async fn active_subscriptions(
    db: &Database,
    company: CompanyId,
) -> Result<Vec<(Uuid, Kind, Vec<String>)>, OutboxError> {
    let sql = "SELECT id, kind, event_types FROM webhook_subscriptions \
         WHERE company_id = $1 AND active";
    let rows: Vec<(Uuid, String, Json<Vec<String>>)> = on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(company.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .map(|(id, kind, types)| Ok((id, kind_of(&kind)?, types.0)))
        .collect()
}

/// Queues one delivery per entry of `deliveries` for the event, due now, in one statement.
/// An event queued twice for the same subscription (or alert recipient) is queued once.
pub async fn enqueue(
    db: &Database,
    company: CompanyId,
    event_id: Uuid,
    event_type: &str,
    payload: &serde_json::Value,
    deliveries: &[NewDelivery],
    now: DateTime<Utc>,
) -> Result<u64, OutboxError> {
    if deliveries.is_empty() {
        return Ok(0);
    }
    let inserted = on_pool!(db, |pool| {
        let mut query = sqlx::QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, subscription_id, company_id, kind, recipient, \
             event_id, event_type, payload, status, attempts, next_attempt_at, created_at) ",
        );
        query.push_values(deliveries, |mut row, d| {
            row.push_bind(Uuid::now_v7())
                .push_bind(d.subscription_id)
                .push_bind(company.0)
                .push_bind(d.kind.as_str())
                .push_bind(d.recipient.clone())
                .push_bind(event_id)
                .push_bind(event_type.to_owned())
                .push_bind(Json(payload.clone()))
                .push_bind("pending")
                .push_bind(0i32)
                .push_bind(now)
                .push_bind(now);
        });
        query.push(" ON CONFLICT DO NOTHING");
        query.build().execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(inserted)
}

/// A row of [`claim_due`]'s `RETURNING` list, in that order.
type ClaimedRow = (
    Uuid,
    Option<Uuid>,
    Uuid,
    String,
    Option<String>,
    Uuid,
    String,
    Json<serde_json::Value>,
    i32,
);

/// Claims up to `limit` due deliveries for this worker until `lease_until`: each gets its
/// attempt counted and a lease no other node takes over before it runs out.
///
/// The conditional UPDATE is the lock: two nodes selecting the same rows both try to update
/// them, and the one that comes second finds the lease taken (Postgres re-checks the WHERE
/// after the first commits; SQLite serialises writers) and skips them.
pub async fn claim_due(
    db: &Database,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Claimed>, OutboxError> {
    let sql = "UPDATE webhook_deliveries SET attempts = attempts + 1, locked_until = $2 \
         WHERE id IN (SELECT id FROM webhook_deliveries \
                      WHERE status = 'pending' AND next_attempt_at <= $1 \
                        AND (locked_until IS NULL OR locked_until <= $1) \
                      ORDER BY next_attempt_at LIMIT $3) \
           AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $1) \
         RETURNING id, subscription_id, company_id, kind, recipient, event_id, event_type, \
                   payload, attempts";
    let rows: Vec<ClaimedRow> = on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(claimed).collect()
}

fn claimed(row: ClaimedRow) -> Result<Claimed, OutboxError> {
    Ok(Claimed {
        id: row.0,
        subscription_id: row.1,
        company_id: CompanyId(row.2),
        kind: kind_of(&row.3)?,
        recipient: row.4,
        event_id: row.5,
        event_type: row.6,
        payload: row.7 .0,
        attempt: row.8,
    })
}

/// When the next unleased pending delivery is due, if any.
pub async fn next_due(
    db: &Database,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, OutboxError> {
    let sql = "SELECT next_attempt_at FROM webhook_deliveries \
         WHERE status = 'pending' AND (locked_until IS NULL OR locked_until <= $1) \
         ORDER BY next_attempt_at LIMIT 1";
    let row: Option<(DateTime<Utc>,)> = on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|(at,)| at))
}

/// Pending deliveries (the outbox depth).
pub async fn pending_count(db: &Database) -> Result<i64, OutboxError> {
    let sql = "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'";
    let (n,): (i64,) = on_pool!(db, |pool| sqlx::query_as(sql).fetch_one(pool).await)?;
    Ok(n)
}

/// Where a subscription delivery goes now; `None` when the subscription is gone.
pub async fn destination(
    db: &Database,
    subscription: Uuid,
) -> Result<Option<Destination>, OutboxError> {
    let sql = "SELECT target, secret, active FROM webhook_subscriptions WHERE id = $1";
    let row: Option<(String, String, bool)> = on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(subscription)
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|(target, secret, active)| Destination {
        target,
        secret,
        active,
    }))
}

/// Records a claimed attempt's outcome and its log line in one transaction. Returns false
/// (and records nothing) when the lease was lost: another node took the delivery over after
/// the lease ran out, and its attempt is the one that counts.
pub async fn record(
    db: &Database,
    claimed: &Claimed,
    attempt: &Attempt,
) -> Result<bool, OutboxError> {
    let (status, next) = match attempt.outcome {
        Outcome::Delivered => ("delivered", None),
        Outcome::Retry(at) => ("pending", Some(at)),
        Outcome::Dead | Outcome::Gone => ("dead", None),
    };
    let update = "UPDATE webhook_deliveries SET status = $3, \
         next_attempt_at = COALESCE($4, next_attempt_at), locked_until = NULL, \
         last_status = $5, last_error = $6, \
         delivered_at = CASE WHEN $3 = 'delivered' THEN $7 ELSE delivered_at END \
         WHERE id = $1 AND attempts = $2 AND status = 'pending'";
    let log = "INSERT INTO notification_log (company_id, delivery_id, subscription_id, event_id, \
         event_type, kind, target, attempt, outcome, status_code, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
    let gone =
        "UPDATE webhook_subscriptions SET active = false, disabled_reason = $2, updated_at = $3 \
         WHERE id = $1";
    let recorded = on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(update)
            .bind(claimed.id)
            .bind(claimed.attempt)
            .bind(status)
            .bind(next)
            .bind(attempt.status_code)
            .bind(&attempt.error)
            .bind(attempt.at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            Ok::<bool, sqlx::Error>(false)
        } else {
            sqlx::query(log)
                .bind(claimed.company_id.0)
                .bind(claimed.id)
                .bind(claimed.subscription_id)
                .bind(claimed.event_id)
                .bind(&claimed.event_type)
                .bind(claimed.kind.as_str())
                .bind(&attempt.target)
                .bind(claimed.attempt)
                .bind(attempt.outcome.as_str())
                .bind(attempt.status_code)
                .bind(&attempt.error)
                .bind(attempt.duration_ms)
                .bind(attempt.at)
                .execute(&mut *tx)
                .await?;
            if let (Outcome::Gone, Some(subscription)) = (attempt.outcome, claimed.subscription_id)
            {
                sqlx::query(gone)
                    .bind(subscription)
                    .bind(format!(
                        "the receiver answered 410 Gone at {}",
                        attempt.at.to_rfc3339()
                    ))
                    .bind(attempt.at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        }
    })?;
    Ok(recorded)
}

const DELIVERY_COLUMNS: &str =
    "id, subscription_id, kind, recipient, event_id, event_type, status, \
     attempts, next_attempt_at, last_status, last_error, created_at, delivered_at, payload";

/// A row of [`DELIVERY_COLUMNS`], in that order.
type DeliveryRow = (
    Uuid,
    Option<Uuid>,
    String,
    Option<String>,
    Uuid,
    String,
    String,
    i32,
    DateTime<Utc>,
    Option<i32>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Json<serde_json::Value>,
);

fn delivery(row: DeliveryRow) -> Result<Delivery, OutboxError> {
    Ok(Delivery {
        id: row.0,
        subscription_id: row.1,
        kind: kind_of(&row.2)?,
        recipient: row.3,
        event_id: row.4,
        event_type: row.5,
        status: row.6,
        attempts: row.7,
        next_attempt_at: row.8,
        last_status: row.9,
        last_error: row.10,
        created_at: row.11,
        delivered_at: row.12,
        payload: row.13 .0,
    })
}

/// The company's deliveries, newest first, optionally of one status and one subscription.
pub async fn list_deliveries(
    db: &Database,
    company: CompanyId,
    status: Option<&str>,
    subscription: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Delivery>, OutboxError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE company_id = $1 \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR subscription_id = $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    let rows: Vec<DeliveryRow> = on_pool!(db, |pool| sqlx::query_as(&sql)
        .bind(company.0)
        .bind(status)
        .bind(subscription)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(delivery).collect()
}

/// One of the company's deliveries.
pub async fn delivery_by_id(
    db: &Database,
    company: CompanyId,
    id: Uuid,
) -> Result<Option<Delivery>, OutboxError> {
    company_row(db, DELIVERY_COLUMNS, "webhook_deliveries", company, id)
        .await?
        .map(delivery)
        .transpose()
}

/// What a redelivery request found.
#[derive(Clone, Debug, PartialEq)]
pub enum Redelivered {
    /// Queued again, due now, with a fresh attempt budget.
    Queued(Box<Delivery>),
    /// It is still pending: nothing to do.
    AlreadyPending,
    /// No such delivery for this company.
    NotFound,
}

/// Queues a dead (or delivered) delivery again, due now, with its attempt count reset so it
/// gets the full retry budget; the log keeps the earlier attempts.
pub async fn redeliver(
    db: &Database,
    company: CompanyId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Redelivered, OutboxError> {
    let sql = "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
         next_attempt_at = $3, locked_until = NULL, delivered_at = NULL \
         WHERE company_id = $1 AND id = $2 AND status <> 'pending'";
    let changed = on_pool!(db, |pool| sqlx::query(sql)
        .bind(company.0)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    match delivery_by_id(db, company, id).await? {
        Some(d) if changed > 0 => Ok(Redelivered::Queued(Box::new(d))),
        Some(_) => Ok(Redelivered::AlreadyPending),
        None => Ok(Redelivered::NotFound),
    }
}

/// A row of [`list_log`]'s columns, in that order.
type LogRow = (
    i64,
    Uuid,
    Option<Uuid>,
    Uuid,
    String,
    String,
    String,
    i32,
    String,
    Option<i32>,
    Option<String>,
    i32,
    DateTime<Utc>,
);

/// The company's notification log, newest first.
pub async fn list_log(
    db: &Database,
    company: CompanyId,
    delivery: Option<Uuid>,
    limit: u32,
) -> Result<Vec<LogEntry>, OutboxError> {
    let sql = "SELECT id, delivery_id, subscription_id, event_id, event_type, kind, target, \
         attempt, outcome, status_code, error, duration_ms, at FROM notification_log \
         WHERE company_id = $1 AND ($2 IS NULL OR delivery_id = $2) \
         ORDER BY at DESC, id DESC LIMIT $3";
    let rows: Vec<LogRow> = on_pool!(db, |pool| sqlx::query_as(sql)
        .bind(company.0)
        .bind(delivery)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
    Ok(rows.into_iter().map(log_entry).collect())
}

fn log_entry(row: LogRow) -> LogEntry {
    LogEntry {
        id: row.0,
        delivery_id: row.1,
        subscription_id: row.2,
        event_id: row.3,
        event_type: row.4,
        kind: row.5,
        target: row.6,
        attempt: row.7,
        outcome: row.8,
        status_code: row.9,
        error: row.10,
        duration_ms: row.11,
        at: row.12,
    }
}
