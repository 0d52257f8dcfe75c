//! The SLA monitor actor: a thin shell around [`SlaSchedule`].
//!
//! It holds the schedule of every watched callback and one timer, armed for the earliest point
//! (actix polls every pending timer of an actor on each wake-up, so one per callback would cost
//! O(n) per message). On start it rebuilds the schedule from the database, page by page, before
//! it handles any message; points already passed (breaches while the server was down) fire at
//! once. Afterwards it learns of every change from the domain events ([`SlaListener`]) and
//! never scans the table again.
//!
//! Reached points are handled off the mailbox's critical path by the callback use cases
//! ([`Callbacks::handle_firing`]): the actor pops them, hands them to a spawned future and takes
//! the results back as news.

use super::clock::Clock;
use crate::app::callbacks::{metrics as m, CallbackWatch, Handled};
use crate::app::Callbacks;
use crate::events::{DomainEvent, EventListener, EventType};
use actix::prelude::*;
use async_trait::async_trait;
use callflow_actors::domain::sla::{Firing, SlaSchedule, Source, Watch, Watched};
use callflow_actors::domain::CallbackRequest;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// Callbacks read per page when rebuilding.
const REBUILD_PAGE: u32 = 1000;

/// How long after a failed step it is tried again.
const RETRY_AFTER_SECS: i64 = 30;

/// The actor.
pub struct SlaMonitor {
    schedule: SlaSchedule,
    callbacks: Callbacks,
    clock: Arc<dyn Clock>,
    timer: Option<(DateTime<Utc>, SpawnHandle)>,
    /// Points the timer popped that wait for the batch being handled.
    queue: Vec<Firing>,
    /// Whether a batch is being handled.
    draining: bool,
}

impl SlaMonitor {
    fn new(callbacks: Callbacks, clock: Arc<dyn Clock>) -> Self {
        let settings = callbacks.settings();
        Self {
            schedule: SlaSchedule::new(settings.sla, settings.callbacks.clone()),
            callbacks,
            clock,
            timer: None,
            queue: Vec::new(),
            draining: false,
        }
    }

    fn publish_size(&self) {
        metrics::gauge!(m::SLA_WATCHED).set(self.schedule.len() as f64);
    }

    fn take_news(&mut self, news: &Watch, source: Source, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        if matches!(
            self.schedule.watch(news, source, now),
            Watched::Scheduled(_) | Watched::Dropped
        ) {
            self.publish_size();
            self.arm_timer(ctx);
        }
    }

    /// Keeps the one timer set for the earliest point.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.schedule.next_at() else {
            return;
        };
        if let Some((armed_for, _)) = self.timer {
            if armed_for <= next {
                return; // It fires first and re-arms for what is left.
            }
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let Some(after) = self.clock.wait_until(next) else {
            return; // A manual clock: `FireDue` fires.
        };
        let handle = ctx.run_later(after, |actor, ctx| {
            actor.timer = None;
            let now = actor.clock.now();
            let due = actor.pop_due(now);
            actor.queue.extend(due);
            actor.drain(ctx);
            actor.arm_timer(ctx);
        });
        self.timer = Some((next, handle));
    }

    /// Pops every point reached by `now`, recording how late each fired.
    fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<Firing> {
        let firings = self.schedule.pop_due(now);
        for firing in &firings {
            let late = (now - firing.at).to_std().unwrap_or_default();
            metrics::histogram!(m::SLA_FIRING_LATENESS_SECONDS).record(late.as_secs_f64());
        }
        self.publish_size();
        firings
    }

    /// Starts handling what the timer queued, unless a batch is being handled: one batch at a
    /// time, so the context never holds more than one handling future (actix polls every
    /// spawned future on each wake-up) and points that come due meanwhile join the next batch.
    fn drain(&mut self, ctx: &mut Context<Self>) {
        if self.draining || self.queue.is_empty() {
            return;
        }
        self.draining = true;
        let batch = std::mem::take(&mut self.queue);
        ctx.spawn(self.handle_batch(batch).map(|_, actor, ctx| {
            actor.draining = false;
            actor.drain(ctx);
        }));
    }

    /// The future that handles `firings` in order and takes the outcomes back into the
    /// schedule; resolves to how many there were.
    fn handle_batch(
        &mut self,
        firings: Vec<Firing>,
    ) -> impl ActorFuture<Self, Output = usize> + 'static {
        let callbacks = self.callbacks.clone();
        let clock = self.clock.clone();
        async move {
            let mut outcomes = Vec::with_capacity(firings.len());
            for firing in firings {
                let handled = callbacks.handle_firing(&firing, clock.now()).await;
                outcomes.push((firing, handled));
            }
            outcomes
        }
        .into_actor(self)
        .map(|outcomes: Vec<(Firing, Handled)>, actor, ctx| {
            let fired = outcomes.len();
            let now = actor.clock.now();
            for (firing, handled) in outcomes {
                match handled {
                    Handled::Done(Some(news)) => {
                        actor.schedule.watch(&news, Source::Change, now);
                    }
                    Handled::Done(None) => {
                        actor.schedule.remove(firing.callback_id);
                    }
                    Handled::Retry => actor
                        .schedule
                        .retry(&firing, now + Duration::seconds(RETRY_AFTER_SECS)),
                }
            }
            actor.publish_size();
            actor.arm_timer(ctx);
            fired
        })
    }
}

