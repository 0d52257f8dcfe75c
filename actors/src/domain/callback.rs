//! Callback requests: how they are opened, merged and prioritised.
//!
//! Every way a callback comes into being (the voice agent's `request_callback`, a booking that
//! failed, an operator's `POST /api/v1/callbacks`) builds a [`CallbackDraft`] and the facts
//! about the caller, then goes through the same rules here: text is cleaned and bounded, the
//! priority is computed, the deadline follows the priority, and a repeat request for the same
//! number within the duplicate window merges into the open request instead of creating another.
//!
//! Once open, a callback moves through its lifecycle by [`transition`] (see there for the
//! states and which step is allowed from which).

use super::ids::{BranchId, CallId, CallbackId, CompanyId, CustomerId, StaffId};
use super::language::Language;
use super::model::{AttemptOutcome, CallbackRequest, CallbackStatus, Customer, Priority};
use super::phone::E164Number;
use chrono::{DateTime, Duration, Utc};

/// The tunables of callback handling (the server fills them from `[callbacks]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// A repeat request for the same company and number opened within this window merges
    /// into the open request.
    pub duplicate_window: Duration,
    /// Deadline of an urgent callback, from its start.
    pub sla_urgent: Duration,
    /// Deadline of a high-priority callback, from its start.
    pub sla_high: Duration,
    /// Deadline of a normal callback, from its start.
    pub sla_normal: Duration,
    /// ISO 3166 country national phone numbers are read in (`"DE"`: `030 …` is `+4930 …`).
    pub default_region: String,
    /// Longest caller name kept, in characters.
    pub max_name_chars: usize,
    /// Longest reason kept, in characters.
    pub max_reason_chars: usize,
    /// Longest notes of one request, in characters.
    pub max_notes_chars: usize,
    /// Longest notes a callback accumulates over merges and lifecycle steps, in characters.
    pub max_merged_notes_chars: usize,
    /// Failed contact attempts after which a callback closes as unreachable.
    pub max_attempts: u32,
}

impl Default for CallbackPolicy {
    /// The defaults of the committed `config.toml`.
    fn default() -> Self {
        Self {
            duplicate_window: Duration::minutes(120),
            sla_urgent: Duration::minutes(60),
            sla_high: Duration::minutes(240),
            sla_normal: Duration::minutes(1440),
            default_region: "DE".into(),
            max_name_chars: 200,
            max_reason_chars: 500,
            max_notes_chars: 2000,
            max_merged_notes_chars: 8000,
            max_attempts: 3,
        }
    }
}

impl CallbackPolicy {
    /// How long a callback of this priority may take.
    pub fn sla(&self, priority: Priority) -> Duration {
        match priority {
            Priority::Urgent => self.sla_urgent,
            Priority::High => self.sla_high,
            Priority::Normal => self.sla_normal,
        }
    }

    /// Open callbacks created at or after this instant absorb a repeat request made `now`.
    pub fn merge_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.duplicate_window
    }
}

/// What a request to be called back says, before the rules are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackDraft {
    /// Company whose customer asked.
    pub company_id: CompanyId,
    /// Branch that should call back, when known.
    pub branch_id: Option<BranchId>,
    /// The recognised customer, when known.
    pub customer_id: Option<CustomerId>,
    /// Number to call back, already normalised.
    pub phone: E164Number,
    /// Name the caller gave.
    pub name: Option<String>,
    /// Why they want a call back (raw; cleaned by the rules).
    pub reason: String,
    /// Further notes (raw; cleaned by the rules, newlines kept).
    pub notes: Option<String>,
    /// A priority the requester asked for; counts like [`PriorityFacts::given`] (see
    /// [`PriorityFacts::with_given`]).
    pub priority: Option<Priority>,
    /// Language to call back in.
    pub language: Option<Language>,
    /// The call the request came from.
    pub source_call_id: Option<CallId>,
    /// A time the caller asked to be called at.
    pub scheduled_for: Option<DateTime<Utc>>,
}

impl CallbackDraft {
    /// Fills what the store knows about the caller and the draft lacks: customer id and name.
    pub fn with_customer(mut self, customer: Option<&Customer>) -> Self {
        if let Some(customer) = customer {
            self.customer_id = self.customer_id.or(Some(customer.id));
            if self.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                self.name = customer.name.clone();
            }
        }
        self
    }
}

/// What the priority of a callback is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriorityFacts {
    /// A priority someone asked for explicitly (operator, agent).
    pub given: Option<Priority>,
    /// The customer is a VIP.
    pub vip: bool,
    /// The caller's words say it is urgent (German or English; detected by the caller of
    /// these rules, e.g. with `extraction::mentions_urgency`).
    pub urgent_words: bool,
    /// Bookings that failed for this customer so far.
    pub failed_bookings: u32,
}

