//! Automatic assignment against the store: gathers the facts `domain::assignment` decides
//! from (candidates with their branches, the customer's history, services, open load) and
//! applies a pick to a callback.

use callflow_actors::domain::assignment::{
    choose, escalation_target, AssignmentFacts, AssignmentRules, Candidate, NoPick, Pick,
};
use callflow_actors::domain::callback::{transition, CallbackAction, CallbackPolicy};
use callflow_actors::domain::{Branch, CallbackRequest, Service, Staff, StaffId};
use callflow_actors::{Engine, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Whether the pick is for a new or reassigned callback, or for an escalation (which prefers
/// a manager).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Creation or reassignment.
    Assign,
    /// A breached SLA.
    Escalate,
}

/// Picks the staff member for `callback` by the rules of `domain::assignment`, never one of
/// `exclude`. `Ok(Err(_))` says why nobody qualifies; `Err` is the store failing.
///
/// With an `engine`, a callback's branch, staff and services come from the engine's cached
/// branch facts (kept current by the admin API) instead of three queries; a callback without a
/// branch, or of a branch the engine does not know, reads them from the store.
pub async fn pick(
    store: &dyn Store,
    engine: Option<&Engine>,
    rules: &AssignmentRules,
    callback: &CallbackRequest,
    exclude: &[StaffId],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Result<Pick, NoPick>, StoreError> {
    let cached = callback
        .branch_id
        .zip(engine)
        .and_then(|(id, engine)| engine.branch(id));
    let (branches, staff, services) = match cached {
        Some(info) => (
            vec![Branch::clone(&info.branch)],
            info.staff.iter().map(|s| (Staff::clone(s), 0)).collect(),
            info.services.iter().map(|s| Service::clone(s)).collect(),
        ),
        None => from_store(store, callback).await?,
    };
    if !staff.iter().any(|(s, _)| s.active) {
        return Ok(Err(NoPick::NoActiveStaff));
    }
    let customer = match callback.customer_id {
        Some(_) => {
            store
                .customer_by_phone(callback.company_id, &callback.phone)
                .await?
        }
        None => None,
    };
    let served = match &customer {
        Some(c) => store.staff_who_served(c.id).await?,
        None => Vec::new(),
    };
    let open_load: HashMap<StaffId, u32> = store
        .open_callback_counts(callback.company_id)
        .await?
        .into_iter()
        .collect();
    let candidates: Vec<Candidate<'_>> = staff
        .iter()
        .map(|(s, branch)| Candidate {
            staff: s,
            branch: &branches[*branch],
        })
        .collect();
    let facts = AssignmentFacts {
        callback,
        candidates: &candidates,
        preferred: customer.as_ref().and_then(|c| c.preferred_staff_id),
        served_before: &served,
        services: &services,
        open_load: &open_load,
        exclude,
    };
    Ok(match purpose {
        Purpose::Assign => choose(&facts, rules, now),
        Purpose::Escalate => escalation_target(&facts, rules, now),
    })
}

/// The callback's branch (or the company's branches), their staff (with the index of their
/// branch) and the company's services, read from the store.
async fn from_store(
    store: &dyn Store,
    callback: &CallbackRequest,
) -> Result<(Vec<Branch>, Vec<(Staff, usize)>, Vec<Service>), StoreError> {
    let branches: Vec<Branch> = store
        .list_branches(Some(callback.company_id))
        .await?
        .into_iter()
        .filter(|b| callback.branch_id.is_none_or(|id| id == b.id))
        .collect();
    let staff: Vec<(Staff, usize)> = store
        .company_staff(callback.company_id)
        .await?
        .into_iter()
        .filter_map(|s| {
            let index = branches.iter().position(|b| b.id == s.branch_id)?;
            Some((s, index))
        })
        .collect();
    let services = store.list_services(callback.company_id).await?;
    Ok((branches, staff, services))
}

/// The callback assigned to `pick` (a pending one becomes assigned; an assigned one is handed
/// over), with the pick's reason recorded; `None` when its state allows no assignment.
pub fn assign(
    callback: &CallbackRequest,
    pick: &Pick,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> Option<CallbackRequest> {
    let action = CallbackAction::Assign {
        staff: pick.staff_id,
        note: Some(format!("automatic: {}", pick.reason)),
    };
    let mut assigned = transition(callback, &action, None, now, policy).ok()?;
    assigned.assignment_reason = Some(pick.reason.clone());
    Some(assigned)
}
