//! Which staff member gets a booking: a weighted score over five parts, each in `[0, 1]`.
//!
//! Only qualified candidates are scored: one missing a required skill is left out
//! ([`is_qualified`]; skills compare ASCII case-insensitively). The parts:
//!
//! - **skill match** = `coverage × (0.9 + 0.1 × focus)`, where `coverage` is the share of the
//!   required skills the candidate has and `focus` the share of the candidate's skills that are
//!   required ones. A specialist (no unrelated skills, focus 1) scores 1.0; a generalist with all
//!   required skills among many others scores down to 0.9, so at equal everything else the
//!   specialist gets the booking and the generalist stays free for work only they can do. A
//!   service with no required skills gives 1.0 to everyone.
//! - **availability** = 1.0 when free at the wanted time, else `1 / (1 + hours until next free)`
//!   (30 min → 0.67, 1 h → 0.5, 3 h → 0.25), 0.0 when nothing is free in the horizon.
//! - **customer preference** = 1.0 for the customer's preferred staff member, 0.5 for someone who
//!   served the customer before, else 0.0.
//! - **workload balance** = `0.7 × today + 0.3 × week` against the team (the other qualified
//!   candidates), where `today = 1 / (1 + bookings today above the least-loaded colleague)` and
//!   `week = 1 − bookings this week / the team's most this week` (1.0 when nobody has any).
//!   Today weighs more than the week, and one booking today above a colleague costs more (0.35)
//!   than the whole week term can give back (0.3): a newly added staff member (few bookings this
//!   week) wins ties while they are level today but is not flooded with every booking until their
//!   week catches up. A candidate alone scores 1.0.
//! - **language** = 1.0 when the candidate speaks the call's language or none was asked, else 0.0.
//!
//! `total = Σ weightᵢ × partᵢ / Σ weightᵢ`, so it stays in `[0, 1]` even when configured weights
//! do not sum to exactly 1 (negative or non-finite weights count as 0; see
//! [`ScoringWeights::validate`]). Ranking is best total first; equal totals (compared to 1e-9)
//! go to fewer bookings today, then the smaller staff id, so the same input always gives the
//! same order whatever order the candidates come in.

use super::ids::StaffId;
use super::language::Language;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Share of the workload part decided by today's bookings; the rest is this week's.
const TODAY_SHARE: f64 = 0.7;

/// Share of the skill part earned by specialization; the rest by covering the required skills.
const SPECIALIZATION_SHARE: f64 = 0.1;

/// Totals closer than this are a tie: decided by the tie-breakers, not by rounding noise.
const TIE_RESOLUTION: f64 = 1e-9;

/// How much each part counts (from the `[scoring]` config; defaults sum to 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoringWeights {
    /// Weight of having the required skills (default 0.30).
    pub skill_match: f64,
    /// Weight of being free at or soon after the wanted time (default 0.25).
    pub availability: f64,
    /// Weight of the customer's preference (default 0.20).
    pub customer_preference: f64,
    /// Weight of spreading bookings evenly (default 0.15).
    pub workload_balance: f64,
    /// Weight of speaking the call's language (default 0.10).
    pub language: f64,
}

impl Default for ScoringWeights {
    fn default() -> Self {
        Self {
            skill_match: 0.30,
            availability: 0.25,
            customer_preference: 0.20,
            workload_balance: 0.15,
            language: 0.10,
        }
    }
}

/// Configured weights that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWeights {
    /// A weight was negative, infinite or not a number.
    #[error("scoring weight {0} must be a finite number of at least 0")]
    Negative(&'static str),
    /// Every weight was 0, so nothing would decide.
    #[error("at least one scoring weight must be greater than 0")]
    AllZero,
}

impl ScoringWeights {
    /// Checks the weights at config load: each finite and at least 0, not all 0. They need not
    /// sum to 1, since totals are divided by the sum.
    pub fn validate(&self) -> Result<(), InvalidWeights> {
        for (name, w) in self.named() {
            if !(w.is_finite() && w >= 0.0) {
                return Err(InvalidWeights::Negative(name));
            }
        }
        if self.named().iter().all(|(_, w)| *w == 0.0) {
            return Err(InvalidWeights::AllZero);
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("skill_match", self.skill_match),
            ("availability", self.availability),
            ("customer_preference", self.customer_preference),
            ("workload_balance", self.workload_balance),
            ("language", self.language),
        ]
    }

