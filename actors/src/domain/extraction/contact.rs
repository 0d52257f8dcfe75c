//! How to reach the caller: the name they give, their phone number and e-mail address.

use super::catalogue::TITLES;
use super::dates::{month_word, weekday_word};
use super::times::period_word;
use super::tokens::{glued_punct, norm, phrase_at, tokenize, Kind, Token};
use crate::domain::phone::E164Number;
use std::ops::Range;

/// The name a caller introduces themselves with: "ich heiße …", "mein Name ist …", "hier ist …",
/// "hier spricht …", "ich bin …", "my name is …", "this is …", "I'm …", "Name: …". Keeps one to
/// four capitalised words (so "ich bin erkältet" is no name), stops at punctuation and filler
/// words, skips titles ("Frau", "Dr."). The last introduction wins.
pub fn extract_name(text: &str) -> Option<String> {
    name_in(&tokenize(text)).map(|n| n.text)
}

/// The phone number the text gives: international ("+49 151 23456789", "0049 …") or national
/// ("0151 23456789", completed with `default_country_calling_code`, e.g. `"49"`), digits in groups
/// separated by spaces, slashes, dashes or parentheses, or spoken digit by digit ("null eins fünf
/// …"). Numbers not starting with `+`, `00` or `0` are not phone numbers, so dates and times are
/// never read as one. The last number wins.
pub fn extract_phone(text: &str, default_country_calling_code: &str) -> Option<E164Number> {
    phone_in(&tokenize(text), default_country_calling_code)
}

