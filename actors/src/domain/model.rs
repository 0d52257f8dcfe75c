//! The entities callflow keeps: companies, branches, numbers, staff, services, customers,
//! appointments, calls and callback requests. Plain data with validated field types.

use super::ids::*;
use super::language::Language;
use super::phone::E164Number;
use super::schedule::{DateOverride, DayHours, WeeklyHours};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Declares a string-backed enum with `as_str`, `Display` and `FromStr`, so the same spelling
/// is used in JSON, in the database and in log lines.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised spelling.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

/// A stored or submitted value that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct UnknownValue {
    /// The enum's name.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
}

/// A business using callflow (a tenant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Company {
    /// Identity.
    pub id: CompanyId,
    /// Display name ("Zahnarztpraxis Dr. Müller").
    pub name: String,
    /// Stable, URL-safe handle.
    pub slug: String,
    /// Where calls go when nothing better is known.
    pub default_branch_id: Option<BranchId>,
}

/// One location of a company.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// Identity.
    pub id: BranchId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Display name ("Praxis Berlin-Mitte").
    pub name: String,
    /// Stable handle, also accepted as an explicit routing hint (e.g. `x-tenant` SIP header).
    pub slug: String,
    /// Postal address, read out to callers.
    pub address: String,
    /// Local time zone; all hours are wall-clock times here.
    pub time_zone: Tz,
    /// Languages spoken at the branch; the first is the default.
    pub languages: Vec<Language>,
    /// Whether the branch takes calls and bookings.
    pub active: bool,
    /// Where its calls go while it is inactive.
    pub fallback_branch_id: Option<BranchId>,
    /// E.164 prefixes (e.g. `+4930`) of the area the branch serves.
    pub service_area_prefixes: Vec<String>,
    /// Regular opening hours.
    pub opening_hours: WeeklyHours,
    /// Holidays, closures and special hours.
    pub date_overrides: Vec<DateOverride>,
    /// Retell agent to answer in a given language, when the branch has one per language.
    pub agent_by_language: BTreeMap<Language, String>,
}

impl Branch {
    /// The branch's default language (its first), German when none is configured.
    pub fn default_language(&self) -> Language {
        self.languages.first().copied().unwrap_or(Language::DE)
    }

    /// The opening hours on a local date: a holiday or special day replaces the weekly hours.
    pub fn hours_on(&self, date: NaiveDate) -> &DayHours {
        self.date_overrides
            .iter()
            .find(|o| o.date == date)
            .map(|o| &o.hours)
            .unwrap_or_else(|| self.opening_hours.on(date.weekday()))
    }
}

/// A dialled number and the branch it reaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// The number callers dial.
    pub number: E164Number,
    /// Owning company.
    pub company_id: CompanyId,
    /// Branch the number reaches; `None` for a company-wide number.
    pub branch_id: Option<BranchId>,
    /// The Retell agent configured on the number, if known.
    pub retell_agent_id: Option<String>,
}

text_enum!(
    /// What a staff member does; managers receive escalations.
    StaffRole {
        /// Treats patients or customers.
        Practitioner = "practitioner",
        /// Supports practitioners (hygienist, assistant).
        Assistant = "assistant",
        /// Front desk: answers callbacks.
        Reception = "reception",
        /// Runs the branch; escalations go here.
        Manager = "manager",
    }
);

/// One staff member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    /// Identity.
    pub id: StaffId,
    /// Branch they work at.
    pub branch_id: BranchId,
    /// Display name ("Dr. Anna Schmidt").
    pub name: String,
    /// What they do.
    pub role: StaffRole,
    /// Skills services may require (e.g. `prophylaxis`).
    pub skills: Vec<String>,
    /// Languages they can serve in.
    pub languages: Vec<Language>,
    /// Regular working hours.
    pub working_hours: WeeklyHours,
    /// Regular breaks, cut out of the working hours.
    pub breaks: WeeklyHours,
    /// Sick days, leave and special hours.
    pub date_overrides: Vec<DateOverride>,
    /// Whether they can be booked and assigned.
    pub active: bool,
    /// Where alerts reach them.
    pub email: Option<String>,
}

impl Staff {
    /// Whether they have every skill `service` needs.
    pub fn performs(&self, service: &Service) -> bool {
        service
            .required_skills
            .iter()
            .all(|skill| self.skills.contains(skill))
    }
}

/// A bookable service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Identity.
    pub id: ServiceId,
    /// Owning company (services are shared by its branches).
    pub company_id: CompanyId,
    /// Name as customers say it ("Professionelle Zahnreinigung").
    pub name: String,
    /// Time with the customer.
    pub duration_minutes: u32,
    /// Preparation time the staff member is blocked before.
    pub buffer_before_minutes: u32,
    /// Clean-up time the staff member is blocked after.
    pub buffer_after_minutes: u32,
    /// Skills a staff member needs to perform it.
    pub required_skills: Vec<String>,
    /// Whether it can be booked.
    pub active: bool,
}