impl PriorityFacts {
    /// The facts for a caller: VIP status and failed bookings come from the customer record.
    pub fn for_customer(
        customer: Option<&Customer>,
        given: Option<Priority>,
        urgent_words: bool,
    ) -> Self {
        Self {
            given,
            vip: customer.is_some_and(|c| c.vip),
            urgent_words,
            failed_bookings: customer.map_or(0, |c| c.failed_booking_count),
        }
    }

    /// The facts with `also_given` counted as given too; the higher of the two given
    /// priorities wins, so one source of a priority can never lower another's.
    pub fn with_given(self, also_given: Option<Priority>) -> Self {
        let given = match (self.given, also_given) {
            (Some(a), Some(b)) => Some(higher(a, b)),
            (a, b) => a.or(b),
        };
        Self { given, ..self }
    }
}

/// More failed bookings than this make a callback high priority.
pub const FAILED_BOOKINGS_BEFORE_HIGH: u32 = 2;

/// The priority of a callback: the highest of the priority that was given and the one the
/// facts call for (VIP → urgent; urgent words or more than two failed bookings → high; else
/// normal).
///
/// A given priority can raise but never lower the computed one: an operator who files a VIP's
/// request as "normal" has most likely not looked, and the cost of calling a VIP back too late
/// is higher than that of calling someone back too early.
pub fn compute_priority(facts: &PriorityFacts) -> Priority {
    let computed = if facts.vip {
        Priority::Urgent
    } else if facts.urgent_words || facts.failed_bookings > FAILED_BOOKINGS_BEFORE_HIGH {
        Priority::High
    } else {
        Priority::Normal
    };
    higher(computed, facts.given.unwrap_or(Priority::Normal))
}

fn higher(a: Priority, b: Priority) -> Priority {
    if b.rank() > a.rank() {
        b
    } else {
        a
    }
}

/// When the SLA clock of a callback starts: at `opened`, or at the time the caller asked to be
/// called if that is later (a time in the past does not make the callback overdue at once).
pub fn sla_start(opened: DateTime<Utc>, scheduled_for: Option<DateTime<Utc>>) -> DateTime<Utc> {
    scheduled_for.map_or(opened, |at| at.max(opened))
}

/// The deadline of a callback of `priority` whose SLA clock starts at `start`.
pub fn due_at(priority: Priority, start: DateTime<Utc>, policy: &CallbackPolicy) -> DateTime<Utc> {
    start + policy.sla(priority)
}

/// Cleans one line of free text: control characters become spaces (so `a\nb` stays two
/// words), invisible direction overrides are dropped, runs of spaces collapse, the ends are
/// trimmed, and the result is cut to `max_chars` characters (not bytes, so no character is
/// ever split).
pub fn clean_text(raw: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(max_chars.saturating_mul(4)));
    for c in raw.chars() {
        if is_invisible_override(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    bound(out.trim_end(), max_chars)
}

/// Cleans multi-line free text like [`clean_text`], but keeps line breaks (`\r\n` and `\r`
/// become `\n`) and trims each line, so notes keep their shape and nothing else survives.
pub fn clean_notes(raw: &str, max_chars: usize) -> String {
    let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = normalised
        .split('\n')
        .map(|line| clean_text(line, usize::MAX))
        .collect();
    bound(lines.join("\n").trim(), max_chars)
}

/// Unicode format characters that reorder or hide text on display ("Trojan Source"); they have
/// no place in a name or a note an operator reads.
fn is_invisible_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
}

fn bound(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text[..cut].trim_end().to_owned(),
        None => text.to_owned(),
    }
}

fn clean_optional(raw: Option<&str>, clean: impl Fn(&str) -> String) -> Option<String> {
    raw.map(clean).filter(|s| !s.is_empty())
}

