//! The delivery worker: claims due deliveries from the outbox, attempts them with bounded
//! concurrency, records each outcome (with its log line) and schedules retries.
//!
//! It runs on its own arbiter (thread), so slow receivers and TLS handshakes never share a
//! thread with the engine's actors or the HTTP workers. It is woken by the outbox listener
//! when this node queues something and otherwise looks at the outbox when the next known
//! delivery is due, at least every `poll_interval` (for work other nodes queued).

use super::backoff::{AfterFailure, RetryPolicy};
use super::outbox::{self, Attempt, Claimed, Outcome};
use super::send::{self, Mailer, Sent};
use super::target::{redacted, Kind};
use super::{ATTEMPT_DURATION_SECONDS, DELIVERIES_TOTAL, OUTBOX_PENDING};
use crate::store::Database;
use chrono::Utc;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// What the worker needs, shared by its attempts.
pub struct WorkerSettings {
    /// The outbox.
    pub db: Database,
    /// Retries and dead-lettering.
    pub policy: RetryPolicy,
    /// Time one attempt may take.
    pub request_timeout: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Longest time between two looks at the outbox.
    pub poll_interval: Duration,
    /// E-mail, when configured.
    pub mailer: Option<Mailer>,
}

impl WorkerSettings {
    /// How long a claim protects a delivery from other nodes: the attempt's timeout plus a
    /// margin for recording its outcome.
    fn lease(&self) -> Duration {
        self.request_timeout + Duration::from_secs(30)
    }
}

/// Runs until `stop` turns true, then waits for the attempts in flight (each bounded by the
/// request timeout) and returns. Must run on a `LocalSet` (an actix arbiter).
pub async fn run(
    settings: WorkerSettings,
    http: awc::Client,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let settings = Rc::new(settings);
    let http = Rc::new(http);
    let mut running: JoinSet<()> = JoinSet::new();
    let lease = chrono::Duration::from_std(settings.lease()).unwrap_or(chrono::TimeDelta::MAX);
    loop {
        if *stop.borrow() {
            break;
        }
        let free = settings.concurrency.saturating_sub(running.len());
        let mut wait = Some(settings.poll_interval);
        if free > 0 {
            let now = Utc::now();
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            match outbox::claim_due(&settings.db, now, now + lease, limit).await {
                Ok(batch) => {
                    let full = batch.len() == free;
                    for claimed in batch {
                        running.spawn_local(attempt(settings.clone(), http.clone(), claimed));
                    }
                    if full {
                        // There may be more: look again as soon as a slot frees up.
                        wait = None;
                    } else {
                        wait = Some(until_next_due(&settings).await);
                        report_depth(&settings.db).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim notification deliveries"),
            }
        } else {
            wait = None;
        }
        let sleep = async {
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = sleep => {}
            // A dropped sender (the application went away without `stop`) means stop too;
            // otherwise `changed` would answer at once on every turn and spin the loop.
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
    while running.join_next().await.is_some() {}
}

async fn until_next_due(settings: &WorkerSettings) -> Duration {
    let now = Utc::now();
    match outbox::next_due(&settings.db, now).await {
        Ok(Some(due)) => (due - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(settings.poll_interval),
        Ok(None) => settings.poll_interval,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read when the next notification is due");
            settings.poll_interval
        }
    }
}

async fn report_depth(db: &Database) {
    if let Ok(n) = outbox::pending_count(db).await {
        metrics::gauge!(OUTBOX_PENDING).set(n as f64);
    }
}

/// One attempt of one claimed delivery, recorded.
async fn attempt(settings: Rc<WorkerSettings>, http: Rc<awc::Client>, claimed: Claimed) {
    let started = Instant::now();
    let (target, sent) = match tokio::time::timeout(
        settings.request_timeout,
        deliver(&settings, &http, &claimed),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => (
            String::new(),
            Sent::Failed {
                code: None,
                error: format!("no answer within {:?}", settings.request_timeout),
            },
        ),
    };
    let elapsed = started.elapsed();
    let now = Utc::now();
    let (outcome, status_code, error) = match sent {
        Sent::Accepted { code } => (Outcome::Delivered, Some(code), None),
        Sent::Gone => (
            Outcome::Gone,
            Some(410),
            Some("the receiver answered 410 Gone; the subscription is switched off".to_owned()),
        ),
        Sent::Rejected { code, error } => (Outcome::Dead, code, Some(error)),
        Sent::Failed { code, error } => {
            let unit: f64 = rand::random();
            let attempt = u32::try_from(claimed.attempt).unwrap_or(u32::MAX);
            let outcome = match settings.policy.after_failure(attempt, unit) {
                AfterFailure::RetryAfter(wait) => Outcome::Retry(
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::TimeDelta::MAX),
                ),
                AfterFailure::Dead => Outcome::Dead,
            };
            (outcome, code, Some(error))
        }
    };
    metrics::counter!(DELIVERIES_TOTAL, "kind" => claimed.kind.as_str(), "outcome" => outcome.as_str())
        .increment(1);
    metrics::histogram!(ATTEMPT_DURATION_SECONDS, "kind" => claimed.kind.as_str())
        .record(elapsed.as_secs_f64());
    match &outcome {
        Outcome::Delivered => {
            tracing::debug!(delivery_id = %claimed.id, event_id = %claimed.event_id, kind = %claimed.kind, attempt = claimed.attempt, "notification delivered")
        }
        Outcome::Retry(at) => {
            tracing::info!(delivery_id = %claimed.id, event_id = %claimed.event_id, kind = %claimed.kind, attempt = claimed.attempt, next_attempt_at = %at, error = error.as_deref().unwrap_or(""), "notification failed; will retry")
        }
        Outcome::Dead | Outcome::Gone => {
            tracing::warn!(delivery_id = %claimed.id, event_id = %claimed.event_id, kind = %claimed.kind, attempt = claimed.attempt, error = error.as_deref().unwrap_or(""), "notification dead-lettered")
        }
    }
    let record = Attempt {
        outcome,
        status_code,
        error: error.map(|e| e.chars().take(1000).collect()),
        duration_ms: i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX),
        target,
        at: now,
    };
    match outbox::record(&settings.db, &claimed, &record).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(delivery_id = %claimed.id, "lost the lease of a notification delivery; its outcome was not recorded")
        }
        Err(e) => {
            tracing::error!(error = %e, delivery_id = %claimed.id, "cannot record a notification attempt; it is retried when its lease runs out")
        }
    }
}

