//! Who calls a customer back: automatic assignment of callbacks to staff.
//!
//! Candidates are the active staff of the callback's branch (of every active branch of the
//! company when the callback has none) who are at work now or within the horizon
//! ([`AssignmentRules::horizon`]; working hours, breaks, date overrides and the branch's opening
//! hours all count, see [`WorkPattern::open_windows`]). Among them the pick is decided by, in
//! this order (each criterion only breaks ties of the ones before):
//!
//! 1. **relationship**: the customer's preferred staff member, then anyone who served the
//!    customer before (past appointments), then everyone else;
//! 2. **expertise**: how many of the candidate's skills the matter needs, where a skill is
//!    needed when the reason text names it or the service the reason asks for requires it;
//! 3. **language**: speaks the callback's language (all equal when it has none);
//! 4. **load**: fewest open callbacks assigned;
//! 5. at work now before at work later, then the smaller staff id (so the same facts always
//!    give the same pick).
//!
//! The pick comes with a human-readable reason naming what spoke for the person ("served this
//! customer before; speaks de; least loaded: 2 open; at work now"). When nobody qualifies, the
//! answer says why ([`NoPick`]) and the callback stays pending.
//!
//! Escalation ([`escalation_target`]) prefers a manager of the callback's branch (or company)
//! who is at work now or soon and is not the current assignee, least loaded first; without one
//! it is the normal pick with the current assignee excluded.

use super::availability::WorkPattern;
use super::extraction::match_service;
use super::ids::StaffId;
use super::model::{Branch, CallbackRequest, Service, Staff, StaffRole};
use chrono::{DateTime, Duration, Utc};
use std::cmp::Reverse;
use std::collections::HashMap;

/// The tunables of automatic assignment (the server fills them from `[callbacks]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignmentRules {
    /// Staff who start work within this long from now still qualify.
    pub horizon: Duration,
}

impl Default for AssignmentRules {
    /// The default of the committed `config.toml` (two hours).
    fn default() -> Self {
        Self {
            horizon: Duration::hours(2),
        }
    }
}

/// One staff member who might take a callback, with the branch they work at.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The person.
    pub staff: &'a Staff,
    /// Their branch (time zone and opening hours).
    pub branch: &'a Branch,
}

/// Everything a pick is decided from; gathered by the caller, so this stays pure.
#[derive(Clone, Copy, Debug)]
pub struct AssignmentFacts<'a> {
    /// The callback to assign.
    pub callback: &'a CallbackRequest,
    /// Staff of the callback's branch, or of the company's branches when it has none.
    pub candidates: &'a [Candidate<'a>],
    /// The customer's preferred staff member, if any.
    pub preferred: Option<StaffId>,
    /// Staff who served the customer before.
    pub served_before: &'a [StaffId],
    /// The company's services (the reason may ask for one).
    pub services: &'a [Service],
    /// Open callbacks assigned, per staff member (absent means none).
    pub open_load: &'a HashMap<StaffId, u32>,
    /// Staff who must not be picked (the current assignee on escalation).
    pub exclude: &'a [StaffId],
}

/// A staff member chosen for a callback, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    /// Who.
    pub staff_id: StaffId,
    /// Why, for operators ("served this customer before; speaks de; least loaded: 2 open").
    pub reason: String,
}

/// Why nobody was picked (the callback stays pending).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoPick {
    /// The branch (or company) has no active staff who may be picked.
    #[error("no active staff member to assign")]
    NoActiveStaff,
    /// Active staff exist, but none is at work now or within the horizon.
    #[error("nobody is at work within the next {horizon_minutes} minutes")]
    NobodyAtWork {
        /// The horizon looked at.
        horizon_minutes: i64,
    },
}

/// How one candidate does on each criterion.
#[derive(Clone, Debug)]
struct Standing<'a> {
    staff: &'a Staff,
    /// 2 preferred, 1 served before, 0 none.
    relationship: u8,
    /// The needed skills they have.
    skills: Vec<&'a str>,
    speaks: bool,
    load: u32,
    /// When they are (next) at work: `now` when at work now.
    at_work_from: DateTime<Utc>,
}

/// The ranking key of a candidate: relationship, skills needed, language, load (fewer is
/// better), at work sooner, smaller id. Greater is better.
type RankKey = (
    u8,
    usize,
    bool,
    Reverse<u32>,
    Reverse<DateTime<Utc>>,
    Reverse<StaffId>,
);