/// A new, pending callback from a draft. `priority` comes from [`compute_priority`]; `id` is
/// passed in so this stays a pure function.
pub fn new_callback(
    id: CallbackId,
    draft: &CallbackDraft,
    priority: Priority,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> CallbackRequest {
    CallbackRequest {
        id,
        company_id: draft.company_id,
        branch_id: draft.branch_id,
        customer_id: draft.customer_id,
        phone: draft.phone.clone(),
        name: clean_optional(draft.name.as_deref(), |n| {
            clean_text(n, policy.max_name_chars)
        }),
        reason: clean_text(&draft.reason, policy.max_reason_chars),
        notes: clean_optional(draft.notes.as_deref(), |n| {
            clean_notes(n, policy.max_notes_chars)
        }),
        priority,
        status: CallbackStatus::Pending,
        assigned_staff_id: None,
        assignment_reason: None,
        language: draft.language,
        source_call_id: draft.source_call_id.clone(),
        scheduled_for: draft.scheduled_for,
        due_at: due_at(priority, sla_start(now, draft.scheduled_for), policy),
        attempts: 0,
        escalation_level: 0,
        version: 1,
        created_at: now,
        updated_at: now,
        assigned_at: None,
        contacted_at: None,
        completed_at: None,
    }
}

/// The open callback `existing` after a repeat request `draft` of `priority` arrived `now`.
///
/// The priority is raised when the new one is higher, never lowered; when raised, the deadline
/// moves to what the new priority allows counted from `now` (the moment we learnt it was more
/// urgent), if that is earlier. The repeat request is appended to the notes under a timestamp
/// line; name, customer, branch, language and requested time are filled where missing;
/// everything the callback already has (assignee, status, attempts, source call) is kept.
pub fn merge(
    existing: &CallbackRequest,
    draft: &CallbackDraft,
    priority: Priority,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> CallbackRequest {
    let mut merged = existing.clone();
    if priority.rank() > existing.priority.rank() {
        merged.priority = priority;
        let raised_due = due_at(priority, sla_start(now, existing.scheduled_for), policy);
        merged.due_at = existing.due_at.min(raised_due);
    }
    merged.notes = Some(append_note(existing.notes.as_deref(), draft, policy, now));
    if merged.name.is_none() {
        merged.name = clean_optional(draft.name.as_deref(), |n| {
            clean_text(n, policy.max_name_chars)
        });
    }
    merged.customer_id = existing.customer_id.or(draft.customer_id);
    merged.branch_id = existing.branch_id.or(draft.branch_id);
    merged.language = existing.language.or(draft.language);
    merged.scheduled_for = existing.scheduled_for.or(draft.scheduled_for);
    merged.version = existing.version + 1;
    merged.updated_at = now;
    merged
}

/// The notes with the repeat request appended under a `[YYYY-MM-DD HH:MM UTC]` line.
fn append_note(
    notes: Option<&str>,
    draft: &CallbackDraft,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> String {
    let reason = clean_text(&draft.reason, policy.max_reason_chars);
    let mut entry = format!("[{} UTC] repeat request", now.format("%Y-%m-%d %H:%M"));
    if !reason.is_empty() {
        entry.push_str(": ");
        entry.push_str(&reason);
    }
    if let Some(extra) = clean_optional(draft.notes.as_deref(), |n| {
        clean_notes(n, policy.max_notes_chars)
    }) {
        entry.push('\n');
        entry.push_str(&extra);
    }
    append_entry(notes, &entry, policy)
}

/// One step in the life of a callback, as an operator (or the SLA monitor) takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackAction {
    /// Make `staff` responsible (also hands an assigned callback over to someone else).
    Assign {
        /// Who is to call back.
        staff: StaffId,
        /// Why, or anything to hand over.
        note: Option<String>,
    },
    /// The customer was reached.
    Contact {
        /// What was said.
        note: Option<String>,
    },
    /// A call back failed.
    Attempt {
        /// How it failed.
        outcome: AttemptOutcome,
        /// Anything worth keeping.
        note: Option<String>,
    },
    /// The matter is resolved.
    Complete {
        /// How.
        note: Option<String>,
    },
    /// Withdrawn (the customer no longer needs it, it was a mistake, …).
    Cancel {
        /// Why.
        note: Option<String>,
    },
    /// Past its deadline without contact (taken by the SLA monitor, never by an operator).
    Expire,
}

impl CallbackAction {
    /// The action's name, as in the API path (`assign`, `contact`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Assign { .. } => "assign",
            Self::Contact { .. } => "contact",
            Self::Attempt { .. } => "attempt",
            Self::Complete { .. } => "complete",
            Self::Cancel { .. } => "cancel",
            Self::Expire => "expire",
        }
    }

    fn note(&self) -> Option<&str> {
        match self {
            Self::Assign { note, .. }
            | Self::Contact { note }
            | Self::Attempt { note, .. }
            | Self::Complete { note }
            | Self::Cancel { note } => note.as_deref(),
            Self::Expire => None,
        }
    }
}

/// Why [`transition`] refused a step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The step is not allowed from the callback's state.
    #[error("cannot {action} a callback that is {from}")]
    NotAllowed {
        /// The step asked for.
        action: &'static str,
        /// The state the callback is in.
        from: CallbackStatus,
    },
    /// Only a callback past its deadline expires.
    #[error("the callback is not due until {due_at}")]
    NotDue {
        /// Its deadline.
        due_at: DateTime<Utc>,
    },
}

