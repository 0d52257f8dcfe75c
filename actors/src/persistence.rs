//! The persistence actor: the one road to the database for the engine's writes.
//!
//! Appointments are committed one by one, concurrently, and the caller is answered only after the
//! commit, so a booking is acknowledged only once it is durable. Call logs and events are
//! batched: appended to a batch that is written in one transaction every `flush_interval` (or
//! sooner when full), while the mailbox waits, so senders (who use `send`) feel backpressure
//! through the bounded mailbox.
//!
//! No batch can hold the mailbox (and the appointment commits queued in it) for long:
//! - while the database is unavailable a batch is tried at most [`MAX_ATTEMPTS`] times with
//!   backoff, then kept for the next flush (at most [`KEPT_BATCHES`] batches' worth; beyond that
//!   the oldest writes are set aside);
//! - a batch the database refuses for what it holds (a value it cannot store, a constraint) is
//!   written one write at a time, and the write that is refused on its own is set aside: logged
//!   as an error and counted in `callflow_persistence_dropped_writes_total`, while every other
//!   write of the batch is stored.

use crate::domain::*;
use crate::metrics as m;
use crate::store::{CallLogWrite, Store, StoreError};
use actix::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tries of a batch (or of one write) while the database is unavailable before its writes are
/// kept for the next flush.
pub const MAX_ATTEMPTS: u32 = 4;
/// Pause after the first failed try; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Most writes kept for later while the database is unavailable, in batches (`max_batch` each).
pub const KEPT_BATCHES: usize = 16;

/// Writes to the store on the engine's behalf.
pub struct PersistenceActor {
    store: Arc<dyn Store>,
    batch: Vec<CallLogWrite>,
    max_batch: usize,
    flush_interval: Duration,
    mailbox_capacity: usize,
    /// Whether the last flush before stopping has been tried (what is left then is set aside,
    /// so an unreachable database cannot keep the process from exiting).
    final_flush_tried: bool,
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
            final_flush_tried: false,
        }
    }

    /// Writes the current batch (in the background of the mailbox, which waits meanwhile).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if !self.batch.is_empty() {
            ctx.wait(self.write_batch());
        }
    }

    /// A future that writes the current batch: durable, or (while the database is unavailable)
    /// kept for the next flush after [`MAX_ATTEMPTS`] tries, with refused writes set aside.
    fn write_batch(&mut self) -> ResponseActFuture<Self, ()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_batch));
        let store = self.store.clone();
        Box::pin(
            async move { write_all(&*store, batch).await }
                .into_actor(self)
                .map(|kept, actor, _| {
                    actor.keep(kept);
                    metrics::gauge!(m::PERSISTENCE_QUEUE_DEPTH).set(actor.batch.len() as f64);
                }),
        )
    }

    /// Puts writes that could not be written yet back before the ones queued meanwhile (so
    /// they keep their order), setting the oldest aside beyond [`KEPT_BATCHES`] batches.
    fn keep(&mut self, mut kept: Vec<CallLogWrite>) {
        if kept.is_empty() {
            return;
        }
        kept.append(&mut self.batch);
        let limit = self.max_batch.saturating_mul(KEPT_BATCHES).max(1);
        if kept.len() > limit {
            let excess = kept.len() - limit;
            for write in kept.drain(..excess) {
                set_aside(
                    &write,
                    "overflow",
                    &"the database is unavailable and too many writes wait",
                );
            }
        }
        self.batch = kept;
    }
}

/// Writes `batch`; returns the writes to keep for the next flush (the database stayed
/// unavailable), setting aside the ones the database refuses on their own.
async fn write_all(store: &dyn Store, batch: Vec<CallLogWrite>) -> Vec<CallLogWrite> {
    if batch.is_empty() {
        return batch;
    }
    let started = Instant::now();
    match attempt(store, &batch).await {
        Ok(()) => {
            metrics::histogram!(m::PERSISTENCE_FLUSH_SECONDS)
                .record(started.elapsed().as_secs_f64());
            return Vec::new();
        }
        Err(e) if is_transient(&e) => {
            tracing::error!(error = %e, writes = batch.len(),
                "call log flush failed: the database is unavailable; the writes are kept for the next flush");
            return batch;
        }
        Err(e) => {
            tracing::warn!(error = %e, writes = batch.len(),
                "the database refused a call log batch; writing it one write at a time");
        }
    }
    let mut writes = batch.into_iter();
    while let Some(write) = writes.next() {
        match attempt(store, std::slice::from_ref(&write)).await {
            Ok(()) => {}
            Err(e) if is_transient(&e) => {
                tracing::error!(error = %e,
                    "call log flush failed: the database is unavailable; the writes are kept for the next flush");
                return std::iter::once(write).chain(writes).collect();
            }
            Err(e) => set_aside(&write, "refused", &e),
        }
    }
    Vec::new()
}

/// Applies `writes`, trying again with backoff while the database is unavailable, at most
/// [`MAX_ATTEMPTS`] times; an error about the writes themselves is returned at once.
async fn attempt(store: &dyn Store, writes: &[CallLogWrite]) -> Result<(), StoreError> {
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 1;
    loop {
        match store.apply_call_log(writes).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                metrics::counter!(m::PERSISTENCE_FAILURES_TOTAL).increment(1);
                if !is_transient(&e) || tries >= MAX_ATTEMPTS {
                    return Err(e);
                }
                tracing::warn!(error = %e, writes = writes.len(), retry_in = ?backoff, "call log flush failed; trying again");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                tries += 1;
            }
        }
    }
}

/// Whether trying the same write again may succeed (the database was not reached); any other
/// error is about what the write holds and repeats on every try.
fn is_transient(error: &StoreError) -> bool {
    matches!(error, StoreError::Unavailable(_))
}

/// Gives up on one write: an error log naming it and a metric, never a blocked mailbox.
fn set_aside(write: &CallLogWrite, reason: &'static str, error: &dyn std::fmt::Display) {
    metrics::counter!(m::PERSISTENCE_DROPPED_WRITES_TOTAL, "reason" => reason).increment(1);
    match write {
        CallLogWrite::Call(call) => tracing::error!(error = %error, reason, call_id = %call.id,
            "a call log write was set aside and is not stored"),
        CallLogWrite::Event(event) => {
            tracing::error!(error = %error, reason, call_id = %event.call_id,
            dedupe_key = event.dedupe_key, "a call event write was set aside and is not stored")
        }
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
            return Running::Stop;
        }
        if self.final_flush_tried {
            // The last flush could not write these: say so rather than wait forever.
            for write in std::mem::take(&mut self.batch) {
                set_aside(
                    &write,
                    "shutdown",
                    &"the database was unavailable at shutdown",
                );
            }
            return Running::Stop;
        }
        // Write what is left before stopping; `stopping` is asked again afterwards.
        self.final_flush_tried = true;
        self.flush(ctx);
        Running::Continue
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

/// Writes everything queued; answered once it is durable, or once the bounded tries are over
/// (used at shutdown and in tests).
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