impl Standing<'_> {
    fn key(&self) -> RankKey {
        (
            self.relationship,
            self.skills.len(),
            self.speaks,
            Reverse(self.load),
            Reverse(self.at_work_from),
            Reverse(self.staff.id),
        )
    }
}

/// The first instant in `[now, now + horizon)` at which the candidate is at work, if any.
pub fn at_work_within(
    candidate: &Candidate<'_>,
    now: DateTime<Utc>,
    horizon: Duration,
) -> Option<DateTime<Utc>> {
    let branch = candidate.branch;
    let staff = candidate.staff;
    let pattern = WorkPattern {
        time_zone: branch.time_zone,
        opening_hours: &branch.opening_hours,
        branch_overrides: &branch.date_overrides,
        working_hours: &staff.working_hours,
        breaks: &staff.breaks,
        staff_overrides: &staff.date_overrides,
    };
    let until = now + horizon.max(Duration::zero());
    // Windows never cross local midnight, so the local dates of `now` and `until` cover all.
    let first = now.with_timezone(&branch.time_zone).date_naive();
    let last = until.with_timezone(&branch.time_zone).date_naive();
    let mut date = first;
    while date <= last {
        for window in pattern.open_windows(date) {
            if window.end > now && window.start <= until {
                return Some(window.start.max(now));
            }
        }
        date = date.succ_opt()?;
    }
    None
}

/// The skills of `staff` the callback needs: named in the reason (case- and accent-folded,
/// as a whole word or word start) or required by the service the reason asks for.
fn needed_skills<'s>(
    staff: &'s Staff,
    reason_words: &[String],
    service: Option<&Service>,
) -> Vec<&'s str> {
    staff
        .skills
        .iter()
        .filter(|skill| {
            let folded = fold(skill);
            !folded.is_empty()
                && (reason_words.iter().any(|w| w.starts_with(&folded))
                    || service.is_some_and(|s| {
                        s.required_skills
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(skill))
                    }))
        })
        .map(String::as_str)
        .collect()
}

/// Lower case with the common accents removed, so "Implantologie" matches "implantologie".
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ä' | 'á' | 'à' | 'â' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ö' | 'ó' | 'ò' | 'ô' => 'o',
            'ü' | 'ú' | 'ù' | 'û' => 'u',
            other => other,
        })
        .collect()
}

fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn standings<'a>(
    facts: &AssignmentFacts<'a>,
    rules: &AssignmentRules,
    now: DateTime<Utc>,
    only: impl Fn(&Staff) -> bool,
) -> Result<Vec<Standing<'a>>, NoPick> {
    let eligible: Vec<&Candidate<'a>> = facts
        .candidates
        .iter()
        .filter(|c| c.staff.active && c.branch.active && !facts.exclude.contains(&c.staff.id))
        .filter(|c| only(c.staff))
        .collect();
    if eligible.is_empty() {
        return Err(NoPick::NoActiveStaff);
    }
    let callback = facts.callback;
    let reason_words = words(&callback.reason);
    let service = match_service(&callback.reason, facts.services);
    let standings: Vec<Standing<'a>> = eligible
        .into_iter()
        .filter_map(|c| {
            let at_work_from = at_work_within(c, now, rules.horizon)?;
            let relationship = if facts.preferred == Some(c.staff.id) {
                2
            } else if facts.served_before.contains(&c.staff.id) {
                1
            } else {
                0
            };
            Some(Standing {
                staff: c.staff,
                relationship,
                skills: needed_skills(c.staff, &reason_words, service),
                speaks: callback
                    .language
                    .is_some_and(|l| c.staff.languages.contains(&l)),
                load: facts.open_load.get(&c.staff.id).copied().unwrap_or(0),
                at_work_from,
            })
        })
        .collect();
    if standings.is_empty() {
        return Err(NoPick::NobodyAtWork {
            horizon_minutes: rules.horizon.num_minutes(),
        });
    }
    Ok(standings)
}