/// The callback after `action`, taken by `actor_staff` (when a person acts) at `now`.
///
/// The lifecycle (any other step from any other state is [`TransitionError::NotAllowed`]):
///
/// | step       | from                          | to                                       |
/// |------------|-------------------------------|------------------------------------------|
/// | `assign`   | pending, assigned             | assigned (a reassignment hands it over)  |
/// | `contact`  | assigned                      | contacted                                |
/// | `attempt`  | assigned                      | assigned, or unreachable (see below)     |
/// | `complete` | assigned, contacted           | completed                                |
/// | `cancel`   | pending, assigned, contacted  | cancelled                                |
/// | `expire`   | pending, assigned, past due   | expired                                  |
///
/// Contact-center practice: someone must own a callback before calling, so `contact` and
/// `attempt` need an assignee; `complete` is allowed straight from assigned because matters
/// also resolve without our call (the customer came by, called in, booked online). A contacted
/// callback is not reassigned (whoever spoke to the customer finishes it; cancel and reopen
/// otherwise), does not record failed attempts and never expires. Failed attempts count up;
/// the `max_attempts`-th closes the callback as unreachable, and a wrong number closes it at
/// once (there is no right number to try again).
///
/// Every step bumps the version, sets `updated_at` and appends a `[YYYY-MM-DD HH:MM UTC]` line
/// naming it (and the note, if any) to the notes, bounded like merged notes. Assigning stamps
/// `assigned_at` the first time, contact `contacted_at`, and every closing step
/// `completed_at` (the time it was closed).
pub fn transition(
    callback: &CallbackRequest,
    action: &CallbackAction,
    actor_staff: Option<StaffId>,
    now: DateTime<Utc>,
    policy: &CallbackPolicy,
) -> Result<CallbackRequest, TransitionError> {
    use CallbackStatus::{
        Assigned, Cancelled, Completed, Contacted, Expired, Pending, Unreachable,
    };
    let from = callback.status;
    let refuse = || TransitionError::NotAllowed {
        action: action.name(),
        from,
    };
    let mut next = callback.clone();
    let what = match action {
        CallbackAction::Assign { staff, .. } => {
            if !matches!(from, Pending | Assigned) {
                return Err(refuse());
            }
            next.status = Assigned;
            next.assigned_staff_id = Some(*staff);
            next.assignment_reason = Some("assigned manually".into());
            next.assigned_at = callback.assigned_at.or(Some(now));
            format!("assigned to {staff}")
        }
        CallbackAction::Contact { .. } => {
            if from != Assigned {
                return Err(refuse());
            }
            next.status = Contacted;
            next.contacted_at = Some(now);
            "contacted".to_owned()
        }
        CallbackAction::Attempt { outcome, .. } => {
            if from != Assigned {
                return Err(refuse());
            }
            next.attempts = callback.attempts.saturating_add(1);
            let closes =
                *outcome == AttemptOutcome::WrongNumber || next.attempts >= policy.max_attempts;
            let mut what = format!(
                "attempt {} of {} failed: {}",
                next.attempts,
                policy.max_attempts,
                outcome.as_str().replace('_', " ")
            );
            if closes {
                next.status = Unreachable;
                next.completed_at = Some(now);
                what.push_str("; closed as unreachable");
            }
            what
        }
        CallbackAction::Complete { .. } => {
            if !matches!(from, Assigned | Contacted) {
                return Err(refuse());
            }
            next.status = Completed;
            next.completed_at = Some(now);
            "completed".to_owned()
        }
        CallbackAction::Cancel { .. } => {
            if !from.is_open() {
                return Err(refuse());
            }
            next.status = Cancelled;
            next.completed_at = Some(now);
            "cancelled".to_owned()
        }
        CallbackAction::Expire => {
            if !matches!(from, Pending | Assigned) || callback.contacted_at.is_some() {
                return Err(refuse());
            }
            if now <= callback.due_at {
                return Err(TransitionError::NotDue {
                    due_at: callback.due_at,
                });
            }
            next.status = Expired;
            next.completed_at = Some(now);
            "expired without contact".to_owned()
        }
    };
    let by = actor_staff.map(|s| format!(" by {s}")).unwrap_or_default();
    let note = clean_optional(action.note(), |n| clean_notes(n, policy.max_notes_chars));
    let mut entry = format!("[{} UTC] {what}{by}", now.format("%Y-%m-%d %H:%M"));
    if let Some(note) = note {
        entry.push_str(":\n");
        entry.push_str(&note);
    }
    next.notes = Some(append_entry(callback.notes.as_deref(), &entry, policy));
    next.version = callback.version + 1;
    next.updated_at = now;
    Ok(next)
}