/// A customer, recognised by phone number within a company.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Identity.
    pub id: CustomerId,
    /// Owning company.
    pub company_id: CompanyId,
    /// The number they call from.
    pub phone: E164Number,
    /// Full name, when known.
    pub name: Option<String>,
    /// The company's own reference (e.g. a CRM id "KD-104857").
    pub external_ref: Option<String>,
    /// Language they prefer to be served in.
    pub preferred_language: Option<Language>,
    /// Staff member they prefer.
    pub preferred_staff_id: Option<StaffId>,
    /// VIP customers' callbacks are urgent.
    pub vip: bool,
    /// Bookings that failed for them; many failures raise callback priority.
    pub failed_booking_count: u32,
}

text_enum!(
    /// Where an appointment stands.
    AppointmentStatus {
        /// Confirmed and holding the staff member's time.
        Booked = "booked",
        /// Cancelled; the time is free again.
        Cancelled = "cancelled",
        /// Took place.
        Completed = "completed",
        /// The customer did not come.
        NoShow = "no_show",
    }
);

/// A booked appointment. `starts_at..ends_at` is the customer's time; the staff member is
/// blocked for `blocked_from..blocked_until`, which adds the service's buffers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// Identity.
    pub id: AppointmentId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Branch where it takes place.
    pub branch_id: BranchId,
    /// Who performs it.
    pub staff_id: StaffId,
    /// For whom.
    pub customer_id: CustomerId,
    /// What.
    pub service_id: ServiceId,
    /// Start of the customer's time (UTC).
    pub starts_at: DateTime<Utc>,
    /// End of the customer's time (UTC).
    pub ends_at: DateTime<Utc>,
    /// Start of the staff member's blocked time, including the buffer before.
    pub blocked_from: DateTime<Utc>,
    /// End of the staff member's blocked time, including the buffer after.
    pub blocked_until: DateTime<Utc>,
    /// Where it stands.
    pub status: AppointmentStatus,
    /// The Retell call that booked it.
    pub source_call_id: Option<CallId>,
    /// Key that makes booking idempotent: the same key returns the same appointment.
    pub idempotency_key: Option<String>,
    /// Why this staff member was chosen (stored for operators).
    pub assignment_reason: Option<String>,
    /// Free-text notes from the caller.
    pub notes: Option<String>,
    /// When it was booked.
    pub created_at: DateTime<Utc>,
}

impl Appointment {
    /// True while it blocks the staff member's calendar.
    pub fn is_active(&self) -> bool {
        self.status == AppointmentStatus::Booked
    }
}

text_enum!(
    /// Where a call stands.
    CallStatus {
        /// Routed but not yet started.
        Registered = "registered",
        /// In progress.
        Ongoing = "ongoing",
        /// Hung up.
        Ended = "ended",
        /// Ended and analysed.
        Analyzed = "analyzed",
    }
);

/// One phone call handled by a Retell agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Retell's call id.
    pub id: CallId,
    /// Company it was routed to, if it could be routed.
    pub company_id: Option<CompanyId>,
    /// Branch it was routed to.
    pub branch_id: Option<BranchId>,
    /// Caller.
    pub from_number: Option<E164Number>,
    /// Dialled number.
    pub to_number: Option<E164Number>,
    /// Retell agent that answered.
    pub agent_id: Option<String>,
    /// Language of the conversation.
    pub language: Option<Language>,
    /// Where it stands.
    pub status: CallStatus,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Duration reported by Retell.
    pub duration_ms: Option<i64>,
    /// Why it ended (an open set of strings from Retell).
    pub disconnection_reason: Option<String>,
    /// The conversation as text.
    pub transcript: Option<String>,
    /// Summary from the post-call analysis.
    pub summary: Option<String>,
    /// Sentiment from the post-call analysis ("Positive", "Negative", …).
    pub sentiment: Option<String>,
    /// Whether the analysis judged the call successful.
    pub successful: Option<bool>,
}

impl Call {
    /// A call known only by its id, as first seen.
    pub fn registered(id: CallId) -> Self {
        Self {
            id,
            company_id: None,
            branch_id: None,
            from_number: None,
            to_number: None,
            agent_id: None,
            language: None,
            status: CallStatus::Registered,
            started_at: None,
            ended_at: None,
            duration_ms: None,
            disconnection_reason: None,
            transcript: None,
            summary: None,
            sentiment: None,
            successful: None,
        }
    }
}

/// A webhook event Retell delivered for a call, kept once per dedupe key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// The call it belongs to.
    pub call_id: CallId,
    /// Retell's event name (`call_ended`, …).
    pub event: String,
    /// Unique per logical event: a redelivery carries the same key and is ignored.
    pub dedupe_key: String,
    /// The payload as received.
    pub payload: serde_json::Value,
    /// When we accepted it.
    pub received_at: DateTime<Utc>,
}

