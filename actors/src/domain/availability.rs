//! Free slots of one staff member on one local date.
//!
//! Hours are configured as local wall-clock times of the branch's time zone; everything this
//! module returns is UTC. The rules:
//!
//! - **Day hours.** Branch opening hours and staff working hours are each resolved the same way:
//!   the weekly hours of the date's weekday, unless a [`DateOverride`] for that date exists, whose
//!   hours then replace them (empty hours mean closed). The open windows of a date are the
//!   intersection of the two, minus the staff member's weekly breaks for that weekday. Breaks are
//!   not applied on a date with a staff override: its hours are explicit.
//! - **Local time to UTC.** Each configured range is converted on its own. A boundary inside a
//!   daylight-saving gap (a local time that does not exist) moves to the first instant after the
//!   gap. An ambiguous local time (clocks fall back) maps to the earliest instant for a range start
//!   and to the latest for a range end, so a range keeps all the time it nominally has. Ranges are
//!   intersected and subtracted after conversion, so windows are sorted and disjoint in UTC even on
//!   those days. Hours end before local midnight, so no window (and no slot) crosses it.
//! - **Grid.** Slot starts lie on local wall-clock multiples of `slot_interval_minutes` counted
//!   from local midnight (a grid of 0 minutes counts as 1). A local time that does not exist is not
//!   a start; one that occurs twice (fall back) offers both instants.
//! - **Fit.** The blocked interval `[start - buffer_before, end + buffer_after)` must lie inside one
//!   open window and must not overlap a busy interval; merely touching one is fine.
//! - **When.** `start >= now + minimum_notice` (a negative notice counts as none). Dates before the
//!   local date of `now`, and dates more than `booking_horizon_days` after it, have no slots.
//! - A service without duration, or with a negative buffer, has no slots.
//!
//! Busy intervals must be sorted by start and may overlap each other. A search walks them once with
//! a moving index, so a day costs O(grid candidates + busy intervals) and allocates only its
//! result and its list of windows.

use super::model::{Branch, Service};
use super::schedule::{DateOverride, TimeRange, WeeklyHours};
use chrono::{
    DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::iter::Peekable;
use std::ops::ControlFlow;

/// Half-open span of UTC time `[start, end)`, `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "IntervalFields")]
pub struct Interval {
    /// First instant inside.
    pub start: DateTime<Utc>,
    /// First instant after.
    pub end: DateTime<Utc>,
}

/// What an [`Interval`] is read from, before its order is checked.
#[derive(Deserialize)]
struct IntervalFields {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<IntervalFields> for Interval {
    type Error = &'static str;

    fn try_from(fields: IntervalFields) -> Result<Self, Self::Error> {
        Interval::new(fields.start, fields.end).ok_or("an interval must end after it starts")
    }
}

impl Interval {
    /// The span from `start` to `end`; `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// Whether the two share an instant; intervals that merely touch do not.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside this interval.
    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// How long it lasts.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// How long a service takes and how long it blocks the staff member around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceTiming {
    /// Time with the customer.
    pub duration: Duration,
    /// Preparation time blocked before the customer's time.
    pub buffer_before: Duration,
    /// Clean-up time blocked after the customer's time.
    pub buffer_after: Duration,
}

impl ServiceTiming {
    /// A timing given in whole minutes, as services are configured.
    pub fn from_minutes(duration: u32, buffer_before: u32, buffer_after: u32) -> Self {
        let minutes = |m: u32| Duration::minutes(i64::from(m));
        Self {
            duration: minutes(duration),
            buffer_before: minutes(buffer_before),
            buffer_after: minutes(buffer_after),
        }
    }

    /// Whether a slot of this service can exist: it takes time and neither buffer is negative.
    pub fn is_valid(&self) -> bool {
        self.duration > Duration::zero()
            && self.buffer_before >= Duration::zero()
            && self.buffer_after >= Duration::zero()
    }
}

impl From<&Service> for ServiceTiming {
    fn from(service: &Service) -> Self {
        Self::from_minutes(
            service.duration_minutes,
            service.buffer_before_minutes,
            service.buffer_after_minutes,
        )
    }
}

/// Booking rules from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedulingRules {
    /// Slot starts lie on local multiples of this many minutes from midnight.
    pub slot_interval_minutes: u32,
    /// How long before its start a slot can still be booked.
    pub minimum_notice: Duration,
    /// How many days after today (local) can be booked.
    pub booking_horizon_days: u32,
}

impl SchedulingRules {
    fn grid_minutes(&self) -> u32 {
        // A zero grid would never advance; every minute is the closest meaningful reading.
        self.slot_interval_minutes.max(1)
    }

    fn grid_step(&self) -> Duration {
        Duration::minutes(i64::from(self.grid_minutes()))
    }

    fn earliest_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(self.minimum_notice.max(Duration::zero()))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn last_bookable_date(&self, today: NaiveDate) -> NaiveDate {
        today
            .checked_add_days(Days::new(u64::from(self.booking_horizon_days)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// The working pattern of one staff member at one branch (all hours are local wall-clock times).
#[derive(Clone, Copy, Debug)]
pub struct WorkPattern<'a> {
    /// The branch's time zone, in which all hours are read.
    pub time_zone: Tz,
    /// The branch's regular opening hours.
    pub opening_hours: &'a WeeklyHours,
    /// The branch's holidays, closures and special hours.
    pub branch_overrides: &'a [DateOverride],
    /// The staff member's regular working hours.
    pub working_hours: &'a WeeklyHours,
    /// The staff member's regular breaks.
    pub breaks: &'a WeeklyHours,
    /// The staff member's sick days, leave and special hours.
    pub staff_overrides: &'a [DateOverride],
}

impl WorkPattern<'_> {
    /// The UTC windows in which the staff member is at work and the branch is open on `date`,
    /// sorted, disjoint.
    pub fn open_windows(&self, date: NaiveDate) -> Vec<Interval> {
        let mut windows = Vec::with_capacity(4);
        self.open_windows_into(date, &mut windows);
        windows
    }

    /// Appends the open windows of `date` to `out`.
    fn open_windows_into(&self, date: NaiveDate, out: &mut Vec<Interval>) {
        let zone = self.time_zone;
        let opening = hours_on(self.opening_hours, self.branch_overrides, date);
        let working = hours_on(self.working_hours, self.staff_overrides, date);
        let breaks = if working.overridden {
            &[][..]
        } else {
            self.breaks.on(date.weekday()).ranges()
        };
        let mut opening = UtcRanges::new(zone, date, opening.ranges);
        let mut working = UtcRanges::new(zone, date, working.ranges);
        let mut breaks = UtcRanges::new(zone, date, breaks).peekable();
        let (mut open, mut work) = (opening.next(), working.next());
        while let (Some(o), Some(w)) = (open, work) {
            if let Some(common) = Interval::new(o.start.max(w.start), o.end.min(w.end)) {
                push_without_breaks(common, &mut breaks, out);
            }
            if o.end <= w.end {
                open = opening.next();
            } else {
                work = working.next();
            }
        }
    }
}

/// The local ranges that apply on one date, and whether an override chose them.
struct DayRanges<'h> {
    ranges: &'h [TimeRange],
    overridden: bool,
}

fn hours_on<'h>(
    weekly: &'h WeeklyHours,
    overrides: &'h [DateOverride],
    date: NaiveDate,
) -> DayRanges<'h> {
    match overrides.iter().find(|o| o.date == date) {
        Some(special) => DayRanges {
            ranges: special.hours.ranges(),
            overridden: true,
        },
        None => DayRanges {
            ranges: weekly.on(date.weekday()).ranges(),
            overridden: false,
        },
    }
}

