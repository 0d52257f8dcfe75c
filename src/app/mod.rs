//! The application layer: every use case written once, whatever adapter calls it.
//!
//! The adapters (the Retell handlers and the admin API under `src/http`, the SLA monitor in
//! `crate::sla`, the CLI) parse their input into a typed command, call one function here and
//! encode the typed outcome. Only this layer combines the engine, the store, the domain events,
//! the audit log and policy for a use case, and it publishes each event itself once the change
//! is durable. Imports run one way: `http`/`sla` → `app` → {engine, store, events}.
//!
//! - [`bookings`]: find slots, book, cancel, reschedule (voice agent and admin API alike);
//! - [`callbacks`]: open (or merge), the lifecycle steps, the SLA steps, assignment;
//! - [`calls`]: placing a call at a branch, the call log, what happens after a call;
//! - [`catalogue`]: admin changes to the data the actors hold (write, reload, audit);
//! - [`audit`]: who changed what.

pub mod assignment;
pub mod audit;
pub mod bookings;
pub mod callbacks;
pub mod calls;
pub mod catalogue;
mod names;

pub use audit::{Actor, Change};
pub use bookings::Bookings;
pub use callbacks::Callbacks;
pub use calls::Calls;
pub use catalogue::Catalogue;

use crate::events::Events;
use callflow_actors::clock::Clock;
use callflow_actors::domain::assignment::AssignmentRules;
use callflow_actors::domain::callback::CallbackPolicy;
use callflow_actors::domain::sla::SlaRules;
use callflow_actors::{Engine, Store};
use std::sync::Arc;

/// The policy the use cases apply, from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How callbacks are opened, merged and bounded (and the region numbers are read in).
    pub callbacks: CallbackPolicy,
    /// How staff are picked for a callback.
    pub assignment: AssignmentRules,
    /// Whether new callbacks are assigned at once.
    pub auto_assign: bool,
    /// Warnings, escalation and expiry.
    pub sla: SlaRules,
}

impl Settings {
    /// The policy the configuration sets.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            callbacks: config.callback_policy(),
            assignment: config.assignment_rules(),
            auto_assign: config.callbacks.auto_assign,
            sla: config.sla_rules(),
        }
    }
}

/// The use cases, each group a cheap handle sharing the engine, store, events and clock.
#[derive(Clone)]
pub struct App {
    /// Slots, bookings, cancellations, reschedules.
    pub bookings: Bookings,
    /// Callback requests.
    pub callbacks: Callbacks,
    /// Calls and their log.
    pub calls: Calls,
    /// Admin changes to branches, numbers, staff, services and customers.
    pub catalogue: Catalogue,
}

impl App {
    /// The application over a started engine and its store.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Engine,
        events: Events,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let callbacks = Callbacks::new(
            store.clone(),
            Some(engine.clone()),
            events.clone(),
            clock.clone(),
            settings.clone(),
        );
        let bookings = Bookings::new(store.clone(), engine.clone(), events.clone(), clock.clone());
        let calls = Calls::new(
            store.clone(),
            engine.clone(),
            events,
            clock.clone(),
            callbacks.clone(),
        );
        let catalogue = Catalogue::new(store, engine, clock);
        Self {
            bookings,
            callbacks,
            calls,
            catalogue,
        }
    }
}
