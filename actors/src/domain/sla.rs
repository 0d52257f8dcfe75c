//! SLA watching of open callbacks: when to warn, when a callback is late, what escalation does,
//! and the ordered schedule the SLA monitor actor keeps (one timer for the earliest point, not
//! one per callback).
//!
//! The rules, for a callback due at `due` (its SLA deadline):
//!
//! - **Watched** are pending and assigned callbacks. A contacted callback has met its SLA (the
//!   customer was reached); closed ones are done.
//! - **Approaching** fires at `due − window`, where `window = min(sla_warning, SLA of its
//!   priority / 4)`: a one-hour warning makes no sense for a one-hour SLA, so short SLAs are
//!   warned about a quarter of the way before their end (60 min urgent SLA → 15 min ahead).
//!   A callback first seen inside its window (its deadline was moved earlier) is warned at
//!   once. Warnings are not durable: one whose time passed while the server was down is not
//!   sent late (the breach, which is durable, is).
//! - **Breached** fires at `due`. Below `max_escalation_level`, it escalates one level: an
//!   escalation record (from, to, reason, level), priority raised to urgent, the callback
//!   reassigned (see `assignment::escalation_target`) and a new deadline `now + urgent SLA`
//!   (from the firing, not from the old deadline, so a server that was down for hours does not
//!   run through every level at once on start). At the maximum level a breach only notifies.
//! - **Expired**: a callback still pending or assigned `expire_after` past its deadline at the
//!   maximum level is closed as expired (nobody will call any more; an operator can open a new
//!   one). A breach at the maximum level that passed while the server was down is not notified
//!   again on start; its expiry still fires.

use super::callback::{clean_notes, CallbackPolicy};
use super::ids::{CallbackId, CompanyId, StaffId};
use super::model::{CallbackRequest, CallbackStatus, Priority};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

/// The tunables of SLA watching (the server fills them from `[callbacks]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaRules {
    /// "Approaching" fires this long before the deadline (scaled down for short SLAs).
    pub warning: Duration,
    /// Highest escalation level; breaches beyond it only notify.
    pub max_escalation_level: u32,
    /// How long past its deadline at the highest level a callback expires.
    pub expire_after: Duration,
    /// The deadline of an escalated callback, from the moment it escalated.
    pub escalated_sla: Duration,
}

impl Default for SlaRules {
    /// The defaults of the committed `config.toml`.
    fn default() -> Self {
        Self {
            warning: Duration::minutes(60),
            max_escalation_level: 3,
            expire_after: Duration::minutes(1440),
            escalated_sla: Duration::minutes(60),
        }
    }
}

impl SlaRules {
    /// How long before the deadline a callback of `priority` is warned about.
    pub fn warning_window(&self, priority: Priority, policy: &CallbackPolicy) -> Duration {
        self.warning
            .min(policy.sla(priority) / 4)
            .max(Duration::zero())
    }
}

/// One escalation of a late callback, as stored in `callback_escalations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackEscalation {
    /// The callback.
    pub callback_id: CallbackId,
    /// Who had it.
    pub from_staff_id: Option<StaffId>,
    /// Who has it now (the same person, or nobody, when no one else could take it).
    pub to_staff_id: Option<StaffId>,
    /// Why, for people.
    pub reason: String,
    /// The level reached (1 = first escalation).
    pub level: u32,
    /// When.
    pub at: DateTime<Utc>,
}