/// Pushes `piece` minus the breaks into `out`. Breaks and pieces both arrive in order, so a break
/// is dropped once it ends before the piece, but kept while it may still cut the next piece.
fn push_without_breaks(
    piece: Interval,
    breaks: &mut Peekable<UtcRanges<'_>>,
    out: &mut Vec<Interval>,
) {
    let mut rest_start = piece.start;
    while let Some(pause) = breaks.peek().copied() {
        if pause.end <= rest_start {
            breaks.next();
            continue;
        }
        if pause.start >= piece.end {
            break;
        }
        out.extend(Interval::new(rest_start, pause.start));
        rest_start = pause.end;
        if pause.end >= piece.end {
            break;
        }
        breaks.next();
    }
    out.extend(Interval::new(rest_start, piece.end));
}

/// One day's local ranges as UTC intervals, sorted and disjoint: ranges whose converted ends meet
/// or overlap (possible around a fall-back) are merged.
struct UtcRanges<'h> {
    zone: Tz,
    date: NaiveDate,
    ranges: std::slice::Iter<'h, TimeRange>,
    pending: Option<Interval>,
}

impl<'h> UtcRanges<'h> {
    fn new(zone: Tz, date: NaiveDate, ranges: &'h [TimeRange]) -> Self {
        Self {
            zone,
            date,
            ranges: ranges.iter(),
            pending: None,
        }
    }

    fn next_converted(&mut self) -> Option<Interval> {
        // A range that lies wholly inside a gap converts to nothing and is skipped.
        self.ranges
            .by_ref()
            .find_map(|range| range_to_utc(self.zone, self.date, range))
    }
}

impl Iterator for UtcRanges<'_> {
    type Item = Interval;

    fn next(&mut self) -> Option<Interval> {
        let mut current = match self.pending.take() {
            Some(pending) => pending,
            None => self.next_converted()?,
        };
        while let Some(following) = self.next_converted() {
            if following.start <= current.end {
                current.end = current.end.max(following.end);
            } else {
                self.pending = Some(following);
                break;
            }
        }
        Some(current)
    }
}

fn range_to_utc(zone: Tz, date: NaiveDate, range: &TimeRange) -> Option<Interval> {
    let start = range_start_instant(zone, date.and_time(range.start()))?;
    let end = range_end_instant(zone, date.and_time(range.end()))?;
    Interval::new(start, end)
}

fn range_start_instant(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mapped = zone.from_local_datetime(&local);
    match mapped.earliest() {
        Some(instant) => Some(instant.with_timezone(&Utc)),
        None => first_instant_after_gap(zone, local),
    }
}

fn range_end_instant(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mapped = zone.from_local_datetime(&local);
    match mapped.latest() {
        Some(instant) => Some(instant.with_timezone(&Utc)),
        None => first_instant_after_gap(zone, local),
    }
}

/// The instant at which local clocks jump over the nonexistent `local`: the first whole second
/// whose local time is later. Zone transitions fall on whole seconds, so this is exact.
fn first_instant_after_gap(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // UTC offsets stay well under a day, so a day either side brackets the jump.
    let mut before = local.checked_sub_days(Days::new(1))?.and_utc().timestamp();
    let mut after = local.checked_add_days(Days::new(1))?.and_utc().timestamp();
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        let instant = DateTime::from_timestamp(middle, 0)?;
        if instant.with_timezone(&zone).naive_local() > local {
            after = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}

fn utc_offset_at(zone: Tz, instant: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The first whole second in `(from, until)` at which the UTC offset is no longer `offset`, if
/// the offset at the end of the span differs. A span holds at most one transition in practice:
/// they are months apart.
fn next_offset_change(
    zone: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    offset: i32,
) -> Option<DateTime<Utc>> {
    let last = until.checked_sub_signed(Duration::nanoseconds(1))?;
    if utc_offset_at(zone, last) == offset {
        return None;
    }
    // Flooring to whole seconds keeps each side's offset: transitions fall on whole seconds.
    let mut unchanged = from.timestamp();
    let mut changed = last.timestamp();
    while changed - unchanged > 1 {
        let middle = unchanged + (changed - unchanged) / 2;
        let offset_there = utc_offset_at(zone, DateTime::from_timestamp(middle, 0)?);
        if offset_there == offset {
            unchanged = middle;
        } else {
            changed = middle;
        }
    }
    DateTime::from_timestamp(changed, 0)
}

/// A bookable slot: the customer's time and the (wider) time it blocks for the staff member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Start of the customer's time.
    pub start: DateTime<Utc>,
    /// End of the customer's time.
    pub end: DateTime<Utc>,
    /// The staff member's blocked time, buffers included.
    pub blocked: Interval,
}

impl Slot {
    /// The slot of a service starting at `start`.
    ///
    /// `timing` must be valid ([`ServiceTiming::is_valid`]), or `blocked` is empty. Panics only
    /// if the result lies outside the range chrono can represent (about ±262,000 years).
    pub fn new(start: DateTime<Utc>, timing: &ServiceTiming) -> Slot {
        let end = start + timing.duration;
        let blocked = Interval {
            start: start - timing.buffer_before,
            end: end + timing.buffer_after,
        };
        Slot {
            start,
            end,
            blocked,
        }
    }

    /// Like [`Slot::new`], but `None` instead of overflowing, or when the timing is invalid.
    fn checked(start: DateTime<Utc>, timing: &ServiceTiming) -> Option<Slot> {
        if !timing.is_valid() {
            return None;
        }
        let end = start.checked_add_signed(timing.duration)?;
        let blocked = Interval::new(
            start.checked_sub_signed(timing.buffer_before)?,
            end.checked_add_signed(timing.buffer_after)?,
        )?;
        Some(Slot {
            start,
            end,
            blocked,
        })
    }
}

/// Why a requested start time cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unbookable {
    /// It starts within the minimum notice.
    #[error("that time is too soon to book")]
    TooSoon,
    /// Its date lies beyond the booking horizon.
    #[error("that date is too far ahead to book")]
    BeyondHorizon,
    /// It has already begun.
    #[error("that time has passed")]
    InThePast,
    /// The branch is closed, it is a holiday or a break, or the staff member is not working.
    #[error("that time is outside the opening or working hours")]
    OutsideHours,
    /// It is not one of the slot start times.
    #[error("slots do not start at that time")]
    NotOnGrid,
    /// Something already booked or held overlaps it.
    #[error("that time is already taken")]
    Taken,
}

