//! What every admin CRUD handler shares: the role matrix, looking entities up within what the
//! caller may see, and pushing a durable change to the running actors.
//!
//! The matrix (also in the OpenAPI descriptions):
//!
//! | resource      | admin             | manager                         | staff                 |
//! |---------------|-------------------|---------------------------------|-----------------------|
//! | branches      | all, write        | their branch, read              | their branch, read    |
//! | phone numbers | all, write        | their branch's, read            | their branch's, read  |
//! | staff         | all, write        | their branch's, write           | their branch's, read  |
//! | services      | all, write        | all, read                       | all, read             |
//! | customers     | all, write        | all, read                       | all, read             |
//! | appointments  | all, write        | their branch's, write           | their own, read       |
//! | callbacks     | all, act          | their branch's, act             | assigned, some steps  |
//! | stats         | company or branch | their branch                    | —                     |
//! | audit log     | read              | —                               | —                     |
//!
//! What a caller may not see does not exist for them (404): another company's data always, and
//! another branch's data for managers and staff. What they may see but not change is 403.

use super::audit::{self, Change};
use super::auth::{store_error, Caller};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse};
use callflow_actors::admin_query::Deleted;
use callflow_actors::domain::*;
use callflow_actors::StoreResult;
use serde::Serialize;
use std::fmt::Display;
use std::future::Future;

/// 403 unless the caller is an admin.
pub fn admin_only(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("only admins may {what}")))
    }
}

/// Whether the caller may see data of `branch` (admins every branch of their company,
/// managers and staff their own).
pub fn sees_branch(caller: &Caller, branch: Option<BranchId>) -> bool {
    caller.role == Role::Admin || (branch.is_some() && branch == caller.branch_id)
}

/// The company's branches.
pub async fn branches(state: &AppState, company: CompanyId) -> Result<Vec<Branch>, ApiError> {
    state
        .store
        .list_branches(Some(company))
        .await
        .map_err(store_error)
}

/// The company's staff members (all branches).
pub async fn company_staff(state: &AppState, company: CompanyId) -> Result<Vec<Staff>, ApiError> {
    state
        .store
        .company_staff(company)
        .await
        .map_err(store_error)
}

/// The branch `raw` (id or slug) of the caller's company that the caller may see; 404 otherwise.
pub async fn visible_branch(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<Branch, ApiError> {
    let branches = branches(state, caller.company_id).await?;
    super::auth::find_branch(&branches, raw)
        .filter(|b| sees_branch(caller, Some(b.id)))
        .cloned()
        .ok_or_else(|| ApiError::not_found("no such branch"))
}

/// Pushes a durable change of `company` to the running actors (see
/// [`crate::app::Catalogue::reload`]).
pub async fn reload(state: &AppState, company: CompanyId) {
    state.app.catalogue.reload(company).await;
}

/// Stores a change through `write` (conflicts are 409), then [`changed`]: the actors and the
/// audit log only ever hear of changes that are durable.
pub async fn write_through(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    write: impl Future<Output = StoreResult<()>>,
    change: Change<'_>,
) -> Result<(), ApiError> {
    let actor = audit::actor(state, caller, req);
    state
        .app
        .catalogue
        .write_through(&actor, write, change)
        .await
        .map_err(write_error)
}

/// After a durable change to data the running actors hold: reloads them, then logs `change`
/// (neither can fail the request; see [`crate::app::Catalogue::changed`]).
pub async fn changed(state: &AppState, caller: &Caller, req: &HttpRequest, change: Change<'_>) {
    let actor = audit::actor(state, caller, req);
    state.app.catalogue.changed(&actor, change).await;
}

/// 201 with the new entity and where to find it (`Location: {collection}/{id}`).
pub fn created(collection: &str, id: impl Display, entity: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((LOCATION, format!("{collection}/{id}")))
        .json(entity)
}

/// 403 unless the caller is an admin or a manager (whether a manager may act at a given
/// branch is checked where the branch is known).
pub fn admin_or_manager(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Staff {
        Err(ApiError::forbidden(format!(
            "only admins and managers may {what}"
        )))
    } else {
        Ok(())
    }
}

/// What a delete the store answered means: 404 (`not_found`) when the entity was gone
/// already, 409 (`in_use`) while other data still refers to it.
pub fn deleted(outcome: Deleted, not_found: &str, in_use: &str) -> Result<(), ApiError> {
    match outcome {
        Deleted::Deleted => Ok(()),
        Deleted::NotFound => Err(ApiError::not_found(not_found)),
        Deleted::InUse => Err(conflict(in_use)),
    }
}

/// A store failure on a write: conflicts (duplicate slug, name, number) are 409.
pub fn write_error(error: callflow_actors::StoreError) -> ApiError {
    match error {
        callflow_actors::StoreError::Conflict(_) => ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "conflict",
            "that conflicts with existing data (a duplicate slug, name or number)",
        ),
        callflow_actors::StoreError::NotFound(_) => ApiError::invalid_fields(
            std::iter::once((
                "body".to_owned(),
                "refers to something that does not exist".to_owned(),
            ))
            .collect(),
        ),
        other => store_error(other),
    }
}

/// 409 with a message.
pub fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::CONFLICT, "conflict", message)
}

/// 409 when a company other than the caller's already routes by one of `agents`.
pub async fn agents_free<'a>(
    state: &AppState,
    caller: &Caller,
    agents: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    let taken = state
        .app
        .catalogue
        .agent_of_another_company(caller.company_id, agents)
        .await
        .map_err(store_error)?;
    match taken {
        Some(agent) => Err(conflict(format!(
            "the Retell agent id `{agent}` belongs to another company"
        ))),
        None => Ok(()),
    }
}
