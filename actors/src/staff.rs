//! The staff actor: one per staff member, the only writer of that person's calendar.
//!
//! Its mailbox serialises every hold, booking and release, so two callers can never get the same
//! slot on this node. Holds expire by a timer on the engine's clock, not when someone next looks
//! (a manual clock arms no timer; [`ExpireHolds`] removes what it shows as lapsed). On (re)start
//! it rebuilds its calendar from the store before it handles any message, so a crash loses
//! nothing that was committed; uncommitted holds are lost, which is safe because booking
//! re-checks in the database.

use crate::clock::{Clock, SystemClock};
use crate::domain::availability::{
    free_slots, is_bookable, next_free_slot, Interval, SchedulingRules, ServiceTiming, Slot,
    Unbookable, WorkPattern,
};
use crate::domain::calendar::{Calendar, Hold, HoldError, HoldId};
use crate::domain::*;
use crate::metrics as m;
use crate::store::Store;
use actix::prelude::*;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The branch facts a staff calendar depends on (shared by the branch's staff actors).
#[derive(Clone, Debug)]
pub struct BranchSchedule {
    /// Local time zone.
    pub time_zone: chrono_tz::Tz,
    /// Regular opening hours.
    pub opening_hours: WeeklyHours,
    /// Holidays and closures.
    pub date_overrides: Vec<DateOverride>,
}

impl From<&Branch> for BranchSchedule {
    fn from(b: &Branch) -> Self {
        Self {
            time_zone: b.time_zone,
            opening_hours: b.opening_hours.clone(),
            date_overrides: b.date_overrides.clone(),
        }
    }
}

/// One staff member's calendar.
pub struct StaffActor {
    staff: Arc<Staff>,
    schedule: Arc<BranchSchedule>,
    rules: SchedulingRules,
    store: Arc<dyn Store>,
    calendar: Calendar,
    mailbox_capacity: usize,
    /// Reused buffer for busy intervals, so availability queries do not allocate.
    busy: Vec<Interval>,
    /// The one timer that expires holds, and the expiry it is set for.
    expiry_timer: Option<(DateTime<Utc>, SpawnHandle)>,
    /// The time source hold expiry runs on.
    clock: Arc<dyn Clock>,
}

impl StaffActor {
    /// A staff actor that loads its calendar from `store` when started.
    pub fn new(
        staff: Arc<Staff>,
        schedule: Arc<BranchSchedule>,
        rules: SchedulingRules,
        store: Arc<dyn Store>,
        mailbox_capacity: usize,
    ) -> Self {
        Self {
            staff,
            schedule,
            rules,
            store,
            calendar: Calendar::default(),
            mailbox_capacity,
            busy: Vec::new(),
            expiry_timer: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same actor with hold expiry (and the window of its calendar load) on `clock`
    /// instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn pattern(&self) -> WorkPattern<'_> {
        WorkPattern {
            time_zone: self.schedule.time_zone,
            opening_hours: &self.schedule.opening_hours,
            branch_overrides: &self.schedule.date_overrides,
            working_hours: &self.staff.working_hours,
            breaks: &self.staff.breaks,
            staff_overrides: &self.staff.date_overrides,
        }
    }

    /// Fills `self.busy` with what is booked or held around `window`, widened by a day on each
    /// side so buffers at the edges are seen.
    fn load_busy(&mut self, window: Interval, now: DateTime<Utc>) {
        let widened = Interval::new(
            window.start - ChronoDuration::days(1),
            window.end + ChronoDuration::days(1),
        )
        .unwrap_or(window);
        self.busy.clear();
        self.calendar.busy_in(&widened, now, &mut self.busy);
    }

    /// A UTC window covering the local dates `from..=to` in any time zone: local days lie
    /// within ±14 hours of the same UTC dates, and a few extra bookings in the window are harmless.
    fn utc_window_covering(from: NaiveDate, to: NaiveDate) -> Interval {
        let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
        let start = midnight(from) - ChronoDuration::hours(14);
        let end = midnight(to) + ChronoDuration::hours(38);
        Interval { start, end }
    }

    fn count_bookings(&self, window: Interval, now: DateTime<Utc>) -> u32 {
        let mut items = Vec::new();
        self.calendar.busy_in(&window, now, &mut items);
        u32::try_from(items.len()).unwrap_or(u32::MAX)
    }

    /// Keeps exactly one timer, set for the earliest hold expiry. One timer per hold would pile
    /// up in the actor's context (each is polled on every wake-up), so a staff member with many
    /// short-lived holds would slow down with each one.
    ///
    /// The timer waits for, and expires by, the engine's clock rather than `Utc::now()`: a hold's
    /// expiry is computed from the `now` of the request that took it, which the server reads from
    /// that same clock, so expiry and the hold's deadline share one time source. It also lets a
    /// test with a [`crate::clock::ManualClock`] decide when holds lapse instead of sleeping: such
    /// a clock arms no timer, and [`ExpireHolds`] removes what it shows as expired. Whether a hold
    /// still blocks its slot never depends on this purge: the calendar counts a hold only while
    /// the `now` a request carries is before its expiry.
    fn arm_expiry_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.calendar.next_expiry() else {
            return;
        };
        if let Some((armed_for, _)) = self.expiry_timer {
            if armed_for <= next {
                return;
            }
        }
        if let Some((_, handle)) = self.expiry_timer.take() {
            ctx.cancel_future(handle);
        }
        let Some(after) = self.clock.wait_until(next) else {
            return; // A manual clock: `ExpireHolds` expires.
        };
        let handle = ctx.run_later(after, |actor, ctx| {
            actor.expiry_timer = None;
            actor.expire_holds();
            actor.arm_expiry_timer(ctx);
        });
        self.expiry_timer = Some((next, handle));
    }

    /// Removes the holds that have expired by the clock's time; returns how many.
    fn expire_holds(&mut self) -> usize {
        let expired = self.calendar.expire(self.clock.now());
        for hold in &expired {
            metrics::counter!(m::HOLDS_EXPIRED_TOTAL).increment(1);
            tracing::debug!(staff_id = %self.staff.id, hold = hold.id.0, owner = %hold.owner, "hold expired");
        }
        expired.len()
    }
}

impl Actor for StaffActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
        let store = self.store.clone();
        let staff_id = self.staff.id;
        let now = self.clock.now();
        let horizon = ChronoDuration::days(i64::from(self.rules.booking_horizon_days) + 2);
        // Handle nothing until the calendar is loaded: answers before that would offer taken slots.
        ctx.wait(
            async move { load_calendar(&*store, staff_id, now - ChronoDuration::days(8), now + horizon).await }
                .into_actor(self)
                .map(|loaded, actor, ctx| match loaded {
                    Some(calendar) => {
                        actor.calendar = calendar;
                        tracing::debug!(staff_id = %actor.staff.id, appointments = actor.calendar.appointment_count(), "calendar loaded");
                    }
                    None => {
                        tracing::error!(staff_id = %actor.staff.id, "calendar could not be loaded; restarting");
                        ctx.stop();
                    }
                }),
        );
    }
}

