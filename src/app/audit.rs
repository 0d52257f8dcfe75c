//! Who changed what: one audit entry per change an operator makes (token, action, entity, old
//! and new values, client address, time).
//!
//! Entries are written right after the change is durable. The change and its entry are two
//! writes, not one transaction: if the entry cannot be written the change stands, the failure
//! is logged at error level and counted in `callflow_audit_failures_total`, and the operator
//! still gets the answer for the change they made.

use crate::telemetry::ErrorChain;
use callflow_actors::domain::{AuditEntry, CompanyId, StaffId, TokenId};
use callflow_actors::Store;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt::Display;
use std::net::IpAddr;

/// Counts audit entries that could not be written.
pub const AUDIT_FAILURES_TOTAL: &str = "callflow_audit_failures_total";

/// An operator acting through the admin API, as the audit log and the lifecycle rules see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The company they act in.
    pub company_id: CompanyId,
    /// The token they used.
    pub token_id: TokenId,
    /// The staff member they act as, if any (a staff member's own steps are theirs).
    pub staff_id: Option<StaffId>,
    /// Their address.
    pub ip: Option<IpAddr>,
}

/// One change to record.
pub struct Change<'a> {
    /// What was done: `<entity>.<verb>` (`staff.update`, `callback.assign`, …).
    pub action: &'a str,
    /// Kind of entity (`branch`, `phone_number`, `staff`, `service`, `customer`,
    /// `appointment`, `callback`).
    pub entity_type: &'a str,
    /// Which one.
    pub entity_id: String,
    /// Before (none for a creation).
    pub old: Option<serde_json::Value>,
    /// After (none for a deletion).
    pub new: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    /// `entity` was created: nothing before.
    pub fn created<T: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        entity: &T,
    ) -> Self {
        Self::new(action, entity_type, entity_id, None, json(entity))
    }

    /// `old` became `new` (an update, or a state change such as a deactivation).
    pub fn updated<T: Serialize, U: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: &T,
        new: &U,
    ) -> Self {
        Self::new(action, entity_type, entity_id, json(old), json(new))
    }

    /// `old` was deleted: nothing after.
    pub fn deleted<T: Serialize>(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: &T,
    ) -> Self {
        Self::new(action, entity_type, entity_id, json(old), None)
    }

    fn new(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Display,
        old: Option<serde_json::Value>,
        new: Option<serde_json::Value>,
    ) -> Self {
        Self {
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            old,
            new,
        }
    }
}

/// A value as JSON for the log (`None` if it cannot be serialised, which our types always can).
pub fn json<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

/// Appends `change` to the actor's company's audit log (see the module docs on failures).
pub async fn record(store: &dyn Store, actor: &Actor, change: Change<'_>, at: DateTime<Utc>) {
    let entry = AuditEntry {
        company_id: actor.company_id,
        token_id: Some(actor.token_id),
        action: change.action.to_owned(),
        entity_type: change.entity_type.to_owned(),
        entity_id: change.entity_id,
        old_value: change.old,
        new_value: change.new,
        ip: actor.ip.map(|ip| ip.to_string()),
        at,
    };
    if let Err(error) = store.append_audit(&entry).await {
        metrics::counter!(AUDIT_FAILURES_TOTAL).increment(1);
        tracing::error!(
            error = %ErrorChain(&error),
            action = %entry.action,
            entity_type = %entry.entity_type,
            entity_id = %entry.entity_id,
            token_id = %actor.token_id,
            "audit entry lost: the change was made but could not be logged"
        );
    }
}
