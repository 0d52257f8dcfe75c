//! What happens when an SLA point is reached: warn, escalate (or only notify at the highest
//! level), expire. Each step reads the callback afresh, decides with the domain rules and
//! writes by compare-and-swap, reading again and deciding again when someone changed it
//! meanwhile. Events are published after the write is durable.

use super::metrics as m;
use crate::assignment::{self, Purpose};
use crate::callbacks::callback_event;
use crate::events::{EventType, Events};
use callflow_actors::domain::assignment::AssignmentRules;
use callflow_actors::domain::callback::{transition, CallbackAction, CallbackPolicy};
use callflow_actors::domain::sla::{escalate, Firing, PointKind, SlaRules, Watch};
use callflow_actors::domain::{CallbackRequest, CallbackStatus};
use callflow_actors::{Engine, Store, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;

/// Compare-and-swap rounds before a firing is given up for a retry later.
const CAS_ROUNDS: usize = 5;

/// Everything handling a firing needs.
#[derive(Clone)]
pub struct SlaDeps {
    /// Where callbacks live.
    pub store: Arc<dyn Store>,
    /// The engine's cached branch facts, for picking whom to escalate to (optional).
    pub engine: Option<Engine>,
    /// Where changes are announced.
    pub events: Events,
    /// SLAs by priority, notes bounds, attempts.
    pub policy: CallbackPolicy,
    /// Warning, escalation and expiry rules.
    pub rules: SlaRules,
    /// How a new assignee is picked on escalation.
    pub assignment: AssignmentRules,
}

/// How handling a firing ended.
#[derive(Debug)]
pub enum Handled {
    /// Done; the callback as it now stands (the schedule takes it as news), if it exists.
    Done(Option<Watch>),
    /// The store failed or the callback kept changing: try again later.
    Retry,
}

/// Handles one firing at `now`.
pub async fn handle(deps: &SlaDeps, firing: &Firing, now: DateTime<Utc>) -> Handled {
    let result = match firing.kind {
        PointKind::Approaching => approaching(deps, firing, now).await,
        PointKind::Breached => breached(deps, firing, now).await,
        PointKind::Expire => expire(deps, firing, now).await,
    };
    match result {
        Ok(Some(handled)) => handled,
        Ok(None) => {
            tracing::warn!(callback_id = %firing.callback_id, kind = ?firing.kind, "callback kept changing; retrying later");
            Handled::Retry
        }
        Err(e) => {
            tracing::error!(callback_id = %firing.callback_id, kind = ?firing.kind, error = %e, "SLA step failed; retrying later");
            Handled::Retry
        }
    }
}

fn watched(callback: &CallbackRequest) -> bool {
    matches!(
        callback.status,
        CallbackStatus::Pending | CallbackStatus::Assigned
    )
}

async fn load(deps: &SlaDeps, firing: &Firing) -> Result<Option<CallbackRequest>, StoreError> {
    deps.store
        .callback(firing.company_id, firing.callback_id)
        .await
}

async fn approaching(
    deps: &SlaDeps,
    firing: &Firing,
    now: DateTime<Utc>,
) -> Result<Option<Handled>, StoreError> {
    let Some(callback) = load(deps, firing).await? else {
        return Ok(Some(Handled::Done(None)));
    };
    // A deadline moved later (news we missed) re-times instead of warning.
    if watched(&callback) && callback.due_at <= firing.due_at {
        metrics::counter!(m::SLA_APPROACHING_TOTAL).increment(1);
        let minutes_left = (callback.due_at - now).num_minutes().max(0);
        deps.events
            .publish(callback_event(
                EventType::CallbackSlaApproaching,
                &callback,
                json!({
                    "due_at": callback.due_at,
                    "minutes_left": minutes_left,
                    "assigned_staff_id": callback.assigned_staff_id,
                    "escalation_level": callback.escalation_level,
                }),
                now,
            ))
            .await;
    }
    Ok(Some(Handled::Done(Some(Watch::from(&callback)))))
}

async fn breached(
    deps: &SlaDeps,
    firing: &Firing,
    now: DateTime<Utc>,
) -> Result<Option<Handled>, StoreError> {
    for _ in 0..CAS_ROUNDS {
        let Some(callback) = load(deps, firing).await? else {
            return Ok(Some(Handled::Done(None)));
        };
        if !watched(&callback) || callback.due_at > now {
            return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
        }
        let level = callback.escalation_level;
        if level >= deps.rules.max_escalation_level {
            metrics::counter!(m::SLA_BREACHED_TOTAL).increment(1);
            publish_breach(deps, &callback, &callback, true, now).await;
            return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
        }
        let current: Vec<_> = callback.assigned_staff_id.into_iter().collect();
        let target = match assignment::pick(
            &*deps.store,
            deps.engine.as_ref(),
            &deps.assignment,
            &callback,
            &current,
            Purpose::Escalate,
            now,
        )
        .await?
        {
            Ok(pick) => Some(pick),
            Err(why) => {
                tracing::warn!(callback_id = %callback.id, reason = %why, "escalating without a new assignee");
                None
            }
        };
        let (escalated, record) = escalate(
            &callback,
            target.as_ref().map(|p| (p.staff_id, p.reason.as_str())),
            &deps.rules,
            &deps.policy,
            now,
        );
        if !deps
            .store
            .escalate_callback(&escalated, callback.version, &record)
            .await?
        {
            continue; // Someone changed it first: read again and decide again.
        }
        metrics::counter!(m::SLA_BREACHED_TOTAL).increment(1);
        metrics::counter!(m::SLA_ESCALATIONS_TOTAL).increment(1);
        tracing::info!(callback_id = %callback.id, level = record.level, to = ?record.to_staff_id, "callback escalated");
        publish_breach(deps, &callback, &escalated, false, now).await;
        deps.events
            .publish(callback_event(
                EventType::CallbackEscalated,
                &escalated,
                json!({ "escalation": record }),
                now,
            ))
            .await;
        if let Some(pick) = target {
            deps.events
                .publish(callback_event(
                    EventType::CallbackAssigned,
                    &escalated,
                    json!({
                        "previous_staff_id": callback.assigned_staff_id,
                        "staff_id": pick.staff_id,
                        "reason": pick.reason,
                        "automatic": true,
                    }),
                    now,
                ))
                .await;
        }
        return Ok(Some(Handled::Done(Some(Watch::from(&escalated)))));
    }
    Ok(None)
}

async fn publish_breach(
    deps: &SlaDeps,
    before: &CallbackRequest,
    after: &CallbackRequest,
    final_level: bool,
    now: DateTime<Utc>,
) {
    deps.events
        .publish(callback_event(
            EventType::CallbackSlaBreached,
            after,
            json!({
                "due_at": before.due_at,
                "escalation_level": before.escalation_level,
                "assigned_staff_id": before.assigned_staff_id,
                "final": final_level,
            }),
            now,
        ))
        .await;
}

async fn expire(
    deps: &SlaDeps,
    firing: &Firing,
    now: DateTime<Utc>,
) -> Result<Option<Handled>, StoreError> {
    for _ in 0..CAS_ROUNDS {
        let Some(callback) = load(deps, firing).await? else {
            return Ok(Some(Handled::Done(None)));
        };
        let expires_at = callback.due_at + deps.rules.expire_after;
        if !watched(&callback)
            || callback.escalation_level < deps.rules.max_escalation_level
            || now < expires_at
        {
            return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
        }
        let Ok(expired) = transition(&callback, &CallbackAction::Expire, None, now, &deps.policy)
        else {
            return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
        };
        if !deps
            .store
            .update_callback(&expired, callback.version)
            .await?
        {
            continue;
        }
        metrics::counter!(m::SLA_EXPIRED_TOTAL).increment(1);
        tracing::info!(callback_id = %callback.id, "callback expired");
        deps.events
            .publish(callback_event(
                EventType::CallbackStatusChanged,
                &expired,
                json!({ "from": callback.status, "to": expired.status }),
                now,
            ))
            .await;
        return Ok(Some(Handled::Done(Some(Watch::from(&expired)))));
    }
    Ok(None)
}
