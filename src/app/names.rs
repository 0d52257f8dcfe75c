//! The names events carry next to their ids, read from the engine's cached branch facts (no
//! query) and, for an appointment's customer, from the store.

use crate::events::Names;
use callflow_actors::domain::{Appointment, BranchId, CallbackRequest, Customer, StaffId};
use callflow_actors::{Engine, Store};

/// The branch's name, if the engine knows the branch.
pub fn branch(engine: &Engine, id: BranchId) -> Option<String> {
    engine.branch(id).map(|info| info.branch.name.clone())
}

/// The staff member's name, if the engine knows them.
pub fn staff(engine: &Engine, id: StaffId) -> Option<String> {
    engine.staff(id).map(|s| s.name.clone())
}

/// Names for an appointment's events; the customer is read from the store unless given.
pub async fn appointment(
    engine: &Engine,
    store: &dyn Store,
    appointment: &Appointment,
    customer: Option<&Customer>,
) -> Names {
    let looked_up;
    let customer = match customer {
        Some(c) => Some(c),
        None => {
            looked_up = store
                .customer(appointment.company_id, appointment.customer_id)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "customer name for an event could not be read");
                    None
                });
            looked_up.as_ref()
        }
    };
    let service = engine.branch(appointment.branch_id).and_then(|info| {
        info.services
            .iter()
            .find(|s| s.id == appointment.service_id)
            .map(|s| s.name.clone())
    });
    Names {
        branch: branch(engine, appointment.branch_id),
        staff: staff(engine, appointment.staff_id),
        service,
        customer: customer.and_then(|c| c.name.clone()),
        customer_phone: customer.map(|c| c.phone.clone()),
    }
}

/// Names for a callback's events (branch and assignee need the engine; without one only the
/// caller's name and number are known).
pub fn callback(engine: Option<&Engine>, callback: &CallbackRequest) -> Names {
    Names {
        branch: engine
            .zip(callback.branch_id)
            .and_then(|(engine, id)| branch(engine, id)),
        staff: engine
            .zip(callback.assigned_staff_id)
            .and_then(|(engine, id)| staff(engine, id)),
        service: None,
        customer: callback.name.clone(),
        customer_phone: Some(callback.phone.clone()),
    }
}