fn describe(
    best: &Standing<'_>,
    all: &[Standing<'_>],
    callback: &CallbackRequest,
    now: DateTime<Utc>,
) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(5);
    match best.relationship {
        2 => parts.push("the customer's preferred staff member".into()),
        1 => parts.push("served this customer before".into()),
        _ => {}
    }
    if !best.skills.is_empty() {
        parts.push(format!("knows {}", best.skills.join(", ")));
    }
    if let Some(language) = callback.language.filter(|_| best.speaks) {
        parts.push(format!("speaks {language}"));
    }
    let least = all.iter().map(|s| s.load).min().unwrap_or(0);
    if best.load == least {
        parts.push(format!("least loaded: {} open", best.load));
    } else {
        parts.push(format!("{} open", best.load));
    }
    if best.at_work_from <= now {
        parts.push("at work now".into());
    } else {
        parts.push(format!(
            "at work from {} UTC",
            best.at_work_from.format("%H:%M")
        ));
    }
    parts.join("; ")
}

fn pick_best(
    standings: &[Standing<'_>],
    callback: &CallbackRequest,
    now: DateTime<Utc>,
    prefix: &str,
) -> Option<Pick> {
    let best = standings.iter().max_by_key(|s| s.key())?;
    Some(Pick {
        staff_id: best.staff.id,
        reason: format!("{prefix}{}", describe(best, standings, callback, now)),
    })
}

/// The staff member a callback goes to, and why; see the module docs for the rules.
pub fn choose(
    facts: &AssignmentFacts<'_>,
    rules: &AssignmentRules,
    now: DateTime<Utc>,
) -> Result<Pick, NoPick> {
    let standings = standings(facts, rules, now, |_| true)?;
    pick_best(&standings, facts.callback, now, "").ok_or(NoPick::NoActiveStaff)
}

/// Whom a late callback escalates to: a manager at work now or soon (not the current
/// assignee, who is in `facts.exclude`), least loaded first; else the normal pick among the
/// others.
pub fn escalation_target(
    facts: &AssignmentFacts<'_>,
    rules: &AssignmentRules,
    now: DateTime<Utc>,
) -> Result<Pick, NoPick> {
    if let Ok(managers) = standings(facts, rules, now, |s| s.role == StaffRole::Manager) {
        let best = managers.iter().max_by_key(|s| {
            (
                Reverse(s.load),
                Reverse(s.at_work_from),
                Reverse(s.staff.id),
            )
        });
        if let Some(best) = best {
            return Ok(Pick {
                staff_id: best.staff.id,
                reason: format!("escalated to the manager; {} open", best.load),
            });
        }
    }
    let standings = standings(facts, rules, now, |_| true)?;
    pick_best(&standings, facts.callback, now, "escalated; ").ok_or(NoPick::NoActiveStaff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::callback::{new_callback, CallbackDraft, CallbackPolicy};
    use crate::domain::ids::{BranchId, CallbackId, CompanyId, CustomerId, ServiceId};
    use crate::domain::language::Language;
    use crate::domain::model::Priority;
    use crate::domain::phone::E164Number;
    use crate::domain::schedule::{DateOverride, DayHours, TimeRange, WeeklyHours};
    use chrono::{NaiveDate, TimeZone, Weekday};

    /// Monday 3 June 2030, in UTC (Berlin is UTC+2 in summer).
    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 6, 3, hour, minute, 0)
            .single()
            .expect("valid time")
    }

    fn week(range: &str) -> WeeklyHours {
        let day = DayHours::new(vec![TimeRange::parse(range).expect("valid")]).expect("valid");
        WeeklyHours::same_on(
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            day,
        )
    }

    fn branch() -> Branch {
        Branch {
            id: BranchId::new(),
            company_id: CompanyId::new(),
            name: "Mitte".into(),
            slug: "mitte".into(),
            address: "Hauptstraße 1".into(),
            time_zone: chrono_tz::Europe::Berlin,
            languages: vec![Language::DE],
            active: true,
            fallback_branch_id: None,
            service_area_prefixes: Vec::new(),
            opening_hours: week("07:00-20:00"),
            date_overrides: Vec::new(),
            agent_by_language: Default::default(),
        }
    }

    fn staff(name: &str, branch: &Branch, hours: &str) -> Staff {
        Staff {
            id: StaffId::new(),
            branch_id: branch.id,
            name: name.into(),
            role: StaffRole::Reception,
            skills: Vec::new(),
            languages: vec![Language::DE],
            working_hours: week(hours),
            breaks: WeeklyHours::default(),
            date_overrides: Vec::new(),
            active: true,
            email: None,
        }
    }

    fn callback(branch: &Branch, reason: &str, language: Option<Language>) -> CallbackRequest {
        let draft = CallbackDraft {
            company_id: branch.company_id,
            branch_id: Some(branch.id),
            customer_id: Some(CustomerId::new()),
            phone: E164Number::parse("+4915123456789").expect("valid"),
            name: None,
            reason: reason.into(),
            notes: None,
            priority: None,
            language,
            source_call_id: None,
            scheduled_for: None,
        };
        new_callback(
            CallbackId::new(),
            &draft,
            Priority::Normal,
            &CallbackPolicy::default(),
            at(8, 0),
        )
    }

    struct World {
        branch: Branch,
        staff: Vec<Staff>,
        services: Vec<Service>,
        load: HashMap<StaffId, u32>,
        served: Vec<StaffId>,
        preferred: Option<StaffId>,
        exclude: Vec<StaffId>,
    }

    impl World {
        fn new(staff: impl FnOnce(&Branch) -> Vec<Staff>) -> Self {
            let branch = branch();
            let staff = staff(&branch);
            Self {
                branch,
                staff,
                services: Vec::new(),
                load: HashMap::new(),
                served: Vec::new(),
                preferred: None,
                exclude: Vec::new(),
            }
        }

        fn pick(&self, cb: &CallbackRequest, now: DateTime<Utc>) -> Result<Pick, NoPick> {
            self.decide(cb, now, false)
        }

        fn decide(
            &self,
            cb: &CallbackRequest,
            now: DateTime<Utc>,
            escalation: bool,
        ) -> Result<Pick, NoPick> {
            let candidates: Vec<Candidate<'_>> = self
                .staff
                .iter()
                .map(|s| Candidate {
                    staff: s,
                    branch: &self.branch,
                })
                .collect();
            let facts = AssignmentFacts {
                callback: cb,
                candidates: &candidates,
                preferred: self.preferred,
                served_before: &self.served,
                services: &self.services,
                open_load: &self.load,
                exclude: &self.exclude,
            };
            match escalation {
                false => choose(&facts, &AssignmentRules::default(), now),
                true => escalation_target(&facts, &AssignmentRules::default(), now),
            }
        }
    }

    #[test]
    fn the_least_loaded_of_equals_gets_it_and_the_reason_says_so() {
        let mut w = World::new(|b| {
            vec![
                staff("Anna", b, "08:00-16:00"),
                staff("Ben", b, "08:00-16:00"),
            ]
        });
        w.load.insert(w.staff[0].id, 3);
        w.load.insert(w.staff[1].id, 1);
        let cb = callback(&w.branch, "Rückruf", None);
        let pick = w.pick(&cb, at(8, 0)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert_eq!(pick.reason, "least loaded: 1 open; at work now");
    }

    #[test]
    fn a_previous_relationship_beats_expertise_language_and_load() {
        let mut w = World::new(|b| {
            let mut expert = staff("Eva", b, "08:00-16:00");
            expert.skills = vec!["implantology".into()];
            expert.languages = vec![Language::DE, Language::EN];
            vec![expert, staff("Karl", b, "08:00-16:00")]
        });
        w.served = vec![w.staff[1].id];
        w.load.insert(w.staff[1].id, 5);
        let cb = callback(&w.branch, "Frage zur Implantology", Some(Language::EN));
        let pick = w.pick(&cb, at(8, 0)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert!(
            pick.reason.starts_with("served this customer before"),
            "{}",
            pick.reason
        );
        w.preferred = Some(w.staff[0].id);
        let pick = w.pick(&cb, at(8, 0)).expect("someone");
        assert_eq!(
            pick.staff_id, w.staff[0].id,
            "the preferred one beats served before"
        );
        assert!(pick.reason.contains("preferred"), "{}", pick.reason);
    }

    #[test]
    fn expertise_comes_from_the_reason_text_or_the_service_it_asks_for() {
        let mut w = World::new(|b| {
            let mut hygienist = staff("Eva", b, "08:00-16:00");
            hygienist.skills = vec!["prophylaxis".into()];
            vec![staff("Karl", b, "08:00-16:00"), hygienist]
        });
        w.services = vec![Service {
            id: ServiceId::new(),
            company_id: w.branch.company_id,
            name: "Professionelle Zahnreinigung".into(),
            duration_minutes: 60,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            required_skills: vec!["prophylaxis".into()],
            active: true,
        }];
        w.load.insert(w.staff[1].id, 4);
        let cb = callback(&w.branch, "Termin für eine Zahnreinigung", None);
        let pick = w.pick(&cb, at(8, 0)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert!(
            pick.reason.starts_with("knows prophylaxis"),
            "{}",
            pick.reason
        );
    }

    #[test]
    fn the_callbacks_language_breaks_a_tie_before_load() {
        let mut w = World::new(|b| {
            let mut english = staff("Eva", b, "08:00-16:00");
            english.languages = vec![Language::EN];
            vec![staff("Karl", b, "08:00-16:00"), english]
        });
        w.load.insert(w.staff[1].id, 2);
        let cb = callback(&w.branch, "call me", Some(Language::EN));
        let pick = w.pick(&cb, at(8, 0)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert_eq!(pick.reason, "speaks en; 2 open; at work now");
    }

    #[test]
    fn only_staff_at_work_within_the_horizon_qualify() {
        // 06:00 UTC is 08:00 in Berlin.
        let w = World::new(|b| {
            vec![
                staff("Früh", b, "08:00-12:00"),
                staff("Spät", b, "14:00-18:00"),
            ]
        });
        let cb = callback(&w.branch, "x", None);
        assert_eq!(w.pick(&cb, at(6, 0)).map(|p| p.staff_id), Ok(w.staff[0].id));
        // At 10:30 Berlin (08:30 UTC) the early one is at work; at 11:30 the late one starts
        // within two hours and the early one is still there: both qualify, now beats later.
        let pick = w.pick(&cb, at(9, 30)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[0].id);
        // 12:30 Berlin: the early one has left, the late one starts at 14:00, within 2 h.
        let pick = w.pick(&cb, at(10, 30)).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert!(
            pick.reason.ends_with("at work from 12:00 UTC"),
            "{}",
            pick.reason
        );
        // 21:00 Berlin: nobody until tomorrow.
        assert_eq!(
            w.pick(&cb, at(19, 0)),
            Err(NoPick::NobodyAtWork {
                horizon_minutes: 120
            })
        );
    }

    #[test]
    fn sick_days_inactive_and_excluded_staff_never_qualify() {
        let mut w = World::new(|b| {
            let mut sick = staff("Krank", b, "08:00-16:00");
            sick.date_overrides = vec![DateOverride {
                date: NaiveDate::from_ymd_opt(2030, 6, 3).expect("valid"),
                hours: DayHours::closed(),
                reason: "krank".into(),
            }];
            let mut gone = staff("Weg", b, "08:00-16:00");
            gone.active = false;
            vec![sick, gone, staff("Da", b, "08:00-16:00")]
        });
        let cb = callback(&w.branch, "x", None);
        assert_eq!(w.pick(&cb, at(8, 0)).map(|p| p.staff_id), Ok(w.staff[2].id));
        w.exclude = vec![w.staff[2].id];
        assert!(matches!(
            w.pick(&cb, at(8, 0)),
            Err(NoPick::NobodyAtWork { .. })
        ));
        w.staff.truncate(2);
        w.staff[0].active = false;
        assert_eq!(w.pick(&cb, at(8, 0)), Err(NoPick::NoActiveStaff));
    }

    #[test]
    fn escalation_goes_to_a_manager_at_work_else_to_the_next_best() {
        let mut w = World::new(|b| {
            let mut manager = staff("Chefin", b, "08:00-16:00");
            manager.role = StaffRole::Manager;
            vec![
                staff("Anna", b, "08:00-16:00"),
                manager,
                staff("Ben", b, "08:00-16:00"),
            ]
        });
        w.exclude = vec![w.staff[0].id];
        let cb = callback(&w.branch, "x", None);
        let pick = w.decide(&cb, at(8, 0), true).expect("someone");
        assert_eq!(pick.staff_id, w.staff[1].id);
        assert!(
            pick.reason.starts_with("escalated to the manager"),
            "{}",
            pick.reason
        );
        w.exclude.push(w.staff[1].id);
        let pick = w.decide(&cb, at(8, 0), true).expect("someone");
        assert_eq!(pick.staff_id, w.staff[2].id);
        assert!(pick.reason.starts_with("escalated; "), "{}", pick.reason);
    }
}