impl Supervised for StaffActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        metrics::counter!(m::ACTOR_RESTARTS_TOTAL, "actor" => "staff").increment(1);
        tracing::warn!(staff_id = %self.staff.id, "staff actor restarting; rebuilding its calendar from the store");
        self.calendar = Calendar::default();
        // Timers belonged to the old context.
        self.expiry_timer = None;
    }
}

/// Loads appointments with a few retries, so a short database hiccup does not cost a restart.
async fn load_calendar(
    store: &dyn Store,
    staff: StaffId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<Calendar> {
    let mut backoff = Duration::from_millis(50);
    for attempt in 1..=5 {
        match store.staff_appointments(staff, from, until).await {
            Ok(appointments) => {
                return Some(Calendar::new(appointments.into_iter().filter_map(|a| {
                    Interval::new(a.blocked_from, a.blocked_until).map(|blocked| (a.id, blocked))
                })))
            }
            Err(e) => {
                tracing::warn!(staff_id = %staff, attempt, error = %e, "loading calendar failed");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    None
}

/// Free slots and workload of this staff member for a date range.
#[derive(Message)]
#[rtype(result = "StaffAvailability")]
pub struct GetAvailability {
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// The service's timing.
    pub timing: ServiceTiming,
    /// The time the caller asked for, if any.
    pub wanted: Option<DateTime<Utc>>,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// What a staff actor answers to [`GetAvailability`].
#[derive(Clone, Debug)]
pub struct StaffAvailability {
    /// Whose.
    pub staff_id: StaffId,
    /// Free slots in the range, earliest first.
    pub slots: Vec<Slot>,
    /// Whether the wanted time itself is bookable.
    pub free_at_wanted: bool,
    /// The first free slot at or after the wanted time (may lie beyond the range).
    pub next_free: Option<Slot>,
    /// Appointments on the local day of `now`.
    pub bookings_today: u32,
    /// Appointments in the 7 days from `now`'s local day.
    pub bookings_this_week: u32,
}

impl Handler<GetAvailability> for StaffActor {
    type Result = MessageResult<GetAvailability>;

    fn handle(&mut self, msg: GetAvailability, _: &mut Self::Context) -> Self::Result {
        let window = Self::utc_window_covering(msg.from, msg.to);
        self.load_busy(window, msg.now);
        let pattern = self.pattern();
        let mut slots = Vec::new();
        let mut date = msg.from;
        while date <= msg.to {
            slots.extend(free_slots(
                &pattern,
                date,
                &msg.timing,
                &self.busy,
                &self.rules,
                msg.now,
            ));
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        let (free_at_wanted, next_free) = match msg.wanted {
            Some(wanted) => {
                let free = is_bookable(
                    &pattern,
                    wanted,
                    &msg.timing,
                    &self.busy,
                    &self.rules,
                    msg.now,
                )
                .is_ok();
                let next = slots
                    .iter()
                    .find(|s| s.start >= wanted)
                    .copied()
                    .or_else(|| {
                        let all_busy = self.all_busy(msg.now);
                        next_free_slot(
                            &pattern,
                            wanted,
                            &msg.timing,
                            &all_busy,
                            &self.rules,
                            msg.now,
                        )
                    });
                (free, next)
            }
            None => (false, slots.first().copied()),
        };
        let today = msg.now.with_timezone(&self.schedule.time_zone).date_naive();
        let today_window = Self::utc_window_covering(today, today);
        let week_end = today + ChronoDuration::days(6);
        let week_window = Self::utc_window_covering(today, week_end);
        MessageResult(StaffAvailability {
            staff_id: self.staff.id,
            slots,
            free_at_wanted,
            next_free,
            bookings_today: self.count_bookings(today_window, msg.now),
            bookings_this_week: self.count_bookings(week_window, msg.now),
        })
    }
}

impl StaffActor {
    fn all_busy(&self, now: DateTime<Utc>) -> Vec<Interval> {
        let mut all = Vec::new();
        let forever = Interval {
            start: now - ChronoDuration::days(1),
            end: now + ChronoDuration::days(400),
        };
        self.calendar.busy_in(&forever, now, &mut all);
        all
    }
}

/// Why a hold was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HoldRefused {
    /// The time cannot be booked at all (closed, too soon, off the grid…).
    #[error("not bookable: {0:?}")]
    Unbookable(Unbookable),
    /// Someone else holds or booked it.
    #[error("taken")]
    Taken,
}

/// Holds a slot for a call, atomically: checked and taken in one message.
#[derive(Message)]
#[rtype(result = "Result<Hold, HoldRefused>")]
pub struct HoldSlot {
    /// The customer's start time.
    pub start: DateTime<Utc>,
    /// The service's timing.
    pub timing: ServiceTiming,
    /// The call that will own the hold.
    pub owner: CallId,
    /// How long the hold lives unless confirmed.
    pub ttl: Duration,
    /// The current time.
    pub now: DateTime<Utc>,
}

impl Handler<HoldSlot> for StaffActor {
    type Result = Result<Hold, HoldRefused>;

    fn handle(&mut self, msg: HoldSlot, ctx: &mut Self::Context) -> Self::Result {
        let window = Interval {
            start: msg.start,
            end: msg.start + ChronoDuration::days(1),
        };
        self.load_busy(window, msg.now);
        let slot = is_bookable(
            &self.pattern(),
            msg.start,
            &msg.timing,
            &self.busy,
            &self.rules,
            msg.now,
        )
        .map_err(|reason| match reason {
            Unbookable::Taken => HoldRefused::Taken,
            other => HoldRefused::Unbookable(other),
        })?;
        let ttl = ChronoDuration::from_std(msg.ttl).unwrap_or(ChronoDuration::minutes(5));
        let hold = self
            .calendar
            .hold(slot.blocked, &msg.owner, ttl, msg.now)
            .map_err(|_| HoldRefused::Taken)?;
        self.arm_expiry_timer(ctx);
        metrics::counter!(m::HOLDS_TOTAL).increment(1);
        Ok(hold)
    }
}

/// Releases a hold; only its owner may.
#[derive(Message)]
#[rtype(result = "Result<(), HoldError>")]
pub struct ReleaseHold {
    /// Which hold.
    pub hold: HoldId,
    /// Who asks.
    pub owner: CallId,
}

impl Handler<ReleaseHold> for StaffActor {
    type Result = Result<(), HoldError>;

    fn handle(&mut self, msg: ReleaseHold, _: &mut Self::Context) -> Self::Result {
        self.calendar.release(msg.hold, &msg.owner).map(|_| ())
    }
}

/// A call ended: release every hold it still has here.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ReleaseHoldsOf {
    /// The call.
    pub owner: CallId,
}

impl Handler<ReleaseHoldsOf> for StaffActor {
    type Result = usize;

    fn handle(&mut self, msg: ReleaseHoldsOf, _: &mut Self::Context) -> usize {
        self.calendar.release_all_of(&msg.owner).len()
    }
}

/// Turns a hold into an appointment once the appointment is durably committed.
#[derive(Message)]
#[rtype(result = "Result<(), HoldError>")]
pub struct ConfirmHold {
    /// Which hold.
    pub hold: HoldId,
    /// Who asks.
    pub owner: CallId,
    /// The committed appointment.
    pub appointment: AppointmentId,
    /// The current time.
    pub now: DateTime<Utc>,
}

impl Handler<ConfirmHold> for StaffActor {
    type Result = Result<(), HoldError>;

    fn handle(&mut self, msg: ConfirmHold, _: &mut Self::Context) -> Self::Result {
        self.calendar
            .confirm(msg.hold, &msg.owner, msg.appointment, msg.now)
            .map(|_| ())
    }
}

/// An appointment was booked elsewhere (admin side, another node): block its time here too.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AppointmentBooked {
    /// The appointment.
    pub id: AppointmentId,
    /// The time it blocks.
    pub blocked: Interval,
}

impl Handler<AppointmentBooked> for StaffActor {
    type Result = ();

    fn handle(&mut self, msg: AppointmentBooked, _: &mut Self::Context) {
        metrics::counter!(m::CALENDAR_SYNC_TOTAL).increment(1);
        // The database already holds it, so it is recorded even if a local hold overlaps.
        self.calendar.insert_appointment(msg.id, msg.blocked);
    }
}

/// An appointment was cancelled: free its time.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct AppointmentCancelled {
    /// The appointment.
    pub id: AppointmentId,
}

impl Handler<AppointmentCancelled> for StaffActor {
    type Result = bool;

    fn handle(&mut self, msg: AppointmentCancelled, _: &mut Self::Context) -> bool {
        self.calendar.remove_appointment(msg.id).is_some()
    }
}

/// The staff member's record changed (hours, skills, …).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StaffChanged {
    /// The new record.
    pub staff: Arc<Staff>,
    /// The branch's schedule (it may have changed too).
    pub schedule: Arc<BranchSchedule>,
}

impl Handler<StaffChanged> for StaffActor {
    type Result = ();

    fn handle(&mut self, msg: StaffChanged, _: &mut Self::Context) {
        self.staff = msg.staff;
        self.schedule = msg.schedule;
    }
}

/// Fault injection for resilience tests and drills: the actor stops as if it had failed, and its
/// supervisor restarts it with the calendar rebuilt from the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SimulateFailure;

impl Handler<SimulateFailure> for StaffActor {
    type Result = ();

    fn handle(&mut self, _: SimulateFailure, ctx: &mut Self::Context) {
        tracing::warn!(staff_id = %self.staff.id, "simulated failure");
        ctx.stop();
    }
}

/// Removes the holds that have expired by the engine's clock now; answers how many. The timer
/// does this by itself on the system clock; with a manual clock, which arms no timer, a test
/// sends it after advancing the clock.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct ExpireHolds;

impl Handler<ExpireHolds> for StaffActor {
    type Result = usize;

    fn handle(&mut self, _: ExpireHolds, ctx: &mut Self::Context) -> usize {
        let expired = self.expire_holds();
        self.arm_expiry_timer(ctx);
        expired
    }
}

/// Counts in the calendar, for tests and the admin side.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct GetCalendarSize;

impl Handler<GetCalendarSize> for StaffActor {
    type Result = MessageResult<GetCalendarSize>;

    fn handle(&mut self, _: GetCalendarSize, _: &mut Self::Context) -> Self::Result {
        MessageResult((
            self.calendar.appointment_count(),
            self.calendar.hold_count(),
        ))
    }
}