/// The callback after its SLA was breached at `now` below the maximum level, with the
/// escalation record; `to` is whom it goes to (`None`: it stays with whoever has it).
///
/// Priority becomes urgent, the level goes up by one, the deadline moves to `now +
/// escalated_sla`, the version is bumped and a line is appended to the notes (bounded like
/// every note). A new assignee
/// makes a pending callback assigned (stamping `assigned_at` the first time).
pub fn escalate(
    callback: &CallbackRequest,
    to: Option<(StaffId, &str)>,
    rules: &SlaRules,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> (CallbackRequest, CallbackEscalation) {
    let mut next = callback.clone();
    let level = callback.escalation_level.saturating_add(1);
    next.escalation_level = level;
    next.priority = Priority::Urgent;
    next.due_at = now + rules.escalated_sla;
    let from = callback.assigned_staff_id;
    let mut reason = format!(
        "SLA breached (due {}); escalation level {level}",
        callback.due_at.format("%Y-%m-%d %H:%M UTC")
    );
    let to_staff = match to {
        Some((staff, why)) => {
            next.assigned_staff_id = Some(staff);
            next.assignment_reason = Some(why.to_owned());
            next.status = CallbackStatus::Assigned;
            next.assigned_at = callback.assigned_at.or(Some(now));
            reason.push_str(&format!("; reassigned to {staff}: {why}"));
            Some(staff)
        }
        None => {
            reason.push_str("; nobody else to reassign to");
            from
        }
    };
    let line = format!("[{} UTC] {reason}", now.format("%Y-%m-%d %H:%M"));
    let notes = match callback.notes.as_deref().filter(|n| !n.is_empty()) {
        Some(before) => format!("{before}\n{line}"),
        None => line,
    };
    next.notes = Some(clean_notes(&notes, policy.max_merged_notes_chars));
    next.version = callback.version + 1;
    next.updated_at = now;
    let escalation = CallbackEscalation {
        callback_id: callback.id,
        from_staff_id: from,
        to_staff_id: to_staff,
        reason,
        level,
        at: now,
    };
    (next, escalation)
}

/// What a point on the schedule means when it is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointKind {
    /// Warn: the deadline is near.
    Approaching,
    /// The deadline passed: escalate (or notify at the maximum level).
    Breached,
    /// Long past the deadline at the maximum level: close as expired.
    Expire,
}

/// A point of the schedule that was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Firing {
    /// The callback.
    pub callback_id: CallbackId,
    /// Its company (to load it).
    pub company_id: CompanyId,
    /// What to do.
    pub kind: PointKind,
    /// When it was meant to fire.
    pub at: DateTime<Utc>,
    /// The callback's deadline when it was scheduled.
    pub due_at: DateTime<Utc>,
    /// Its escalation level when it was scheduled.
    pub level: u32,
    /// Its version when it was scheduled.
    pub version: i64,
    /// Its priority's rank when it was scheduled.
    pub rank: i16,
}

/// What the schedule needs to know of a callback (a few dozen bytes, not the row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The callback.
    pub callback_id: CallbackId,
    /// Its company.
    pub company_id: CompanyId,
    /// Where it stands.
    pub status: CallbackStatus,
    /// How soon.
    pub priority: Priority,
    /// Its deadline.
    pub due_at: DateTime<Utc>,
    /// Escalation level reached.
    pub level: u32,
    /// Its version (older news about a callback is ignored).
    pub version: i64,
}

impl From<&CallbackRequest> for Watch {
    fn from(c: &CallbackRequest) -> Self {
        Self {
            callback_id: c.id,
            company_id: c.company_id,
            status: c.status,
            priority: c.priority,
            due_at: c.due_at,
            level: c.escalation_level,
            version: c.version,
        }
    }
}

/// Where a callback was learnt about: a warning already due is sent for news from a change,
/// but not when rebuilding after a start (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A change that just happened.
    Change,
    /// The database, read at start.
    Rebuild,
}

/// What [`SlaSchedule::watch`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched {
    /// Now watched, or re-timed.
    Scheduled(DateTime<Utc>),
    /// No longer watched (closed or contacted).
    Dropped,
    /// Older news than what is known, or nothing changed: ignored.
    Unchanged,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    company_id: CompanyId,
    /// Orders points at the same instant: more urgent first, then older (ids are time-ordered).
    rank: i16,
    due_at: DateTime<Utc>,
    level: u32,
    version: i64,
    point: DateTime<Utc>,
    kind: PointKind,
}

/// A place on the timeline: when, then queue order (priority first, then oldest).
type Key = (DateTime<Utc>, Reverse<i16>, CallbackId);

/// The SLA points of every watched callback, ordered by time (and, at the same instant, by
/// queue order: priority first, then oldest): the earliest is what the one timer waits for.
/// Adding, re-timing and removing are O(log n).
#[derive(Debug)]
pub struct SlaSchedule {
    rules: SlaRules,
    policy: CallbackPolicy,
    timeline: BTreeSet<Key>,
    entries: HashMap<CallbackId, Entry>,
}

impl SlaSchedule {
    /// An empty schedule.
    pub fn new(rules: SlaRules, policy: CallbackPolicy) -> Self {
        Self {
            rules,
            policy,
            timeline: BTreeSet::new(),
            entries: HashMap::new(),
        }
    }

    /// The rules it follows.
    pub fn rules(&self) -> &SlaRules {
        &self.rules
    }

