//! Callback requests: opening them (one path for every source: the voice agent's
//! `request_callback`, a call that ended without the booking it wanted, an operator), the
//! lifecycle steps an operator takes, and the steps the SLA monitor takes when a deadline comes.
//!
//! Every change is written by compare-and-swap on the callback's version and announced once
//! durable, with one payload shape per event type whoever raised it.

mod lifecycle;
pub mod metrics;
mod open;
mod sla;

pub use lifecycle::{Refusal, Requested, Step};
pub use open::Opened;
pub use sla::Handled;

use super::names;
use super::Settings;
use crate::events::{Events, Names};
use callflow_actors::clock::Clock;
use callflow_actors::domain::{CallbackId, CallbackRequest, CompanyId, Staff, StaffId};
use callflow_actors::{Engine, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::{Arc, OnceLock};

/// Told of callback changes that publish no event (a merge may move a deadline): the SLA
/// monitor.
pub trait CallbackWatch: Send + Sync + 'static {
    /// `callback` is now as given.
    fn changed(&self, callback: &CallbackRequest);
}

/// The callback use cases.
#[derive(Clone)]
pub struct Callbacks {
    store: Arc<dyn Store>,
    engine: Option<Engine>,
    events: Events,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    watch: Arc<OnceLock<Arc<dyn CallbackWatch>>>,
}

impl Callbacks {
    /// The use cases over `store`; with an `engine`, assignment and event names read the
    /// engine's cached branch facts instead of querying.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Option<Engine>,
        events: Events,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            engine,
            events,
            clock,
            settings: Arc::new(settings),
            watch: Arc::new(OnceLock::new()),
        }
    }

    /// Sets who hears of merges (once; the SLA monitor starts after the application).
    pub fn set_watch(&self, watch: Arc<dyn CallbackWatch>) {
        if self.watch.set(watch).is_err() {
            tracing::warn!("the callback watch was set twice; keeping the first");
        }
    }

    /// The policy in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current time, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The callback `id` of `company`.
    pub async fn get(
        &self,
        company: CompanyId,
        id: CallbackId,
    ) -> Result<Option<CallbackRequest>, StoreError> {
        self.store.callback(company, id).await
    }

    /// Open callbacks with a deadline, ordered by (due, id), after `after`: the SLA monitor's
    /// rebuild, page by page.
    pub async fn watched_page(
        &self,
        after: Option<(DateTime<Utc>, CallbackId)>,
        limit: u32,
    ) -> Result<Vec<CallbackRequest>, StoreError> {
        self.store.watched_callbacks(after, limit).await
    }

    /// The staff member `id` of `company`, if there is one.
    pub async fn staff_member(
        &self,
        company: CompanyId,
        id: StaffId,
    ) -> Result<Option<Staff>, StoreError> {
        self.store.staff_member(company, id).await
    }

    fn names(&self, callback: &CallbackRequest) -> Names {
        names::callback(self.engine.as_ref(), callback)
    }
}
