//! What a caller wants, read out of what they said: the day and time they ask for, the service,
//! the staff member, their name, phone number and e-mail address, and whether they want to book
//! or it is urgent. German and English, as phone callers speak and as speech recognition writes it.
//!
//! Why the rules are what they are:
//! - Relative words ("morgen", "next Monday", "nächste Woche") mean nothing without a reference
//!   day, so every date function takes `today`: the call's *local* date in the branch's time zone.
//!   Nothing here reads the clock.
//! - Callers correct themselves ("Donnerstag, nein, lieber Freitag"), so when a text mentions
//!   several dates, times, staff members, names or numbers, the last mention wins.
//! - Only the caller's words are wishes: the agent reads out offers and alternatives. [`extract`]
//!   therefore looks at the caller's lines only (see [`caller_lines`]).
//! - A small tokenizer (lower case, umlauts and accents folded) and small word tables, no regular
//!   expressions: every scan is linear in the text; a 2 KB transcript takes a few tens of µs.
//!
//! Decisions callers must know:
//! - A bare weekday ("Donnerstag", "on Thursday", also "nächsten Donnerstag", "next Thursday")
//!   is its next occurrence strictly after today: said on a Tuesday, "Dienstag" is in 7 days.
//!   A weekday next to a week ("Mittwoch nächste Woche") is that day of that week.
//! - Dates without a year that would lie in the past are next year's; explicit years are kept.
//!   A day alone ("am 17.", "the 3rd") is the next such day of this or a following month.
//! - Clock hours 1–6 said without "morgens", "a.m." or a 24-hour form mean the afternoon
//!   ("halb drei" is 14:30): practices are closed at 3 a.m. Seven o'clock stays 07:00.
//!   Function arguments ([`parse_time_argument`]) are read literally, without that rule.
//! - A staff name that fits several active staff members equally well is ambiguous: `None`.
//!   A service that cannot be told from another one by score is ambiguous too.
//! - Inactive services and staff members are never matched.

mod catalogue;
mod contact;
mod dates;
#[cfg(test)]
mod fixtures;
mod intent;
mod numbers;
mod times;
mod tokens;

pub use catalogue::{match_service, match_staff};
pub use contact::{extract_email, extract_name, extract_phone};
pub use dates::{extract_date, parse_date_argument, DateWish};
pub use intent::{has_booking_intent, mentions_urgency};
pub use times::{extract_time, parse_time_argument, DayPeriod, TimeWish};

use super::ids::{ServiceId, StaffId};
use super::model::{Service, Staff};
use super::phone::E164Number;
use catalogue::{service_in, staff_in};
use chrono::NaiveDate;
use contact::{email_in, name_in, phone_in};
use dates::date_in;
use intent::{booking_intent_in, urgency_in};
use std::borrow::Borrow;
use times::time_in;
use tokens::tokenize;

/// Everything [`extract`] found in a call's transcript; `None` where the caller said nothing usable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extracted {
    /// The day asked for.
    pub date: Option<DateWish>,
    /// The time asked for.
    pub time: Option<TimeWish>,
    /// The service asked for.
    pub service_id: Option<ServiceId>,
    /// That service's name, as the catalogue spells it.
    pub service_name: Option<String>,
    /// The staff member asked for.
    pub staff_id: Option<StaffId>,
    /// The name the caller gave.
    pub name: Option<String>,
    /// The phone number the caller gave (not the number they call from).
    pub phone: Option<E164Number>,
    /// The e-mail address the caller gave, lower case.
    pub email: Option<String>,
    /// Whether the caller wants to book (or move) an appointment.
    pub booking_intent: bool,
    /// Whether the caller said it is urgent (pain, bleeding, swelling, "dringend", …).
    pub urgent: bool,
}

/// Everything at once, from the caller's lines of a Retell transcript (`Agent: …` / `User: …`).
///
/// `today` is the call's local date; `default_country_calling_code` (e.g. `"49"`) completes
/// national phone numbers ("0151 …").
pub fn extract(
    transcript: &str,
    today: NaiveDate,
    services: &[impl Borrow<Service>],
    staff: &[impl Borrow<Staff>],
    default_country_calling_code: &str,
) -> Extracted {
    let text = caller_lines(transcript);
    let t = tokenize(&text);
    let name = name_in(&t);
    let service = service_in(&t, services);
    Extracted {
        date: date_in(&t, today),
        time: time_in(&t),
        service_id: service.map(|s| s.id),
        service_name: service.map(|s| s.name.clone()),
        staff_id: staff_in(&t, staff, name.as_ref().map(|n| n.span.clone())).map(|s| s.id),
        phone: phone_in(&t, default_country_calling_code),
        email: email_in(&t),
        booking_intent: booking_intent_in(&t),
        urgent: urgency_in(&t),
        name: name.map(|n| n.text),
    }
}

/// The caller's part of a transcript: the text of the `User:` lines, one per line. Lines without
/// a role continue the previous speaker's turn. A text without any role prefixes is returned whole.
pub fn caller_lines(transcript: &str) -> String {
    let mut out = String::with_capacity(transcript.len() / 2);
    let mut any_role = false;
    let mut caller_speaks = false;
    for line in transcript.lines() {
        let content = match role_of(line) {
            Some((is_caller, rest)) => {
                any_role = true;
                caller_speaks = is_caller;
                rest
            }
            None => line,
        };
        let content = content.trim();
        if caller_speaks && !content.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(content);
        }
    }
    if any_role {
        out
    } else {
        transcript.to_owned()
    }
}

