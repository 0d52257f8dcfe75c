//! The registry actor: one per node, the single writer of the indexes that HTTP handlers read
//! directly (routing table, branch and staff directories, active calls). It starts branch and
//! staff actors from the store and updates them live when the admin side reports a change.

use crate::branch::{BranchActor, BranchChanged, RosterEntry};
use crate::call::{CallActor, CallContext};
use crate::clock::{Clock, SystemClock};
use crate::domain::*;
use crate::routing_table::RoutingTable;
use crate::settings::EngineSettings;
use crate::staff::{BranchSchedule, StaffActor, StaffChanged};
use crate::store::{Store, StoreError};
use actix::prelude::*;
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;

/// A branch as answers to callers need it: its record, company and staff, cached.
#[derive(Clone, Debug)]
pub struct BranchInfo {
    /// The branch.
    pub branch: Arc<Branch>,
    /// Its company.
    pub company: Arc<Company>,
    /// Its staff.
    pub staff: Vec<Arc<Staff>>,
    /// The company's active services.
    pub services: Arc<Vec<Arc<Service>>>,
}

/// A branch's cached facts and coordinator.
#[derive(Clone)]
pub struct BranchEntry {
    /// Cached facts.
    pub info: Arc<BranchInfo>,
    /// The coordinator.
    pub addr: Addr<BranchActor>,
}

/// The indexes handlers read without a mailbox round trip; only the registry writes them.
#[derive(Default)]
pub struct Directory {
    /// Number, agent and slug routing.
    pub routing: RoutingTable,
    /// Branches by id.
    pub branches: DashMap<BranchId, BranchEntry>,
    /// Staff actors by staff id.
    pub staff: DashMap<StaffId, RosterEntry>,
    /// Active call actors by call id.
    pub calls: DashMap<CallId, Addr<CallActor>>,
}

/// The registry.
pub struct Registry {
    store: Arc<dyn Store>,
    settings: Arc<EngineSettings>,
    directory: Arc<Directory>,
    /// Where branch, staff and call actors run.
    arbiter: ArbiterHandle,
    /// The clock the staff actors it starts expire holds by.
    clock: Arc<dyn Clock>,
}

