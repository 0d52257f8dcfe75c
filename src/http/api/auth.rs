//! Admin API authentication: bearer tokens bound to one company and role.
//!
//! A token's secret (`cf_` and 43 base64url characters, 256 random bits) is shown once when it
//! is issued; the store keeps only its SHA-256, so a leaked database grants nothing. Because the
//! secret has full entropy, a plain hash lookup is enough: there is nothing to brute-force, and
//! no salt or slow hash is needed.
//!
//! What a caller sees follows the token's role: admins their company, managers their branch,
//! staff the callbacks assigned to them. Another company's data is never reachable at all:
//! every query is made with the caller's company.

use super::super::error::ApiError;
use super::super::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use callflow_actors::domain::*;
use callflow_actors::{CallbackFilter, Store, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// Every token secret starts with this, so leaked ones are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "cf_";

/// Random bytes in a token secret.
const SECRET_BYTES: usize = 32;

/// The SHA-256 of a token secret, in hex: what the store keeps and looks tokens up by.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random token secret.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What to issue a token for.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// Slug of the company the token belongs to.
    pub company: String,
    /// What it may do.
    pub role: Role,
    /// The staff member it acts as (required for staff; a manager's branch follows from it).
    pub staff: Option<StaffId>,
    /// The branch (slug or id) a manager or staff token is limited to.
    pub branch: Option<String>,
    /// A label for people; a default naming role and date when `None`.
    pub name: Option<String>,
}

