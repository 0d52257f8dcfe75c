//! A staff member's busy time in memory: booked appointments and short-lived holds.
//!
//! A hold reserves a slot for one call while the caller decides. It ends when its owner releases
//! it, when it is confirmed into an appointment, or when it expires. It counts as busy only while
//! `now < expires_at`, so an expired hold blocks nobody even before [`Calendar::expire`] removes
//! it; it is kept until then so that the expiry can be reported.
//!
//! Appointments are kept as compact `(blocked interval, id)` pairs sorted by start: 40 bytes each,
//! so a 60-day calendar of ~900 appointments takes about 36 KiB. They normally never overlap, but
//! ones loaded from the store or recorded with [`Calendar::insert_appointment`] may. An overlap
//! query therefore binary-searches the starts that lie within the longest appointment's length
//! of the window and costs O(log n + k).

use super::availability::Interval;
use super::ids::{AppointmentId, CallId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Identifies a hold within one calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HoldId(pub u64);

/// A slot held for a call, not yet booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// Identity within the calendar.
    pub id: HoldId,
    /// The call that may release or confirm it.
    pub owner: CallId,
    /// The staff member's time it keeps free for the call.
    pub blocked: Interval,
    /// When it stops counting as busy.
    pub expires_at: DateTime<Utc>,
}

impl Hold {
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Why a hold or booking was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    /// An appointment or a live hold overlaps the time.
    #[error("that time is already taken")]
    Taken,
    /// No hold has that id (it may have expired and been removed).
    #[error("no such hold")]
    NotFound,
    /// The hold belongs to another call.
    #[error("the hold belongs to another call")]
    NotOwner,
    /// The hold expired before it was confirmed.
    #[error("the hold has expired")]
    Expired,
}

/// Appointments (by blocked interval) and live holds of one staff member.
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    /// Sorted by start.
    appointments: Vec<(Interval, AppointmentId)>,
    /// At least as long as any appointment, so no appointment overlapping a window starts more
    /// than this before it. Only grows between rebuilds, which keeps it a safe bound.
    longest_appointment: Duration,
    /// Sorted by start; a handful at most.
    holds: Vec<Hold>,
    next_hold_id: u64,
}

impl Calendar {
    /// A calendar with these appointments and no holds.
    pub fn new(appointments: impl IntoIterator<Item = (AppointmentId, Interval)>) -> Self {
        let mut appointments: Vec<_> = appointments
            .into_iter()
            .map(|(id, blocked)| (blocked, id))
            .collect();
        appointments.sort_unstable_by_key(|(blocked, _)| *blocked);
        appointments.shrink_to_fit();
        let mut calendar = Self {
            appointments,
            ..Self::default()
        };
        calendar.measure_longest_appointment();
        calendar
    }

    /// Whether nothing booked and no live hold overlaps `blocked`; expired holds don't count.
    pub fn is_free(&self, blocked: &Interval, now: DateTime<Utc>) -> bool {
        self.appointments_overlapping(blocked).next().is_none()
            && self.live_holds_overlapping(blocked, now).next().is_none()
    }