/// The speaker of a transcript line (`true` for the caller) and what they said.
fn role_of(line: &str) -> Option<(bool, &str)> {
    let (role, rest) = line.split_once(':')?;
    let role = role.trim();
    let is = |name: &str| role.eq_ignore_ascii_case(name);
    if is("user") || is("caller") || is("customer") || is("anrufer") {
        Some((true, rest))
    } else if is("agent") || is("assistant") || is("bot") {
        Some((false, rest))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{at, on, services, staff, today};
    use super::*;

    #[test]
    fn caller_lines_keep_only_the_user() {
        let transcript = "Agent: Guten Tag!\nUser: Hallo.\nIch brauche einen Termin.\nAgent: Gern.\nUser: Danke\n";
        assert_eq!(
            caller_lines(transcript),
            "Hallo.\nIch brauche einen Termin.\nDanke"
        );
        assert_eq!(caller_lines("just some text"), "just some text");
        assert_eq!(caller_lines("Agent: only the agent"), "");
    }

    /// `call.transcript` of `shared/retell/samples/call_ended.json`, verbatim.
    const SAMPLE_TRANSCRIPT: &str = "Agent: Zahnarztpraxis Dr. Müller, guten Tag, Sie sprechen mit der digitalen Assistentin. Wie kann ich Ihnen helfen?\nUser: Hallo, hier ist Jürgen Weiß. Ich hätte gern einen Termin zur Zahnreinigung, am liebsten Donnerstag vormittags.\nAgent: Gern, Herr Weiß. Einen Moment, ich schaue nach freien Terminen am Donnerstag, dem 17. September.\nAgent: Am Donnerstag hätte ich um 8 Uhr 30, um 9 Uhr 30 oder um 11 Uhr etwas frei. Was passt Ihnen am besten?\nUser: Halb zehn passt gut.\nAgent: Prima. Darf ich den Termin um 9 Uhr 30 verbindlich für Sie eintragen?\nUser: Ja, bitte. Und ich habe etwas empfindliche Zähne, falls das wichtig ist.\nAgent: Danke für den Hinweis, ich vermerke das. Einen Augenblick bitte.\nAgent: Ihr Termin ist gebucht: Donnerstag, 17. September, 9 Uhr 30, professionelle Zahnreinigung. Sie erhalten gleich eine SMS-Bestätigung. Kann ich sonst noch etwas für Sie tun?\nUser: Nein, das war's. Vielen Dank, tschüss!\nAgent: Sehr gern, Herr Weiß. Auf Wiederhören!\n";

    #[test]
    fn the_retell_sample_call_yields_the_booking_it_made() {
        let catalogue = services();
        let team = staff();
        let got = extract(SAMPLE_TRANSCRIPT, today(), &catalogue, &team, "49");
        // The caller says "Donnerstag vormittags" and later "Halb zehn": Thursday of this week
        // (the agent's "17. September" confirms it) at 09:30, the later, precise wish.
        assert_eq!(got.date, on(2026, 9, 17));
        assert_eq!(got.time, at(9, 30));
        assert_eq!(
            got.service_name.as_deref(),
            Some("Professionelle Zahnreinigung")
        );
        assert_eq!(got.service_id, Some(catalogue[1].id));
        assert_eq!(got.name.as_deref(), Some("Jürgen Weiß"));
        assert!(got.booking_intent);
        assert!(!got.urgent);
        // The caller gave no number, address or staff wish (the caller id is in the call itself).
        assert_eq!(got.staff_id, None);
        assert_eq!(got.phone, None);
        assert_eq!(got.email, None);
    }

    #[test]
    fn extraction_ignores_what_the_agent_says() {
        let transcript = "Agent: Ich hätte Freitag um 11 Uhr bei Dr. Weber, es ist dringend.\nUser: Nein, Montag um 10 bei Frau Koch.\n";
        let team = staff();
        let got = extract(transcript, today(), &services(), &team, "49");
        assert_eq!(got.date, on(2026, 9, 21));
        assert_eq!(got.time, at(10, 0));
        assert_eq!(got.staff_id, Some(team[3].id));
        assert!(!got.urgent);
    }

    /// Words and marks the patterns look at, so random texts hit the edge cases.
    #[rustfmt::skip]
    const VOCABULARY: &[&str] = &[
        "am", "um", "at", "halb", "viertel", "vor", "nach", "past", "to", "zwischen", "und", "Uhr",
        "morgen", "Morgen", "guten", "nächste", "Woche", "in", "the", "Donnerstag", "September",
        "Sept", "17", "09", "2026", "0", "0151", "+", "49", "(", ")", "9", "30", "a", "m", "p",
        "pm", "punkt", "dot", "@", "ät", "hier", "ist", "ich", "bin", "Frau", "Dr", "Schmidt",
        "Yılmaz", "İ", "ß", "Zahnreinigung", "nicht", "dringend", "Termin", "null", "eins", "neun",
        "zwanzig", "ersten", "third", "th", "noon", "vormittags", "-",
    ];

    proptest::proptest! {
        #[test]
        fn nothing_panics_on_odd_input(
            words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..24),
            separators in proptest::collection::vec(
                proptest::sample::select(&[" ", "", ".", ",", ":", "\n", "/", "-"][..]),
                24,
            ),
            noise in ".{0,40}",
        ) {
            let mut text = String::new();
            for (word, sep) in words.iter().zip(&separators) {
                text.push_str(word);
                text.push_str(sep);
            }
            text.push_str(&noise);
            let _ = extract(&text, today(), &services(), &staff(), "49");
            let _ = extract_date(&text, NaiveDate::MAX);
            let _ = extract_date(&text, NaiveDate::MIN);
            let _ = parse_time_argument(&text);
            let _ = parse_date_argument(&text, today());
            let _ = DayPeriod::parse(&text);
            let _ = extract_phone(&text, "");
        }
    }
}
