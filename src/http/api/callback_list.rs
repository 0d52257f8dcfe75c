//! `GET /api/v1/callbacks` (filters, sort orders, cursor pages) and
//! `GET /api/v1/callbacks/stats` (the figures of `domain::callback_stats`).
//!
//! Both are scoped like every callback read: admins see their company, managers their branch,
//! staff the callbacks assigned to them (stats are for admins and managers).

use super::auth::{find_branch, store_error, Caller};
use super::cursor;
use super::input::{self, Input};
use crate::http::error::ApiError;
use crate::http::AppState;
use actix_web::{web, HttpResponse};
use callflow_actors::admin_query::{CallbackSort, CallbackStats, StatsQuery};
use callflow_actors::domain::*;
use callflow_actors::CallbackFilter;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// Most callbacks one page holds.
pub const MAX_LIST_LIMIT: u32 = 500;

/// Longest statistics window, in days.
pub const MAX_WINDOW_DAYS: u32 = 365;

#[derive(Serialize)]
struct Page {
    callbacks: Vec<CallbackRequest>,
    next_cursor: Option<String>,
}

/// `GET /api/v1/callbacks?status=&priority=&branch=&assignee=&overdue=&sort=&cursor=&limit=`
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut q = Input::from_query(&query);
    let status = q.parsed("status", |raw| {
        raw.parse::<CallbackStatus>().map_err(|_| {
            let all: Vec<_> = CallbackStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("must be one of {}", all.join(", "))
        })
    });
    let priority = q.parsed("priority", |raw| {
        raw.parse::<Priority>()
            .map_err(|_| "must be one of normal, high, urgent".to_owned())
    });
    let assignee = q.parsed("assignee", |raw| {
        raw.parse::<StaffId>()
            .map_err(|_| "must be a staff id".to_owned())
    });
    // `overdue=true` keeps only open callbacks past their deadline; `false` filters nothing.
    let overdue = q.parsed("overdue", |raw| match raw {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    });
    let sort = q
        .parsed("sort", |raw| {
            CallbackSort::parse(raw).ok_or_else(|| {
                let all: Vec<_> = CallbackSort::ALL.iter().map(|(_, t)| *t).collect();
                format!("must be one of {}", all.join(", "))
            })
        })
        .unwrap_or_default();
    let after = q.parsed("cursor", |raw| {
        cursor::parse_callback(raw, sort).ok_or_else(|| cursor::INVALID.to_owned())
    });
    let limit = input::limit(&mut q, CallbackFilter::DEFAULT_LIMIT, MAX_LIST_LIMIT);
    let branch = q.parsed("branch", |raw| Ok(raw.to_owned()));
    let branch = scoped_branch(&state, &caller, branch.as_deref(), &mut q).await?;
    q.finish()?;
    let now = Utc::now();
    let filter = caller.callback_filter(CallbackFilter {
        status,
        branch_id: branch,
        assigned_staff_id: assignee,
        priority,
        overdue_at: overdue.filter(|o| *o).map(|_| now),
        sort,
        after,
        limit,
    });
    let callbacks = state
        .store
        .find_callbacks(caller.company_id, &filter)
        .await
        .map_err(store_error)?;
    let next_cursor = (callbacks.len() == limit as usize)
        .then(|| callbacks.last().map(|c| cursor::callback(sort, c)))
        .flatten();
    Ok(HttpResponse::Ok().json(Page {
        callbacks,
        next_cursor,
    }))
}

/// The branch a `branch` parameter names, within what the caller may see: another company's
/// (or no) branch is a 422 on the field, a branch of the company a manager or staff member is
/// not at is 403.
async fn scoped_branch(
    state: &AppState,
    caller: &Caller,
    wanted: Option<&str>,
    q: &mut Input,
) -> Result<Option<BranchId>, ApiError> {
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let branches = state
        .store
        .list_branches(Some(caller.company_id))
        .await
        .map_err(store_error)?;
    match find_branch(&branches, wanted) {
        None => {
            q.problem("branch", "no such branch");
            Ok(None)
        }
        Some(b) if !caller.may_act_for(Some(b.id)) => Err(ApiError::forbidden(
            "you may only see your own branch's callbacks",
        )),
        Some(b) => Ok(Some(b.id)),
    }
}

