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

use super::auth::{store_error, Caller};
use crate::http::error::ApiError;
use crate::http::AppState;
use callflow_actors::domain::*;

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
    let branches = branches(state, company).await?;
    let all = state.store.list_staff(None).await.map_err(store_error)?;
    Ok(all
        .into_iter()
        .filter(|s| branches.iter().any(|b| b.id == s.branch_id))
        .collect())
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

/// Pushes a durable change of `company` to the running actors (registry, branch and staff
/// actors). The change is already stored, so a failure here is logged rather than answered:
/// the actors pick the change up on their next reload.
pub async fn reload(state: &AppState, company: CompanyId) {
    if let Err(error) = state.engine.reload(Some(company)).await {
        tracing::error!(
            error = %crate::http::error::ErrorChain(&error),
            company_id = %company,
            "changed data could not be pushed to the running actors"
        );
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