    /// Callbacks watched.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The earliest point, what the timer must wake up for.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        self.timeline.first().map(|(at, _, _)| *at)
    }

    /// The point a callback is scheduled for, if watched.
    pub fn point_of(&self, id: CallbackId) -> Option<(PointKind, DateTime<Utc>)> {
        self.entries.get(&id).map(|e| (e.kind, e.point))
    }

    /// Takes news about a callback: watches it, re-times it or drops it.
    pub fn watch(&mut self, news: &Watch, source: Source, now: DateTime<Utc>) -> Watched {
        let known = self.entries.get(&news.callback_id).copied();
        if known.is_some_and(|k| k.version > news.version) {
            return Watched::Unchanged;
        }
        if !matches!(
            news.status,
            CallbackStatus::Pending | CallbackStatus::Assigned
        ) {
            return match self.remove(news.callback_id) {
                true => Watched::Dropped,
                false => Watched::Unchanged,
            };
        }
        if let Some(k) = known.filter(|k| k.due_at == news.due_at && k.level == news.level) {
            // Same deadline and level (an assignment, an attempt): keep the point reached, so
            // a warning is not sent twice.
            if let Some(entry) = self.entries.get_mut(&news.callback_id) {
                entry.version = news.version;
                entry.company_id = news.company_id;
            }
            if k.rank != news.priority.rank() {
                // Same point, new queue position.
                self.insert(
                    news.callback_id,
                    Entry {
                        rank: news.priority.rank(),
                        version: news.version,
                        ..k
                    },
                );
            }
            return match k.version == news.version {
                true => Watched::Unchanged,
                false => Watched::Scheduled(k.point),
            };
        }
        let (kind, point) = self.first_point(news, source, now);
        self.insert(
            news.callback_id,
            Entry {
                company_id: news.company_id,
                rank: news.priority.rank(),
                due_at: news.due_at,
                level: news.level,
                version: news.version,
                point,
                kind,
            },
        );
        Watched::Scheduled(point)
    }

    /// Stops watching a callback; `false` when it was not watched.
    pub fn remove(&mut self, id: CallbackId) -> bool {
        match self.entries.remove(&id) {
            Some(entry) => {
                self.timeline
                    .remove(&(entry.point, Reverse(entry.rank), id));
                true
            }
            None => false,
        }
    }

    /// Schedules a firing whose handling failed again at `at`. Newer news about the callback
    /// wins, and so does a later point of the same news (a failed warning is not retried
    /// once its breach is pending too).
    pub fn retry(&mut self, firing: &Firing, at: DateTime<Utc>) {
        if let Some(known) = self.entries.get(&firing.callback_id) {
            if known.version > firing.version || known.kind >= firing.kind {
                return;
            }
        }
        self.insert(
            firing.callback_id,
            Entry {
                company_id: firing.company_id,
                rank: firing.rank,
                due_at: firing.due_at,
                level: firing.level,
                version: firing.version,
                point: at,
                kind: firing.kind,
            },
        );
    }

    /// Every point at or before `now`, earliest first. Warnings move on to the deadline and
    /// breaches at the maximum level to the expiry; breaches below it and expiries leave the
    /// schedule (the change they cause is news that schedules the callback again).
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<Firing> {
        let mut fired = Vec::new();
        while let Some(&(at, _, id)) = self.timeline.first() {
            if at > now {
                break;
            }
            self.timeline.pop_first();
            let Some(entry) = self.entries.remove(&id) else {
                continue;
            };
            fired.push(Firing {
                callback_id: id,
                company_id: entry.company_id,
                kind: entry.kind,
                at,
                due_at: entry.due_at,
                level: entry.level,
                version: entry.version,
                rank: entry.rank,
            });
            let next = match entry.kind {
                PointKind::Approaching => Some((PointKind::Breached, entry.due_at)),
                PointKind::Breached if entry.level >= self.rules.max_escalation_level => {
                    Some((PointKind::Expire, self.expires_at(entry.due_at)))
                }
                PointKind::Breached | PointKind::Expire => None,
            };
            if let Some((kind, point)) = next {
                self.insert(
                    id,
                    Entry {
                        point,
                        kind,
                        ..entry
                    },
                );
            }
        }
        fired
    }

    fn expires_at(&self, due: DateTime<Utc>) -> DateTime<Utc> {
        due + self.rules.expire_after
    }

    fn first_point(
        &self,
        news: &Watch,
        source: Source,
        now: DateTime<Utc>,
    ) -> (PointKind, DateTime<Utc>) {
        let window = self.rules.warning_window(news.priority, &self.policy);
        let warn_at = news.due_at - window;
        let at_max = news.level >= self.rules.max_escalation_level;
        if now < warn_at {
            (PointKind::Approaching, warn_at)
        } else if now < news.due_at {
            match source {
                Source::Change => (PointKind::Approaching, now),
                Source::Rebuild => (PointKind::Breached, news.due_at),
            }
        } else if at_max && source == Source::Rebuild {
            (PointKind::Expire, self.expires_at(news.due_at))
        } else {
            (PointKind::Breached, news.due_at)
        }
    }

    fn insert(&mut self, id: CallbackId, entry: Entry) {
        if let Some(old) = self.entries.insert(id, entry) {
            self.timeline.remove(&(old.point, Reverse(old.rank), id));
        }
        self.timeline.insert((entry.point, Reverse(entry.rank), id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 6, 3, hour, minute, 0)
            .single()
            .expect("valid time")
    }

    fn news(priority: Priority, due: DateTime<Utc>, level: u32, version: i64) -> Watch {
        Watch {
            callback_id: CallbackId::new(),
            company_id: CompanyId::new(),
            status: CallbackStatus::Pending,
            priority,
            due_at: due,
            level,
            version,
        }
    }

    fn schedule() -> SlaSchedule {
        SlaSchedule::new(SlaRules::default(), CallbackPolicy::default())
    }

    #[test]
    fn the_warning_window_is_the_configured_one_but_at_most_a_quarter_of_the_sla() {
        let rules = SlaRules::default();
        let policy = CallbackPolicy::default();
        assert_eq!(
            rules.warning_window(Priority::Normal, &policy),
            Duration::minutes(60)
        );
        assert_eq!(
            rules.warning_window(Priority::High, &policy),
            Duration::minutes(60)
        );
        assert_eq!(
            rules.warning_window(Priority::Urgent, &policy),
            Duration::minutes(15)
        );
    }

    #[test]
    fn a_callback_warns_then_breaches_then_leaves_the_schedule() {
        let mut s = schedule();
        let w = news(Priority::Normal, at(12, 0), 0, 1);
        assert_eq!(
            s.watch(&w, Source::Change, at(8, 0)),
            Watched::Scheduled(at(11, 0))
        );
        assert_eq!(s.next_at(), Some(at(11, 0)));
        assert!(s.pop_due(at(10, 59)).is_empty());
        let fired = s.pop_due(at(11, 0));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].kind, PointKind::Approaching);
        assert_eq!(s.next_at(), Some(at(12, 0)));
        let fired = s.pop_due(at(12, 30));
        assert_eq!(fired[0].kind, PointKind::Breached);
        assert_eq!(fired[0].at, at(12, 0));
        assert!(s.is_empty(), "escalation news schedules it again");
    }

    #[test]
    fn news_of_the_same_deadline_keeps_the_point_and_old_news_is_ignored() {
        let mut s = schedule();
        let w = news(Priority::Normal, at(12, 0), 0, 1);
        s.watch(&w, Source::Change, at(8, 0));
        s.pop_due(at(11, 0));
        let assigned = Watch {
            status: CallbackStatus::Assigned,
            version: 2,
            ..w
        };
        assert_eq!(
            s.watch(&assigned, Source::Change, at(11, 5)),
            Watched::Scheduled(at(12, 0)),
            "the warning is not sent again"
        );
        assert_eq!(
            s.watch(&w, Source::Change, at(11, 6)),
            Watched::Unchanged,
            "version 1 is older than version 2"
        );
        let contacted = Watch {
            status: CallbackStatus::Contacted,
            version: 3,
            ..w
        };
        assert_eq!(
            s.watch(&contacted, Source::Change, at(11, 7)),
            Watched::Dropped
        );
        assert!(s.is_empty());
    }

    #[test]
    fn a_deadline_moved_into_the_window_warns_at_once_but_not_on_rebuild() {
        let mut s = schedule();
        let w = news(Priority::High, at(9, 0), 0, 1);
        assert_eq!(
            s.watch(&w, Source::Change, at(8, 30)),
            Watched::Scheduled(at(8, 30))
        );
        let mut r = schedule();
        assert_eq!(
            r.watch(&w, Source::Rebuild, at(8, 30)),
            Watched::Scheduled(at(9, 0))
        );
    }

    #[test]
    fn at_the_highest_level_a_breach_notifies_and_then_the_callback_expires() {
        let mut s = schedule();
        let w = news(Priority::Urgent, at(12, 0), 3, 5);
        s.watch(&w, Source::Change, at(11, 50));
        let fired = s.pop_due(at(12, 0));
        assert_eq!(
            fired.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [PointKind::Approaching, PointKind::Breached]
        );
        assert_eq!(
            s.point_of(w.callback_id),
            Some((PointKind::Expire, at(12, 0) + Duration::days(1)))
        );
        let mut r = schedule();
        r.watch(&w, Source::Rebuild, at(13, 0));
        assert_eq!(
            r.point_of(w.callback_id),
            Some((PointKind::Expire, at(12, 0) + Duration::days(1))),
            "a final breach passed while down is not notified again"
        );
    }

    #[test]
    fn points_fire_in_time_order_whatever_order_they_were_added_in() {
        let mut s = schedule();
        let late = news(Priority::Normal, at(20, 0), 0, 1);
        let early = news(Priority::Normal, at(10, 0), 0, 1);
        s.watch(&late, Source::Rebuild, at(8, 0));
        s.watch(&early, Source::Rebuild, at(8, 0));
        let fired = s.pop_due(at(23, 0));
        let order: Vec<_> = fired.iter().map(|f| (f.callback_id, f.kind)).collect();
        assert_eq!(
            order,
            [
                (early.callback_id, PointKind::Approaching),
                (early.callback_id, PointKind::Breached),
                (late.callback_id, PointKind::Approaching),
                (late.callback_id, PointKind::Breached),
            ]
        );
    }

    #[test]
    fn points_at_the_same_instant_fire_most_urgent_first_then_oldest() {
        let mut s = schedule();
        let normal_old = news(Priority::Normal, at(12, 0), 0, 1);
        let urgent = news(Priority::Urgent, at(12, 0), 0, 1);
        let normal_new = news(Priority::Normal, at(12, 0), 0, 1);
        for w in [&normal_new, &urgent, &normal_old] {
            s.watch(w, Source::Rebuild, at(11, 59));
        }
        let order: Vec<_> = s.pop_due(at(12, 0)).iter().map(|f| f.callback_id).collect();
        assert_eq!(
            order,
            [
                urgent.callback_id,
                normal_old.callback_id,
                normal_new.callback_id
            ]
        );
    }

    #[test]
    fn a_failed_step_is_retried_once_for_its_latest_point() {
        let mut s = schedule();
        let w = news(Priority::Normal, at(12, 0), 0, 1);
        s.watch(&w, Source::Change, at(8, 0));
        let fired = s.pop_due(at(12, 0));
        assert_eq!(fired.len(), 2);
        for f in &fired {
            s.retry(f, at(12, 1));
        }
        assert_eq!(
            s.point_of(w.callback_id),
            Some((PointKind::Breached, at(12, 1)))
        );
        let newer = Watch {
            due_at: at(13, 0),
            version: 2,
            ..w
        };
        s.watch(&newer, Source::Change, at(12, 0));
        s.retry(&fired[1], at(12, 2));
        assert_eq!(
            s.point_of(w.callback_id),
            Some((PointKind::Approaching, at(12, 0))),
            "news wins over a retry (its new deadline is within the window: warned at once)"
        );
    }

    #[test]
    fn escalation_raises_priority_moves_the_deadline_and_records_who_had_it() {
        let policy = CallbackPolicy::default();
        let draft = super::super::callback::CallbackDraft {
            company_id: CompanyId::new(),
            branch_id: None,
            customer_id: None,
            phone: super::super::phone::E164Number::parse("+4915123456789").expect("valid"),
            name: None,
            reason: "x".into(),
            notes: None,
            priority: None,
            language: None,
            source_call_id: None,
            scheduled_for: None,
        };
        let cb = super::super::callback::new_callback(
            CallbackId::new(),
            &draft,
            Priority::Normal,
            &policy,
            at(8, 0),
        );
        let manager = StaffId::new();
        let (next, record) = escalate(
            &cb,
            Some((manager, "escalated to the manager")),
            &SlaRules::default(),
            &policy,
            at(9, 0),
        );
        assert_eq!(next.priority, Priority::Urgent);
        assert_eq!(next.escalation_level, 1);
        assert_eq!(next.due_at, at(10, 0));
        assert_eq!(next.status, CallbackStatus::Assigned);
        assert_eq!(next.assigned_staff_id, Some(manager));
        assert_eq!(next.version, cb.version + 1);
        assert_eq!(record.level, 1);
        assert_eq!(record.from_staff_id, None);
        assert_eq!(record.to_staff_id, Some(manager));
        assert!(
            record.reason.starts_with("SLA breached"),
            "{}",
            record.reason
        );
    }
}