/// Free slots on `date` (local date in the pattern's time zone), earliest first.
pub fn free_slots(
    pattern: &WorkPattern,
    date: NaiveDate,
    timing: &ServiceTiming,
    busy: &[Interval],
    rules: &SchedulingRules,
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let search = SlotSearch::new(pattern, timing, rules, now);
    if !search.covers(date) {
        return Vec::new();
    }
    let mut windows = Vec::with_capacity(4);
    pattern.open_windows_into(date, &mut windows);
    let mut slots = Vec::with_capacity(search.most_slots_in(&windows));
    let mut busy = BusyCursor::new(busy);
    let ControlFlow::Continue(()) =
        search.visit_free_slots(date, &windows, search.earliest, &mut busy, |slot| {
            slots.push(slot);
            ControlFlow::<Infallible>::Continue(())
        });
    slots
}

/// The first free slot on or after `from` (searching day by day up to the booking horizon).
pub fn next_free_slot(
    pattern: &WorkPattern,
    from: DateTime<Utc>,
    timing: &ServiceTiming,
    busy: &[Interval],
    rules: &SchedulingRules,
    now: DateTime<Utc>,
) -> Option<Slot> {
    let search = SlotSearch::new(pattern, timing, rules, now);
    let not_before = from.max(search.earliest);
    let local_date = not_before.with_timezone(&pattern.time_zone).date_naive();
    let mut date = local_date.max(search.first_date);
    let mut windows = Vec::with_capacity(4);
    let mut busy = BusyCursor::new(busy);
    while search.covers(date) {
        windows.clear();
        pattern.open_windows_into(date, &mut windows);
        if let ControlFlow::Break(slot) =
            search.visit_free_slots(date, &windows, not_before, &mut busy, ControlFlow::Break)
        {
            return Some(slot);
        }
        date = date.succ_opt()?;
    }
    None
}

/// Why the branch itself cannot take a booking at `start`, whoever works there (in the past, too
/// soon, beyond the horizon, closed, off the slot grid), if it can't: tells "closed" from "taken"
/// when no staff member is free.
pub fn branch_refuses(
    branch: &Branch,
    timing: &ServiceTiming,
    start: DateTime<Utc>,
    rules: &SchedulingRules,
    now: DateTime<Utc>,
) -> Option<Unbookable> {
    let no_breaks = WeeklyHours::default();
    let pattern = WorkPattern {
        time_zone: branch.time_zone,
        opening_hours: &branch.opening_hours,
        branch_overrides: &branch.date_overrides,
        working_hours: &branch.opening_hours,
        breaks: &no_breaks,
        staff_overrides: &[],
    };
    is_bookable(&pattern, start, timing, &[], rules, now).err()
}

/// Whether a slot starting at `start` is bookable under the pattern, rules and busy set (used to
/// validate a requested time).
pub fn is_bookable(
    pattern: &WorkPattern,
    start: DateTime<Utc>,
    timing: &ServiceTiming,
    busy: &[Interval],
    rules: &SchedulingRules,
    now: DateTime<Utc>,
) -> Result<Slot, Unbookable> {
    let search = SlotSearch::new(pattern, timing, rules, now);
    if start < now {
        return Err(Unbookable::InThePast);
    }
    if start < search.earliest {
        return Err(Unbookable::TooSoon);
    }
    let local = start.with_timezone(&pattern.time_zone).naive_local();
    if local.date() > search.last_date {
        return Err(Unbookable::BeyondHorizon);
    }
    if !is_on_grid(local, rules.grid_minutes()) {
        return Err(Unbookable::NotOnGrid);
    }
    let slot = Slot::checked(start, timing).ok_or(Unbookable::OutsideHours)?;
    let windows = pattern.open_windows(local.date());
    if !windows.iter().any(|window| window.contains(&slot.blocked)) {
        return Err(Unbookable::OutsideHours);
    }
    let taken = busy
        .iter()
        .take_while(|b| b.start < slot.blocked.end)
        .any(|b| b.end > slot.blocked.start);
    if taken {
        return Err(Unbookable::Taken);
    }
    Ok(slot)
}

fn is_on_grid(local: NaiveDateTime, grid_minutes: u32) -> bool {
    let grid_seconds = u64::from(grid_minutes) * 60;
    local.nanosecond() == 0 && u64::from(local.num_seconds_from_midnight()) % grid_seconds == 0
}

/// Everything a search needs that does not change from day to day.
struct SlotSearch<'s, 'a> {
    pattern: &'s WorkPattern<'a>,
    timing: &'s ServiceTiming,
    step: Duration,
    earliest: DateTime<Utc>,
    first_date: NaiveDate,
    last_date: NaiveDate,
}

impl<'s, 'a> SlotSearch<'s, 'a> {
    fn new(
        pattern: &'s WorkPattern<'a>,
        timing: &'s ServiceTiming,
        rules: &SchedulingRules,
        now: DateTime<Utc>,
    ) -> Self {
        let today = now.with_timezone(&pattern.time_zone).date_naive();
        Self {
            pattern,
            timing,
            step: rules.grid_step(),
            earliest: rules.earliest_start(now),
            first_date: today,
            last_date: rules.last_bookable_date(today),
        }
    }

    fn covers(&self, date: NaiveDate) -> bool {
        self.timing.is_valid() && self.first_date <= date && date <= self.last_date
    }

    /// An upper bound on the slots the windows can hold, to size the result once.
    fn most_slots_in(&self, windows: &[Interval]) -> usize {
        let step_minutes = self.step.num_minutes().max(1);
        let grid_points = |w: &Interval| w.duration().num_minutes() / step_minutes + 1;
        let total: i64 = windows.iter().map(grid_points).sum();
        usize::try_from(total).unwrap_or(0)
    }

    /// Calls `visit` with each free slot of `date` starting at or after `not_before`, in order,
    /// until it breaks.
    fn visit_free_slots<B>(
        &self,
        date: NaiveDate,
        windows: &[Interval],
        not_before: DateTime<Utc>,
        busy: &mut BusyCursor<'_>,
        mut visit: impl FnMut(Slot) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let midnight = date.and_time(NaiveTime::MIN);
        for window in windows {
            let Some(starts) = self.starts_fitting(window, not_before) else {
                continue;
            };
            self.visit_grid_starts(midnight, starts, |start| {
                let slot = Slot::new(start, self.timing);
                if busy.is_taken(&slot.blocked) {
                    ControlFlow::Continue(())
                } else {
                    visit(slot)
                }
            })?;
        }
        ControlFlow::Continue(())
    }