/// Sends one delivery; returns the redacted target (for the log) and how it went.
async fn deliver(
    settings: &WorkerSettings,
    http: &awc::Client,
    claimed: &Claimed,
) -> (String, Sent) {
    let (target, secret) = match (claimed.subscription_id, &claimed.recipient) {
        (Some(subscription), _) => match outbox::destination(&settings.db, subscription).await {
            Ok(Some(d)) if d.active => (d.target, d.secret),
            Ok(Some(d)) => {
                return (
                    redacted(claimed.kind, &d.target),
                    Sent::Rejected {
                        code: None,
                        error: "the subscription is switched off".into(),
                    },
                )
            }
            Ok(None) => {
                return (
                    String::new(),
                    Sent::Rejected {
                        code: None,
                        error: "the subscription was deleted".into(),
                    },
                )
            }
            Err(e) => {
                return (
                    String::new(),
                    Sent::Failed {
                        code: None,
                        error: e.to_string(),
                    },
                )
            }
        },
        (None, Some(recipient)) => (recipient.clone(), String::new()),
        (None, None) => {
            return (
                String::new(),
                Sent::Rejected {
                    code: None,
                    error: "the delivery has neither subscription nor recipient".into(),
                },
            )
        }
    };
    let shown = redacted(claimed.kind, &target);
    let sent = match claimed.kind {
        Kind::Email => match &settings.mailer {
            Some(mailer) => mailer.send(&target, &claimed.payload).await,
            None => Sent::Failed {
                code: None,
                error: "e-mail is not configured ([smtp] host is empty)".into(),
            },
        },
        kind => {
            let (body, headers) =
                send::http_request(kind, &claimed.payload, &secret, Utc::now().timestamp());
            send::post(http, &target, body, headers).await
        }
    };
    (shown, sent)
}