impl Registry {
    /// A registry writing `directory` and starting actors on `arbiter`.
    pub fn new(
        store: Arc<dyn Store>,
        settings: Arc<EngineSettings>,
        directory: Arc<Directory>,
        arbiter: ArbiterHandle,
    ) -> Self {
        Self {
            store,
            settings,
            directory,
            arbiter,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same registry, starting staff actors that expire holds by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// What a reload found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSummary {
    /// Companies loaded.
    pub companies: usize,
    /// Branches loaded.
    pub branches: usize,
    /// Staff loaded.
    pub staff: usize,
    /// Dialled numbers loaded.
    pub numbers: usize,
}

/// Loads (or reloads) one company or all from the store, starting actors for new branches and
/// staff and updating existing ones in place: no restart, no lost calendar.
#[derive(Message)]
#[rtype(result = "Result<LoadSummary, StoreError>")]
pub struct Reload {
    /// Only this company; `None` for all.
    pub company: Option<CompanyId>,
}

struct Snapshot {
    companies: Vec<Company>,
    branches: Vec<Branch>,
    numbers: Vec<PhoneNumber>,
    staff: Vec<Staff>,
    services: HashMap<CompanyId, Vec<Service>>,
}

async fn snapshot(store: Arc<dyn Store>, only: Option<CompanyId>) -> Result<Snapshot, StoreError> {
    let companies: Vec<Company> = store
        .list_companies()
        .await?
        .into_iter()
        .filter(|c| only.is_none_or(|id| id == c.id))
        .collect();
    let branches = store.list_branches(only).await?;
    let numbers: Vec<PhoneNumber> = store
        .list_phone_numbers()
        .await?
        .into_iter()
        .filter(|n| only.is_none_or(|id| id == n.company_id))
        .collect();
    let staff: Vec<Staff> = match only {
        Some(company) => store.company_staff(company).await?,
        None => store
            .list_staff(None)
            .await?
            .into_iter()
            .filter(|s| branches.iter().any(|b| b.id == s.branch_id))
            .collect(),
    };
    let mut services = HashMap::new();
    for company in &companies {
        services.insert(company.id, store.list_services(company.id).await?);
    }
    Ok(Snapshot {
        companies,
        branches,
        numbers,
        staff,
        services,
    })
}

impl Handler<Reload> for Registry {
    type Result = AtomicResponse<Self, Result<LoadSummary, StoreError>>;

    fn handle(&mut self, msg: Reload, _: &mut Self::Context) -> Self::Result {
        let store = self.store.clone();
        AtomicResponse::new(Box::pin(
            snapshot(store, msg.company)
                .into_actor(self)
                .map(|loaded, registry, _| loaded.map(|s| registry.apply(s))),
        ))
    }
}

impl Registry {
    fn apply(&mut self, snapshot: Snapshot) -> LoadSummary {
        let settings = &self.settings;
        let mut summary = LoadSummary {
            companies: snapshot.companies.len(),
            ..LoadSummary::default()
        };
        for company in &snapshot.companies {
            let company_arc = Arc::new(company.clone());
            let branches: Vec<Branch> = snapshot
                .branches
                .iter()
                .filter(|b| b.company_id == company.id)
                .cloned()
                .collect();
            let numbers: Vec<PhoneNumber> = snapshot
                .numbers
                .iter()
                .filter(|n| n.company_id == company.id)
                .cloned()
                .collect();
            let services: Arc<Vec<Arc<Service>>> = Arc::new(
                snapshot
                    .services
                    .get(&company.id)
                    .into_iter()
                    .flatten()
                    .filter(|s| s.active)
                    .cloned()
                    .map(Arc::new)
                    .collect(),
            );
            for branch in &branches {
                let branch_arc = Arc::new(branch.clone());
                let schedule = Arc::new(BranchSchedule::from(branch));
                let mut roster = Vec::new();
                for staff in snapshot.staff.iter().filter(|s| s.branch_id == branch.id) {
                    let staff_arc = Arc::new(staff.clone());
                    let addr = match self.directory.staff.get(&staff.id).map(|e| e.addr.clone()) {
                        Some(addr) => {
                            addr.do_send(StaffChanged {
                                staff: staff_arc.clone(),
                                schedule: schedule.clone(),
                            });
                            addr
                        }
                        None => {
                            let (store, rules, capacity, clock) = (
                                self.store.clone(),
                                settings.rules,
                                settings.mailbox_capacity,
                                self.clock.clone(),
                            );
                            let (s, sch) = (staff_arc.clone(), schedule.clone());
                            Supervisor::start_in_arbiter(&self.arbiter, move |_| {
                                StaffActor::new(s, sch, rules, store, capacity).with_clock(clock)
                            })
                        }
                    };
                    let entry = RosterEntry {
                        staff: staff_arc,
                        addr,
                    };
                    self.directory.staff.insert(staff.id, entry.clone());
                    roster.push(entry);
                }
                summary.staff += roster.len();
                let info = Arc::new(BranchInfo {
                    branch: branch_arc.clone(),
                    company: company_arc.clone(),
                    staff: roster.iter().map(|e| e.staff.clone()).collect(),
                    services: services.clone(),
                });
                let roster = Arc::new(roster);
                let addr = match self
                    .directory
                    .branches
                    .get(&branch.id)
                    .map(|e| e.addr.clone())
                {
                    Some(addr) => {
                        addr.do_send(BranchChanged {
                            branch: branch_arc,
                            roster,
                        });
                        addr
                    }
                    None => {
                        let (weights, max, capacity) = (
                            settings.weights,
                            settings.max_slots_offered,
                            settings.mailbox_capacity,
                        );
                        Supervisor::start_in_arbiter(&self.arbiter, move |_| {
                            BranchActor::new(branch_arc, roster, weights, max, capacity)
                        })
                    }
                };
                self.directory
                    .branches
                    .insert(branch.id, BranchEntry { info, addr });
            }
            summary.branches += branches.len();
            summary.numbers += numbers.len();
            self.directory
                .routing
                .replace_company(company, &branches, &numbers);
        }
        tracing::info!(?summary, "registry loaded");
        summary
    }
}

/// Starts the actor of a call (or returns the running one: Retell may deliver twice).
#[derive(Message)]
#[rtype(result = "Addr<CallActor>")]
pub struct StartCall {
    /// What is known about the call.
    pub context: CallContext,
}

impl Handler<StartCall> for Registry {
    type Result = MessageResult<StartCall>;

    fn handle(&mut self, msg: StartCall, _: &mut Self::Context) -> Self::Result {
        let call_id = msg.context.call_id.clone();
        if let Some(running) = self.directory.calls.get(&call_id).filter(|a| a.connected()) {
            return MessageResult(running.clone());
        }
        let directory = self.directory.clone();
        let idle = self.settings.call_idle_timeout;
        let context = msg.context;
        let addr = CallActor::start_in_arbiter(&self.arbiter, move |_| {
            CallActor::new(
                context,
                idle,
                Box::new(move |id: &CallId| {
                    directory.calls.remove(id);
                }),
            )
        });
        self.directory.calls.insert(call_id, addr.clone());
        MessageResult(addr)
    }
}
