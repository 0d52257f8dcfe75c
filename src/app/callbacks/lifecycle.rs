//! The lifecycle steps an operator takes on a callback: assign (to someone named, or to the
//! automatic pick), contact, attempt, complete, cancel. The rules are
//! `callflow_actors::domain::callback::transition`; this is the compare-and-swap write, the
//! event and the audit entry around them.

use super::super::assignment::{self, Purpose};
use super::super::audit::{self, Actor, Change};
use super::Callbacks;
use crate::events::DomainEvent;
use callflow_actors::domain::callback::{transition, CallbackAction};
use callflow_actors::domain::{CallbackId, CallbackRequest, StaffId};
use callflow_actors::StoreError;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What an operator asks for: a domain action, or an assignment to whoever the automatic
/// assignment picks.
#[derive(Clone, Debug)]
pub enum Requested {
    /// Exactly this step.
    Action(CallbackAction),
    /// Assign to the automatic pick among the callback's branch staff (the current assignee
    /// excluded: reassigning means someone else).
    AutoAssign {
        /// Why, or anything to hand over.
        note: Option<String>,
    },
}

impl Requested {
    /// The action's name, as in the API path.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Action(action) => action.name(),
            Self::AutoAssign { .. } => "assign",
        }
    }
}

/// Why a step was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// No such callback (or not one the operator may see).
    NotFound,
    /// A value is wrong, by field.
    Invalid(BTreeMap<String, String>),
    /// The callback changed meanwhile, or the step is not allowed from its state.
    Conflict(String),
    /// The store failed.
    Failed(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::Failed(e)
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid(BTreeMap::from([(field.to_owned(), message.into())]))
}

fn stale(expected: i64, current: i64) -> Refusal {
    Refusal::Conflict(format!(
        "version conflict: the callback is at version {current}, not {expected}; \
         someone else changed it, read it again"
    ))
}

/// A step that was written: the callback it replaced and the one stored.
#[derive(Clone, Debug)]
pub struct Step {
    /// As it was.
    pub before: CallbackRequest,
    /// As it is now.
    pub after: CallbackRequest,
}

impl Callbacks {
    /// Applies `requested` to callback `id` if `visible` says the operator may see it, and
    /// writes it back if it still has the `expected` version (or the version just read,
    /// without one). Publishes `CallbackAssigned` or `CallbackStatusChanged` and audits
    /// `callback.<action>` once the write is durable.
    pub async fn step(
        &self,
        actor: &Actor,
        visible: impl Fn(&CallbackRequest) -> bool,
        id: CallbackId,
        requested: &Requested,
        expected: Option<i64>,
    ) -> Result<Step, Refusal> {
        let now = self.now();
        let current = self
            .store
            .callback(actor.company_id, id)
            .await?
            .filter(|c| visible(c))
            .ok_or(Refusal::NotFound)?;
        let expected = expected.unwrap_or(current.version);
        if expected != current.version {
            return Err(stale(expected, current.version));
        }
        let (action, automatic) = self.resolve(requested, &current, now).await?;
        if let CallbackAction::Assign { staff, .. } = &action {
            // A callback of a branch goes to someone working there.
            if let Some(branch) = current.branch_id {
                let member = self.staff_member(actor.company_id, *staff).await?;
                if member.is_some_and(|m| m.branch_id != branch) {
                    return Err(invalid(
                        "staff_id",
                        "works at another branch than the callback's",
                    ));
                }
            }
        }
        let policy = &self.settings.callbacks;
        let mut changed = transition(&current, &action, actor.staff_id, now, policy)
            .map_err(|e| Refusal::Conflict(format!("illegal transition: {e}")))?;
        if let Some(reason) = &automatic {
            changed.assignment_reason = Some(reason.clone());
        }
        if !self.store.update_callback(&changed, expected).await? {
            let now_at = self
                .store
                .callback(actor.company_id, id)
                .await?
                .map_or(expected + 1, |c| c.version);
            return Err(stale(expected, now_at));
        }
        tracing::info!(
            callback_id = %changed.id,
            action = action.name(),
            status = %changed.status,
            token_id = %actor.token_id,
            "callback changed"
        );
        self.publish_step(&current, &changed, &action, automatic.is_some(), now)
            .await;
        let name = format!("callback.{}", requested.name());
        let change = Change::updated(&name, "callback", changed.id, &current, &changed);
        audit::record(&*self.store, actor, change, now).await;
        Ok(Step {
            before: current,
            after: changed,
        })
    }

    /// The domain action for `requested` on `current`, and the automatic pick's reason when the
    /// assignee was picked automatically (a conflict when nobody qualifies).
    async fn resolve(
        &self,
        requested: &Requested,
        current: &CallbackRequest,
        now: DateTime<Utc>,
    ) -> Result<(CallbackAction, Option<String>), Refusal> {
        let note = match requested {
            Requested::Action(action) => return Ok((action.clone(), None)),
            Requested::AutoAssign { note } => note.clone(),
        };
        let exclude: Vec<StaffId> = current.assigned_staff_id.into_iter().collect();
        let picked = assignment::pick(
            &*self.store,
            self.engine.as_ref(),
            &self.settings.assignment,
            current,
            &exclude,
            Purpose::Assign,
            now,
        )
        .await?;
        match picked {
            Ok(pick) => Ok((
                CallbackAction::Assign {
                    staff: pick.staff_id,
                    note,
                },
                Some(pick.reason),
            )),
            Err(why) => Err(Refusal::Conflict(format!(
                "nobody to assign automatically: {why}; name a staff_id"
            ))),
        }
    }

    /// Announces a durable step: `CallbackAssigned` for an assignment, `CallbackStatusChanged`
    /// for any other step that changed the status.
    pub(super) async fn publish_step(
        &self,
        before: &CallbackRequest,
        after: &CallbackRequest,
        action: &CallbackAction,
        automatic: bool,
        now: DateTime<Utc>,
    ) {
        let names = self.names(after);
        let event = match action {
            CallbackAction::Assign { .. } => DomainEvent::callback_assigned(
                after,
                before.assigned_staff_id,
                automatic,
                &names,
                now,
            ),
            _ if before.status != after.status => DomainEvent::callback_status_changed(
                before.status,
                after,
                action.name(),
                &names,
                now,
            ),
            _ => return,
        };
        self.events.publish(event).await;
    }
}