#[derive(Serialize)]
struct StatsBody {
    /// The moment the figures describe.
    now: DateTime<Utc>,
    /// Time zone "today" is taken in.
    time_zone: String,
    /// Local midnight, in UTC.
    today_start: DateTime<Utc>,
    /// The window's length and start.
    window_days: u32,
    window_start: DateTime<Utc>,
    /// The branch the figures cover; none for the whole company.
    branch_id: Option<BranchId>,
    #[serde(flatten)]
    stats: CallbackStats,
}

/// `GET /api/v1/callbacks/stats?window_days=30&branch=`: admins (whole company, or one
/// branch) and managers (their branch).
pub async fn stats(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    if caller.role == Role::Staff {
        return Err(ApiError::forbidden(
            "callback statistics are for managers and admins",
        ));
    }
    let mut q = Input::from_query(&query);
    let window_days = q
        .parsed("window_days", |raw| {
            raw.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_WINDOW_DAYS).contains(n))
                .ok_or_else(|| format!("must be a whole number from 1 to {MAX_WINDOW_DAYS}"))
        })
        .unwrap_or(30);
    let branch = q.parsed("branch", |raw| Ok(raw.to_owned()));
    let branch = scoped_branch(&state, &caller, branch.as_deref(), &mut q).await?;
    q.finish()?;
    let branch = if caller.role == Role::Manager {
        caller.branch_id
    } else {
        branch
    };
    let zone = stats_time_zone(&state, caller.company_id, branch).await?;
    let now = Utc::now();
    let query = StatsQuery {
        branch_id: branch,
        now,
        today_start: local_midnight(zone, now),
        window_start: now - Duration::days(i64::from(window_days)),
    };
    let stats = state
        .store
        .callback_stats(caller.company_id, &query)
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(StatsBody {
        now,
        time_zone: zone.name().to_owned(),
        today_start: query.today_start,
        window_days,
        window_start: query.window_start,
        branch_id: branch,
        stats,
    }))
}

/// The time zone of "today": the branch's for a branch's figures; for the company's, its
/// default branch's, else its first branch's (by name), else UTC.
async fn stats_time_zone(
    state: &AppState,
    company: CompanyId,
    branch: Option<BranchId>,
) -> Result<Tz, ApiError> {
    let branches = state
        .store
        .list_branches(Some(company))
        .await
        .map_err(store_error)?;
    let default = match branch {
        Some(b) => Some(b),
        None => state
            .store
            .list_companies()
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|c| c.id == company)
            .and_then(|c| c.default_branch_id),
    };
    Ok(default
        .and_then(|id| branches.iter().find(|b| b.id == id))
        .or_else(|| branches.first())
        .map_or(Tz::UTC, |b| b.time_zone))
}

/// The start of `now`'s local day in `zone`, in UTC (the earliest instant of that date when a
/// daylight-saving change makes midnight ambiguous or skipped).
pub fn local_midnight(zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let date = now.with_timezone(&zone).date_naive();
    let mut time = NaiveTime::MIN;
    // Some zones skip midnight at a DST change; the day then starts at the first valid minute.
    for _ in 0..(24 * 60) {
        if let Some(start) = zone.from_local_datetime(&date.and_time(time)).earliest() {
            return start.with_timezone(&Utc);
        }
        time += Duration::minutes(1);
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_starts_at_local_midnight_in_utc() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        assert_eq!(
            local_midnight(berlin, at("2030-06-10T12:00:00Z")),
            at("2030-06-09T22:00:00Z"),
            "summer time"
        );
        assert_eq!(
            local_midnight(berlin, at("2030-01-10T23:30:00Z")),
            at("2030-01-10T23:00:00Z"),
            "already the next local day"
        );
        assert_eq!(
            local_midnight(Tz::UTC, at("2030-01-10T23:30:00Z")),
            at("2030-01-10T00:00:00Z")
        );
    }
}
