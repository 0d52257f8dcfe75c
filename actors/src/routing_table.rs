//! The routing index HTTP handlers read without a mailbox round trip: concurrent maps that only
//! the registry actor writes.

use crate::domain::routing::{BranchFacts, Destination, RoutingLookup};
use crate::domain::*;
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

/// Dialled numbers, agent ids, branch slugs and branch facts, for routing inbound calls.
#[derive(Default, Debug)]
pub struct RoutingTable {
    numbers: DashMap<E164Number, Destination>,
    agents: DashMap<String, Destination>,
    branches: DashMap<BranchId, BranchFacts>,
    /// Slugs are unique within a company only: keyed by both.
    slugs: DashMap<(CompanyId, String), BranchId>,
    company_defaults: DashMap<CompanyId, BranchId>,
    company_branches: DashMap<CompanyId, Vec<BranchId>>,
}

impl RoutingTable {
    /// Replaces everything known about one company (the registry's only write path, so a
    /// reader sees either the old or the new entry for each key, never a torn one).
    pub(crate) fn replace_company(
        &self,
        company: &Company,
        branches: &[Branch],
        numbers: &[PhoneNumber],
    ) {
        self.numbers.retain(|_, d| d.company_id != company.id);
        self.agents.retain(|_, d| d.company_id != company.id);
        if let Some((_, old)) = self.company_branches.remove(&company.id) {
            for id in old {
                if let Some((_, facts)) = self.branches.remove(&id) {
                    self.slugs.remove(&(facts.company_id, facts.slug));
                }
            }
        }
        for branch in branches {
            self.slugs
                .insert((branch.company_id, branch.slug.clone()), branch.id);
            self.branches.insert(branch.id, BranchFacts::from(branch));
            for agent in branch.agent_by_language.values() {
                let destination = Destination {
                    company_id: company.id,
                    branch_id: Some(branch.id),
                };
                match self.agents.entry(agent.clone()) {
                    // An agent id belongs to the company that had it first (the admin API
                    // refuses another's); a second company's claim never takes its calls.
                    Entry::Occupied(owner) if owner.get().company_id != company.id => {
                        tracing::warn!(agent_id = %agent, company_id = %company.id,
                            owner = %owner.get().company_id,
                            "an agent id of another company is ignored for routing");
                    }
                    Entry::Occupied(mut mine) => {
                        mine.insert(destination);
                    }
                    Entry::Vacant(free) => {
                        free.insert(destination);
                    }
                }
            }
        }
        self.company_branches
            .insert(company.id, branches.iter().map(|b| b.id).collect());
        match company.default_branch_id {
            Some(default) => self.company_defaults.insert(company.id, default),
            None => self.company_defaults.remove(&company.id).map(|(_, b)| b),
        };
        for number in numbers {
            let destination = Destination {
                company_id: number.company_id,
                branch_id: number.branch_id,
            };
            if let Some(agent) = &number.retell_agent_id {
                self.agents
                    .entry(agent.clone())
                    .or_insert_with(|| destination.clone());
            }
            self.numbers.insert(number.number.clone(), destination);
        }
    }

    /// Number of dialled numbers known.
    pub fn number_count(&self) -> usize {
        self.numbers.len()
    }
}

impl RoutingLookup for RoutingTable {
    fn number(&self, number: &E164Number) -> Option<Destination> {
        self.numbers.get(number).map(|d| d.clone())
    }

    fn agent(&self, agent_id: &str) -> Option<Destination> {
        self.agents.get(agent_id).map(|d| d.clone())
    }

    fn branch(&self, id: BranchId) -> Option<BranchFacts> {
        self.branches.get(&id).map(|b| b.clone())
    }

    fn branch_by_slug(&self, company: CompanyId, slug: &str) -> Option<BranchId> {
        self.slugs.get(&(company, slug.to_owned())).map(|b| *b)
    }

    fn company_default_branch(&self, company: CompanyId) -> Option<BranchId> {
        self.company_defaults.get(&company).map(|b| *b)
    }

    fn for_each_branch_of(&self, company: CompanyId, visit: &mut dyn FnMut(&BranchFacts)) {
        if let Some(ids) = self.company_branches.get(&company) {
            for id in ids.iter() {
                if let Some(facts) = self.branches.get(id) {
                    visit(&facts);
                }
            }
        }
    }
}