    /// Holds `blocked` for the call `owner` for `ttl`; [`HoldError::Taken`] if it is not free.
    pub fn hold(
        &mut self,
        blocked: Interval,
        owner: &CallId,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Hold, HoldError> {
        if !self.is_free(&blocked, now) {
            return Err(HoldError::Taken);
        }
        let hold = Hold {
            id: HoldId(self.next_hold_id),
            owner: owner.clone(),
            blocked,
            expires_at: now
                .checked_add_signed(ttl)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        self.next_hold_id += 1;
        let at = self
            .holds
            .partition_point(|h| h.blocked.start <= blocked.start);
        self.holds.insert(at, hold.clone());
        Ok(hold)
    }

    /// Removes and returns a hold of `owner`: [`HoldError::NotOwner`] if it is someone else's,
    /// [`HoldError::NotFound`] if there is none with that id. An expired hold not yet removed by
    /// [`Calendar::expire`] can still be released.
    pub fn release(&mut self, id: HoldId, owner: &CallId) -> Result<Hold, HoldError> {
        let index = self.index_of_hold(id, owner)?;
        Ok(self.holds.remove(index))
    }

    /// Removes and returns every hold of `owner` (its call ended).
    pub fn release_all_of(&mut self, owner: &CallId) -> Vec<Hold> {
        self.take_holds_where(|hold| &hold.owner == owner)
    }

    /// Removes and returns the holds that have expired by `now` (`expires_at <= now`).
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Hold> {
        self.take_holds_where(|hold| !hold.is_live(now))
    }

    /// When the next hold expires, if any is held.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.holds.iter().map(|hold| hold.expires_at).min()
    }

    /// The hold with that id, if it has not been released, confirmed or expired away.
    pub fn hold_of(&self, id: HoldId) -> Option<&Hold> {
        self.holds.iter().find(|hold| hold.id == id)
    }

    /// Turns a live hold of `owner` into an appointment and returns the time it blocks;
    /// [`HoldError::Expired`] once `now` has reached the hold's expiry.
    pub fn confirm(
        &mut self,
        id: HoldId,
        owner: &CallId,
        appointment: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Interval, HoldError> {
        let index = self.index_of_hold(id, owner)?;
        if !self.holds[index].is_live(now) {
            return Err(HoldError::Expired);
        }
        let hold = self.holds.remove(index);
        self.insert_sorted(appointment, hold.blocked);
        Ok(hold.blocked)
    }

    /// Books without a hold (atomic take): [`HoldError::Taken`] when an appointment or a live
    /// hold overlaps; an interval that merely touches one is accepted. `id` must be new; an
    /// appointment that moves is recorded with [`Calendar::insert_appointment`].
    pub fn add_appointment(
        &mut self,
        id: AppointmentId,
        blocked: Interval,
        now: DateTime<Utc>,
    ) -> Result<(), HoldError> {
        if !self.is_free(&blocked, now) {
            return Err(HoldError::Taken);
        }
        self.insert_sorted(id, blocked);
        Ok(())
    }

    /// Records an appointment the store already holds, whatever overlaps it here: the store is
    /// authoritative (e.g. it was booked on another node). Replaces an appointment with the same id.
    pub fn insert_appointment(&mut self, id: AppointmentId, blocked: Interval) {
        self.remove_appointment(id);
        self.insert_sorted(id, blocked);
    }

    /// Removes an appointment (cancelled); returns the time it blocked.
    pub fn remove_appointment(&mut self, id: AppointmentId) -> Option<Interval> {
        let index = self
            .appointments
            .iter()
            .position(|(_, other)| *other == id)?;
        Some(self.appointments.remove(index).0)
    }

    /// Appointments and live holds overlapping `window`, sorted by start. Clears `out` and fills
    /// it, so a caller can reuse one buffer and not allocate.
    pub fn busy_in(&self, window: &Interval, now: DateTime<Utc>, out: &mut Vec<Interval>) {
        out.clear();
        let mut holds = self
            .live_holds_overlapping(window, now)
            .map(|hold| hold.blocked)
            .peekable();
        for (appointment, _) in self.appointments_overlapping(window) {
            while let Some(hold) = holds.next_if(|hold| hold.start < appointment.start) {
                out.push(hold);
            }
            out.push(*appointment);
        }
        out.extend(holds);
    }

    /// Drops the appointments that ended by `t` (`end <= t`): they can no longer collide.
    pub fn prune_before(&mut self, t: DateTime<Utc>) {
        self.appointments.retain(|(blocked, _)| blocked.end > t);
        if self.appointments.capacity() > 2 * self.appointments.len() {
            self.appointments.shrink_to_fit();
        }
        self.measure_longest_appointment();
    }

    /// How many appointments are kept.
    pub fn appointment_count(&self) -> usize {
        self.appointments.len()
    }

    /// How many holds are kept, including expired ones not yet removed by [`Calendar::expire`].
    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    fn insert_sorted(&mut self, id: AppointmentId, blocked: Interval) {
        let at = self
            .appointments
            .partition_point(|(other, _)| other.start <= blocked.start);
        self.appointments.insert(at, (blocked, id));
        self.longest_appointment = self.longest_appointment.max(blocked.duration());
    }

    fn measure_longest_appointment(&mut self) {
        self.longest_appointment = self
            .appointments
            .iter()
            .map(|(blocked, _)| blocked.duration())
            .max()
            .unwrap_or_else(Duration::zero);
    }

    fn appointments_overlapping<'c>(
        &'c self,
        window: &Interval,
    ) -> impl Iterator<Item = &'c (Interval, AppointmentId)> + 'c {
        let window = *window;
        // Whatever starts this early ends by the window's start at the latest.
        let too_early = window
            .start
            .checked_sub_signed(self.longest_appointment)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let from = self
            .appointments
            .partition_point(|(blocked, _)| blocked.start <= too_early);
        let until = self
            .appointments
            .partition_point(|(blocked, _)| blocked.start < window.end);
        self.appointments
            .get(from..until)
            .unwrap_or_default()
            .iter()
            .filter(move |(blocked, _)| blocked.end > window.start)
    }

    fn live_holds_overlapping<'c>(
        &'c self,
        window: &Interval,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &'c Hold> + 'c {
        let window = *window;
        self.holds
            .iter()
            .filter(move |hold| hold.is_live(now) && hold.blocked.overlaps(&window))
    }

    fn index_of_hold(&self, id: HoldId, owner: &CallId) -> Result<usize, HoldError> {
        let index = self
            .holds
            .iter()
            .position(|hold| hold.id == id)
            .ok_or(HoldError::NotFound)?;
        if &self.holds[index].owner != owner {
            return Err(HoldError::NotOwner);
        }
        Ok(index)
    }

    fn take_holds_where(&mut self, mut take: impl FnMut(&Hold) -> bool) -> Vec<Hold> {
        let (taken, kept) = std::mem::take(&mut self.holds)
            .into_iter()
            .partition(|hold| take(hold));
        self.holds = kept;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 08:00 UTC on 2026-03-02 plus `minutes`.
    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .expect("valid RFC 3339 time")
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn span(from: i64, to: i64) -> Interval {
        Interval::new(at(from), at(to)).expect("start before end")
    }

    fn call(name: &str) -> CallId {
        CallId::parse(name).expect("valid call id")
    }

    fn ttl() -> Duration {
        Duration::minutes(5)
    }

    #[test]
    fn a_held_slot_is_not_free_for_anyone_else() {
        let mut calendar = Calendar::default();
        let hold = calendar
            .hold(span(0, 30), &call("call_a"), ttl(), at(-60))
            .expect("free");
        assert_eq!(hold.expires_at, at(-55));
        assert!(!calendar.is_free(&span(15, 45), at(-60)));
        assert_eq!(
            calendar.hold(span(15, 45), &call("call_b"), ttl(), at(-60)),
            Err(HoldError::Taken)
        );
        assert_eq!(
            calendar.hold(span(0, 30), &call("call_a"), ttl(), at(-60)),
            Err(HoldError::Taken),
            "not even the same call holds a slot twice"
        );
        assert!(calendar
            .hold(span(30, 60), &call("call_b"), ttl(), at(-60))
            .is_ok());
        assert_eq!(calendar.hold_of(hold.id), Some(&hold));
    }

    #[test]
    fn only_the_owner_releases_a_hold() {
        let mut calendar = Calendar::default();
        let hold = calendar
            .hold(span(0, 30), &call("call_a"), ttl(), at(-60))
            .expect("free");
        assert_eq!(
            calendar.release(hold.id, &call("call_b")),
            Err(HoldError::NotOwner)
        );
        assert_eq!(calendar.release(hold.id, &call("call_a")), Ok(hold.clone()));
        assert_eq!(
            calendar.release(hold.id, &call("call_a")),
            Err(HoldError::NotFound)
        );
        assert!(calendar.is_free(&span(0, 30), at(-60)));
    }

    #[test]
    fn releasing_a_call_frees_all_its_holds() {
        let mut calendar = Calendar::default();
        let (a, b) = (call("call_a"), call("call_b"));
        for (from, owner) in [(0, &a), (30, &b), (60, &a)] {
            calendar
                .hold(span(from, from + 30), owner, ttl(), at(-60))
                .expect("free");
        }
        let released = calendar.release_all_of(&a);
        assert_eq!(released.len(), 2);
        assert!(released.iter().all(|hold| hold.owner == a));
        assert_eq!(calendar.hold_count(), 1);
        assert!(calendar.is_free(&span(0, 30), at(-60)));
    }

    #[test]
    fn an_expired_hold_frees_the_slot() {
        let mut calendar = Calendar::default();
        let hold = calendar
            .hold(span(0, 30), &call("call_a"), ttl(), at(-60))
            .expect("free");
        assert_eq!(calendar.next_expiry(), Some(hold.expires_at));
        assert!(calendar.is_free(&span(0, 30), hold.expires_at));
        assert!(calendar
            .hold(span(0, 30), &call("call_b"), ttl(), hold.expires_at)
            .is_ok());
        assert_eq!(calendar.expire(hold.expires_at), vec![hold]);
        assert_eq!(calendar.hold_count(), 1);
    }

    #[test]
    fn expire_keeps_live_holds() {
        let mut calendar = Calendar::default();
        calendar
            .hold(span(0, 30), &call("call_a"), ttl(), at(-60))
            .expect("free");
        assert!(calendar.expire(at(-56)).is_empty());
        assert_eq!(calendar.hold_count(), 1);
        assert_eq!(calendar.expire(at(-55)).len(), 1);
        assert_eq!(calendar.next_expiry(), None);
    }

    #[test]
    fn a_confirmed_hold_becomes_an_appointment() {
        let mut calendar = Calendar::default();
        let owner = call("call_a");
        let hold = calendar
            .hold(span(0, 30), &owner, ttl(), at(-60))
            .expect("free");
        let appointment = AppointmentId::new();
        assert_eq!(
            calendar.confirm(hold.id, &call("call_b"), appointment, at(-59)),
            Err(HoldError::NotOwner)
        );
        assert_eq!(
            calendar.confirm(hold.id, &owner, appointment, at(-59)),
            Ok(span(0, 30))
        );
        assert_eq!(
            (calendar.hold_count(), calendar.appointment_count()),
            (0, 1)
        );
        // The appointment outlives the hold's expiry.
        assert!(!calendar.is_free(&span(0, 30), at(0)));
        assert_eq!(calendar.remove_appointment(appointment), Some(span(0, 30)));
        assert!(calendar.is_free(&span(0, 30), at(0)));
    }

    #[test]
    fn a_hold_cannot_be_confirmed_after_it_expired() {
        let mut calendar = Calendar::default();
        let owner = call("call_a");
        let hold = calendar
            .hold(span(0, 30), &owner, ttl(), at(-60))
            .expect("free");
        let confirmed = calendar.confirm(hold.id, &owner, AppointmentId::new(), hold.expires_at);
        assert_eq!(confirmed, Err(HoldError::Expired));
        assert_eq!(calendar.appointment_count(), 0);
        assert_eq!(
            calendar.confirm(HoldId(99), &owner, AppointmentId::new(), at(-60)),
            Err(HoldError::NotFound)
        );
    }

    #[test]
    fn booking_directly_refuses_overlaps_and_accepts_touching_intervals() {
        let mut calendar = Calendar::new([(AppointmentId::new(), span(0, 60))]);
        let now = at(-600);
        assert_eq!(
            calendar.add_appointment(AppointmentId::new(), span(30, 90), now),
            Err(HoldError::Taken)
        );
        assert_eq!(
            calendar.add_appointment(AppointmentId::new(), span(-30, 1), now),
            Err(HoldError::Taken)
        );
        assert!(calendar
            .add_appointment(AppointmentId::new(), span(60, 90), now)
            .is_ok());
        assert!(calendar
            .add_appointment(AppointmentId::new(), span(-30, 0), now)
            .is_ok());
        calendar
            .hold(span(120, 150), &call("call_a"), ttl(), now)
            .expect("free");
        assert_eq!(
            calendar.add_appointment(AppointmentId::new(), span(100, 130), now),
            Err(HoldError::Taken)
        );
        assert_eq!(calendar.appointment_count(), 3);
    }

    #[test]
    fn a_recorded_appointment_replaces_its_earlier_time() {
        let id = AppointmentId::new();
        let mut calendar = Calendar::new([(id, span(0, 30))]);
        calendar.insert_appointment(id, span(60, 90));
        assert_eq!(calendar.appointment_count(), 1);
        assert!(calendar.is_free(&span(0, 30), at(-60)));
        assert!(!calendar.is_free(&span(60, 90), at(-60)));
    }

    #[test]
    fn busy_in_lists_overlapping_appointments_and_live_holds_in_order() {
        let mut calendar = Calendar::new([
            (AppointmentId::new(), span(120, 180)),
            (AppointmentId::new(), span(0, 30)),
            (AppointmentId::new(), span(300, 330)),
        ]);
        let now = at(-60);
        calendar
            .hold(span(60, 90), &call("call_a"), ttl(), now)
            .expect("free");
        calendar
            .hold(span(200, 230), &call("call_b"), Duration::minutes(1), now)
            .expect("free");
        calendar
            .hold(span(-60, -30), &call("call_c"), ttl(), now)
            .expect("free");
        let mut busy = vec![span(999, 1000)];
        calendar.busy_in(&span(10, 300), at(-58), &mut busy);
        assert_eq!(busy, [span(0, 30), span(60, 90), span(120, 180)]);
        calendar.busy_in(&span(-100, 400), now, &mut busy);
        assert_eq!(
            busy,
            [
                span(-60, -30),
                span(0, 30),
                span(60, 90),
                span(120, 180),
                span(200, 230),
                span(300, 330)
            ]
        );
    }

    #[test]
    fn a_long_appointment_is_found_from_a_window_near_its_end() {
        let calendar = Calendar::new([
            (AppointmentId::new(), span(0, 600)),
            (AppointmentId::new(), span(100, 130)),
            (AppointmentId::new(), span(700, 730)),
        ]);
        let mut busy = Vec::new();
        calendar.busy_in(&span(500, 710), at(-60), &mut busy);
        assert_eq!(busy, [span(0, 600), span(700, 730)]);
        assert!(!calendar.is_free(&span(590, 620), at(-60)));
    }

    #[test]
    fn prune_before_drops_appointments_that_have_ended() {
        let mut calendar = Calendar::new([
            (AppointmentId::new(), span(0, 30)),
            (AppointmentId::new(), span(30, 60)),
            (AppointmentId::new(), span(50, 100)),
        ]);
        calendar.prune_before(at(60));
        assert_eq!(calendar.appointment_count(), 1);
        assert!(calendar.is_free(&span(0, 50), at(-60)));
        assert!(!calendar.is_free(&span(90, 120), at(-60)));
    }

    #[test]
    fn a_sixty_day_calendar_stays_well_under_64_kib() {
        assert_eq!(std::mem::size_of::<(Interval, AppointmentId)>(), 40);
        let fifteen_a_day = (0..900).map(|i| (AppointmentId::new(), span(i * 96, i * 96 + 45)));
        let loaded = Calendar::new(fifteen_a_day.clone());
        let mut booked = Calendar::default();
        for (id, blocked) in fifteen_a_day {
            booked
                .add_appointment(id, blocked, at(-60))
                .expect("disjoint");
        }
        for calendar in [loaded, booked] {
            let bytes = calendar.appointments.capacity() * 40;
            assert!(bytes <= 40 * 1024, "{bytes} bytes");
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Hold {
            from: i64,
            length: i64,
            owner: u8,
            ttl: i64,
        },
        Release {
            pick: usize,
            owner: u8,
        },
        ReleaseAll {
            owner: u8,
        },
        Confirm {
            pick: usize,
            owner: u8,
        },
        Add {
            from: i64,
            length: i64,
        },
        Insert {
            from: i64,
            length: i64,
        },
        Remove {
            pick: usize,
        },
        Expire,
        Prune {
            at: i64,
        },
        Wait {
            minutes: i64,
        },
    }

    fn any_op() -> impl Strategy<Value = Op> {
        let from = 0i64..600;
        let length = 1i64..90;
        prop_oneof![
            4 => (from.clone(), length.clone(), 0u8..3, 1i64..20)
                .prop_map(|(from, length, owner, ttl)| Op::Hold { from, length, owner, ttl }),
            2 => (any::<usize>(), 0u8..3).prop_map(|(pick, owner)| Op::Release { pick, owner }),
            1 => (0u8..3).prop_map(|owner| Op::ReleaseAll { owner }),
            3 => (any::<usize>(), 0u8..3).prop_map(|(pick, owner)| Op::Confirm { pick, owner }),
            3 => (from.clone(), length.clone()).prop_map(|(from, length)| Op::Add { from, length }),
            1 => (from, length).prop_map(|(from, length)| Op::Insert { from, length }),
            2 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
            1 => Just(Op::Expire),
            1 => (0i64..600).prop_map(|at| Op::Prune { at }),
            2 => (0i64..10).prop_map(|minutes| Op::Wait { minutes }),
        ]
    }

    fn owner(n: u8) -> CallId {
        call(&format!("call_{n}"))
    }

    fn pick<T: Copy>(items: &[T], pick: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[pick % items.len()])
    }

    proptest! {
        #[test]
        fn live_items_never_overlap(ops in prop::collection::vec(any_op(), 1..80)) {
            let mut calendar = Calendar::default();
            let mut now = at(-60);
            let mut holds: Vec<HoldId> = Vec::new();
            let mut appointments: Vec<AppointmentId> = Vec::new();
            let everything = span(-1000, 2000);
            let mut busy = Vec::new();
            for op in ops {
                match op {
                    Op::Hold { from, length, owner: n, ttl } => {
                        let held = calendar.hold(span(from, from + length), &owner(n), Duration::minutes(ttl), now);
                        holds.extend(held.map(|h| h.id));
                    }
                    Op::Release { pick: p, owner: n } => {
                        if let Some(id) = pick(&holds, p) {
                            let _ = calendar.release(id, &owner(n));
                        }
                    }
                    Op::ReleaseAll { owner: n } => {
                        calendar.release_all_of(&owner(n));
                    }
                    Op::Confirm { pick: p, owner: n } => {
                        if let Some(id) = pick(&holds, p) {
                            let appointment = AppointmentId::new();
                            if calendar.confirm(id, &owner(n), appointment, now).is_ok() {
                                appointments.push(appointment);
                            }
                        }
                    }
                    Op::Add { from, length } => {
                        let appointment = AppointmentId::new();
                        if calendar.add_appointment(appointment, span(from, from + length), now).is_ok() {
                            appointments.push(appointment);
                        }
                    }
                    Op::Insert { from, length } => {
                        // Re-recording an appointment at a time it may no longer fit is only
                        // safe where that time is free, as after a move checked by the store.
                        if let Some(id) = pick(&appointments, usize::try_from(from).unwrap_or(0)) {
                            let moved = span(from, from + length);
                            let kept = calendar.remove_appointment(id);
                            if calendar.is_free(&moved, now) {
                                calendar.insert_appointment(id, moved);
                            } else if let Some(kept) = kept {
                                calendar.insert_appointment(id, kept);
                            }
                        }
                    }
                    Op::Remove { pick: p } => {
                        if let Some(id) = pick(&appointments, p) {
                            calendar.remove_appointment(id);
                        }
                    }
                    Op::Expire => {
                        let expired = calendar.expire(now);
                        prop_assert!(expired.iter().all(|h| h.expires_at <= now));
                    }
                    Op::Prune { at: t } => calendar.prune_before(at(t)),
                    Op::Wait { minutes } => now += Duration::minutes(minutes),
                }
                calendar.busy_in(&everything, now, &mut busy);
                let mut reach = DateTime::<Utc>::MIN_UTC;
                for item in &busy {
                    prop_assert!(item.start >= reach, "{item:?} overlaps an earlier item in {busy:?}");
                    reach = item.end;
                }
                let expected = calendar.appointment_count()
                    + calendar.holds.iter().filter(|h| h.is_live(now)).count();
                prop_assert_eq!(busy.len(), expected);
            }
        }
    }
}