/// The e-mail address the text gives, written ("a.b@example.de") or spoken ("anna punkt schmidt
/// at example punkt de", "at gmail dot com"), in lower case with umlauts spelled out ("ü" → "ue").
/// The last address wins.
pub fn extract_email(text: &str) -> Option<String> {
    email_in(&tokenize(text))
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// A caller's name and the tokens it covers.
pub(super) struct NameHit {
    pub(super) text: String,
    pub(super) span: Range<usize>,
}

const NAME_INTROS: &[&[&str]] = &[
    &["ich", "heisse"],
    &["mein", "name", "ist"],
    &["mein", "name", "lautet"],
    &["mein", "name", "war"],
    &["hier", "ist"],
    &["hier", "spricht"],
    &["ich", "bin"],
    &["my", "name", "is"],
    &["my", "name's"],
    &["this", "is"],
    &["i'm"],
    &["i", "am"],
];

/// Capitalised words that are not names ("ich bin Patientin", "hier ist die Praxis").
#[rustfmt::skip]
const NOT_NAMES: &[&str] = &[
    "und", "and", "ich", "i", "von", "from", "aus", "bei", "mit", "with", "of", "hier", "here",
    "calling", "sorry", "patient", "patientin", "neupatient", "neupatientin", "privatpatient",
    "kassenpatient", "kunde", "kundin", "praxis", "mutter", "vater", "tochter", "sohn", "mann",
    "termin", "notfall", "zahnarzt", "hallo", "hello", "hi", "guten", "good", "danke", "thanks",
    "ja", "yes", "nein", "no", "ok", "okay", "bitte", "please", "sie", "you", "the", "der", "die",
    "das", "ein", "eine", "a", "an", "wieder", "again", "just", "nur", "gerade",
];

pub(super) fn name_in(t: &[Token<'_>]) -> Option<NameHit> {
    let mut found = None;
    for i in 0..t.len() {
        if !matches!(
            norm(t, i),
            "ich" | "mein" | "hier" | "my" | "this" | "i'm" | "i" | "name"
        ) {
            continue;
        }
        let after = NAME_INTROS
            .iter()
            .find(|intro| phrase_at(t, i, intro))
            .map(|intro| i + intro.len())
            .or_else(|| (norm(t, i) == "name" && norm(t, i + 1) == ":").then_some(i + 2));
        if let Some(hit) = after.and_then(|a| name_after(t, a)) {
            found = Some(hit);
        }
    }
    found
}

fn name_after(t: &[Token<'_>], mut k: usize) -> Option<NameHit> {
    // "hier ist Frau Dr. Weiß", "ich bin die Anna"
    while TITLES.contains(&norm(t, k))
        || (matches!(norm(t, k), "der" | "die") && t.get(k + 1).is_some_and(Token::capitalised))
    {
        k += 1;
        if glued_punct(t, k, ".") {
            k += 1;
        }
    }
    let start = k;
    let mut words = Vec::new();
    while words.len() < 4 {
        let Some(tok) = t.get(k) else { break };
        let w = tok.norm.as_ref();
        let plain = !tok.is_word()
            || !tok.capitalised()
            || NOT_NAMES.contains(&w)
            || weekday_word(w).is_some()
            || month_word(w).is_some()
            || period_word(w).is_some()
            || matches!(w, "heute" | "morgen" | "today" | "tomorrow");
        if plain {
            break;
        }
        words.push(tok.raw);
        k += 1;
    }
    if words.is_empty() || (words.len() == 1 && words[0].chars().count() < 2) {
        return None;
    }
    Some(NameHit {
        text: words.join(" "),
        span: start..k,
    })
}

// ---------------------------------------------------------------------------------------------
// Phone numbers
// ---------------------------------------------------------------------------------------------

/// A digit spoken as a word, for numbers read out digit by digit.
fn digit_word(w: &str) -> Option<char> {
    Some(match w {
        "null" | "zero" => '0',
        "eins" | "one" => '1',
        "zwei" | "zwo" | "two" => '2',
        "drei" | "three" => '3',
        "vier" | "four" => '4',
        "funf" | "five" => '5',
        "sechs" | "six" => '6',
        "sieben" | "seven" => '7',
        "acht" | "eight" => '8',
        "neun" | "nine" => '9',
        _ => return None,
    })
}

pub(super) fn phone_in(t: &[Token<'_>], default_country_calling_code: &str) -> Option<E164Number> {
    let cc = default_country_calling_code.trim().trim_start_matches('+');
    let cc = cc.strip_prefix("00").unwrap_or(cc);
    let cc = (matches!(cc.len(), 1..=3)
        && cc.bytes().all(|b| b.is_ascii_digit())
        && !cc.starts_with('0'))
    .then_some(cc);
    let mut found = None;
    let mut i = 0;
    while i < t.len() {
        let (groups, plus, end) = digit_run(t, i);
        if !groups.is_empty() {
            if let Some(number) = number_in_run(&groups, plus, cc) {
                found = Some(number);
            }
        }
        i = end.max(i + 1);
    }
    found
}

/// Digit groups from `i` on ("0151", "234", "/", "567"), whether a "+" or "plus" led them, and
/// the index after the run. Full stops, colons and commas end a run: dates and times are not
/// phone numbers.
fn digit_run(t: &[Token<'_>], i: usize) -> (Vec<String>, bool, usize) {
    let mut k = i;
    let mut plus = false;
    let leads = |k: usize| {
        t.get(k)
            .is_some_and(|n| n.kind == Kind::Num || digit_word(&n.norm).is_some())
    };
    if (t[k].is_punct("+") && t.get(k + 1).is_some_and(|n| n.glued && n.kind == Kind::Num))
        || (t[k].norm == "plus" && leads(k + 1))
    {
        plus = true;
        k += 1;
    }
    let mut groups: Vec<String> = Vec::new();
    while let Some(tok) = t.get(k) {
        match tok.kind {
            // "+49 (0) 151 …": the national trunk prefix is not dialled from abroad.
            Kind::Num
                if plus
                    && tok.raw == "0"
                    && k > 0
                    && t[k - 1].is_punct("(")
                    && t.get(k + 1).is_some_and(|n| n.is_punct(")")) => {}
            Kind::Num => groups.push(tok.raw.to_owned()),
            Kind::Word => match digit_word(&tok.norm) {
                Some(d) => groups.push(d.to_string()),
                None => break,
            },
            Kind::Punct
                if !groups.is_empty() && matches!(tok.norm.as_ref(), "/" | "-" | "(" | ")") => {}
            Kind::Punct => break,
        }
        k += 1;
    }
    (groups, plus, k)
}

/// The longest tail of the run that is a valid number: international after "+" or "00",
/// national after "0".
fn number_in_run(groups: &[String], plus: bool, cc: Option<&str>) -> Option<E164Number> {
    (0..groups.len()).find_map(|k| {
        let digits = groups[k..].concat();
        if plus && k == 0 {
            E164Number::parse(&format!("+{digits}")).ok()
        } else if digits.starts_with("00") {
            E164Number::parse(&digits).ok()
        } else if let (Some(national), Some(cc)) = (digits.strip_prefix('0'), cc) {
            (national.len() >= 6)
                .then(|| E164Number::parse(&format!("+{cc}{national}")).ok())
                .flatten()
        } else {
            None
        }
    })
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses
// ---------------------------------------------------------------------------------------------

/// A separator in an address: written ("." glued to both neighbours) or spoken ("punkt", "dot").
fn address_separator(t: &[Token<'_>], k: usize) -> Option<char> {
    let tok = t.get(k)?;
    match tok.kind {
        Kind::Punct => {
            let glued_both = tok.glued && t.get(k + 1).is_some_and(|n| n.glued);
            let c = match tok.norm.as_ref() {
                "." => '.',
                "_" => '_',
                "-" => '-',
                _ => return None,
            };
            glued_both.then_some(c)
        }
        Kind::Word => match tok.norm.as_ref() {
            "punkt" | "dot" | "point" => Some('.'),
            "unterstrich" | "underscore" => Some('_'),
            "minus" | "bindestrich" | "dash" | "hyphen" => Some('-'),
            _ => None,
        },
        Kind::Num => None,
    }
}

fn is_at_sign(tok: &Token<'_>) -> bool {
    tok.is_punct("@")
        || (tok.is_word() && matches!(tok.norm.as_ref(), "at" | "atzeichen" | "klammeraffe"))
}

/// A word or number that can be part of an address.
fn address_piece(t: &[Token<'_>], k: usize) -> Option<String> {
    let tok = t.get(k)?;
    let usable = tok.kind == Kind::Num
        || (tok.is_word() && address_separator(t, k).is_none() && !is_at_sign(tok));
    usable.then(|| {
        let mut s = String::with_capacity(tok.raw.len());
        for c in tok.raw.chars().flat_map(char::to_lowercase) {
            match c {
                'ä' => s.push_str("ae"),
                'ö' => s.push_str("oe"),
                'ü' => s.push_str("ue"),
                'ß' => s.push_str("ss"),
                '’' => s.push('\''),
                c => s.push(c),
            }
        }
        s
    })
}

pub(super) fn email_in(t: &[Token<'_>]) -> Option<String> {
    let mut found = None;
    for (i, tok) in t.iter().enumerate() {
        if !is_at_sign(tok) {
            continue;
        }
        let (Some(local), Some(domain)) = (local_part(t, i), domain_part(t, i + 1)) else {
            continue;
        };
        let address = format!("{local}@{domain}");
        if address.is_ascii() && local.len() <= 64 {
            found = Some(address);
        }
    }
    found
}

/// The part before the "@" at `at`, read backwards: pieces joined by separators, or glued.
fn local_part(t: &[Token<'_>], at: usize) -> Option<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut k = at;
    while let Some(piece) = k.checked_sub(1).and_then(|p| address_piece(t, p)) {
        pieces.push(piece);
        k -= 1;
        if t[k].glued && k > 0 && address_piece(t, k - 1).is_some() {
            continue; // "schmidt99"
        }
        match k.checked_sub(1).and_then(|p| address_separator(t, p)) {
            Some(sep) if k >= 2 && address_piece(t, k - 2).is_some() => {
                pieces.push(sep.to_string());
                k -= 1;
            }
            _ => break,
        }
    }
    if pieces.is_empty() {
        return None;
    }
    pieces.reverse();
    Some(pieces.concat())
}

/// The part after the "@": labels joined by dots, ending in an alphabetic top-level domain.
fn domain_part(t: &[Token<'_>], from: usize) -> Option<String> {
    let mut domain = address_piece(t, from)?;
    let mut k = from + 1;
    let mut last_label_start = 0;
    loop {
        if t.get(k).is_some_and(|n| n.glued) {
            if let Some(piece) = address_piece(t, k) {
                domain.push_str(&piece);
                k += 1;
                continue;
            }
        }
        match address_separator(t, k) {
            Some(sep) => match address_piece(t, k + 1) {
                Some(piece) => {
                    domain.push(sep);
                    if sep == '.' {
                        last_label_start = domain.len();
                    }
                    domain.push_str(&piece);
                    k += 2;
                }
                None => break,
            },
            None => break,
        }
    }
    let tld = &domain[last_label_start..];
    let valid =
        last_label_start > 0 && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    valid.then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_need_an_introduction_and_capitals() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ich heiße Jürgen Weiß", Some("Jürgen Weiß")),
            (
                "Hallo, hier ist Jürgen Weiß. Ich hätte gern einen Termin",
                Some("Jürgen Weiß"),
            ),
            ("Mein Name ist Ayşe Çelik.", Some("Ayşe Çelik")),
            ("hier spricht Mehmet Yılmaz", Some("Mehmet Yılmaz")),
            ("Hallo, hier ist Frau Weiß", Some("Weiß")),
            ("ich bin erkältet", None),
            ("ich bin Anna und ich brauche einen Termin", Some("Anna")),
            ("ich bin Patientin bei Ihnen", None),
            (
                "my name is John Smith and I need a cleaning",
                Some("John Smith"),
            ),
            ("this is Mary O'Brien", Some("Mary O'Brien")),
            ("I'm calling because of a toothache", None),
            (
                "Name: Lisa Müller-Lüdenscheidt",
                Some("Lisa Müller-Lüdenscheidt"),
            ),
            ("ich bin Dienstag nicht da", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract_name(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn phone_numbers_become_e164() {
        let cases: &[(&str, Option<&str>)] = &[
            ("+49 151 23456789", Some("+4915123456789")),
            ("meine Nummer ist 0151 23456789", Some("+4915123456789")),
            ("0049 151 23456789", Some("+4915123456789")),
            ("0151/234 567 89", Some("+4915123456789")),
            ("030-1234567", Some("+49301234567")),
            ("(030) 123 45 67", Some("+49301234567")),
            (
                "null eins fünf eins zwei drei vier fünf sechs sieben acht neun",
                Some("+4915123456789"),
            ),
            ("+44 20 7946 0958", Some("+442079460958")),
            ("0151 23456789, nein, 0152 98765432", Some("+4915298765432")),
            ("+49 (0) 151 23456789", Some("+4915123456789")),
            ("call me at 0151 23456789", Some("+4915123456789")),
            ("am 17.09.2026 um 09:30", None),
            ("Termin um 9 Uhr", None),
        ];
        for (text, want) in cases {
            let got = extract_phone(text, "49").map(|n| n.to_string());
            assert_eq!(got.as_deref(), *want, "{text:?}");
        }
        assert_eq!(
            extract_phone("0151 23456789", "+49")
                .map(|n| n.to_string())
                .as_deref(),
            Some("+4915123456789")
        );
    }

    #[test]
    fn email_addresses_written_or_spoken() {
        let cases: &[(&str, Option<&str>)] = &[
            ("anna.schmidt@example.de", Some("anna.schmidt@example.de")),
            (
                "Meine Mail: Anna.Schmidt@Example.DE.",
                Some("anna.schmidt@example.de"),
            ),
            (
                "anna punkt schmidt at example punkt de",
                Some("anna.schmidt@example.de"),
            ),
            (
                "my email is jürgen at gmail dot com",
                Some("juergen@gmail.com"),
            ),
            (
                "max unterstrich muster ät web punkt de",
                Some("max_muster@web.de"),
            ),
            (
                "anna-lena.schmidt@t-online.de",
                Some("anna-lena.schmidt@t-online.de"),
            ),
            ("at 9 on Thursday", None),
            ("I'll be at home.", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract_email(text).as_deref(), *want, "{text:?}");
        }
    }
}