impl Actor for SlaMonitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // News does not count until the schedule is rebuilt: `wait` holds the mailbox.
        let callbacks = self.callbacks.clone();
        ctx.wait(
            async move {
                let mut all: Vec<Watch> = Vec::new();
                let mut after = None;
                loop {
                    let page = match callbacks.watched_page(after, REBUILD_PAGE).await {
                        Ok(page) => page,
                        Err(e) => return Err(e),
                    };
                    let full = page.len() == REBUILD_PAGE as usize;
                    after = page.last().map(|c| (c.due_at, c.id));
                    all.extend(page.iter().map(Watch::from));
                    if !full {
                        return Ok(all);
                    }
                }
            }
            .into_actor(self)
            .map(|loaded, actor, ctx| match loaded {
                Ok(watches) => {
                    let now = actor.clock.now();
                    for news in &watches {
                        actor.schedule.watch(news, Source::Rebuild, now);
                    }
                    tracing::info!(
                        watched = actor.schedule.len(),
                        "SLA monitor rebuilt from the database"
                    );
                    actor.publish_size();
                    actor.arm_timer(ctx);
                }
                Err(e) => {
                    // Stopping would lose every timer; the supervisor-less monitor keeps
                    // running on news and retries the rebuild shortly.
                    tracing::error!(error = %e, "SLA monitor could not read open callbacks; retrying");
                    ctx.run_later(std::time::Duration::from_secs(5), |_, ctx| {
                        ctx.address().do_send(Rebuild);
                    });
                }
            }),
        );
    }
}

/// News about a callback (from an event or a direct change).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallbackChanged(pub Watch);

impl Handler<CallbackChanged> for SlaMonitor {
    type Result = ();

    fn handle(&mut self, msg: CallbackChanged, ctx: &mut Self::Context) {
        self.take_news(&msg.0, Source::Change, ctx);
    }
}

/// Rebuilds the schedule from the database (after a failed start).
#[derive(Message)]
#[rtype(result = "()")]
struct Rebuild;

impl Handler<Rebuild> for SlaMonitor {
    type Result = ();

    fn handle(&mut self, _: Rebuild, ctx: &mut Self::Context) {
        self.started(ctx);
    }
}

/// Fires every point reached by the clock's time now and answers, once they are handled, how
/// many fired (what tests with a manual clock use instead of sleeping).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct FireDue;

impl Handler<FireDue> for SlaMonitor {
    type Result = ResponseActFuture<Self, usize>;

    fn handle(&mut self, _: FireDue, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        let due = self.pop_due(now);
        Box::pin(self.handle_batch(due))
    }
}

/// How many callbacks are watched, and the earliest point.
#[derive(Message)]
#[rtype(result = "(usize, Option<DateTime<Utc>>)")]
pub struct GetWatched;

impl Handler<GetWatched> for SlaMonitor {
    type Result = MessageResult<GetWatched>;

    fn handle(&mut self, _: GetWatched, _: &mut Self::Context) -> Self::Result {
        MessageResult((self.schedule.len(), self.schedule.next_at()))
    }
}

/// A clonable handle to the monitor.
#[derive(Clone)]
pub struct SlaHandle {
    addr: Addr<SlaMonitor>,
}

impl SlaHandle {
    /// Starts the monitor on the current arbiter; it rebuilds from the store first.
    pub fn start(callbacks: Callbacks, clock: Arc<dyn Clock>) -> Self {
        Self {
            addr: SlaMonitor::new(callbacks, clock).start(),
        }
    }

    /// Tells the monitor a callback changed (merges, which publish no event of their own).
    pub fn changed(&self, callback: &CallbackRequest) {
        self.addr.do_send(CallbackChanged(Watch::from(callback)));
    }

    /// Fires what is due by the monitor's clock and waits until it is handled; the number of
    /// points fired.
    pub async fn fire_due(&self) -> Result<usize, MailboxError> {
        self.addr.send(FireDue).await
    }

    /// Callbacks watched and the earliest point (once every message sent before is handled).
    pub async fn watched(&self) -> Result<(usize, Option<DateTime<Utc>>), MailboxError> {
        self.addr.send(GetWatched).await
    }

    /// The listener that keeps the monitor in step with domain events.
    pub fn listener(&self) -> Arc<dyn EventListener> {
        Arc::new(SlaListener {
            addr: self.addr.clone(),
        })
    }
}

impl CallbackWatch for SlaHandle {
    fn changed(&self, callback: &CallbackRequest) {
        SlaHandle::changed(self, callback);
    }
}

/// Feeds callback events to the monitor.
struct SlaListener {
    addr: Addr<SlaMonitor>,
}

#[async_trait]
impl EventListener for SlaListener {
    async fn on_event(&self, event: &DomainEvent) {
        if !matches!(
            event.event_type,
            EventType::CallbackRequested
                | EventType::CallbackAssigned
                | EventType::CallbackStatusChanged
                | EventType::CallbackEscalated
        ) {
            return;
        }
        match event
            .data
            .get("callback")
            .map(|c| serde_json::from_value::<CallbackRequest>(c.clone()))
        {
            Some(Ok(callback)) => self.addr.do_send(CallbackChanged(Watch::from(&callback))),
            Some(Err(e)) => {
                tracing::error!(event_id = %event.id, error = %e, "callback event without a readable callback")
            }
            None => {
                tracing::error!(event_id = %event.id, "callback event without a callback")
            }
        }
    }
}