    /// The half-open span of starts whose blocked time fits in `window`, from `not_before` on.
    fn starts_fitting(&self, window: &Interval, not_before: DateTime<Utc>) -> Option<Interval> {
        let timing = self.timing;
        let first = window
            .start
            .checked_add_signed(timing.buffer_before)?
            .max(not_before);
        let last = window
            .end
            .checked_sub_signed(timing.buffer_after)?
            .checked_sub_signed(timing.duration)?;
        // One nanosecond (chrono's resolution) past the last start makes the span half-open.
        Interval::new(first, last.checked_add_signed(Duration::nanoseconds(1))?)
    }

    /// Calls `visit` with each instant in `starts` whose local time is on the grid. The span is
    /// cut where the UTC offset changes; within each piece the offset is fixed, so grid instants
    /// are found by plain addition instead of a zone lookup per candidate.
    fn visit_grid_starts<B>(
        &self,
        midnight: NaiveDateTime,
        starts: Interval,
        mut visit: impl FnMut(DateTime<Utc>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let zone = self.pattern.time_zone;
        let mut piece_start = starts.start;
        loop {
            let offset = utc_offset_at(zone, piece_start);
            let change = next_offset_change(zone, piece_start, starts.end, offset);
            let piece_end = change.unwrap_or(starts.end);
            let Some(first) = self.first_grid_start(piece_start, offset, midnight) else {
                return ControlFlow::Continue(());
            };
            let mut start = first;
            while start < piece_end {
                visit(start)?;
                let Some(next) = start.checked_add_signed(self.step) else {
                    return ControlFlow::Continue(());
                };
                start = next;
            }
            match change {
                Some(at) => piece_start = at,
                None => return ControlFlow::Continue(()),
            }
        }
    }

    /// The first instant at or after `from` whose local time (under `offset`) is on the grid.
    fn first_grid_start(
        &self,
        from: DateTime<Utc>,
        offset: i32,
        midnight: NaiveDateTime,
    ) -> Option<DateTime<Utc>> {
        let local = from
            .naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(offset)))?;
        let since_midnight = (local - midnight).num_nanoseconds()?;
        let step = self.step.num_nanoseconds()?;
        let past_grid = since_midnight.rem_euclid(step);
        let wait = if past_grid == 0 { 0 } else { step - past_grid };
        from.checked_add_signed(Duration::nanoseconds(wait))
    }
}

/// Walks a busy list sorted by start alongside candidates whose blocked ends never decrease.
///
/// Every busy interval starting before the candidate's end has been passed, and `reach` is the
/// latest end among them. The candidate overlaps one of them exactly when `reach` is after its
/// start; intervals starting at or after its end cannot overlap it. So each busy interval is read
/// once per search, however much the intervals overlap each other.
struct BusyCursor<'b> {
    busy: &'b [Interval],
    passed: usize,
    reach: DateTime<Utc>,
}

impl<'b> BusyCursor<'b> {
    fn new(busy: &'b [Interval]) -> Self {
        debug_assert!(
            busy.windows(2).all(|pair| pair[0].start <= pair[1].start),
            "busy intervals must be sorted by start"
        );
        Self {
            busy,
            passed: 0,
            reach: DateTime::<Utc>::MIN_UTC,
        }
    }

    fn is_taken(&mut self, blocked: &Interval) -> bool {
        while let Some(next) = self.busy.get(self.passed) {
            if next.start >= blocked.end {
                break;
            }
            self.reach = self.reach.max(next.end);
            self.passed += 1;
        }
        self.reach > blocked.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::DayHours;
    use chrono::Weekday;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;

    const EVERY_DAY: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn hours(ranges: &[&str]) -> DayHours {
        let ranges = ranges
            .iter()
            .map(|r| TimeRange::parse(r).expect("valid range"))
            .collect();
        DayHours::new(ranges).expect("ranges do not overlap")
    }

    fn every_day(ranges: &[&str]) -> WeeklyHours {
        WeeklyHours::same_on(&EVERY_DAY, hours(ranges))
    }

    fn date(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").expect("valid date")
    }

    /// A Berlin wall-clock time that exists exactly once.
    fn berlin(day: &str, time: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(&format!("{day} {time}"), "%Y-%m-%d %H:%M")
            .expect("valid date and time");
        Berlin
            .from_local_datetime(&local)
            .single()
            .expect("unambiguous Berlin time")
            .with_timezone(&Utc)
    }

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .expect("valid RFC 3339 time")
            .with_timezone(&Utc)
    }

    fn span(start: DateTime<Utc>, end: DateTime<Utc>) -> Interval {
        Interval::new(start, end).expect("start before end")
    }

    fn closed_on(day: &str) -> DateOverride {
        DateOverride {
            date: date(day),
            hours: DayHours::closed(),
            reason: "Feiertag".into(),
        }
    }

    fn special(day: &str, ranges: &[&str]) -> DateOverride {
        DateOverride {
            date: date(day),
            hours: hours(ranges),
            reason: "Sonderzeiten".into(),
        }
    }

    /// Owns the hours a [`WorkPattern`] borrows.
    #[derive(Debug)]
    struct Setup {
        opening: WeeklyHours,
        branch_overrides: Vec<DateOverride>,
        working: WeeklyHours,
        breaks: WeeklyHours,
        staff_overrides: Vec<DateOverride>,
    }

    impl Setup {
        /// Open 08:00-18:00, working 08:00-17:00 with lunch 12:00-13:00, every day.
        fn usual() -> Self {
            Self {
                opening: every_day(&["08:00-18:00"]),
                branch_overrides: Vec::new(),
                working: every_day(&["08:00-17:00"]),
                breaks: every_day(&["12:00-13:00"]),
                staff_overrides: Vec::new(),
            }
        }

        /// Open and working the given hours every day, no breaks.
        fn open(ranges: &[&str]) -> Self {
            Self {
                opening: every_day(ranges),
                branch_overrides: Vec::new(),
                working: every_day(ranges),
                breaks: WeeklyHours::default(),
                staff_overrides: Vec::new(),
            }
        }