/// A token just issued: the secret (shown once, never stored) and the stored record.
#[derive(Debug)]
pub struct IssuedToken {
    /// The bearer secret.
    pub secret: String,
    /// What the store keeps.
    pub token: ApiToken,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No company has that slug.
    #[error("no company with slug {0:?}")]
    UnknownCompany(String),
    /// The company has no branch with that slug or id.
    #[error("company {company:?} has no branch {branch:?}")]
    UnknownBranch {
        /// Company slug.
        company: String,
        /// What was given.
        branch: String,
    },
    /// The company has no staff member with that id.
    #[error("company {company:?} has no staff member {staff}")]
    UnknownStaff {
        /// Company slug.
        company: String,
        /// What was given.
        staff: StaffId,
    },
    /// The role and the given staff member or branch do not fit together.
    #[error("{0}")]
    Inconsistent(&'static str),
    /// The operating system gave no randomness.
    #[error("no randomness for the token secret: {0}")]
    Randomness(getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues a token: checks that company, branch and staff member exist and fit the role, stores
/// the hash and returns the secret.
///
/// Managers and staff are limited to one branch: the given one, or the staff member's. Staff
/// tokens must name the staff member whose callbacks they see. Admin tokens see the whole
/// company, so a branch or staff member on them would be misleading and is refused.
pub async fn issue_token(
    store: &dyn Store,
    request: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<IssuedToken, IssueError> {
    let company = store
        .company_by_slug(&request.company)
        .await?
        .ok_or_else(|| IssueError::UnknownCompany(request.company.clone()))?;
    let branches = store.list_branches(Some(company.id)).await?;
    let branch = match &request.branch {
        Some(wanted) => Some(
            find_branch(&branches, wanted)
                .ok_or_else(|| IssueError::UnknownBranch {
                    company: company.slug.clone(),
                    branch: wanted.clone(),
                })?
                .id,
        ),
        None => None,
    };
    let staff_branch = match request.staff {
        Some(staff) => Some(staff_branch(store, &branches, staff, &company.slug).await?),
        None => None,
    };
    let branch = scope_branch(request.role, request.staff, branch, staff_branch)?;
    let secret = new_secret().map_err(IssueError::Randomness)?;
    let token = ApiToken {
        id: TokenId::new(),
        company_id: company.id,
        role: request.role,
        staff_id: request.staff,
        branch_id: branch,
        name: request
            .name
            .clone()
            .unwrap_or_else(|| format!("{} token of {}", request.role, now.format("%Y-%m-%d"))),
        token_hash: hash_secret(&secret),
        created_at: now,
        revoked_at: None,
    };
    store.insert_api_token(&token).await?;
    Ok(IssuedToken { secret, token })
}

/// The branch with this id or slug, among a company's branches.
pub fn find_branch<'a>(branches: &'a [Branch], wanted: &str) -> Option<&'a Branch> {
    let wanted = wanted.trim();
    branches
        .iter()
        .find(|b| b.slug == wanted || b.id.to_string() == wanted.to_ascii_lowercase())
}

async fn staff_branch(
    store: &dyn Store,
    branches: &[Branch],
    staff: StaffId,
    company: &str,
) -> Result<BranchId, IssueError> {
    for branch in branches {
        if store
            .list_staff(Some(branch.id))
            .await?
            .iter()
            .any(|s| s.id == staff)
        {
            return Ok(branch.id);
        }
    }
    Err(IssueError::UnknownStaff {
        company: company.to_owned(),
        staff,
    })
}

/// The branch a token of `role` is limited to, from what was given.
fn scope_branch(
    role: Role,
    staff: Option<StaffId>,
    branch: Option<BranchId>,
    staff_branch: Option<BranchId>,
) -> Result<Option<BranchId>, IssueError> {
    if let (Some(given), Some(theirs)) = (branch, staff_branch) {
        if given != theirs {
            return Err(IssueError::Inconsistent(
                "the staff member works at another branch than the one given",
            ));
        }
    }
    let branch = branch.or(staff_branch);
    match role {
        Role::Admin if staff.is_some() || branch.is_some() => Err(IssueError::Inconsistent(
            "admin tokens see the whole company: give no --staff or --branch",
        )),
        Role::Manager if branch.is_none() => Err(IssueError::Inconsistent(
            "manager tokens need --branch (or --staff of a manager at that branch)",
        )),
        Role::Staff if staff.is_none() => Err(IssueError::Inconsistent(
            "staff tokens need --staff: they see the callbacks assigned to that person",
        )),
        _ => Ok(branch),
    }
}

/// The authenticated caller of an admin API request, from its bearer token.
///
/// Use it as a handler argument: requests without a valid token are answered 401 with a
/// `WWW-Authenticate: Bearer` challenge before the handler runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token used (for the audit log).
    pub token_id: TokenId,
    /// The company whose data the caller sees; nothing else exists for them.
    pub company_id: CompanyId,
    /// What the caller may do.
    pub role: Role,
    /// The branch a manager or staff member is limited to.
    pub branch_id: Option<BranchId>,
    /// The staff member the caller acts as.
    pub staff_id: Option<StaffId>,
}

impl Caller {
    /// The caller a stored token stands for; `None` for a token whose role lacks what the role
    /// needs (a manager without branch, staff without staff member), which would otherwise
    /// see too much.
    pub fn from_token(token: &ApiToken) -> Option<Self> {
        let usable = match token.role {
            Role::Admin => true,
            Role::Manager => token.branch_id.is_some(),
            Role::Staff => token.staff_id.is_some(),
        };
        usable.then_some(Self {
            token_id: token.id,
            company_id: token.company_id,
            role: token.role,
            branch_id: token.branch_id,
            staff_id: token.staff_id,
        })
    }

    /// `filter` narrowed to the callbacks this caller may see: a manager's branch, a staff
    /// member's assigned callbacks.
    pub fn callback_filter(&self, filter: CallbackFilter) -> CallbackFilter {
        match self.role {
            Role::Admin => filter,
            Role::Manager => CallbackFilter {
                branch_id: self.branch_id,
                ..filter
            },
            Role::Staff => CallbackFilter {
                assigned_staff_id: self.staff_id,
                ..filter
            },
        }
    }

    /// Whether this caller may see `callback` (the same rule as [`Caller::callback_filter`]).
    pub fn may_see(&self, callback: &CallbackRequest) -> bool {
        callback.company_id == self.company_id
            && match self.role {
                Role::Admin => true,
                Role::Manager => self.branch_id.is_some() && callback.branch_id == self.branch_id,
                Role::Staff => {
                    self.staff_id.is_some() && callback.assigned_staff_id == self.staff_id
                }
            }
    }

