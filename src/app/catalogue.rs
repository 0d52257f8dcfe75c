//! Admin changes to what the actors hold (branches, phone numbers, staff, services, customers):
//! write to the store, push the change to the running actors, audit it. The actors and the
//! audit log only ever hear of changes that are durable.

use super::audit::{self, Actor, Change};
use crate::telemetry::ErrorChain;
use callflow_actors::clock::Clock;
use callflow_actors::domain::{Branch, CompanyId, Staff, StaffId};
use callflow_actors::{Engine, Store, StoreError, StoreResult};
use std::future::Future;
use std::sync::Arc;

/// The catalogue use cases.
#[derive(Clone)]
pub struct Catalogue {
    store: Arc<dyn Store>,
    engine: Engine,
    clock: Arc<dyn Clock>,
}

impl Catalogue {
    /// The use cases over `engine` and its store.
    pub fn new(store: Arc<dyn Store>, engine: Engine, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            engine,
            clock,
        }
    }

    /// Stores a change through `write`, then [`Catalogue::changed`]; the store's error (a
    /// conflict, say) is the caller's to answer.
    pub async fn write_through(
        &self,
        actor: &Actor,
        write: impl Future<Output = StoreResult<()>>,
        change: Change<'_>,
    ) -> StoreResult<()> {
        write.await?;
        self.changed(actor, change).await;
        Ok(())
    }

    /// After a durable change to data the running actors hold: reloads them, then audits
    /// `change`. Neither can fail the change: a reload that fails is logged, and the actors
    /// pick the change up on their next reload.
    pub async fn changed(&self, actor: &Actor, change: Change<'_>) {
        self.reload(actor.company_id).await;
        audit::record(&*self.store, actor, change, self.clock.now()).await;
    }

    /// Pushes the company's stored data to the running actors (registry, branches, staff).
    pub async fn reload(&self, company: CompanyId) {
        if let Err(error) = self.engine.reload(Some(company)).await {
            tracing::error!(
                error = %ErrorChain(&error),
                company_id = %company,
                "changed data could not be pushed to the running actors"
            );
        }
    }

    /// The first of `agents` that a company other than `company` already routes by (on one of
    /// its branches or phone numbers): a Retell agent id belongs to one company, so another
    /// cannot claim it and with it the calls the agent answers.
    pub async fn agent_of_another_company<'a>(
        &self,
        company: CompanyId,
        agents: impl IntoIterator<Item = &'a str>,
    ) -> StoreResult<Option<String>> {
        let wanted: Vec<&str> = agents.into_iter().map(str::trim).collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let taken = |agent: &str| wanted.contains(&agent.trim());
        for branch in self.store.list_branches(None).await? {
            if branch.company_id == company {
                continue;
            }
            if let Some(agent) = branch.agent_by_language.values().find(|a| taken(a)) {
                return Ok(Some(agent.clone()));
            }
        }
        Ok(self
            .store
            .list_phone_numbers()
            .await?
            .into_iter()
            .filter(|n| n.company_id != company)
            .find_map(|n| n.retell_agent_id.filter(|a| taken(a))))
    }

    /// The company's branches.
    pub async fn branches(&self, company: CompanyId) -> StoreResult<Vec<Branch>> {
        self.store.list_branches(Some(company)).await
    }

    /// The staff member `id` of `company`, if there is one.
    pub async fn staff_member(
        &self,
        company: CompanyId,
        id: StaffId,
    ) -> Result<Option<Staff>, StoreError> {
        self.store.staff_member(company, id).await
    }
}