    /// The weighted mean of the parts, in `[0, 1]`; unusable weights count as 0 so a bad config
    /// degrades the ranking instead of producing NaN.
    fn total(&self, parts: &ScoreParts) -> f64 {
        let usable = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
        let pairs = [
            (self.skill_match, parts.skill_match),
            (self.availability, parts.availability),
            (self.customer_preference, parts.customer_preference),
            (self.workload_balance, parts.workload_balance),
            (self.language, parts.language),
        ];
        let (sum, weighted) = pairs.iter().fold((0.0, 0.0), |(sum, acc), &(w, p)| {
            let w = usable(w);
            (sum + w, acc + w * p)
        });
        if sum > 0.0 && sum.is_finite() {
            (weighted / sum).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// One qualified or unqualified candidate as the branch sees it.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    /// Who.
    pub staff_id: StaffId,
    /// Display name.
    pub name: &'a str,
    /// Skills they have.
    pub skills: &'a [String],
    /// Languages they serve in.
    pub languages: &'a [Language],
    /// Whether they are free at the wanted time.
    pub free_at_wanted_time: bool,
    /// Minutes from the wanted time to their next free slot; `None` = nothing free in the horizon.
    pub minutes_to_next_free: Option<i64>,
    /// Bookings they have today.
    pub bookings_today: u32,
    /// Bookings they have this week.
    pub bookings_this_week: u32,
    /// Whether they served this customer before.
    pub served_customer_before: bool,
}

/// What is being booked, for whom.
#[derive(Clone, Debug)]
pub struct ScoringRequest<'a> {
    /// Skills the service requires.
    pub required_skills: &'a [String],
    /// The call's language, if known.
    pub language: Option<Language>,
    /// The customer's preferred staff member, if any.
    pub preferred_staff: Option<StaffId>,
}

/// A candidate's score.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Who.
    pub staff_id: StaffId,
    /// Weighted total in `[0, 1]`; higher is better.
    pub total: f64,
    /// The parts it was made of.
    pub parts: ScoreParts,
    /// A short sentence naming the deciding facts, stored with the appointment for operators.
    pub reason: String,
}

/// The parts of a score, each in `[0, 1]` (defined in the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreParts {
    /// Coverage of the required skills, with a small bonus for specialists.
    pub skill_match: f64,
    /// How soon they are free.
    pub availability: f64,
    /// Whether the customer prefers them or knows them.
    pub customer_preference: f64,
    /// How lightly loaded they are compared with the team.
    pub workload_balance: f64,
    /// Whether they speak the call's language.
    pub language: f64,
}

/// True when `skills` include every required skill (ASCII case-insensitively).
pub fn is_qualified(skills: &[String], required: &[String]) -> bool {
    required.iter().all(|r| has_skill(skills, r))
}

fn has_skill(skills: &[String], wanted: &str) -> bool {
    skills.iter().any(|s| s.eq_ignore_ascii_case(wanted))
}

/// Scores and ranks candidates best first; unqualified candidates (missing a required skill)
/// are left out. Ties break by fewer bookings today, then staff id, so ranking is deterministic.
pub fn rank(
    candidates: &[Candidate],
    request: &ScoringRequest,
    weights: &ScoringWeights,
) -> Vec<Score> {
    rank_with_today_share(candidates, request, weights, TODAY_SHARE)
}

/// [`rank`] with the today/week split of the workload part as a parameter, so a test can show
/// what a week-only balance would do.
fn rank_with_today_share(
    candidates: &[Candidate],
    request: &ScoringRequest,
    weights: &ScoringWeights,
    today_share: f64,
) -> Vec<Score> {
    let qualified = || {
        candidates
            .iter()
            .filter(|c| is_qualified(c.skills, request.required_skills))
    };
    let team = TeamLoad::of(qualified().map(|c| (c.bookings_today, c.bookings_this_week)));
    let mut ranked: Vec<(Score, u32)> = qualified()
        .map(|c| {
            let parts = ScoreParts {
                skill_match: skill_match(c.skills, request.required_skills),
                availability: availability(c.free_at_wanted_time, c.minutes_to_next_free),
                customer_preference: customer_preference(c, request.preferred_staff),
                workload_balance: workload_balance(
                    c.bookings_today,
                    c.bookings_this_week,
                    &team,
                    today_share,
                ),
                language: language(c.languages, request.language),
            };
            let total = weights.total(&parts);
            let reason = reason(total, c, request);
            let score = Score {
                staff_id: c.staff_id,
                total,
                parts,
                reason,
            };
            (score, c.bookings_today)
        })
        .collect();
    ranked.sort_by(|(a, a_today), (b, b_today)| {
        compare_totals(b.total, a.total)
            .then(a_today.cmp(b_today))
            .then(a.staff_id.cmp(&b.staff_id))
    });
    ranked.into_iter().map(|(score, _)| score).collect()
}