    /// Whether this caller may act for `branch` (admins for any branch of their company).
    pub fn may_act_for(&self, branch: Option<BranchId>) -> bool {
        self.role == Role::Admin || branch == self.branch_id
    }
}

/// The secret of an `Authorization: Bearer <secret>` header.
fn bearer_secret(req: &HttpRequest) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("an Authorization: Bearer token is required"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable"))?;
    match value.split_once(' ') {
        Some((scheme, secret))
            if scheme.eq_ignore_ascii_case("bearer") && !secret.trim().is_empty() =>
        {
            Ok(secret.trim())
        }
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be \"Bearer <token>\"",
        )),
    }
}

/// A store failure as an answer: 503 when the database is down, else an opaque 500.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Unavailable(_) => {
            ApiError::unavailable("the database is unavailable; try again shortly")
        }
        other => ApiError::internal(&other),
    }
}

async fn authenticate(store: &dyn Store, secret: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthorized("the token is not valid or has been revoked");
    if !secret.starts_with(TOKEN_PREFIX) {
        return Err(invalid());
    }
    let token = store
        .api_token_by_hash(&hash_secret(secret))
        .await
        .map_err(store_error)?
        .ok_or_else(invalid)?;
    Caller::from_token(&token).ok_or_else(|| {
        tracing::warn!(token_id = %token.id, "token lacks the branch or staff member its role needs");
        invalid()
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let secret = bearer_secret(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let secret = secret?;
            let state = state.ok_or_else(|| {
                ApiError::internal(&std::io::Error::other("AppState is not registered"))
            })?;
            let caller = authenticate(&*state.store, &secret).await?;
            // Counted only once the token is accepted; a bad token counts against its IP.
            state.rate_limits.check_token(caller.token_id)?;
            Ok(caller)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(role: Role, branch: Option<BranchId>, staff: Option<StaffId>) -> ApiToken {
        ApiToken {
            id: TokenId::new(),
            company_id: CompanyId::new(),
            role,
            staff_id: staff,
            branch_id: branch,
            name: "test".into(),
            token_hash: "0".repeat(64),
            created_at: Utc::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn secrets_are_prefixed_random_and_hashed_to_hex() {
        let a = new_secret().expect("randomness");
        let b = new_secret().expect("randomness");
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_need_what_they_are_scoped_by() {
        let (branch, staff) = (BranchId::new(), StaffId::new());
        assert!(Caller::from_token(&token(Role::Admin, None, None)).is_some());
        assert!(Caller::from_token(&token(Role::Manager, None, Some(staff))).is_none());
        assert!(Caller::from_token(&token(Role::Manager, Some(branch), None)).is_some());
        assert!(Caller::from_token(&token(Role::Staff, Some(branch), None)).is_none());
        assert!(Caller::from_token(&token(Role::Staff, Some(branch), Some(staff))).is_some());

        assert!(scope_branch(Role::Admin, None, Some(branch), None).is_err());
        assert!(scope_branch(Role::Manager, None, None, None).is_err());
        assert_eq!(
            scope_branch(Role::Manager, Some(staff), None, Some(branch)).ok(),
            Some(Some(branch))
        );
        assert!(scope_branch(
            Role::Staff,
            Some(staff),
            Some(BranchId::new()),
            Some(branch)
        )
        .is_err());
    }

    #[test]
    fn managers_see_their_branch_and_staff_their_assigned_callbacks() {
        let (branch, staff) = (BranchId::new(), StaffId::new());
        let manager =
            Caller::from_token(&token(Role::Manager, Some(branch), None)).expect("usable");
        let filter = manager.callback_filter(CallbackFilter::default());
        assert_eq!(filter.branch_id, Some(branch));
        assert_eq!(filter.assigned_staff_id, None);
        let member =
            Caller::from_token(&token(Role::Staff, Some(branch), Some(staff))).expect("usable");
        assert_eq!(
            member
                .callback_filter(CallbackFilter::default())
                .assigned_staff_id,
            Some(staff)
        );
        assert!(member.may_act_for(Some(branch)));
        assert!(!member.may_act_for(Some(BranchId::new())));
        assert!(!member.may_act_for(None));
    }
}
