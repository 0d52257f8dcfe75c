//! What the caller wants to do: book (or move) an appointment, and whether it is urgent.

use super::tokens::{norm, phrase_at, tokenize, Kind, Token};

/// Whether the caller wants to book (or move) an appointment: "Termin", "buchen", "vereinbaren",
/// "ausmachen", "reservieren", "appointment", "book", "schedule", … Negated mentions ("keinen
/// Termin") do not count, and a cancellation without a booking word ("Termin absagen") is none.
pub fn has_booking_intent(text: &str) -> bool {
    booking_intent_in(&tokenize(text))
}

/// Whether the caller says it is urgent: "dringend", "Notfall", "starke Schmerzen", "sofort",
/// "so schnell wie möglich", "blutet", "geschwollen", "urgent", "emergency", "severe pain",
/// "asap", "bleeding", "swollen", … A negation a few words before ("kein Notfall", "es ist nicht
/// so dringend", "not urgent") or right after ("es blutet nicht") cancels a mention.
pub fn mentions_urgency(text: &str) -> bool {
    urgency_in(&tokenize(text))
}

const NEGATORS: &[&str] = &[
    "kein", "keine", "keinen", "keiner", "keinem", "keines", "nicht", "nichts", "no", "not",
    "never", "nie", "niemals",
];