text_enum!(
    /// How soon a callback must happen.
    Priority {
        /// Within the normal SLA.
        Normal = "normal",
        /// Sooner.
        High = "high",
        /// As soon as possible.
        Urgent = "urgent",
    }
);

impl Priority {
    /// Sort key: higher is more urgent (queues order by this, then by age).
    pub fn rank(&self) -> i16 {
        match self {
            Priority::Normal => 0,
            Priority::High => 1,
            Priority::Urgent => 2,
        }
    }
}

text_enum!(
    /// Where a callback request stands.
    CallbackStatus {
        /// Waiting for an assignee.
        Pending = "pending",
        /// Someone is responsible.
        Assigned = "assigned",
        /// The customer was reached.
        Contacted = "contacted",
        /// Done.
        Completed = "completed",
        /// Withdrawn.
        Cancelled = "cancelled",
        /// Past its deadline without contact.
        Expired = "expired",
        /// Closed after too many failed attempts.
        Unreachable = "unreachable",
    }
);

impl CallbackStatus {
    /// True while someone still has to act on it.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Pending | Self::Assigned | Self::Contacted)
    }
}

text_enum!(
    /// Why an attempt to call a customer back failed.
    AttemptOutcome {
        /// Nobody picked up.
        NoAnswer = "no_answer",
        /// The line was busy.
        Busy = "busy",
        /// The number does not belong to the customer (closes the callback at once).
        WrongNumber = "wrong_number",
    }
);

/// A request to call a customer back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// Identity.
    pub id: CallbackId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Branch responsible.
    pub branch_id: Option<BranchId>,
    /// Known customer, if recognised.
    pub customer_id: Option<CustomerId>,
    /// Number to call back.
    pub phone: E164Number,
    /// Name the caller gave.
    pub name: Option<String>,
    /// Why they want a call back.
    pub reason: String,
    /// Operator and caller notes.
    pub notes: Option<String>,
    /// How soon.
    pub priority: Priority,
    /// Where it stands.
    pub status: CallbackStatus,
    /// Who is responsible.
    pub assigned_staff_id: Option<StaffId>,
    /// Why that person (stored for operators).
    pub assignment_reason: Option<String>,
    /// Language to call back in.
    pub language: Option<Language>,
    /// The call it came from.
    pub source_call_id: Option<CallId>,
    /// A time the customer asked to be called at; the SLA runs from here when set.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The SLA deadline.
    pub due_at: DateTime<Utc>,
    /// Failed contact attempts so far.
    pub attempts: u32,
    /// Escalation level reached (0 = never escalated).
    pub escalation_level: u32,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: i64,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was first assigned.
    pub assigned_at: Option<DateTime<Utc>>,
    /// When the customer was reached.
    pub contacted_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub completed_at: Option<DateTime<Utc>>,
}

text_enum!(
    /// What an admin API token may do.
    Role {
        /// Their own callbacks only.
        Staff = "staff",
        /// Their branch.
        Manager = "manager",
        /// Their whole company.
        Admin = "admin",
    }
);

/// An admin API token as stored: only its hash, never the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Identity.
    pub id: TokenId,
    /// Company it belongs to; it sees nothing else.
    pub company_id: CompanyId,
    /// What it may do.
    pub role: Role,
    /// The staff member it acts as (staff and managers).
    pub staff_id: Option<StaffId>,
    /// The branch it is limited to (managers and staff; admins see every branch).
    pub branch_id: Option<BranchId>,
    /// A label for people ("front desk laptop").
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub token_hash: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One change made through the admin side, kept for accountability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Company whose data changed.
    pub company_id: CompanyId,
    /// Token that made the change (none for the system itself).
    pub token_id: Option<TokenId>,
    /// What was done (`callback.assign`, …).
    pub action: String,
    /// Kind of thing changed (`callback`, …).
    pub entity_type: String,
    /// Which one.
    pub entity_id: String,
    /// Before, as JSON.
    pub old_value: Option<serde_json::Value>,
    /// After, as JSON.
    pub new_value: Option<serde_json::Value>,
    /// Client address.
    pub ip: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_spellings_round_trip() {
        for s in CallbackStatus::ALL {
            assert_eq!(s.as_str().parse::<CallbackStatus>().as_ref(), Ok(s));
        }
        assert_eq!(
            "later".parse::<Priority>(),
            Err(UnknownValue {
                kind: "Priority",
                value: "later".into()
            })
        );
    }

    #[test]
    fn only_pending_assigned_and_contacted_callbacks_are_open() {
        let open: Vec<_> = CallbackStatus::ALL.iter().filter(|s| s.is_open()).collect();
        assert_eq!(
            open,
            [
                &CallbackStatus::Pending,
                &CallbackStatus::Assigned,
                &CallbackStatus::Contacted
            ]
        );
    }
}
