//! The persistence actor: the one road to the database for the engine's writes.
//!
//! Appointments are committed one by one, concurrently, and the caller is answered only after the
//! commit, so a booking is acknowledged only once it is durable. Call logs and events are
//! batched: appended to a batch that is written in one transaction every `flush_interval` (or
//! sooner when full). A failed batch is kept and retried with backoff while the mailbox is paused,
//! so senders (who use `send`) feel backpressure through the bounded mailbox instead of anything
//! being dropped.

use crate::domain::*;
use crate::metrics as m;
use crate::store::{CallLogWrite, Store, StoreError};
use actix::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writes to the store on the engine's behalf.
pub struct PersistenceActor {
    store: Arc<dyn Store>,
    batch: Vec<CallLogWrite>,
    max_batch: usize,
    flush_interval: Duration,
    mailbox_capacity: usize,
}

impl PersistenceActor {
    /// A persistence actor flushing call logs every `flush_interval` or at `max_batch` writes.
    pub fn new(
        store: Arc<dyn Store>,
        max_batch: usize,
        flush_interval: Duration,
        mailbox_capacity: usize,
    ) -> Self {
        Self {
            store,
            batch: Vec::with_capacity(max_batch),
            max_batch,
            flush_interval,
            mailbox_capacity,
        }
    }

    /// Writes the current batch (in the background of the mailbox, which waits meanwhile).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if !self.batch.is_empty() {
            ctx.wait(self.write_batch());
        }
    }

    /// A future that writes the current batch, retrying with backoff until it is durable.
    fn write_batch(&mut self) -> ResponseActFuture<Self, ()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_batch));
        let store = self.store.clone();
        Box::pin(
            async move {
                if batch.is_empty() {
                    return;
                }
                let mut backoff = Duration::from_millis(50);
                loop {
                    let started = Instant::now();
                    match store.apply_call_log(&batch).await {
                        Ok(()) => {
                            metrics::histogram!(m::PERSISTENCE_FLUSH_SECONDS).record(started.elapsed().as_secs_f64());
                            return;
                        }
                        Err(e) => {
                            metrics::counter!(m::PERSISTENCE_FAILURES_TOTAL).increment(1);
                            tracing::error!(error = %e, writes = batch.len(), retry_in = ?backoff, "call log flush failed");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
            }
            .into_actor(self)
            .map(|(), actor, _| metrics::gauge!(m::PERSISTENCE_QUEUE_DEPTH).set(actor.batch.len() as f64)),
        )
    }
}

impl Actor for PersistenceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
        ctx.run_interval(self.flush_interval, |actor, ctx| actor.flush(ctx));
    }

    fn stopping(&mut self, ctx: &mut Self::Context) -> Running {
        if self.batch.is_empty() {
            Running::Stop
        } else {
            // Write what is left before stopping; `stopping` is asked again afterwards.
            self.flush(ctx);
            Running::Continue
        }
    }
}

impl Supervised for PersistenceActor {}

/// Commits an appointment; answered only after the commit.
#[derive(Message)]
#[rtype(result = "Result<Appointment, StoreError>")]
pub struct CommitAppointment {
    /// The appointment to store.
    pub appointment: Appointment,
}

impl Handler<CommitAppointment> for PersistenceActor {
    type Result = ResponseFuture<Result<Appointment, StoreError>>;

    fn handle(&mut self, msg: CommitAppointment, _: &mut Self::Context) -> Self::Result {
        // Not serialised through the actor: commits run concurrently, up to the pool size.
        let store = self.store.clone();
        Box::pin(async move { store.insert_appointment(&msg.appointment).await })
    }
}

/// Changes an appointment's status (cancel, complete); answered after the commit.
#[derive(Message)]
#[rtype(result = "Result<Option<Appointment>, StoreError>")]
pub struct CommitStatus {
    /// Which appointment.
    pub id: AppointmentId,
    /// The new status.
    pub status: AppointmentStatus,
}

impl Handler<CommitStatus> for PersistenceActor {
    type Result = ResponseFuture<Result<Option<Appointment>, StoreError>>;

    fn handle(&mut self, msg: CommitStatus, _: &mut Self::Context) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move { store.set_appointment_status(msg.id, msg.status).await })
    }
}

/// Queues a call-log write for the next batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LogCall(pub CallLogWrite);

impl Handler<LogCall> for PersistenceActor {
    type Result = ();

    fn handle(&mut self, msg: LogCall, ctx: &mut Self::Context) {
        self.batch.push(msg.0);
        metrics::gauge!(m::PERSISTENCE_QUEUE_DEPTH).set(self.batch.len() as f64);
        if self.batch.len() >= self.max_batch {
            self.flush(ctx);
        }
    }
}

/// Writes everything queued; answered once it is durable (used at shutdown and in tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for PersistenceActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        // Atomic: no other message runs until the batch is durable, and only then is the
        // sender answered.
        AtomicResponse::new(self.write_batch())
    }
}