/// Whether a word a few words before `i` (in the same clause) or right after negates it.
fn negated(t: &[Token<'_>], i: usize) -> bool {
    let negator = |w: &str| NEGATORS.contains(&w) || w.ends_with("n't");
    let before = t[i.saturating_sub(3)..i]
        .iter()
        .rev()
        .take_while(|tok| tok.kind != Kind::Punct)
        .any(|tok| negator(&tok.norm));
    before || matches!(norm(t, i + 1), "nicht" | "not")
}

/// Words that ask for a booking by themselves (moving an appointment books a new time).
#[rustfmt::skip]
const BOOKING_VERBS: &[&str] = &[
    "buchen", "buche", "bucht", "einbuchen", "buchung", "vereinbaren", "vereinbart", "ausmachen",
    "ausgemacht", "reservieren", "reserviere", "reservierung", "vormerken", "eintragen",
    "verschieben", "umbuchen", "verlegen", "book", "booking", "schedule", "reschedule", "reserve",
    "reservation",
];

#[rustfmt::skip]
const CANCEL_WORDS: &[&str] = &[
    "absagen", "absage", "stornieren", "storniert", "stornierung", "cancel", "canceln",
    "cancellation",
];

pub(super) fn booking_intent_in(t: &[Token<'_>]) -> bool {
    let mut verb = false;
    let mut noun = false;
    let mut cancel = false;
    for (i, tok) in t.iter().enumerate().filter(|(_, tok)| tok.is_word()) {
        let w = tok.norm.as_ref();
        if CANCEL_WORDS.contains(&w) {
            cancel = true;
        } else if BOOKING_VERBS.contains(&w) && !negated(t, i) {
            verb = true;
        } else if (w.starts_with("termin") || w.starts_with("appointment")) && !negated(t, i) {
            noun = true;
        }
    }
    verb || (noun && !cancel)
}

#[rustfmt::skip]
const URGENT_WORDS: &[&str] = &[
    "dringend", "dringende", "dringender", "dringendes", "dringlich", "eilig", "sofort",
    "umgehend", "schnellstmoglich", "akut", "akute", "akuten", "urgent", "urgently", "emergency",
    "asap", "blutet", "bluten", "blutung", "bleeding", "bleeds", "geschwollen", "angeschwollen",
    "schwellung", "swollen", "swelling", "unbearable",
];

const URGENT_PHRASES: &[&[&str]] = &[
    &["so", "schnell", "wie", "moglich"],
    &["so", "bald", "wie", "moglich"],
    &["moglichst", "schnell"],
    &["moglichst", "bald"],
    &["so", "schnell", "es", "geht"],
    &["as", "soon", "as", "possible"],
    &["right", "away"],
];

/// Words that make pain urgent: "starke Schmerzen", "severe pain".
#[rustfmt::skip]
const SEVERE_WORDS: &[&str] = &[
    "stark", "starke", "starken", "starker", "heftig", "heftige", "heftigen", "grosse", "grossen",
    "hollische", "hollischen", "severe", "terrible", "extreme", "bad", "horrible", "unbearable",
];

fn urgent_word(w: &str) -> bool {
    URGENT_WORDS.contains(&w)
        || w.starts_with("notfall")
        || w.starts_with("notdienst")
        || w.starts_with("unertraglich")
}

/// "es tut (schon ziemlich) weh", "tut mir sehr weh", "it hurts", "it's painful": pain said in
/// passing is pain all the same, and a callback for it must not wait like a question.
fn hurts_at(t: &[Token<'_>], i: usize) -> bool {
    match norm(t, i) {
        "tut" | "tun" | "tat" => (i + 1..i + 5)
            .take_while(|&k| k < t.len() && t[k].kind != Kind::Punct)
            .any(|k| norm(t, k) == "weh"),
        "hurts" | "hurting" | "painful" => true,
        _ => false,
    }
}

/// "starke Schmerzen", "starke Zahnschmerzen", "severe pain", "really bad toothache".
fn severe_pain_at(t: &[Token<'_>], i: usize) -> bool {
    SEVERE_WORDS.contains(&norm(t, i))
        && (i + 1..i + 3).any(|k| {
            let w = norm(t, k);
            w.contains("schmerz") || matches!(w, "pain" | "pains" | "toothache" | "ache")
        })
}

pub(super) fn urgency_in(t: &[Token<'_>]) -> bool {
    (0..t.len()).any(|i| {
        let hit = urgent_word(norm(t, i))
            || severe_pain_at(t, i)
            || hurts_at(t, i)
            || URGENT_PHRASES.iter().any(|p| phrase_at(t, i, p));
        hit && !negated(t, i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_intent() {
        let cases: &[(&str, bool)] = &[
            ("Ich hätte gern einen Termin", true),
            ("Kann ich was vereinbaren?", true),
            ("I'd like to book an appointment", true),
            ("Können wir was ausmachen?", true),
            ("Can I schedule a cleaning?", true),
            ("Ich möchte meinen Termin verschieben", true),
            ("Ich möchte meinen Termin absagen", false),
            ("Wie sind Ihre Öffnungszeiten?", false),
            ("Ich brauche keinen Termin, nur eine Auskunft", false),
        ];
        for (text, want) in cases {
            assert_eq!(has_booking_intent(text), *want, "{text:?}");
        }
    }

    #[test]
    fn urgency_is_negation_aware() {
        let cases: &[(&str, bool)] = &[
            ("Es ist dringend", true),
            ("Das ist ein Notfall!", true),
            ("Ich habe starke Schmerzen", true),
            ("sehr starke Zahnschmerzen seit gestern", true),
            ("so schnell wie möglich bitte", true),
            ("ASAP please", true),
            ("Das Zahnfleisch blutet", true),
            ("die Backe ist geschwollen", true),
            ("severe pain since yesterday", true),
            ("my cheek is swollen", true),
            ("Es tut schon ziemlich weh", true),
            ("der Zahn tut mir seit Tagen weh", true),
            ("it really hurts when I chew", true),
            ("Es tut nicht weh, nur eine Kontrolle", false),
            ("kein Notfall", false),
            ("nicht dringend", false),
            ("es ist nicht so dringend", false),
            ("not urgent", false),
            ("no emergency, just a check-up", false),
            ("It's not an emergency", false),
            ("Es blutet nicht", false),
            ("Ich habe etwas empfindliche Zähne", false),
        ];
        for (text, want) in cases {
            assert_eq!(mentions_urgency(text), *want, "{text:?}");
        }
    }
}