/// Orders totals after rounding them to [`TIE_RESOLUTION`]: a plain epsilon comparison would not
/// be transitive, which a sort needs.
fn compare_totals(a: f64, b: f64) -> Ordering {
    let key = |t: f64| (t / TIE_RESOLUTION).round() as i64;
    key(a).cmp(&key(b))
}

/// `coverage × (1 − SPECIALIZATION_SHARE + SPECIALIZATION_SHARE × focus)`; 1.0 without requirements.
fn skill_match(skills: &[String], required: &[String]) -> f64 {
    if required.is_empty() {
        return 1.0;
    }
    let covered = required.iter().filter(|r| has_skill(skills, r)).count();
    let coverage = covered as f64 / required.len() as f64;
    let relevant = skills.iter().filter(|s| has_skill(required, s)).count();
    let focus = if skills.is_empty() {
        0.0
    } else {
        relevant as f64 / skills.len() as f64
    };
    coverage * (1.0 - SPECIALIZATION_SHARE + SPECIALIZATION_SHARE * focus)
}

/// 1.0 when free at the wanted time, else `1 / (1 + hours to the next free slot)`, 0.0 when none.
fn availability(free_at_wanted_time: bool, minutes_to_next_free: Option<i64>) -> f64 {
    if free_at_wanted_time {
        return 1.0;
    }
    match minutes_to_next_free {
        Some(minutes) => 1.0 / (1.0 + minutes.max(0) as f64 / 60.0),
        None => 0.0,
    }
}

/// 1.0 for the preferred staff member, 0.5 for one who served the customer before, else 0.0.
fn customer_preference(candidate: &Candidate, preferred: Option<StaffId>) -> f64 {
    if preferred == Some(candidate.staff_id) {
        1.0
    } else if candidate.served_customer_before {
        0.5
    } else {
        0.0
    }
}

/// 1.0 when the candidate speaks the language or none was asked, else 0.0.
fn language(languages: &[Language], wanted: Option<Language>) -> f64 {
    match wanted {
        Some(l) if !languages.contains(&l) => 0.0,
        _ => 1.0,
    }
}

/// What the workload part needs to know about the team, gathered in one pass.
#[derive(Debug)]
struct TeamLoad {
    /// The two smallest "bookings today" (with repetition), so each member's least-loaded
    /// colleague is known without a second pass: for the one holding the minimum, it is the
    /// second smallest.
    fewest_today: Option<u32>,
    second_fewest_today: Option<u32>,
    most_this_week: u32,
}

impl TeamLoad {
    fn of(loads: impl Iterator<Item = (u32, u32)>) -> Self {
        let mut team = TeamLoad {
            fewest_today: None,
            second_fewest_today: None,
            most_this_week: 0,
        };
        for (today, week) in loads {
            team.most_this_week = team.most_this_week.max(week);
            match team.fewest_today {
                Some(fewest) if today >= fewest => {
                    if team.second_fewest_today.is_none_or(|second| today < second) {
                        team.second_fewest_today = Some(today);
                    }
                }
                _ => {
                    team.second_fewest_today = team.fewest_today;
                    team.fewest_today = Some(today);
                }
            }
        }
        team
    }

    /// The fewest bookings today among the member's colleagues; `None` when they work alone.
    fn fewest_today_of_others(&self, own: u32) -> Option<u32> {
        if self.fewest_today == Some(own) {
            self.second_fewest_today
        } else {
            self.fewest_today
        }
    }
}

/// `today_share × 1/(1 + excess today) + (1 − today_share) × (1 − week / team's most this week)`.
fn workload_balance(today: u32, week: u32, team: &TeamLoad, today_share: f64) -> f64 {
    let Some(fewest_of_others) = team.fewest_today_of_others(today) else {
        return 1.0;
    };
    let excess_today = today.saturating_sub(fewest_of_others);
    let today_part = 1.0 / (1.0 + f64::from(excess_today));
    let week_part = if team.most_this_week == 0 {
        1.0
    } else {
        1.0 - f64::from(week.min(team.most_this_week)) / f64::from(team.most_this_week)
    };
    today_share * today_part + (1.0 - today_share) * week_part
}