        fn pattern(&self) -> WorkPattern<'_> {
            WorkPattern {
                time_zone: Berlin,
                opening_hours: &self.opening,
                branch_overrides: &self.branch_overrides,
                working_hours: &self.working,
                breaks: &self.breaks,
                staff_overrides: &self.staff_overrides,
            }
        }
    }

    fn rules() -> SchedulingRules {
        SchedulingRules {
            slot_interval_minutes: 15,
            minimum_notice: Duration::minutes(60),
            booking_horizon_days: 60,
        }
    }

    fn half_hour() -> ServiceTiming {
        ServiceTiming::from_minutes(30, 0, 0)
    }

    /// Monday 2026-03-02, early morning: every test date in March lies ahead.
    fn early_march() -> DateTime<Utc> {
        utc("2026-03-02T05:00:00Z")
    }

    /// Thursday 2026-10-01: the autumn clock change lies within the horizon.
    fn early_october() -> DateTime<Utc> {
        utc("2026-10-01T00:00:00Z")
    }

    fn starts(slots: &[Slot]) -> Vec<DateTime<Utc>> {
        slots.iter().map(|s| s.start).collect()
    }

    #[test]
    fn intervals_are_half_open_and_never_empty() {
        let (eight, nine, ten) = (
            utc("2026-03-02T08:00:00Z"),
            utc("2026-03-02T09:00:00Z"),
            utc("2026-03-02T10:00:00Z"),
        );
        assert_eq!(Interval::new(nine, nine), None);
        assert_eq!(Interval::new(ten, nine), None);
        let morning = span(eight, ten);
        assert!(!span(eight, nine).overlaps(&span(nine, ten)));
        assert!(morning.overlaps(&span(nine, ten)));
        assert!(morning.contains(&span(eight, nine)));
        assert!(!span(eight, nine).contains(&morning));
        assert_eq!(morning.duration(), Duration::hours(2));
    }

    #[test]
    fn an_interval_read_from_json_must_end_after_it_starts() {
        let good = r#"{"start":"2026-03-02T08:00:00Z","end":"2026-03-02T09:00:00Z"}"#;
        let reversed = r#"{"start":"2026-03-02T09:00:00Z","end":"2026-03-02T08:00:00Z"}"#;
        let read: Interval = serde_json::from_str(good).expect("valid interval");
        assert_eq!(read.duration(), Duration::hours(1));
        assert!(serde_json::from_str::<Interval>(reversed).is_err());
    }

    #[test]
    fn service_timing_comes_from_the_services_minutes() {
        let service = Service {
            id: crate::domain::ServiceId::new(),
            company_id: crate::domain::CompanyId::new(),
            name: "Zahnreinigung".into(),
            duration_minutes: 45,
            buffer_before_minutes: 5,
            buffer_after_minutes: 10,
            required_skills: Vec::new(),
            active: true,
        };
        let timing = ServiceTiming::from(&service);
        assert_eq!(timing.duration, Duration::minutes(45));
        assert_eq!(timing.buffer_before, Duration::minutes(5));
        assert_eq!(timing.buffer_after, Duration::minutes(10));
    }

    #[test]
    fn working_hours_within_opening_hours_minus_breaks_make_the_windows() {
        let setup = Setup::usual();
        let windows = setup.pattern().open_windows(date("2026-03-04"));
        let wednesday = |t| berlin("2026-03-04", t);
        assert_eq!(
            windows,
            [
                span(wednesday("08:00"), wednesday("12:00")),
                span(wednesday("13:00"), wednesday("17:00")),
            ]
        );
    }

    #[test]
    fn local_hours_follow_the_clock_change_in_utc() {
        let setup = Setup::open(&["08:00-18:00"]);
        let pattern = setup.pattern();
        let first_window = |day: &str| pattern.open_windows(date(day))[0];
        assert_eq!(
            first_window("2026-03-27").start,
            utc("2026-03-27T07:00:00Z")
        );
        assert_eq!(
            first_window("2026-03-29").start,
            utc("2026-03-29T06:00:00Z")
        );
        assert_eq!(
            first_window("2026-03-30").start,
            utc("2026-03-30T06:00:00Z")
        );
        assert_eq!(
            first_window("2026-10-24").start,
            utc("2026-10-24T06:00:00Z")
        );
        assert_eq!(
            first_window("2026-10-25").start,
            utc("2026-10-25T07:00:00Z")
        );
        assert_eq!(first_window("2026-10-26").end, utc("2026-10-26T17:00:00Z"));
    }

    #[test]
    fn a_branch_holiday_closes_the_day() {
        let mut setup = Setup::usual();
        setup.branch_overrides.push(closed_on("2026-03-04"));
        let pattern = setup.pattern();
        assert!(pattern.open_windows(date("2026-03-04")).is_empty());
        let slots = free_slots(
            &pattern,
            date("2026-03-04"),
            &half_hour(),
            &[],
            &rules(),
            early_march(),
        );
        assert!(slots.is_empty());
        let refused = is_bookable(
            &pattern,
            berlin("2026-03-04", "09:00"),
            &half_hour(),
            &[],
            &rules(),
            early_march(),
        );
        assert_eq!(refused, Err(Unbookable::OutsideHours));
        assert!(!pattern.open_windows(date("2026-03-05")).is_empty());
    }

    #[test]
    fn special_branch_hours_limit_the_staff_members_usual_day() {
        let mut setup = Setup::usual();
        setup
            .branch_overrides
            .push(special("2026-03-04", &["10:00-14:00"]));
        let windows = setup.pattern().open_windows(date("2026-03-04"));
        let wednesday = |t| berlin("2026-03-04", t);
        assert_eq!(
            windows,
            [
                span(wednesday("10:00"), wednesday("12:00")),
                span(wednesday("13:00"), wednesday("14:00")),
            ]
        );
    }

    #[test]
    fn a_staff_override_replaces_working_hours_and_skips_breaks() {
        let mut setup = Setup::usual();
        setup
            .staff_overrides
            .push(special("2026-03-04", &["11:00-15:00"]));
        setup.staff_overrides.push(closed_on("2026-03-05"));
        let pattern = setup.pattern();
        let wednesday = |t| berlin("2026-03-04", t);
        assert_eq!(
            pattern.open_windows(date("2026-03-04")),
            [span(wednesday("11:00"), wednesday("15:00"))]
        );
        assert!(pattern.open_windows(date("2026-03-05")).is_empty());
    }

    #[test]
    fn no_slot_reaches_into_a_break() {
        let setup = Setup::usual();
        let slots = free_slots(
            &setup.pattern(),
            date("2026-03-04"),
            &ServiceTiming::from_minutes(45, 0, 0),
            &[],
            &rules(),
            early_march(),
        );
        let lunch = span(berlin("2026-03-04", "12:00"), berlin("2026-03-04", "13:00"));
        assert!(slots.iter().all(|s| !s.blocked.overlaps(&lunch)));
        let before_lunch: Vec<_> = slots.iter().filter(|s| s.start < lunch.start).collect();
        assert_eq!(
            before_lunch.last().map(|s| s.start),
            Some(berlin("2026-03-04", "11:15"))
        );
        assert!(starts(&slots).contains(&berlin("2026-03-04", "13:00")));
    }

    #[test]
    fn buffers_must_fit_inside_the_window_too() {
        let setup = Setup::open(&["08:00-12:00"]);
        let timing = ServiceTiming::from_minutes(30, 10, 20);
        let slots = free_slots(
            &setup.pattern(),
            date("2026-03-04"),
            &timing,
            &[],
            &rules(),
            early_march(),
        );
        let first = slots.first().expect("a free morning has slots");
        let last = slots.last().expect("a free morning has slots");
        assert_eq!(first.start, berlin("2026-03-04", "08:15"));
        assert_eq!(first.blocked.start, berlin("2026-03-04", "08:05"));
        assert_eq!(last.start, berlin("2026-03-04", "11:00"));
        assert_eq!(last.end, berlin("2026-03-04", "11:30"));
        assert_eq!(last.blocked.end, berlin("2026-03-04", "11:50"));
    }

    #[test]
    fn busy_time_hides_overlapping_slots_but_touching_is_fine() {
        let setup = Setup::open(&["08:00-12:00"]);
        let busy = [span(
            berlin("2026-03-04", "09:00"),
            berlin("2026-03-04", "10:00"),
        )];
        let slots = free_slots(
            &setup.pattern(),
            date("2026-03-04"),
            &half_hour(),
            &busy,
            &rules(),
            early_march(),
        );
        let found = starts(&slots);
        assert!(found.contains(&berlin("2026-03-04", "08:30")));
        assert!(!found.contains(&berlin("2026-03-04", "08:45")));
        assert!(!found.contains(&berlin("2026-03-04", "09:45")));
        assert!(found.contains(&berlin("2026-03-04", "10:00")));
    }

    #[test]
    fn busy_intervals_may_overlap_each_other() {
        let setup = Setup::open(&["08:00-12:00"]);
        let at = |t| berlin("2026-03-04", t);
        // The long first interval must still count after the short second one has ended.
        let busy = [
            span(at("08:00"), at("11:00")),
            span(at("08:30"), at("09:00")),
        ];
        let slots = free_slots(
            &setup.pattern(),
            date("2026-03-04"),
            &half_hour(),
            &busy,
            &rules(),
            early_march(),
        );
        assert_eq!(slots.first().map(|s| s.start), Some(at("11:00")));
    }

    #[test]
    fn the_minimum_notice_keeps_slots_out_of_the_next_hour() {
        let setup = Setup::open(&["08:00-12:00"]);
        let pattern = setup.pattern();
        let now = berlin("2026-03-04", "09:05");
        let slots = free_slots(
            &pattern,
            date("2026-03-04"),
            &half_hour(),
            &[],
            &rules(),
            now,
        );
        assert_eq!(
            slots.first().map(|s| s.start),
            Some(berlin("2026-03-04", "10:15"))
        );
        let at = |t| berlin("2026-03-04", t);
        let check = |start| is_bookable(&pattern, start, &half_hour(), &[], &rules(), now);
        assert_eq!(check(at("10:00")), Err(Unbookable::TooSoon));
        assert_eq!(check(at("09:00")), Err(Unbookable::InThePast));
        assert!(check(at("10:15")).is_ok());
    }

    #[test]
    fn nothing_is_offered_before_today_or_beyond_the_horizon() {
        let setup = Setup::open(&["08:00-12:00"]);
        let pattern = setup.pattern();
        let now = early_march();
        let slots_on =
            |day: &str| free_slots(&pattern, date(day), &half_hour(), &[], &rules(), now);
        assert!(slots_on("2026-03-01").is_empty());
        assert!(!slots_on("2026-05-01").is_empty(), "today + 60 days");
        assert!(slots_on("2026-05-02").is_empty());
        let check = |start| is_bookable(&pattern, start, &half_hour(), &[], &rules(), now);
        assert_eq!(
            check(berlin("2026-05-02", "09:00")),
            Err(Unbookable::BeyondHorizon)
        );
        assert!(check(berlin("2026-05-01", "09:00")).is_ok());
    }

    #[test]
    fn starts_lie_on_the_local_grid() {
        let setup = Setup::open(&["08:10-10:00"]);
        let pattern = setup.pattern();
        let twenty_minutes = SchedulingRules {
            slot_interval_minutes: 20,
            ..rules()
        };
        let slots = free_slots(
            &pattern,
            date("2026-03-04"),
            &half_hour(),
            &[],
            &twenty_minutes,
            early_march(),
        );
        let at = |t| berlin("2026-03-04", t);
        assert_eq!(
            starts(&slots),
            [at("08:20"), at("08:40"), at("09:00"), at("09:20")]
        );
        let check = |start| {
            is_bookable(
                &pattern,
                start,
                &half_hour(),
                &[],
                &twenty_minutes,
                early_march(),
            )
        };
        assert_eq!(check(at("08:30")), Err(Unbookable::NotOnGrid));
        assert_eq!(
            check(at("08:40") + Duration::seconds(1)),
            Err(Unbookable::NotOnGrid)
        );
        assert!(check(at("08:40")).is_ok());
    }

    #[test]
    fn a_service_without_duration_has_no_slots() {
        let setup = Setup::open(&["08:00-12:00"]);
        let pattern = setup.pattern();
        let nothing = ServiceTiming::from_minutes(0, 0, 0);
        let day = date("2026-03-04");
        assert!(free_slots(&pattern, day, &nothing, &[], &rules(), early_march()).is_empty());
        let check = is_bookable(
            &pattern,
            berlin("2026-03-04", "09:00"),
            &nothing,
            &[],
            &rules(),
            early_march(),
        );
        assert_eq!(check, Err(Unbookable::OutsideHours));
    }

    #[test]
    fn the_spring_gap_is_skipped_and_slots_run_across_it() {
        // 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
        let setup = Setup::open(&["01:00-05:00"]);
        let pattern = setup.pattern();
        let day = date("2026-03-29");
        assert_eq!(
            pattern.open_windows(day),
            [span(
                utc("2026-03-29T00:00:00Z"),
                utc("2026-03-29T03:00:00Z")
            )]
        );
        let slots = free_slots(&pattern, day, &half_hour(), &[], &rules(), early_march());
        let expected: Vec<_> = (0..11)
            .map(|i| utc("2026-03-29T00:00:00Z") + Duration::minutes(15 * i))
            .collect();
        assert_eq!(starts(&slots), expected);
        let across = slots
            .iter()
            .find(|s| s.start == berlin("2026-03-29", "01:45"))
            .expect("01:45 is free");
        assert_eq!(across.end, berlin("2026-03-29", "03:15"));
    }

    /// A grid of 45 minutes does not divide the hour the clocks move by, so its UTC instants shift
    /// at the change.
    fn forty_five_minute_grid() -> SchedulingRules {
        SchedulingRules {
            slot_interval_minutes: 45,
            ..rules()
        }
    }

    #[test]
    fn the_grid_follows_local_time_across_the_spring_change() {
        let setup = Setup::open(&["00:00-05:00"]);
        let slots = free_slots(
            &setup.pattern(),
            date("2026-03-29"),
            &half_hour(),
            &[],
            &forty_five_minute_grid(),
            early_march(),
        );
        // Local 00:00, 00:45, 01:30 CET; 02:15 does not exist; 03:00, 03:45, 04:30 CEST.
        let expected = [
            "2026-03-28T23:00:00Z",
            "2026-03-28T23:45:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:45:00Z",
            "2026-03-29T02:30:00Z",
        ]
        .map(utc);
        assert_eq!(starts(&slots), expected);
    }

    #[test]
    fn the_grid_follows_local_time_across_the_autumn_change() {
        let setup = Setup::open(&["00:00-05:00"]);
        let slots = free_slots(
            &setup.pattern(),
            date("2026-10-25"),
            &half_hour(),
            &[],
            &forty_five_minute_grid(),
            early_october(),
        );
        // Local 00:00, 00:45, 01:30, 02:15 CEST; 02:15 again, 03:00, 03:45, 04:30 CET.
        let expected = [
            "2026-10-24T22:00:00Z",
            "2026-10-24T22:45:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:15:00Z",
            "2026-10-25T01:15:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T02:45:00Z",
            "2026-10-25T03:30:00Z",
        ]
        .map(utc);
        assert_eq!(starts(&slots), expected);
    }

    #[test]
    fn hours_that_start_or_end_in_the_spring_gap_move_to_its_end() {
        let day = date("2026-03-29");
        let gap_end = utc("2026-03-29T01:00:00Z");
        let late = Setup::open(&["02:30-06:00"]);
        assert_eq!(late.pattern().open_windows(day)[0].start, gap_end);
        let early = Setup::open(&["00:00-02:30"]);
        assert_eq!(early.pattern().open_windows(day)[0].end, gap_end);
        let inside = Setup::open(&["02:00-02:45"]);
        assert!(inside.pattern().open_windows(day).is_empty());
    }

    #[test]
    fn the_repeated_autumn_hour_is_offered_twice() {
        // 2026-10-25: Berlin clocks fall back from 03:00 CEST to 02:00 CET (01:00 UTC).
        let setup = Setup::open(&["01:00-04:00"]);
        let pattern = setup.pattern();
        let day = date("2026-10-25");
        assert_eq!(
            pattern.open_windows(day),
            [span(
                utc("2026-10-24T23:00:00Z"),
                utc("2026-10-25T03:00:00Z")
            )]
        );
        let hour = ServiceTiming::from_minutes(60, 0, 0);
        let slots = free_slots(&pattern, day, &hour, &[], &rules(), early_october());
        let expected: Vec<_> = (0..13)
            .map(|i| utc("2026-10-24T23:00:00Z") + Duration::minutes(15 * i))
            .collect();
        assert_eq!(starts(&slots), expected);
    }

    #[test]
    fn ambiguous_boundaries_keep_all_the_nominal_time() {
        let day = date("2026-10-25");
        let from_half_past_two = Setup::open(&["02:30-06:00"]);
        assert_eq!(
            from_half_past_two.pattern().open_windows(day)[0].start,
            utc("2026-10-25T00:30:00Z")
        );
        let until_half_past_two = Setup::open(&["00:00-02:30"]);
        assert_eq!(
            until_half_past_two.pattern().open_windows(day)[0].end,
            utc("2026-10-25T01:30:00Z")
        );
    }

    #[test]
    fn ordinary_hours_on_and_around_clock_changes_are_in_local_time() {
        let setup = Setup::open(&["08:00-18:00"]);
        let pattern = setup.pattern();
        let first_start = |day: &str| {
            free_slots(
                &pattern,
                date(day),
                &half_hour(),
                &[],
                &rules(),
                early_march(),
            )
            .first()
            .map(|s| s.start)
        };
        assert_eq!(first_start("2026-03-27"), Some(utc("2026-03-27T07:00:00Z")));
        assert_eq!(first_start("2026-03-29"), Some(utc("2026-03-29T06:00:00Z")));
        assert_eq!(first_start("2026-03-30"), Some(utc("2026-03-30T06:00:00Z")));
        let autumn = |day: &str| {
            free_slots(
                &pattern,
                date(day),
                &half_hour(),
                &[],
                &rules(),
                early_october(),
            )
        };
        assert_eq!(
            autumn("2026-10-24").first().map(|s| s.start),
            Some(utc("2026-10-24T06:00:00Z"))
        );
        let sunday = autumn("2026-10-25");
        assert_eq!(
            sunday.first().map(|s| s.start),
            Some(utc("2026-10-25T07:00:00Z"))
        );
        assert_eq!(
            sunday.last().map(|s| s.end),
            Some(utc("2026-10-25T17:00:00Z"))
        );
        assert_eq!(sunday.len(), 39);
    }

    #[test]
    fn the_next_free_slot_skips_full_and_closed_days() {
        let mut setup = Setup::open(&["08:00-12:00"]);
        setup.branch_overrides.push(closed_on("2026-03-05"));
        let pattern = setup.pattern();
        let wednesday_full = [span(
            berlin("2026-03-04", "08:00"),
            berlin("2026-03-04", "12:00"),
        )];
        let next = next_free_slot(
            &pattern,
            berlin("2026-03-04", "07:00"),
            &half_hour(),
            &wednesday_full,
            &rules(),
            early_march(),
        );
        assert_eq!(next.map(|s| s.start), Some(berlin("2026-03-06", "08:00")));
    }

    #[test]
    fn the_next_free_slot_starts_no_earlier_than_asked() {
        let setup = Setup::open(&["08:00-12:00"]);
        let pattern = setup.pattern();
        let next = |from| {
            next_free_slot(&pattern, from, &half_hour(), &[], &rules(), early_march())
                .map(|s| s.start)
        };
        assert_eq!(
            next(berlin("2026-03-04", "09:05")),
            Some(berlin("2026-03-04", "09:15"))
        );
        assert_eq!(
            next(berlin("2026-03-01", "09:00")),
            Some(berlin("2026-03-02", "08:00"))
        );
        assert_eq!(next(berlin("2026-05-02", "08:00")), None);
    }

    #[test]
    fn requested_times_are_checked_against_busy_time() {
        let setup = Setup::open(&["08:00-12:00"]);
        let pattern = setup.pattern();
        let at = |t| berlin("2026-03-04", t);
        let busy = [span(at("09:00"), at("10:00"))];
        let check = |start| {
            is_bookable(
                &pattern,
                start,
                &half_hour(),
                &busy,
                &rules(),
                early_march(),
            )
        };
        assert_eq!(check(at("09:30")), Err(Unbookable::Taken));
        assert_eq!(check(at("08:45")), Err(Unbookable::Taken));
        assert_eq!(check(at("11:45")), Err(Unbookable::OutsideHours));
        let slot = check(at("08:30")).expect("08:30-09:00 touches the busy hour only");
        assert_eq!(slot, Slot::new(at("08:30"), &half_hour()));
    }

    /// Dates around both 2026 clock changes, and an ordinary week.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![
            2 => Just(date("2026-03-29")),
            2 => Just(date("2026-10-25")),
            1 => (0u64..4).prop_map(|d| date("2026-03-27") + Days::new(d)),
            1 => (0u64..4).prop_map(|d| date("2026-10-23") + Days::new(d)),
            1 => (0u64..7).prop_map(|d| date("2026-06-01") + Days::new(d)),
        ]
    }

    fn any_setup() -> impl Strategy<Value = Setup> {
        let day = prop_oneof![
            Just(vec!["08:00-18:00"]),
            Just(vec!["00:00-04:30", "07:15-19:40"]),
            Just(vec!["01:30-03:30", "09:00-12:00", "13:00-23:59"]),
        ];
        let breaks = prop_oneof![
            Just(vec![]),
            Just(vec!["12:00-12:45"]),
            Just(vec!["02:15-02:45", "15:00-15:20"]),
        ];
        (day, breaks).prop_map(|(day, breaks)| Setup {
            opening: every_day(&["00:00-23:59"]),
            branch_overrides: Vec::new(),
            working: every_day(&day),
            breaks: every_day(&breaks),
            staff_overrides: Vec::new(),
        })
    }

    fn any_timing() -> impl Strategy<Value = ServiceTiming> {
        (5u32..=120, 0u32..=30, 0u32..=30).prop_map(|(duration, before, after)| {
            ServiceTiming::from_minutes(duration, before, after)
        })
    }

    fn any_rules() -> impl Strategy<Value = SchedulingRules> {
        // Grids that do not divide the hour shift against a clock change: only they show whether
        // a window is split where the offset changes.
        (
            prop::sample::select(vec![5u32, 10, 15, 20, 25, 30, 40, 45, 60, 90]),
            0i64..=180,
        )
            .prop_map(|(grid, notice)| SchedulingRules {
                slot_interval_minutes: grid,
                minimum_notice: Duration::minutes(notice),
                booking_horizon_days: 60,
            })
    }

    /// Up to 12 busy intervals around the date, sorted by start, free to overlap each other.
    fn any_busy(day: NaiveDate) -> impl Strategy<Value = Vec<Interval>> {
        let midnight = day.and_time(NaiveTime::MIN).and_utc();
        prop::collection::vec((-180i64..26 * 60, 1i64..=240), 0..12).prop_map(move |raw| {
            let mut busy: Vec<Interval> = raw
                .into_iter()
                .map(|(from, length)| {
                    let start = midnight + Duration::minutes(from);
                    span(start, start + Duration::minutes(length))
                })
                .collect();
            busy.sort();
            busy
        })
    }

    /// Either long before the date, or some time on the date itself.
    fn any_now(day: NaiveDate) -> impl Strategy<Value = DateTime<Utc>> {
        let midnight = day.and_time(NaiveTime::MIN).and_utc();
        prop_oneof![
            Just(midnight - Duration::days(3)),
            (-120i64..24 * 60).prop_map(move |m| midnight + Duration::minutes(m)),
        ]
    }

    /// Every instant of `day` whose Berlin wall-clock time is on the grid.
    fn all_grid_starts(day: NaiveDate, grid_minutes: u32) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        for minute in (0..24 * 60).step_by(grid_minutes as usize) {
            let local = day.and_time(NaiveTime::MIN) + Duration::minutes(minute);
            let mapped = Berlin.from_local_datetime(&local);
            found.extend(mapped.earliest().map(|t| t.with_timezone(&Utc)));
            found.extend(mapped.latest().map(|t| t.with_timezone(&Utc)));
        }
        found.sort();
        found.dedup();
        found
    }

    fn case() -> impl Strategy<
        Value = (
            Setup,
            NaiveDate,
            ServiceTiming,
            SchedulingRules,
            Vec<Interval>,
            DateTime<Utc>,
        ),
    > {
        any_date().prop_flat_map(|day| {
            (
                any_setup(),
                Just(day),
                any_timing(),
                any_rules(),
                any_busy(day),
                any_now(day),
            )
        })
    }

    proptest! {
        #[test]
        fn free_slots_avoid_busy_time_and_fit_one_window(
            (setup, day, timing, rules, busy, now) in case()
        ) {
            let pattern = setup.pattern();
            let windows = pattern.open_windows(day);
            let slots = free_slots(&pattern, day, &timing, &busy, &rules, now);
            for slot in &slots {
                prop_assert!(busy.iter().all(|b| !b.overlaps(&slot.blocked)), "{slot:?} overlaps busy time");
                prop_assert!(windows.iter().any(|w| w.contains(&slot.blocked)), "{slot:?} outside the windows");
                prop_assert!(slot.start >= now + rules.minimum_notice);
            }
        }

        #[test]
        fn free_slots_are_sorted_and_on_the_grid(
            (setup, day, timing, rules, busy, now) in case()
        ) {
            let slots = free_slots(&setup.pattern(), day, &timing, &busy, &rules, now);
            prop_assert!(slots.windows(2).all(|pair| pair[0].start < pair[1].start));
            for slot in &slots {
                let local = slot.start.with_timezone(&Berlin).naive_local();
                prop_assert_eq!(local.date(), day);
                prop_assert!(is_on_grid(local, rules.slot_interval_minutes));
            }
        }

        #[test]
        fn free_slots_are_exactly_the_bookable_grid_starts(
            (setup, day, timing, rules, busy, now) in case()
        ) {
            let pattern = setup.pattern();
            let slots = free_slots(&pattern, day, &timing, &busy, &rules, now);
            for slot in &slots {
                prop_assert_eq!(is_bookable(&pattern, slot.start, &timing, &busy, &rules, now), Ok(*slot));
            }
            for start in all_grid_starts(day, rules.slot_interval_minutes) {
                if !slots.iter().any(|s| s.start == start) {
                    let verdict = is_bookable(&pattern, start, &timing, &busy, &rules, now);
                    prop_assert!(verdict.is_err(), "{start} is bookable but was not offered");
                }
            }
        }

        #[test]
        fn the_next_free_slot_is_the_first_free_slot_from_then_on(
            (setup, day, timing, rules, busy, now) in case(),
            from_minute in 0i64..24 * 60,
        ) {
            let pattern = setup.pattern();
            let from = day.and_time(NaiveTime::MIN).and_utc() + Duration::minutes(from_minute);
            let from_local = from.with_timezone(&Berlin).date_naive();
            let expected = [from_local, from_local + Days::new(1), from_local + Days::new(2)]
                .into_iter()
                .flat_map(|d| free_slots(&pattern, d, &timing, &busy, &rules, now))
                .find(|s| s.start >= from);
            let next = next_free_slot(&pattern, from, &timing, &busy, &rules, now);
            // Busy intervals end within two days, so a later day always has a slot.
            if let Some(expected) = expected {
                prop_assert_eq!(next, Some(expected));
            }
        }
    }
}
