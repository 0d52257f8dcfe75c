//! Events and notifications: outbound webhooks, Slack, Microsoft Teams and e-mail, delivered
//! from a durable outbox.
//!
//! - [`listener::OutboxListener`] subscribes to the domain events and writes one delivery row
//!   per matching subscription (and per built-in staff alert) before the publisher moves on.
//! - [`worker`] claims due rows with a lease (safe with several nodes), sends them with bounded
//!   concurrency and a timeout, retries with exponential backoff and full jitter, dead-letters
//!   after `notifications.max_attempts`, and logs every attempt in `notification_log`.
//! - The admin API (`/api/v1/webhooks`, `/api/v1/notifications`) manages subscriptions, reads
//!   dead letters and redelivers.
//!
//! Webhook requests are signed as [`signature`] describes. A receiver answering `410 Gone`
//! switches its subscription off (with `disabled_reason` set; an admin switches it on again
//! with `PATCH {"active": true}`): the receiver said the endpoint will never come back, so
//! retrying, and queueing more, only costs both sides.

pub mod backoff;
pub mod listener;
pub mod message;
/// The notification tables live with the rest of the SQL, in the store module.
pub use crate::store::outbox;
pub mod send;
pub mod signature;
pub mod target;
pub mod worker;

use crate::config::Config;
use crate::events::Events;
use crate::store::Database;
use backoff::RetryPolicy;
use callflow_actors::Store;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};

/// Notification attempts, by kind and outcome (delivered, retry, dead, gone).
pub const DELIVERIES_TOTAL: &str = "callflow_notifications_total";
/// Deliveries queued, by kind.
pub const ENQUEUED_TOTAL: &str = "callflow_notifications_enqueued_total";
/// Time one notification attempt took, by kind.
pub const ATTEMPT_DURATION_SECONDS: &str = "callflow_notification_attempt_duration_seconds";
/// Pending deliveries in the outbox (all nodes), as last seen by this node's worker.
pub const OUTBOX_PENDING: &str = "callflow_notification_outbox_pending";

fn describe() {
    describe_counter!(
        DELIVERIES_TOTAL,
        Unit::Count,
        "Notification attempts, by kind and outcome."
    );
    describe_counter!(
        ENQUEUED_TOTAL,
        Unit::Count,
        "Notification deliveries queued, by kind."
    );
    describe_histogram!(
        ATTEMPT_DURATION_SECONDS,
        Unit::Seconds,
        "Time one notification attempt took, by kind."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        "Pending deliveries in the notification outbox."
    );
}

/// Why notifications could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// TLS or SMTP settings are unusable.
    #[error(transparent)]
    Transport(#[from] send::TransportError),
}

/// What request handlers need of notifications: the outbox's database and a way to wake the
/// worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NotifyHandle {
    /// The database holding subscriptions, the outbox and the log.
    pub db: Database,
    /// Whether `[smtp]` is configured (e-mail subscriptions need it).
    pub email_enabled: bool,
    wake: Arc<Notify>,
}

impl NotifyHandle {
    /// Makes the worker look at the outbox now (after a redelivery, say).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The running delivery worker (on its own arbiter); stop it with [`Notifications::stop`].
pub struct Notifications {
    handle: NotifyHandle,
    stop: watch::Sender<bool>,
    done: Option<oneshot::Receiver<()>>,
    arbiter: actix_rt::Arbiter,
}

impl Notifications {
    /// Subscribes the outbox listener to `events` and starts the delivery worker. Deliveries
    /// left pending by an earlier run (or another node) are picked up as they fall due.
    pub fn start(
        config: &Config,
        db: Database,
        store: Arc<dyn Store>,
        events: &Events,
    ) -> Result<Self, StartError> {
        describe();
        let n = &config.notifications;
        let request_timeout = Duration::from_secs(n.request_timeout_secs);
        let mailer = send::Mailer::new(&config.smtp, request_timeout)?;
        // Fail at start, not on the first delivery, when TLS cannot be set up.
        drop(send::http_client(request_timeout)?);
        let wake = Arc::new(Notify::new());
        let email_enabled = mailer.is_some();
        let db_for_handle = db.clone();
        events.subscribe(Arc::new(listener::OutboxListener::new(
            db.clone(),
            store,
            mailer.is_some(),
            wake.clone(),
        )));
        let settings = worker::WorkerSettings {
            db,
            policy: RetryPolicy {
                base: Duration::from_millis(n.backoff_base_ms),
                max: Duration::from_secs(n.backoff_max_secs),
                max_attempts: n.max_attempts,
            },
            request_timeout,
            concurrency: n.concurrency,
            poll_interval: Duration::from_millis(n.poll_interval_ms),
            mailer,
        };
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = oneshot::channel();
        let arbiter = actix_rt::Arbiter::new();
        let worker_wake = wake.clone();
        arbiter.spawn_fn(move || {
            actix_rt::spawn(async move {
                match send::http_client(request_timeout) {
                    Ok(http) => worker::run(settings, http, worker_wake, stop_rx).await,
                    Err(e) => tracing::error!(error = %e, "notification worker cannot start"),
                }
                let _ = done_tx.send(());
            });
        });
        Ok(Self {
            handle: NotifyHandle {
                db: db_for_handle,
                email_enabled,
                wake,
            },
            stop,
            done: Some(done),
            arbiter,
        })
    }

    /// The handle request handlers use.
    pub fn handle(&self) -> NotifyHandle {
        self.handle.clone()
    }

    /// Stops claiming, waits for the attempts in flight (each bounded by the request timeout)
    /// and stops the worker's thread. Pending deliveries stay in the outbox for the next start.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
        self.arbiter.stop();
    }
}

impl Drop for Notifications {
    /// Dropped without [`Notifications::stop`] (a test, a failed start): the worker and its
    /// thread stop at once. Attempts in flight are abandoned; their leases run out and a later
    /// run delivers them.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.arbiter.stop();
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        Config::load(
            None,
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn the_smtp_password_never_shows_and_e_mail_is_off_by_default() {
        let config = load(&[("CALLFLOW_SMTP__PASSWORD", "hunter2-smtp")]).expect("valid");
        assert!(!format!("{config:?}").contains("hunter2-smtp"));
        assert!(!config.smtp.is_enabled());
    }

    #[test]
    fn a_configured_smtp_server_needs_a_sender_address() {
        let err = load(&[("CALLFLOW_SMTP__HOST", "mail.example.com")])
            .expect_err("no sender")
            .to_string();
        assert!(err.contains("smtp.from"), "{err}");
        assert!(load(&[
            ("CALLFLOW_SMTP__HOST", "mail.example.com"),
            ("CALLFLOW_SMTP__FROM", "Callflow <alerts@example.com>"),
        ])
        .is_ok());
        let err = load(&[("CALLFLOW_NOTIFICATIONS__CONCURRENCY", "0")])
            .expect_err("zero")
            .to_string();
        assert!(err.contains("notifications.concurrency"), "{err}");
    }
}
