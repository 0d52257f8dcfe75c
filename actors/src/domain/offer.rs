//! Which slots to offer a caller, and which alternatives when the wanted time is taken.
//!
//! Input: staff ranked best first (by the scoring module) and each one's free slots. Output: at
//! most `max` slots with distinct start times, each tagged with why it is offered:
//! - a wanted time that is free is offered first, with the best-ranked staff member free then;
//! - when the customer's preferred (best-ranked) staff member is busy then but someone else is
//!   free, that other person at the same time is offered (`OtherStaffSameTime`);
//! - when nobody is free then, the next free slot of the best-ranked staff member
//!   (`NextWithSameStaff`), then the nearest other free times after the wanted one;
//! - without a wanted time, the earliest free times, each with the best-ranked staff member free.
//!
//! A slot of another branch is the engine's job: it asks the other branches when this offer is empty.

use super::availability::Slot;
use super::ids::StaffId;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why a slot is offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferReason {
    /// Exactly the time asked for.
    Wanted,
    /// The time asked for, with someone other than the preferred staff member.
    OtherStaffSameTime,
    /// The preferred staff member's next free slot.
    NextWithSameStaff,
    /// Another free time.
    Earliest,
    /// The same service at another branch (set by the engine).
    OtherBranch,
}

/// One staff member's availability, as the branch collected it.
#[derive(Clone, Copy, Debug)]
pub struct StaffOption<'a> {
    /// Who.
    pub staff_id: StaffId,
    /// Their free slots, earliest first.
    pub slots: &'a [Slot],
    /// Whether the wanted time is free for them.
    pub free_at_wanted: bool,
    /// Their first free slot at or after the wanted time.
    pub next_free: Option<Slot>,
}

/// A slot offered with the staff member who would perform it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OfferedSlot {
    /// The slot.
    pub slot: Slot,
    /// Who.
    pub staff_id: StaffId,
    /// Why this one.
    pub reason: OfferReason,
}

/// The answer to "when can I come?".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Whether the wanted time itself is free (with someone).
    pub wanted_free: bool,
    /// What to offer, best first; distinct start times.
    pub slots: Vec<OfferedSlot>,
}

