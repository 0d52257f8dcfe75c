//! What happens when an SLA point is reached: warn, escalate (or only notify at the highest
//! level), expire. Each step reads the callback afresh, decides with the domain rules and
//! writes by compare-and-swap, reading again and deciding again when someone changed it
//! meanwhile. Events are published after the write is durable. The SLA monitor
//! (`crate::sla`) decides when; this decides what.

use super::super::assignment::{self, Purpose};
use super::metrics as m;
use super::Callbacks;
use crate::events::DomainEvent;
use callflow_actors::domain::callback::{transition, CallbackAction};
use callflow_actors::domain::sla::{escalate, Firing, PointKind, Watch};
use callflow_actors::domain::{CallbackRequest, CallbackStatus};
use callflow_actors::StoreError;
use chrono::{DateTime, Utc};

/// Compare-and-swap rounds before a firing is given up for a retry later.
const CAS_ROUNDS: usize = 5;

/// How handling a firing ended.
#[derive(Debug)]
pub enum Handled {
    /// Done; the callback as it now stands (the schedule takes it as news), if it exists.
    Done(Option<Watch>),
    /// The store failed or the callback kept changing: try again later.
    Retry,
}

impl Callbacks {
    /// Handles one SLA firing at `now`.
    pub async fn handle_firing(&self, firing: &Firing, now: DateTime<Utc>) -> Handled {
        let result = match firing.kind {
            PointKind::Approaching => self.approaching(firing, now).await,
            PointKind::Breached => self.breached(firing, now).await,
            PointKind::Expire => self.expire(firing, now).await,
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

    async fn load(&self, firing: &Firing) -> Result<Option<CallbackRequest>, StoreError> {
        self.store
            .callback(firing.company_id, firing.callback_id)
            .await
    }

    async fn approaching(
        &self,
        firing: &Firing,
        now: DateTime<Utc>,
    ) -> Result<Option<Handled>, StoreError> {
        let Some(callback) = self.load(firing).await? else {
            return Ok(Some(Handled::Done(None)));
        };
        // A deadline moved later (news we missed) re-times instead of warning.
        if watched(&callback) && callback.due_at <= firing.due_at {
            metrics::counter!(m::SLA_APPROACHING_TOTAL).increment(1);
            let names = self.names(&callback);
            self.events
                .publish(DomainEvent::callback_sla_approaching(
                    &callback, &names, now,
                ))
                .await;
        }
        Ok(Some(Handled::Done(Some(Watch::from(&callback)))))
    }

    async fn breached(
        &self,
        firing: &Firing,
        now: DateTime<Utc>,
    ) -> Result<Option<Handled>, StoreError> {
        for _ in 0..CAS_ROUNDS {
            let Some(callback) = self.load(firing).await? else {
                return Ok(Some(Handled::Done(None)));
            };
            if !watched(&callback) || callback.due_at > now {
                return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
            }
            let level = callback.escalation_level;
            if level >= self.settings.sla.max_escalation_level {
                metrics::counter!(m::SLA_BREACHED_TOTAL).increment(1);
                self.publish_breach(&callback, &callback, true, now).await;
                return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
            }
            let current: Vec<_> = callback.assigned_staff_id.into_iter().collect();
            let target = match assignment::pick(
                &*self.store,
                self.engine.as_ref(),
                &self.settings.assignment,
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
                &self.settings.sla,
                &self.settings.callbacks,
                now,
            );
            if !self
                .store
                .escalate_callback(&escalated, callback.version, &record)
                .await?
            {
                continue; // Someone changed it first: read again and decide again.
            }
            metrics::counter!(m::SLA_BREACHED_TOTAL).increment(1);
            metrics::counter!(m::SLA_ESCALATIONS_TOTAL).increment(1);
            tracing::info!(callback_id = %callback.id, level = record.level, to = ?record.to_staff_id, "callback escalated");
            self.publish_breach(&callback, &escalated, false, now).await;
            let names = self.names(&escalated);
            self.events
                .publish(DomainEvent::callback_escalated(
                    &escalated, &record, &names, now,
                ))
                .await;
            if target.is_some() {
                self.events
                    .publish(DomainEvent::callback_assigned(
                        &escalated,
                        callback.assigned_staff_id,
                        true,
                        &names,
                        now,
                    ))
                    .await;
            }
            return Ok(Some(Handled::Done(Some(Watch::from(&escalated)))));
        }
        Ok(None)
    }

    async fn publish_breach(
        &self,
        before: &CallbackRequest,
        after: &CallbackRequest,
        final_level: bool,
        now: DateTime<Utc>,
    ) {
        let names = self.names(after);
        self.events
            .publish(DomainEvent::callback_sla_breached(
                before,
                after,
                final_level,
                &names,
                now,
            ))
            .await;
    }

    async fn expire(
        &self,
        firing: &Firing,
        now: DateTime<Utc>,
    ) -> Result<Option<Handled>, StoreError> {
        for _ in 0..CAS_ROUNDS {
            let Some(callback) = self.load(firing).await? else {
                return Ok(Some(Handled::Done(None)));
            };
            let expires_at = callback.due_at + self.settings.sla.expire_after;
            if !watched(&callback)
                || callback.escalation_level < self.settings.sla.max_escalation_level
                || now < expires_at
            {
                return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
            }
            let Ok(expired) = transition(
                &callback,
                &CallbackAction::Expire,
                None,
                now,
                &self.settings.callbacks,
            ) else {
                return Ok(Some(Handled::Done(Some(Watch::from(&callback)))));
            };
            if !self
                .store
                .update_callback(&expired, callback.version)
                .await?
            {
                continue;
            }
            metrics::counter!(m::SLA_EXPIRED_TOTAL).increment(1);
            tracing::info!(callback_id = %callback.id, "callback expired");
            self.publish_step(&callback, &expired, &CallbackAction::Expire, false, now)
                .await;
            return Ok(Some(Handled::Done(Some(Watch::from(&expired)))));
        }
        Ok(None)
    }
}

fn watched(callback: &CallbackRequest) -> bool {
    matches!(
        callback.status,
        CallbackStatus::Pending | CallbackStatus::Assigned
    )
}