/// "score 0.87: all skills, free at the wanted time, preferred by the customer, 2 bookings
/// today, speaks de".
fn reason(total: f64, c: &Candidate, request: &ScoringRequest) -> String {
    let mut out = String::with_capacity(96);
    // Writing to a String cannot fail.
    let _ = write!(out, "score {total:.2}: ");
    let required = request.required_skills;
    if required.is_empty() {
        out.push_str("no skills required");
    } else {
        let covered = required.iter().filter(|r| has_skill(c.skills, r)).count();
        if covered == required.len() {
            out.push_str("all skills");
            if c.skills.iter().all(|s| has_skill(required, s)) {
                out.push_str(" (specialist)");
            }
        } else {
            let _ = write!(out, "{covered} of {} skills", required.len());
        }
    }
    out.push_str(", ");
    match (c.free_at_wanted_time, c.minutes_to_next_free) {
        (true, _) => out.push_str("free at the wanted time"),
        (false, Some(minutes)) => {
            let minutes = minutes.max(0);
            let (h, m) = (minutes / 60, minutes % 60);
            let _ = match (h, m) {
                (0, m) => write!(out, "next free in {m} min"),
                (h, 0) => write!(out, "next free in {h} h"),
                (h, m) => write!(out, "next free in {h} h {m} min"),
            };
        }
        (false, None) => out.push_str("nothing free soon"),
    }
    if request.preferred_staff == Some(c.staff_id) {
        out.push_str(", preferred by the customer");
    } else if c.served_customer_before {
        out.push_str(", served the customer before");
    }
    let bookings = c.bookings_today;
    let _ = write!(
        out,
        ", {bookings} booking{} today",
        if bookings == 1 { "" } else { "s" }
    );
    if let Some(l) = request.language {
        if c.languages.contains(&l) {
            let _ = write!(out, ", speaks {l}");
        } else {
            let _ = write!(out, ", does not speak {l}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn staff(n: u128) -> StaffId {
        StaffId(Uuid::from_u128(n))
    }

    fn skills(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn lang(code: &str) -> Language {
        Language::parse(code).expect("valid test language")
    }

    /// A qualified-for-anything, free, unloaded, German-speaking candidate to vary from.
    fn base<'a>(id: u128, skills: &'a [String], languages: &'a [Language]) -> Candidate<'a> {
        Candidate {
            staff_id: staff(id),
            name: "test",
            skills,
            languages,
            free_at_wanted_time: true,
            minutes_to_next_free: Some(0),
            bookings_today: 0,
            bookings_this_week: 0,
            served_customer_before: false,
        }
    }

    fn request(required: &[String]) -> ScoringRequest<'_> {
        ScoringRequest {
            required_skills: required,
            language: None,
            preferred_staff: None,
        }
    }

    fn winner(scores: &[Score]) -> Option<StaffId> {
        scores.first().map(|s| s.staff_id)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn default_weights_are_the_documented_ones_and_valid() {
        let w = ScoringWeights::default();
        assert_eq!(
            (
                w.skill_match,
                w.availability,
                w.customer_preference,
                w.workload_balance,
                w.language
            ),
            (0.30, 0.25, 0.20, 0.15, 0.10)
        );
        assert_eq!(w.validate(), Ok(()));
    }

    #[test]
    fn weights_load_from_config_with_defaults_for_missing_keys() {
        let w: ScoringWeights =
            serde_json::from_str(r#"{"skill_match": 0.5, "language": 0.0}"#).expect("parses");
        assert_eq!(w.skill_match, 0.5);
        assert_eq!(w.language, 0.0);
        assert_eq!(w.availability, 0.25);
    }

    #[test]
    fn unusable_weights_are_refused() {
        let negative = ScoringWeights {
            availability: -0.1,
            ..ScoringWeights::default()
        };
        assert_eq!(
            negative.validate(),
            Err(InvalidWeights::Negative("availability"))
        );
        let nan = ScoringWeights {
            language: f64::NAN,
            ..ScoringWeights::default()
        };
        assert_eq!(nan.validate(), Err(InvalidWeights::Negative("language")));
        let zero = ScoringWeights {
            skill_match: 0.0,
            availability: 0.0,
            customer_preference: 0.0,
            workload_balance: 0.0,
            language: 0.0,
        };
        assert_eq!(zero.validate(), Err(InvalidWeights::AllZero));
        // Ranking still works with them, just without a meaningful total.
        let s = skills(&[]);
        let scores = rank(&[base(1, &s, &[])], &request(&s), &zero);
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].total, 0.0);
    }

    #[test]
    fn qualification_needs_every_required_skill() {
        let have = skills(&["prophylaxis", "Whitening"]);
        assert!(is_qualified(&have, &skills(&[])));
        assert!(is_qualified(&have, &skills(&["prophylaxis"])));
        assert!(is_qualified(&have, &skills(&["whitening", "PROPHYLAXIS"])));
        assert!(!is_qualified(&have, &skills(&["prophylaxis", "surgery"])));
        assert!(!is_qualified(&skills(&[]), &skills(&["surgery"])));
    }

    #[test]
    fn skill_match_is_coverage_with_a_specialist_bonus() {
        let required = skills(&["prophylaxis"]);
        assert_eq!(skill_match(&skills(&["prophylaxis"]), &required), 1.0);
        // Half of the generalist's skills are unrelated: 0.9 + 0.1 × 0.5.
        assert!(close(
            skill_match(&skills(&["prophylaxis", "surgery"]), &required),
            0.95
        ));
        assert!(close(
            skill_match(&skills(&["prophylaxis", "a", "b", "c"]), &required),
            0.925
        ));
        // No requirement: everyone matches fully.
        assert_eq!(skill_match(&skills(&["a", "b"]), &[]), 1.0);
        assert_eq!(skill_match(&[], &[]), 1.0);
        // Partial coverage (never ranked, but defined): half the skills, all of them relevant.
        assert!(close(
            skill_match(&skills(&["x"]), &skills(&["x", "y"])),
            0.5
        ));
        assert_eq!(skill_match(&[], &required), 0.0);
    }

    #[test]
    fn a_specialist_edges_out_a_generalist() {
        let required = skills(&["prophylaxis"]);
        let specialist = skills(&["prophylaxis"]);
        let generalist = skills(&["prophylaxis", "surgery", "orthodontics"]);
        // The generalist has the smaller id, so without the bonus they would win the tie.
        let candidates = [base(1, &generalist, &[]), base(2, &specialist, &[])];
        let scores = rank(&candidates, &request(&required), &ScoringWeights::default());
        assert_eq!(winner(&scores), Some(staff(2)));
        assert!(scores[0].reason.contains("all skills (specialist)"));
    }

    #[test]
    fn availability_decays_with_the_wait() {
        assert_eq!(availability(true, None), 1.0);
        assert_eq!(availability(false, Some(0)), 1.0);
        assert!(close(availability(false, Some(30)), 2.0 / 3.0));
        assert!(close(availability(false, Some(60)), 0.5));
        assert!(close(availability(false, Some(180)), 0.25));
        assert_eq!(availability(false, Some(-15)), 1.0);
        assert_eq!(availability(false, None), 0.0);
    }

    #[test]
    fn customer_preference_prefers_the_chosen_then_the_known() {
        let none: [String; 0] = [];
        let mut c = base(1, &none, &[]);
        assert_eq!(customer_preference(&c, None), 0.0);
        assert_eq!(customer_preference(&c, Some(staff(2))), 0.0);
        c.served_customer_before = true;
        assert_eq!(customer_preference(&c, Some(staff(2))), 0.5);
        assert_eq!(customer_preference(&c, Some(staff(1))), 1.0);
        c.served_customer_before = false;
        assert_eq!(customer_preference(&c, Some(staff(1))), 1.0);
    }

    #[test]
    fn language_is_all_or_nothing() {
        let speaks = [Language::DE, lang("tr")];
        assert_eq!(language(&speaks, None), 1.0);
        assert_eq!(language(&speaks, Some(lang("tr"))), 1.0);
        assert_eq!(language(&speaks, Some(Language::EN)), 0.0);
        assert_eq!(language(&[], Some(Language::EN)), 0.0);
    }

    #[test]
    fn less_loaded_staff_score_higher_on_workload() {
        let team = TeamLoad::of([(2, 10), (4, 10), (4, 20)].into_iter());
        let light = workload_balance(2, 10, &team, TODAY_SHARE);
        let busy_today = workload_balance(4, 10, &team, TODAY_SHARE);
        let busy_both = workload_balance(4, 20, &team, TODAY_SHARE);
        assert!(close(light, 0.7 + 0.3 * 0.5));
        assert!(close(busy_today, 0.7 / 3.0 + 0.3 * 0.5));
        assert!(close(busy_both, 0.7 / 3.0));
        assert!(light > busy_today && busy_today > busy_both);
        // Alone, there is nobody to balance against.
        let alone = TeamLoad::of([(9, 40)].into_iter());
        assert_eq!(workload_balance(9, 40, &alone, TODAY_SHARE), 1.0);
        // Nobody booked at all: everyone is fully available.
        let idle = TeamLoad::of([(0, 0), (0, 0)].into_iter());
        assert_eq!(workload_balance(0, 0, &idle, TODAY_SHARE), 1.0);
    }

    #[test]
    fn team_load_finds_each_members_least_loaded_colleague() {
        let team = TeamLoad::of([(5, 0), (3, 0), (3, 0), (7, 0)].into_iter());
        assert_eq!(team.fewest_today_of_others(3), Some(3));
        assert_eq!(team.fewest_today_of_others(7), Some(3));
        let team = TeamLoad::of([(5, 0), (3, 0), (7, 0)].into_iter());
        assert_eq!(team.fewest_today_of_others(3), Some(5));
        assert_eq!(team.fewest_today_of_others(5), Some(3));
    }

    /// Books `rounds` appointments one after another, each to the winner of the ranking, and
    /// returns the winners and the largest spread of bookings today seen after any booking.
    fn simulate(loads: &mut [(u32, u32)], rounds: usize, today_share: f64) -> (Vec<StaffId>, u32) {
        let no_skills: [String; 0] = [];
        let mut winners = Vec::new();
        let mut widest = 0;
        for _ in 0..rounds {
            let candidates: Vec<Candidate> = loads
                .iter()
                .enumerate()
                .map(|(i, &(today, week))| Candidate {
                    bookings_today: today,
                    bookings_this_week: week,
                    ..base(i as u128 + 1, &no_skills, &[])
                })
                .collect();
            let scores = rank_with_today_share(
                &candidates,
                &request(&no_skills),
                &ScoringWeights::default(),
                today_share,
            );
            let Some(won) = winner(&scores) else {
                break;
            };
            winners.push(won);
            if let Some(load) = loads.get_mut(won.0.as_u128() as usize - 1) {
                load.0 += 1;
                load.1 += 1;
            }
            let most = loads.iter().map(|l| l.0).max().unwrap_or(0);
            let fewest = loads.iter().map(|l| l.0).min().unwrap_or(0);
            widest = widest.max(most - fewest);
        }
        (winners, widest)
    }

    #[test]
    fn a_new_staff_member_is_not_flooded_once_level_today() {
        // Staff 3 joined this week: as many bookings today as the others, far fewer this week.
        let mut loads = [(3, 20), (3, 20), (3, 3)];
        let (winners, widest) = simulate(&mut loads, 30, TODAY_SHARE);
        // The newcomer wins the tie while level, but never gets two bookings ahead of anyone.
        assert_eq!(winners.first(), Some(&staff(3)));
        assert!(widest <= 1, "{loads:?}");
        let newcomer = winners.iter().filter(|w| **w == staff(3)).count();
        assert_eq!(newcomer, 10, "{winners:?}");

        // A balance on the week alone would hand the newcomer every booking for hours.
        let mut loads = [(3, 20), (3, 20), (3, 3)];
        let (winners, _) = simulate(&mut loads, 10, 0.0);
        assert!(winners.iter().all(|w| *w == staff(3)), "{winners:?}");
    }

    #[test]
    fn unqualified_candidates_are_left_out() {
        let required = skills(&["surgery"]);
        let surgeon = skills(&["surgery", "prophylaxis"]);
        let hygienist = skills(&["prophylaxis"]);
        let candidates = [
            base(1, &hygienist, &[]),
            base(2, &surgeon, &[]),
            base(3, &[], &[]),
        ];
        let scores = rank(&candidates, &request(&required), &ScoringWeights::default());
        let ids: Vec<StaffId> = scores.iter().map(|s| s.staff_id).collect();
        assert_eq!(ids, [staff(2)]);
        assert!(rank(&[], &request(&required), &ScoringWeights::default()).is_empty());
    }

    #[test]
    fn unqualified_staff_do_not_count_as_team_for_workload() {
        // An idle receptionist must not make the only qualified practitioner look overloaded.
        let required = skills(&["surgery"]);
        let surgeon = skills(&["surgery"]);
        let candidates = [
            Candidate {
                bookings_today: 6,
                bookings_this_week: 30,
                ..base(1, &surgeon, &[])
            },
            base(2, &[], &[]),
        ];
        let scores = rank(&candidates, &request(&required), &ScoringWeights::default());
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].parts.workload_balance, 1.0);
    }

    #[test]
    fn configured_weights_change_the_winner() {
        let none: [String; 0] = [];
        let free_now = base(1, &none, &[]);
        let preferred = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: None,
            ..base(2, &none, &[])
        };
        let req = ScoringRequest {
            preferred_staff: Some(staff(2)),
            ..request(&none)
        };
        let candidates = [free_now, preferred];
        let by_default = rank(&candidates, &req, &ScoringWeights::default());
        assert_eq!(winner(&by_default), Some(staff(1)));
        let loyal = ScoringWeights {
            customer_preference: 0.40,
            availability: 0.05,
            ..ScoringWeights::default()
        };
        assert_eq!(winner(&rank(&candidates, &req, &loyal)), Some(staff(2)));
    }

    #[test]
    fn every_part_counts_towards_the_total() {
        let required = skills(&["x"]);
        let x = skills(&["x"]);
        let de = [Language::DE];
        let c = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: Some(120),
            served_customer_before: true,
            ..base(1, &x, &de)
        };
        let req = ScoringRequest {
            required_skills: &required,
            language: Some(Language::EN),
            preferred_staff: None,
        };
        let scores = rank(&[c], &req, &ScoringWeights::default());
        let s = &scores[0];
        assert_eq!(
            s.parts,
            ScoreParts {
                skill_match: 1.0,
                availability: 1.0 / 3.0,
                customer_preference: 0.5,
                workload_balance: 1.0,
                language: 0.0,
            }
        );
        assert!(close(s.total, 0.30 + 0.25 / 3.0 + 0.10 + 0.15));
        assert_eq!(
            s.reason,
            "score 0.63: all skills (specialist), next free in 2 h, served the customer before, \
             0 bookings today, does not speak en"
        );
    }

    #[test]
    fn weights_need_not_sum_to_one() {
        let none: [String; 0] = [];
        let c = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: None,
            ..base(1, &none, &[])
        };
        let doubled = ScoringWeights {
            skill_match: 0.6,
            availability: 0.5,
            customer_preference: 0.4,
            workload_balance: 0.3,
            language: 0.2,
        };
        let once = rank(
            std::slice::from_ref(&c),
            &request(&none),
            &ScoringWeights::default(),
        );
        let twice = rank(&[c], &request(&none), &doubled);
        assert!(close(once[0].total, twice[0].total));
        assert!(close(once[0].total, 0.30 + 0.15 + 0.10));
    }

    #[test]
    fn reason_names_the_deciding_facts() {
        let required = skills(&["prophylaxis"]);
        let have = skills(&["prophylaxis", "whitening", "bleaching", "veneers"]);
        let de = [Language::DE];
        let c = Candidate {
            bookings_today: 2,
            ..base(7, &have, &de)
        };
        let req = ScoringRequest {
            required_skills: &required,
            language: Some(Language::DE),
            preferred_staff: Some(staff(7)),
        };
        let scores = rank(&[c], &req, &ScoringWeights::default());
        assert_eq!(
            scores[0].reason,
            "score 0.98: all skills, free at the wanted time, preferred by the customer, \
             2 bookings today, speaks de"
        );

        let none: [String; 0] = [];
        let later = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: Some(150),
            bookings_today: 1,
            ..base(1, &none, &[])
        };
        let reason = &rank(&[later], &request(&none), &ScoringWeights::default())[0].reason;
        assert_eq!(
            reason,
            "score 0.62: no skills required, next free in 2 h 30 min, 1 booking today"
        );
        let never = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: None,
            ..base(1, &none, &[])
        };
        let reason = &rank(&[never], &request(&none), &ScoringWeights::default())[0].reason;
        assert!(reason.contains("nothing free soon"), "{reason}");
        let soon = Candidate {
            free_at_wanted_time: false,
            minutes_to_next_free: Some(45),
            ..base(1, &none, &[])
        };
        let reason = &rank(&[soon], &request(&none), &ScoringWeights::default())[0].reason;
        assert!(reason.contains("next free in 45 min"), "{reason}");
        let partial = reason_for_partial();
        assert!(partial.contains("1 of 2 skills"), "{partial}");
    }

    /// `rank` never reports on unqualified staff, but the reason text is defined for them too.
    fn reason_for_partial() -> String {
        let required = skills(&["x", "y"]);
        let have = skills(&["x"]);
        reason(0.5, &base(1, &have, &[]), &request(&required))
    }

    #[test]
    fn ties_break_by_fewer_bookings_today_then_staff_id() {
        let none: [String; 0] = [];
        // Only availability weighs, so the workload difference cannot decide on the total.
        let weights = ScoringWeights {
            skill_match: 0.0,
            availability: 1.0,
            customer_preference: 0.0,
            workload_balance: 0.0,
            language: 0.0,
        };
        let candidates = [
            Candidate {
                bookings_today: 3,
                ..base(1, &none, &[])
            },
            Candidate {
                bookings_today: 1,
                ..base(9, &none, &[])
            },
            Candidate {
                bookings_today: 1,
                ..base(4, &none, &[])
            },
        ];
        let ids: Vec<StaffId> = rank(&candidates, &request(&none), &weights)
            .iter()
            .map(|s| s.staff_id)
            .collect();
        assert_eq!(ids, [staff(4), staff(9), staff(1)]);
    }

    #[test]
    fn ranking_does_not_depend_on_input_order() {
        let required = skills(&["x"]);
        let a = skills(&["x"]);
        let b = skills(&["x", "y"]);
        let langs = [Language::DE];
        let mut candidates = vec![
            base(1, &a, &langs),
            Candidate {
                bookings_today: 2,
                ..base(2, &b, &langs)
            },
            Candidate {
                free_at_wanted_time: false,
                minutes_to_next_free: Some(20),
                ..base(3, &a, &[])
            },
            base(4, &b, &langs),
            base(5, &a, &langs),
        ];
        let req = ScoringRequest {
            required_skills: &required,
            language: Some(Language::DE),
            preferred_staff: None,
        };
        let first = rank(&candidates, &req, &ScoringWeights::default());
        candidates.reverse();
        let second = rank(&candidates, &req, &ScoringWeights::default());
        candidates.rotate_left(2);
        let third = rank(&candidates, &req, &ScoringWeights::default());
        assert_eq!(first, second);
        assert_eq!(first, third);
        assert_eq!(winner(&first), Some(staff(1)));
    }

    #[derive(Clone, Debug)]
    struct Generated {
        skills: Vec<String>,
        languages: Vec<Language>,
        free: bool,
        minutes: Option<i64>,
        today: u32,
        week: u32,
        served: bool,
    }

    fn generated() -> impl Strategy<Value = Generated> {
        let pool = ["a", "b", "c", "d"];
        (
            proptest::sample::subsequence(pool.to_vec(), 0..=4),
            proptest::sample::subsequence(vec![Language::DE, Language::EN], 0..=2),
            any::<bool>(),
            proptest::option::of(-100i64..100_000),
            0u32..40,
            0u32..200,
            any::<bool>(),
        )
            .prop_map(|(skills, languages, free, minutes, today, week, served)| {
                Generated {
                    skills: skills.into_iter().map(str::to_owned).collect(),
                    languages,
                    free,
                    minutes,
                    today,
                    week,
                    served,
                }
            })
    }

    proptest! {
        #[test]
        fn totals_and_parts_stay_within_0_and_1(
            people in proptest::collection::vec(generated(), 0..8),
            raw in proptest::array::uniform5(0.0f64..1.0),
            required in proptest::sample::subsequence(vec!["a", "b", "c"], 0..=2),
            wants_german in proptest::option::of(any::<bool>()),
            preferred in proptest::option::of(1u128..10),
        ) {
            let sum: f64 = raw.iter().sum::<f64>() + 1e-6;
            let weights = ScoringWeights {
                skill_match: (raw[0] + 1e-6) / sum,
                availability: raw[1] / sum,
                customer_preference: raw[2] / sum,
                workload_balance: raw[3] / sum,
                language: raw[4] / sum,
            };
            let required: Vec<String> = required.into_iter().map(str::to_owned).collect();
            let candidates: Vec<Candidate> = people
                .iter()
                .enumerate()
                .map(|(i, g)| Candidate {
                    staff_id: staff(i as u128 + 1),
                    name: "p",
                    skills: &g.skills,
                    languages: &g.languages,
                    free_at_wanted_time: g.free,
                    minutes_to_next_free: g.minutes,
                    bookings_today: g.today,
                    bookings_this_week: g.week,
                    served_customer_before: g.served,
                })
                .collect();
            let req = ScoringRequest {
                required_skills: &required,
                language: wants_german.map(|de| if de { Language::DE } else { Language::EN }),
                preferred_staff: preferred.map(staff),
            };
            let scores = rank(&candidates, &req, &weights);
            let qualified = candidates
                .iter()
                .filter(|c| is_qualified(c.skills, &required))
                .count();
            prop_assert_eq!(scores.len(), qualified);
            for s in &scores {
                prop_assert!((0.0..=1.0).contains(&s.total), "{:?}", s);
                let p = s.parts;
                for part in [p.skill_match, p.availability, p.customer_preference, p.workload_balance, p.language] {
                    prop_assert!((0.0..=1.0).contains(&part), "{:?}", s);
                }
            }
            for pair in scores.windows(2) {
                prop_assert!(pair[0].total >= pair[1].total - TIE_RESOLUTION);
            }
            let mut reversed = candidates.clone();
            reversed.reverse();
            prop_assert_eq!(rank(&reversed, &req, &weights), scores);
        }
    }
}