/// Composes an offer. `ranked` lists staff ids best first; staff missing from it are ignored.
/// `accept` filters slots (e.g. "mornings only"); the wanted time is never filtered out.
pub fn compose_offer(
    ranked: &[StaffId],
    options: &[StaffOption<'_>],
    wanted: Option<DateTime<Utc>>,
    accept: impl Fn(&Slot) -> bool,
    max: usize,
) -> Offer {
    let by_rank: Vec<&StaffOption<'_>> = ranked
        .iter()
        .filter_map(|id| options.iter().find(|o| o.staff_id == *id))
        .collect();
    let mut offer = Offer::default();
    let push = |offer: &mut Offer, slot: Slot, staff_id: StaffId, reason: OfferReason| {
        if offer.slots.len() < max && !offer.slots.iter().any(|o| o.slot.start == slot.start) {
            offer.slots.push(OfferedSlot {
                slot,
                staff_id,
                reason,
            });
        }
    };
    if let Some(wanted) = wanted {
        let free_then = by_rank.iter().position(|o| o.free_at_wanted);
        if let Some(position) = free_then {
            let option = by_rank[position];
            if let Some(slot) = option
                .slots
                .iter()
                .find(|s| s.start == wanted)
                .copied()
                .or(option.next_free)
            {
                let reason = if position == 0 {
                    OfferReason::Wanted
                } else {
                    OfferReason::OtherStaffSameTime
                };
                push(&mut offer, slot, option.staff_id, reason);
                offer.wanted_free = slot.start == wanted;
            }
        } else if let Some(next) = by_rank
            .first()
            .and_then(|o| o.next_free.map(|s| (s, o.staff_id)))
        {
            push(&mut offer, next.0, next.1, OfferReason::NextWithSameStaff);
        }
        for (slot, staff_id) in earliest_per_time(&by_rank, |s| s.start > wanted && accept(s)) {
            push(&mut offer, slot, staff_id, OfferReason::Earliest);
        }
    } else {
        for (slot, staff_id) in earliest_per_time(&by_rank, &accept) {
            push(&mut offer, slot, staff_id, OfferReason::Earliest);
        }
    }
    offer
}

/// Every distinct free start time (earliest first) with the best-ranked staff member free then.
fn earliest_per_time(
    by_rank: &[&StaffOption<'_>],
    keep: impl Fn(&Slot) -> bool,
) -> Vec<(Slot, StaffId)> {
    let mut all: Vec<(Slot, usize, StaffId)> = by_rank
        .iter()
        .enumerate()
        .flat_map(|(rank, o)| {
            o.slots
                .iter()
                .filter(|s| keep(s))
                .map(move |s| (*s, rank, o.staff_id))
        })
        .collect();
    all.sort_by_key(|(slot, rank, _)| (slot.start, *rank));
    all.dedup_by_key(|(slot, _, _)| slot.start);
    all.into_iter()
        .map(|(slot, _, staff)| (slot, staff))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::availability::{ServiceTiming, Slot};
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 6, 3, h, m, 0)
            .single()
            .expect("valid")
    }

    fn slot(h: u32, m: u32) -> Slot {
        let timing = ServiceTiming {
            duration: Duration::minutes(30),
            buffer_before: Duration::zero(),
            buffer_after: Duration::zero(),
        };
        Slot::new(at(h, m), &timing)
    }

    #[test]
    fn a_free_wanted_time_comes_first_with_the_best_ranked_staff_member() {
        let (anna, ben) = (StaffId::new(), StaffId::new());
        let anna_slots = [slot(9, 0), slot(9, 30), slot(10, 0)];
        let ben_slots = [slot(8, 0), slot(9, 30)];
        let options = [
            StaffOption {
                staff_id: ben,
                slots: &ben_slots,
                free_at_wanted: true,
                next_free: Some(slot(9, 30)),
            },
            StaffOption {
                staff_id: anna,
                slots: &anna_slots,
                free_at_wanted: true,
                next_free: Some(slot(9, 30)),
            },
        ];
        let offer = compose_offer(&[anna, ben], &options, Some(at(9, 30)), |_| true, 3);
        assert!(offer.wanted_free);
        assert_eq!(
            offer.slots[0],
            OfferedSlot {
                slot: slot(9, 30),
                staff_id: anna,
                reason: OfferReason::Wanted
            }
        );
        assert_eq!(
            offer.slots.iter().map(|o| o.slot.start).collect::<Vec<_>>(),
            [at(9, 30), at(10, 0)]
        );
    }

    #[test]
    fn when_the_preferred_staff_member_is_busy_someone_else_at_the_same_time_is_offered() {
        let (anna, ben) = (StaffId::new(), StaffId::new());
        let ben_slots = [slot(9, 30)];
        let anna_slots = [slot(11, 0)];
        let options = [
            StaffOption {
                staff_id: anna,
                slots: &anna_slots,
                free_at_wanted: false,
                next_free: Some(slot(11, 0)),
            },
            StaffOption {
                staff_id: ben,
                slots: &ben_slots,
                free_at_wanted: true,
                next_free: Some(slot(9, 30)),
            },
        ];
        let offer = compose_offer(&[anna, ben], &options, Some(at(9, 30)), |_| true, 3);
        assert!(offer.wanted_free);
        assert_eq!(offer.slots[0].reason, OfferReason::OtherStaffSameTime);
        assert_eq!(offer.slots[0].staff_id, ben);
        assert_eq!(
            offer.slots[1],
            OfferedSlot {
                slot: slot(11, 0),
                staff_id: anna,
                reason: OfferReason::Earliest
            }
        );
    }

    #[test]
    fn when_nobody_is_free_the_next_slot_with_the_same_staff_member_leads() {
        let (anna, ben) = (StaffId::new(), StaffId::new());
        let anna_slots = [slot(12, 0)];
        let ben_slots = [slot(10, 0), slot(10, 30)];
        let options = [
            StaffOption {
                staff_id: anna,
                slots: &anna_slots,
                free_at_wanted: false,
                next_free: Some(slot(12, 0)),
            },
            StaffOption {
                staff_id: ben,
                slots: &ben_slots,
                free_at_wanted: false,
                next_free: Some(slot(10, 0)),
            },
        ];
        let offer = compose_offer(&[anna, ben], &options, Some(at(9, 30)), |_| true, 3);
        assert!(!offer.wanted_free);
        assert_eq!(
            offer.slots[0],
            OfferedSlot {
                slot: slot(12, 0),
                staff_id: anna,
                reason: OfferReason::NextWithSameStaff
            }
        );
        assert_eq!(
            offer.slots.iter().map(|o| o.slot.start).collect::<Vec<_>>(),
            [at(12, 0), at(10, 0), at(10, 30)]
        );
    }

    #[test]
    fn without_a_wanted_time_the_earliest_distinct_times_are_offered_within_the_filter() {
        let (anna, ben) = (StaffId::new(), StaffId::new());
        let anna_slots = [slot(8, 0), slot(13, 0), slot(14, 0)];
        let ben_slots = [slot(8, 0), slot(13, 0), slot(15, 0)];
        let options = [
            StaffOption {
                staff_id: anna,
                slots: &anna_slots,
                free_at_wanted: false,
                next_free: None,
            },
            StaffOption {
                staff_id: ben,
                slots: &ben_slots,
                free_at_wanted: false,
                next_free: None,
            },
        ];
        let afternoon = |s: &Slot| s.start >= at(12, 0);
        let offer = compose_offer(&[ben, anna], &options, None, afternoon, 2);
        assert_eq!(
            offer.slots,
            [
                OfferedSlot {
                    slot: slot(13, 0),
                    staff_id: ben,
                    reason: OfferReason::Earliest
                },
                OfferedSlot {
                    slot: slot(14, 0),
                    staff_id: anna,
                    reason: OfferReason::Earliest
                },
            ]
        );
    }

    #[test]
    fn nothing_free_gives_an_empty_offer() {
        let offer = compose_offer(&[StaffId::new()], &[], Some(at(9, 0)), |_| true, 3);
        assert_eq!(offer, Offer::default());
    }
}
