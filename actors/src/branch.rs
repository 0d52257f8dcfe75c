//! The branch actor: coordinates its staff. It asks every qualified staff actor for availability
//! at once, ranks them with the scoring rules and composes the offer. It holds no calendar
//! itself, so it never blocks on a slow staff member for longer than that member's answer.

use crate::domain::availability::{ServiceTiming, Slot};
use crate::domain::offer::{compose_offer, Offer, StaffOption};
use crate::domain::scoring::{
    is_qualified, rank, Candidate, Score, ScoringRequest, ScoringWeights,
};
use crate::domain::*;
use crate::staff::{GetAvailability, StaffActor, StaffAvailability};
use actix::prelude::*;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures_util::future::join_all;
use std::sync::Arc;

/// One staff member of the branch and their actor.
#[derive(Clone)]
pub struct RosterEntry {
    /// The record.
    pub staff: Arc<Staff>,
    /// Their calendar.
    pub addr: Addr<StaffActor>,
}

/// A branch's coordinator.
pub struct BranchActor {
    branch: Arc<Branch>,
    roster: Arc<Vec<RosterEntry>>,
    weights: ScoringWeights,
    max_slots: usize,
    mailbox_capacity: usize,
}

impl BranchActor {
    /// A coordinator for `branch` and its staff.
    pub fn new(
        branch: Arc<Branch>,
        roster: Arc<Vec<RosterEntry>>,
        weights: ScoringWeights,
        max_slots: usize,
        mailbox_capacity: usize,
    ) -> Self {
        Self {
            branch,
            roster,
            weights,
            max_slots,
            mailbox_capacity,
        }
    }
}

impl Actor for BranchActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
    }
}

impl Supervised for BranchActor {
    fn restarting(&mut self, _: &mut Self::Context) {
        metrics::counter!(crate::metrics::ACTOR_RESTARTS_TOTAL, "actor" => "branch").increment(1);
        tracing::warn!(branch_id = %self.branch.id, "branch actor restarting");
    }
}

/// Finds and ranks free slots for a service.
#[derive(Message)]
#[rtype(result = "SlotSearch")]
pub struct FindSlots {
    /// What to book.
    pub service: Arc<Service>,
    /// First local date to search.
    pub from: NaiveDate,
    /// Last local date to search (inclusive).
    pub to: NaiveDate,
    /// The exact time asked for, if any.
    pub wanted: Option<DateTime<Utc>>,
    /// Only slots starting within this local time-of-day window (e.g. mornings).
    pub window: Option<(NaiveTime, NaiveTime)>,
    /// The staff member the customer asked for or prefers.
    pub preferred_staff: Option<StaffId>,
    /// Only this staff member (the caller insisted).
    pub only_staff: Option<StaffId>,
    /// The call's language.
    pub language: Option<Language>,
    /// Staff who served the customer before.
    pub served_before: Vec<StaffId>,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// What a branch found.
#[derive(Clone, Debug)]
pub struct SlotSearch {
    /// The branch searched.
    pub branch_id: BranchId,
    /// The slots to offer.
    pub offer: Offer,
    /// The qualified staff, best first, with the reasons.
    pub ranking: Vec<Score>,
    /// How many staff members can perform the service here.
    pub qualified_staff: usize,
}

impl Handler<FindSlots> for BranchActor {
    type Result = ResponseFuture<SlotSearch>;

    fn handle(&mut self, msg: FindSlots, _: &mut Self::Context) -> Self::Result {
        let qualified: Vec<RosterEntry> = self
            .roster
            .iter()
            .filter(|e| {
                e.staff.active && is_qualified(&e.staff.skills, &msg.service.required_skills)
            })
            .filter(|e| msg.only_staff.is_none_or(|only| only == e.staff.id))
            .cloned()
            .collect();
        let (branch_id, tz, weights, max) = (
            self.branch.id,
            self.branch.time_zone,
            self.weights,
            self.max_slots,
        );
        Box::pin(async move {
            let timing = ServiceTiming::from(&*msg.service);
            let asks = qualified.iter().map(|e| {
                e.addr.send(GetAvailability {
                    from: msg.from,
                    to: msg.to,
                    timing,
                    wanted: msg.wanted,
                    now: msg.now,
                })
            });
            let answers: Vec<(Arc<Staff>, StaffAvailability)> = join_all(asks)
                .await
                .into_iter()
                .zip(&qualified)
                .filter_map(|(answer, entry)| match answer {
                    Ok(availability) => Some((entry.staff.clone(), availability)),
                    Err(e) => {
                        // A restarting staff actor is skipped for this answer, not fatal to it.
                        tracing::warn!(staff_id = %entry.staff.id, error = %e, "staff actor did not answer");
                        None
                    }
                })
                .collect();
            let reference = msg.wanted.unwrap_or(msg.now);
            let candidates: Vec<Candidate<'_>> = answers
                .iter()
                .map(|(staff, a)| Candidate {
                    staff_id: staff.id,
                    name: &staff.name,
                    skills: &staff.skills,
                    languages: &staff.languages,
                    free_at_wanted_time: a.free_at_wanted,
                    minutes_to_next_free: a
                        .next_free
                        .map(|s| (s.start - reference).num_minutes().max(0)),
                    bookings_today: a.bookings_today,
                    bookings_this_week: a.bookings_this_week,
                    served_customer_before: msg.served_before.contains(&staff.id),
                })
                .collect();
            let request = ScoringRequest {
                required_skills: &msg.service.required_skills,
                language: msg.language,
                preferred_staff: msg.preferred_staff,
            };
            let ranking = rank(&candidates, &request, &weights);
            let ranked: Vec<StaffId> = ranking.iter().map(|s| s.staff_id).collect();
            let options: Vec<StaffOption<'_>> = answers
                .iter()
                .map(|(staff, a)| StaffOption {
                    staff_id: staff.id,
                    slots: &a.slots,
                    free_at_wanted: a.free_at_wanted,
                    next_free: a.next_free,
                })
                .collect();
            let in_window = |slot: &Slot| match msg.window {
                Some((from, to)) => {
                    let local = slot.start.with_timezone(&tz).time();
                    local >= from && local < to
                }
                None => true,
            };
            let offer = compose_offer(&ranked, &options, msg.wanted, in_window, max);
            SlotSearch {
                branch_id,
                offer,
                ranking,
                qualified_staff: qualified.len(),
            }
        })
    }
}

/// The branch's record or roster changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BranchChanged {
    /// The new record.
    pub branch: Arc<Branch>,
    /// The new roster.
    pub roster: Arc<Vec<RosterEntry>>,
}

impl Handler<BranchChanged> for BranchActor {
    type Result = ();

    fn handle(&mut self, msg: BranchChanged, _: &mut Self::Context) {
        self.branch = msg.branch;
        self.roster = msg.roster;
    }
}
