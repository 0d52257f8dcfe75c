//! Calls: placing a call (which branch takes it, who is calling, which language to speak),
//! shared by the inbound answer, the call events and the custom functions so all three agree;
//! the call log and the work after each call event ([`events`]); the callbacks a call opens
//! ([`followup`]).

mod events;
mod followup;

pub use events::{call_of, Accepted, CallEventKind};
pub use followup::{CallbackAsk, OpenedCallback};

use super::Callbacks;
use crate::events::Events;
use callflow_actors::call::CallContext;
use callflow_actors::clock::Clock;
use callflow_actors::domain::routing::{
    choose_language, InboundCall, LanguageSource, Route, RouteMethod, Routing, UnroutedReason,
};
use callflow_actors::domain::*;
use callflow_actors::registry::BranchInfo;
use callflow_actors::Store;
use callflow_actors::{Engine, EngineError, StoreError};
use std::sync::Arc;

/// The call use cases.
#[derive(Clone)]
pub struct Calls {
    store: Arc<dyn Store>,
    engine: Engine,
    events: Events,
    clock: Arc<dyn Clock>,
    callbacks: Callbacks,
}

/// What is known about a call before it is placed.
#[derive(Clone, Copy, Debug)]
pub struct CallFacts<'a> {
    /// The dialled number.
    pub to: &'a E164Number,
    /// The caller, unless withheld.
    pub from: Option<&'a E164Number>,
    /// The Retell agent.
    pub agent: Option<&'a str>,
    /// A branch named in metadata or a SIP header.
    pub branch_hint: Option<&'a str>,
    /// A language Retell or the integrator named.
    pub detected_language: Option<Language>,
}

/// A call placed at a branch.
#[derive(Clone, Debug)]
pub struct Placed {
    /// How it was routed.
    pub route: Route,
    /// The branch's cached facts.
    pub info: Arc<BranchInfo>,
    /// The caller, when recognised.
    pub customer: Option<Customer>,
    /// The conversation language.
    pub language: Language,
    /// Where the language came from.
    pub language_source: LanguageSource,
}

impl Placed {
    /// The engine's context for the call actor.
    pub fn context(&self, call_id: CallId, caller: Option<E164Number>) -> CallContext {
        CallContext {
            call_id,
            company_id: self.route.company_id,
            branch_id: self.route.branch_id,
            caller,
            language: self.language,
            customer_id: self.customer.as_ref().map(|c| c.id),
        }
    }
}

impl Calls {
    /// The use cases over `engine` and its store; callbacks a call opens go through `callbacks`.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Engine,
        events: Events,
        clock: Arc<dyn Clock>,
        callbacks: Callbacks,
    ) -> Self {
        Self {
            store,
            engine,
            events,
            clock,
            callbacks,
        }
    }

    /// The engine's cached facts of a branch.
    pub fn branch(&self, id: BranchId) -> Option<Arc<BranchInfo>> {
        self.engine.branch(id)
    }

    /// The current time, by the application's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Routes a call (with the caller's history when the cheaper rules are unsure), recognises the
    /// caller and chooses the language.
    pub async fn place(
        &self,
        facts: CallFacts<'_>,
    ) -> Result<Result<Placed, UnroutedReason>, StoreError> {
        let mut call = InboundCall {
            to_number: facts.to,
            from_number: facts.from,
            agent_id: facts.agent,
            explicit_branch: facts.branch_hint,
            caller_history: None,
        };
        let mut routing = self.engine.route(&call);
        // History outranks area code and the default, so it is worth a query only when one of
        // those two decided; the faster rules need no database round trip.
        if let (Routing::Routed(route), Some(from)) = (&routing, facts.from) {
            if matches!(
                route.method,
                RouteMethod::AreaCode | RouteMethod::CompanyDefault
            ) {
                call.caller_history = self.store.caller_history(route.company_id, from).await?;
                if call.caller_history.is_some() {
                    routing = self.engine.route(&call);
                }
            }
        }
        let route = match routing {
            Routing::Routed(route) => route,
            Routing::Unrouted(reason) => return Ok(Err(reason)),
        };
        let Some(info) = self.engine.branch(route.branch_id) else {
            return Ok(Err(UnroutedReason::NoActiveBranch));
        };
        let customer = match facts.from {
            Some(from) => self.store.customer_by_phone(route.company_id, from).await?,
            None => None,
        };
        let (language, language_source) = choose_language(
            customer.as_ref().and_then(|c| c.preferred_language),
            facts.detected_language,
            facts.from,
            info.branch.default_language(),
        );
        Ok(Ok(Placed {
            route,
            info,
            customer,
            language,
            language_source,
        }))
    }

    /// The active call with this id, or (when this node has not seen it, e.g. after a restart)
    /// the call placed afresh from its facts and started.
    pub async fn active_call(
        &self,
        call_id: &CallId,
        facts: Option<CallFacts<'_>>,
    ) -> Result<Option<ActiveCall>, CallError> {
        if let Some(context) = self.engine.touch_call(call_id).await {
            return Ok(self
                .engine
                .branch(context.branch_id)
                .map(|info| ActiveCall { context, info }));
        }
        let Some(facts) = facts else {
            return Ok(None);
        };
        let placed = match self.place(facts).await? {
            Ok(placed) => placed,
            Err(_) => return Ok(None),
        };
        let context = placed.context(call_id.clone(), facts.from.cloned());
        self.engine.start_call(context.clone()).await?;
        Ok(Some(ActiveCall {
            context,
            info: placed.info,
        }))
    }
}

/// The call a function or event belongs to, as the engine knows it.
#[derive(Clone, Debug)]
pub struct ActiveCall {
    /// The engine's context.
    pub context: CallContext,
    /// The branch's cached facts.
    pub info: Arc<BranchInfo>,
}

/// Placing a call, or the work after a call event, failed on our side.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