/// `entry` appended to the notes, bounded to `max_merged_notes_chars`: the oldest notes (the
/// original request) are the most valuable to keep, so what no longer fits is cut at the end.
fn append_entry(notes: Option<&str>, entry: &str, policy: &CallbackPolicy) -> String {
    let combined = match notes.filter(|n| !n.is_empty()) {
        Some(before) => format!("{before}\n{entry}"),
        None => entry.to_owned(),
    };
    clean_notes(&combined, policy.max_merged_notes_chars)
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

    fn draft(reason: &str) -> CallbackDraft {
        CallbackDraft {
            company_id: CompanyId::new(),
            branch_id: None,
            customer_id: None,
            phone: E164Number::parse("+4915123456789").expect("valid"),
            name: None,
            reason: reason.into(),
            notes: None,
            priority: None,
            language: None,
            source_call_id: None,
            scheduled_for: None,
        }
    }

    fn facts() -> PriorityFacts {
        PriorityFacts::default()
    }

    #[test]
    fn the_default_policy_matches_the_committed_configuration() {
        let p = CallbackPolicy::default();
        assert_eq!(p.duplicate_window, Duration::hours(2));
        assert_eq!(p.sla(Priority::Urgent), Duration::hours(1));
        assert_eq!(p.sla(Priority::High), Duration::hours(4));
        assert_eq!(p.sla(Priority::Normal), Duration::hours(24));
    }

    #[test]
    fn vip_customers_are_urgent_whatever_else_is_said() {
        let vip = PriorityFacts {
            vip: true,
            given: Some(Priority::Normal),
            ..facts()
        };
        assert_eq!(compute_priority(&vip), Priority::Urgent);
    }

    #[test]
    fn urgent_words_and_more_than_two_failed_bookings_are_high() {
        let words = PriorityFacts {
            urgent_words: true,
            ..facts()
        };
        assert_eq!(compute_priority(&words), Priority::High);
        let two = PriorityFacts {
            failed_bookings: 2,
            ..facts()
        };
        assert_eq!(compute_priority(&two), Priority::Normal);
        let three = PriorityFacts {
            failed_bookings: 3,
            ..facts()
        };
        assert_eq!(compute_priority(&three), Priority::High);
    }

    #[test]
    fn a_given_priority_raises_but_never_lowers() {
        assert_eq!(compute_priority(&facts()), Priority::Normal);
        let given_urgent = PriorityFacts {
            given: Some(Priority::Urgent),
            ..facts()
        };
        assert_eq!(compute_priority(&given_urgent), Priority::Urgent);
        let given_normal_but_urgent_words = PriorityFacts {
            given: Some(Priority::Normal),
            urgent_words: true,
            ..facts()
        };
        assert_eq!(
            compute_priority(&given_normal_but_urgent_words),
            Priority::High
        );
    }

    #[test]
    fn the_higher_of_two_given_priorities_counts() {
        let high = PriorityFacts {
            given: Some(Priority::High),
            ..facts()
        };
        assert_eq!(
            high.with_given(Some(Priority::Normal)).given,
            Some(Priority::High)
        );
        assert_eq!(
            high.with_given(Some(Priority::Urgent)).given,
            Some(Priority::Urgent)
        );
        assert_eq!(high.with_given(None).given, Some(Priority::High));
        assert_eq!(
            facts().with_given(Some(Priority::Normal)).given,
            Some(Priority::Normal)
        );
    }

    #[test]
    fn facts_for_a_customer_read_vip_and_failed_bookings() {
        let customer = Customer {
            id: CustomerId::new(),
            company_id: CompanyId::new(),
            phone: E164Number::parse("+4915123456789").expect("valid"),
            name: Some("Dr. Ingrid Vogel".into()),
            external_ref: None,
            preferred_language: None,
            preferred_staff_id: None,
            vip: true,
            failed_booking_count: 4,
        };
        let f = PriorityFacts::for_customer(Some(&customer), None, false);
        assert!(f.vip);
        assert_eq!(f.failed_bookings, 4);
        assert_eq!(
            PriorityFacts::for_customer(None, Some(Priority::High), true),
            PriorityFacts {
                given: Some(Priority::High),
                vip: false,
                urgent_words: true,
                failed_bookings: 0
            }
        );
        let d = draft("x").with_customer(Some(&customer));
        assert_eq!(d.customer_id, Some(customer.id));
        assert_eq!(d.name.as_deref(), Some("Dr. Ingrid Vogel"));
    }

    #[test]
    fn clean_text_strips_controls_collapses_spaces_and_bounds_by_characters() {
        assert_eq!(
            clean_text("  Bitte\u{0}\u{7} zurück\nrufen\t ", 100),
            "Bitte zurück rufen"
        );
        assert_eq!(clean_text("a\u{202E}b\u{2066}c\u{FEFF}", 100), "abc");
        assert_eq!(clean_text("\u{1b}[31mred\u{1b}[0m", 100), "[31mred [0m");
        // Characters, not bytes: ü is two bytes and is never split.
        assert_eq!(clean_text("üüüüü", 3), "üüü");
        assert_eq!(clean_text("ab cd", 3), "ab");
        assert_eq!(clean_text("\n\t\r", 10), "");
    }

    #[test]
    fn clean_notes_keeps_line_breaks_and_nothing_else() {
        assert_eq!(
            clean_notes("  erste Zeile \r\nzweite\u{0}\tZeile\rdritte \n", 100),
            "erste Zeile\nzweite Zeile\ndritte"
        );
        assert_eq!(clean_notes("äöü\nß", 5), "äöü\nß");
        assert_eq!(clean_notes("äöü\nßß", 5), "äöü\nß");
    }

    #[test]
    fn the_deadline_follows_the_priority_from_the_later_of_now_and_the_requested_time() {
        let p = CallbackPolicy::default();
        let d = draft("Termin");
        let cb = new_callback(CallbackId::new(), &d, Priority::High, &p, at(8, 0));
        assert_eq!(cb.due_at, at(12, 0));
        assert_eq!(cb.status, CallbackStatus::Pending);
        assert_eq!(cb.version, 1);
        let later = CallbackDraft {
            scheduled_for: Some(at(14, 0)),
            ..d.clone()
        };
        let cb = new_callback(CallbackId::new(), &later, Priority::Urgent, &p, at(8, 0));
        assert_eq!(cb.due_at, at(15, 0));
        let past = CallbackDraft {
            scheduled_for: Some(at(6, 0)),
            ..d
        };
        let cb = new_callback(CallbackId::new(), &past, Priority::Urgent, &p, at(8, 0));
        assert_eq!(cb.due_at, at(9, 0));
    }

    #[test]
    fn a_new_callback_holds_only_cleaned_bounded_text() {
        let p = CallbackPolicy {
            max_reason_chars: 10,
            ..CallbackPolicy::default()
        };
        let d = CallbackDraft {
            name: Some(" \u{0} ".into()),
            notes: Some("Zeile 1\r\n\u{7}Zeile 2".into()),
            ..draft("Rückruf\u{0} wegen Schmerzen")
        };
        let cb = new_callback(CallbackId::new(), &d, Priority::Normal, &p, at(8, 0));
        assert_eq!(cb.reason, "Rückruf we");
        assert_eq!(
            cb.name, None,
            "a name of only control characters is no name"
        );
        assert_eq!(cb.notes.as_deref(), Some("Zeile 1\nZeile 2"));
    }

    #[test]
    fn merging_raises_priority_moves_the_deadline_and_appends_a_note() {
        let p = CallbackPolicy::default();
        let first = draft("Termin verschieben");
        let existing = new_callback(CallbackId::new(), &first, Priority::Normal, &p, at(8, 0));
        let again = CallbackDraft {
            name: Some("Jürgen Weiß".into()),
            notes: Some("Hat starke Schmerzen".into()),
            ..draft("Schmerzen, dringend")
        };
        let merged = merge(&existing, &again, Priority::High, &p, at(9, 0));
        assert_eq!(merged.id, existing.id);
        assert_eq!(merged.priority, Priority::High);
        assert_eq!(merged.due_at, at(13, 0), "4 h from when it became high");
        assert_eq!(merged.name.as_deref(), Some("Jürgen Weiß"));
        assert_eq!(
            merged.notes.as_deref(),
            Some(
                "[2030-06-03 09:00 UTC] repeat request: Schmerzen, dringend\nHat starke Schmerzen"
            )
        );
        assert_eq!(
            merged.reason, "Termin verschieben",
            "the reason stays the first one"
        );
        assert_eq!(merged.version, existing.version + 1);
        assert_eq!(merged.updated_at, at(9, 0));
        assert_eq!(merged.created_at, existing.created_at);

        let third = merge(&merged, &draft("nochmal"), Priority::Normal, &p, at(9, 30));
        assert_eq!(third.priority, Priority::High, "never lowered");
        assert_eq!(
            third.due_at, merged.due_at,
            "deadline unchanged without a raise"
        );
        assert_eq!(
            third.name.as_deref(),
            Some("Jürgen Weiß"),
            "a known name is kept"
        );
        assert!(third
            .notes
            .as_deref()
            .is_some_and(|n| n.ends_with("\n[2030-06-03 09:30 UTC] repeat request: nochmal")));
    }

    #[test]
    fn raising_never_moves_a_deadline_later() {
        let p = CallbackPolicy {
            sla_normal: Duration::minutes(30),
            ..CallbackPolicy::default()
        };
        let existing = new_callback(
            CallbackId::new(),
            &draft("x"),
            Priority::Normal,
            &p,
            at(8, 0),
        );
        let merged = merge(&existing, &draft("y"), Priority::High, &p, at(8, 10));
        assert_eq!(merged.due_at, at(8, 30));
    }

    #[test]
    fn merged_notes_stay_bounded() {
        let p = CallbackPolicy {
            max_merged_notes_chars: 60,
            ..CallbackPolicy::default()
        };
        let mut cb = new_callback(
            CallbackId::new(),
            &draft("x"),
            Priority::Normal,
            &p,
            at(8, 0),
        );
        for minute in 0..20 {
            cb = merge(
                &cb,
                &draft("noch einmal"),
                Priority::Normal,
                &p,
                at(9, minute),
            );
        }
        let notes = cb.notes.unwrap_or_default();
        assert!(notes.chars().count() <= 60, "{notes}");
        assert!(notes.starts_with("[2030-06-03 09:00 UTC]"), "{notes}");
    }

    fn pending() -> CallbackRequest {
        new_callback(
            CallbackId::new(),
            &draft("Termin"),
            Priority::Normal,
            &CallbackPolicy::default(),
            at(8, 0),
        )
    }

    fn step(
        cb: &CallbackRequest,
        action: CallbackAction,
        minute: u32,
    ) -> Result<CallbackRequest, TransitionError> {
        transition(cb, &action, None, at(9, minute), &CallbackPolicy::default())
    }

    fn assign(staff: StaffId) -> CallbackAction {
        CallbackAction::Assign { staff, note: None }
    }

    fn attempt(outcome: AttemptOutcome) -> CallbackAction {
        CallbackAction::Attempt {
            outcome,
            note: None,
        }
    }

    #[test]
    fn a_callback_goes_from_pending_through_assigned_and_contacted_to_completed() {
        let staff = StaffId::new();
        let cb = pending();
        let assigned = transition(
            &cb,
            &CallbackAction::Assign {
                staff,
                note: Some("  bitte heute\u{0} ".into()),
            },
            Some(StaffId::new()),
            at(9, 0),
            &CallbackPolicy::default(),
        )
        .expect("pending → assigned");
        assert_eq!(assigned.status, CallbackStatus::Assigned);
        assert_eq!(assigned.assigned_staff_id, Some(staff));
        assert_eq!(assigned.assigned_at, Some(at(9, 0)));
        assert_eq!(assigned.version, cb.version + 1);
        assert_eq!(assigned.updated_at, at(9, 0));
        let notes = assigned.notes.clone().unwrap_or_default();
        assert!(
            notes.starts_with(&format!("[2030-06-03 09:00 UTC] assigned to {staff} by ")),
            "{notes}"
        );
        assert!(notes.ends_with(":\nbitte heute"), "{notes}");

        let contacted = step(&assigned, CallbackAction::Contact { note: None }, 5)
            .expect("assigned → contacted");
        assert_eq!(contacted.status, CallbackStatus::Contacted);
        assert_eq!(contacted.contacted_at, Some(at(9, 5)));
        assert_eq!(contacted.assigned_at, Some(at(9, 0)), "kept");
        let done = step(
            &contacted,
            CallbackAction::Complete {
                note: Some("Termin gebucht".into()),
            },
            10,
        )
        .expect("contacted → completed");
        assert_eq!(done.status, CallbackStatus::Completed);
        assert_eq!(done.completed_at, Some(at(9, 10)));
        assert_eq!(done.version, cb.version + 3);
        assert!(done
            .notes
            .as_deref()
            .is_some_and(|n| n.ends_with("\n[2030-06-03 09:10 UTC] completed:\nTermin gebucht")));
    }

    #[test]
    fn illegal_steps_are_refused_naming_the_state() {
        let cb = pending();
        for action in [
            CallbackAction::Contact { note: None },
            CallbackAction::Complete { note: None },
            attempt(AttemptOutcome::Busy),
        ] {
            let name = action.name();
            assert_eq!(
                step(&cb, action, 0),
                Err(TransitionError::NotAllowed {
                    action: name,
                    from: CallbackStatus::Pending
                })
            );
        }
        let contacted = step(
            &step(&cb, assign(StaffId::new()), 0).expect("assigned"),
            CallbackAction::Contact { note: None },
            1,
        )
        .expect("contacted");
        assert!(step(&contacted, assign(StaffId::new()), 2).is_err());
        assert!(step(&contacted, attempt(AttemptOutcome::NoAnswer), 2).is_err());
        assert!(step(&contacted, CallbackAction::Contact { note: None }, 2).is_err());
        let done = step(&contacted, CallbackAction::Complete { note: None }, 3).expect("done");
        for action in [
            assign(StaffId::new()),
            CallbackAction::Cancel { note: None },
            CallbackAction::Complete { note: None },
            CallbackAction::Expire,
        ] {
            let refused = step(&done, action, 4).expect_err("closed");
            assert_eq!(
                refused.to_string(),
                format!(
                    "cannot {} a callback that is completed",
                    match refused {
                        TransitionError::NotAllowed { action, .. } => action,
                        TransitionError::NotDue { .. } => "?",
                    }
                )
            );
        }
    }

    #[test]
    fn completing_straight_from_assigned_and_reassigning_are_allowed() {
        let (first, second) = (StaffId::new(), StaffId::new());
        let assigned = step(&pending(), assign(first), 0).expect("assigned");
        let handed_over = step(&assigned, assign(second), 5).expect("reassigned");
        assert_eq!(handed_over.assigned_staff_id, Some(second));
        assert_eq!(handed_over.assigned_at, Some(at(9, 0)), "first assignment");
        let done = step(&handed_over, CallbackAction::Complete { note: None }, 6)
            .expect("assigned → completed");
        assert_eq!(done.contacted_at, None);
    }

    #[test]
    fn any_open_callback_can_be_cancelled() {
        let cb = pending();
        let assigned = step(&cb, assign(StaffId::new()), 0).expect("assigned");
        let contacted =
            step(&assigned, CallbackAction::Contact { note: None }, 1).expect("contacted");
        for open in [&cb, &assigned, &contacted] {
            let cancelled =
                step(open, CallbackAction::Cancel { note: None }, 2).expect("cancelled");
            assert_eq!(cancelled.status, CallbackStatus::Cancelled);
            assert_eq!(cancelled.completed_at, Some(at(9, 2)));
        }
        let cancelled = step(&cb, CallbackAction::Cancel { note: None }, 2).expect("cancelled");
        assert!(step(&cancelled, CallbackAction::Cancel { note: None }, 3).is_err());
    }

    #[test]
    fn failed_attempts_count_up_and_the_last_allowed_one_closes_as_unreachable() {
        let policy = CallbackPolicy::default();
        assert_eq!(policy.max_attempts, 3);
        let mut cb = step(&pending(), assign(StaffId::new()), 0).expect("assigned");
        for (n, outcome) in [AttemptOutcome::NoAnswer, AttemptOutcome::Busy]
            .into_iter()
            .enumerate()
        {
            cb = step(&cb, attempt(outcome), 1).expect("attempt");
            assert_eq!(cb.attempts, n as u32 + 1);
            assert_eq!(cb.status, CallbackStatus::Assigned);
            assert_eq!(cb.completed_at, None);
        }
        let closed = step(&cb, attempt(AttemptOutcome::NoAnswer), 2).expect("third");
        assert_eq!(closed.status, CallbackStatus::Unreachable);
        assert_eq!(closed.attempts, 3);
        assert_eq!(closed.completed_at, Some(at(9, 2)));
        assert!(closed.notes.as_deref().is_some_and(|n| n.ends_with(
            "[2030-06-03 09:02 UTC] attempt 3 of 3 failed: no answer; closed as unreachable"
        )));
        assert!(step(&closed, attempt(AttemptOutcome::NoAnswer), 3).is_err());

        let one = CallbackPolicy {
            max_attempts: 1,
            ..CallbackPolicy::default()
        };
        let assigned = step(&pending(), assign(StaffId::new()), 0).expect("assigned");
        let closed = transition(
            &assigned,
            &attempt(AttemptOutcome::Busy),
            None,
            at(9, 1),
            &one,
        )
        .expect("attempt");
        assert_eq!(closed.status, CallbackStatus::Unreachable);
    }

    #[test]
    fn a_wrong_number_closes_as_unreachable_at_once() {
        let assigned = step(&pending(), assign(StaffId::new()), 0).expect("assigned");
        let closed = step(&assigned, attempt(AttemptOutcome::WrongNumber), 1).expect("attempt");
        assert_eq!(closed.status, CallbackStatus::Unreachable);
        assert_eq!(closed.attempts, 1);
    }

    #[test]
    fn only_uncontacted_callbacks_past_their_deadline_expire() {
        let cb = pending();
        let early = transition(
            &cb,
            &CallbackAction::Expire,
            None,
            cb.due_at,
            &CallbackPolicy::default(),
        );
        assert_eq!(early, Err(TransitionError::NotDue { due_at: cb.due_at }));
        let late = cb.due_at + Duration::minutes(1);
        let expired = transition(
            &cb,
            &CallbackAction::Expire,
            None,
            late,
            &CallbackPolicy::default(),
        )
        .expect("expired");
        assert_eq!(expired.status, CallbackStatus::Expired);
        assert_eq!(expired.completed_at, Some(late));
        let contacted = step(
            &step(&cb, assign(StaffId::new()), 0).expect("assigned"),
            CallbackAction::Contact { note: None },
            1,
        )
        .expect("contacted");
        assert!(transition(
            &contacted,
            &CallbackAction::Expire,
            None,
            late,
            &CallbackPolicy::default()
        )
        .is_err());
    }

    #[test]
    fn lifecycle_notes_stay_bounded() {
        let p = CallbackPolicy {
            max_merged_notes_chars: 80,
            max_attempts: 1000,
            ..CallbackPolicy::default()
        };
        let mut cb = step(&pending(), assign(StaffId::new()), 0).expect("assigned");
        for minute in 0..30 {
            cb = transition(
                &cb,
                &CallbackAction::Attempt {
                    outcome: AttemptOutcome::Busy,
                    note: Some("besetzt ".repeat(20)),
                },
                None,
                at(10, minute),
                &p,
            )
            .expect("attempt");
        }
        let notes = cb.notes.unwrap_or_default();
        assert!(notes.chars().count() <= 80, "{notes}");
        assert!(
            notes.starts_with("[2030-06-03 09:00 UTC] assigned"),
            "{notes}"
        );
    }
}
