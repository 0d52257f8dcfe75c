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

use super::ids::{ServiceId, StaffId};
use super::model::{Service, Staff};
use super::phone::E164Number;
use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::borrow::Cow;
use std::ops::Range;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// A part of the day a caller can ask for instead of a clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayPeriod {
    /// 08:00–12:00: "vormittags", "morgens", "in the morning".
    Morning,
    /// 11:00–14:00: "mittags", "über Mittag", "around midday".
    Midday,
    /// 12:00–18:00: "nachmittags", "in the afternoon".
    Afternoon,
    /// 17:00–21:00: "abends", "in the evening".
    Evening,
}

/// A clock time; the arguments are constants, so the fallback is never taken.
const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

impl DayPeriod {
    /// The local wall-clock window `[start, end)` the period stands for. The windows overlap on
    /// purpose: "midday" and "afternoon" both cover 12:00–14:00 in what callers mean.
    pub fn window(self) -> (NaiveTime, NaiveTime) {
        match self {
            Self::Morning => (hm(8, 0), hm(12, 0)),
            Self::Midday => (hm(11, 0), hm(14, 0)),
            Self::Afternoon => (hm(12, 0), hm(18, 0)),
            Self::Evening => (hm(17, 0), hm(21, 0)),
        }
    }

    /// Parses a period said on its own, German or English, any case: "morning", "Vormittag",
    /// "vormittags", "morgens", "am Morgen", "noon", "mittags", "in the afternoon", "abends".
    pub fn parse(s: &str) -> Option<Self> {
        let tokens = tokenize(s);
        let mut found = None;
        let mut prev = "";
        for tok in &tokens {
            let w = tok.norm.as_ref();
            let period = match w {
                _ if tok.kind != Kind::Word => return None,
                "am" | "im" | "in" | "the" | "der" | "den" | "zur" | "early" | "late" => {
                    prev = w;
                    continue;
                }
                "noon" => Some(Self::Midday),
                "fruh" => Some(Self::Morning),
                "morgen" if prev == "am" => Some(Self::Morning),
                _ => period_word(w),
            };
            if found.is_some() || period.is_none() {
                return None;
            }
            found = period;
            prev = w;
        }
        found
    }
}

/// When in the day a caller wants to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeWish {
    /// A clock time ("halb zehn" is 09:30).
    At(NaiveTime),
    /// A part of the day ("vormittags").
    Period(DayPeriod),
}

/// On which day a caller wants to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateWish {
    /// One day.
    Day(NaiveDate),
    /// Any day of the week starting on this Monday ("nächste Woche").
    WeekOf(NaiveDate),
}

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

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

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

/// The day the text asks for, relative to `today` (the call's local date); the last mention wins.
///
/// Understands "17.09.2026", "17.9.", "2026-09-17", "17. September (2026)", "September 17",
/// "Sept 17th", "the 17th", "am dritten", heute/morgen/übermorgen, today/tomorrow/"day after
/// tomorrow", weekdays with or without "am/on/nächsten/kommenden/next/this", "nächste Woche",
/// "diese Woche", "next week", "in zwei Wochen", "in 3 days", and a weekday next to a week.
/// "Guten Morgen" and "morgens" are not tomorrow. Impossible dates (31.02.) are ignored.
pub fn extract_date(text: &str, today: NaiveDate) -> Option<DateWish> {
    date_in(&tokenize(text), today)
}

/// The time of day the text asks for; the last mention wins.
///
/// Understands "9:30", "09:30 Uhr", "9.30 Uhr", "9 Uhr 30", "um 9", "neun Uhr", "halb zehn",
/// "viertel nach/vor", "dreiviertel zehn", "zehn nach neun", "at 9(:30)", "9am", "9 a.m.",
/// "2 pm", "half past nine", "quarter to ten", "noon", and periods ("vormittags", "in the
/// afternoon"), which also qualify an hour ("um drei nachmittags" is 15:00). Hours 1–6 without
/// a qualifier are afternoon hours (see the module documentation). Dates, phone numbers and
/// durations ("in 2 weeks") are not times.
pub fn extract_time(text: &str) -> Option<TimeWish> {
    time_in(&tokenize(text))
}

/// A time passed as a function argument: "09:30", "9:30", "14:00", "14", "morning",
/// "vormittags", or anything [`extract_time`] understands. Clock forms are taken literally
/// (24-hour), since the agent's language model fills these in.
pub fn parse_time_argument(raw: &str) -> Option<TimeWish> {
    let s = raw.trim();
    if let Some(t) = strict_clock(s) {
        return Some(TimeWish::At(t));
    }
    if !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        let hour: u32 = s.parse().ok()?;
        return NaiveTime::from_hms_opt(hour, 0, 0).map(TimeWish::At);
    }
    extract_time(s).or_else(|| DayPeriod::parse(s).map(TimeWish::Period))
}

/// "HH:MM", "H:MM", "HH:MM:SS" or "HH.MM", nothing else.
fn strict_clock(s: &str) -> Option<NaiveTime> {
    let mut parts = s.split([':', '.']);
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next());
    let digits = |p: &str, lens: Range<usize>| {
        lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(h, 1..3) || !digits(m, 2..3) {
        return None;
    }
    if sec.is_some_and(|x| !digits(x, 2..3)) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// A date passed as a function argument: ISO `2026-09-17` (also with a time after it) first,
/// then anything [`extract_date`] understands.
pub fn parse_date_argument(raw: &str, today: NaiveDate) -> Option<DateWish> {
    let s = raw.trim();
    let iso = s
        .get(..10)
        .filter(|_| s.len() == 10 || s[10..].starts_with('T') || s[10..].starts_with(' '));
    if let Some(day) = iso.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        return Some(DateWish::Day(day));
    }
    extract_date(s, today)
}

/// The active service the text asks for, tolerant of case, umlauts ("Fuellung"), inflection
/// ("Zahnreinigungen"), compound parts ("Reinigung" for "Professionelle Zahnreinigung"), typos
/// (one edit in words of 5+ letters, two in 9+) and English synonyms ("cleaning", "check-up",
/// "filling", "whitening", "root canal", "crown", "toothache"). The best score wins, then the
/// longest matched name; a tie between different services is ambiguous and gives `None`.
///
/// Takes the catalogue as the engine caches it (`Arc<Service>`) or as plain values.
pub fn match_service<'a>(text: &str, services: &'a [impl Borrow<Service>]) -> Option<&'a Service> {
    service_in(&tokenize(text), services)
}

/// The active staff member the text asks for ("bei Frau Schmidt", "zu Dr. Schmidt", "with Anna",
/// "mit Herrn Yilmaz"), by first name or surname, titles ignored, tolerant of case, accents
/// and small typos. The last mention wins; a mention that fits several staff members equally is
/// ambiguous and gives `None`, unless an earlier mention already narrowed it to one of them.
/// The caller's own name ("hier ist Anna Weber") is not a staff wish.
pub fn match_staff<'a>(text: &str, staff: &'a [impl Borrow<Staff>]) -> Option<&'a Staff> {
    let t = tokenize(text);
    let own_name = name_in(&t).map(|n| n.span);
    staff_in(&t, staff, own_name)
}

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

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Letters (with inner hyphens and apostrophes: "check-up", "I'm").
    Word,
    /// ASCII digits.
    Num,
    /// Any other single character; line breaks are kept as "\n".
    Punct,
}

#[derive(Debug)]
struct Token<'a> {
    /// The text as written.
    raw: &'a str,
    /// Words: lower case, accents folded, hyphens dropped ("Zähne" → "zahne", "Check-up" →
    /// "checkup"). Numbers and punctuation: as written.
    norm: Cow<'a, str>,
    kind: Kind,
    /// No whitespace before it ("9am", the dots in "17.09.2026").
    glued: bool,
    /// Numerals of up to four digits and number words up to 59 ("neun", "twenty"), read once
    /// here because date and time patterns ask for them at every position.
    value: Option<u32>,
}

impl Token<'_> {
    fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.norm == p
    }

    /// A numeral of one or two digits.
    fn short_num(&self) -> Option<u32> {
        if self.kind == Kind::Num && self.raw.len() <= 2 {
            self.value
        } else {
            None
        }
    }

    fn capitalised(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }
}

fn is_word_char(c: char) -> bool {
    // Combining marks belong to their letter ("İ" lower-cases to "i" + U+0307).
    c.is_alphabetic() || ('\u{300}'..='\u{36f}').contains(&c)
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::with_capacity(text.len() / 4 + 1);
    let mut glued = false;
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        let start = pos;
        pos += c.len_utf8();
        let kind = if c == '\n' {
            Kind::Punct
        } else if c.is_whitespace() {
            glued = false;
            continue;
        } else if c.is_ascii_digit() {
            pos += text[pos..].bytes().take_while(u8::is_ascii_digit).count();
            Kind::Num
        } else if is_word_char(c) {
            loop {
                // ASCII letters in one sweep: most of any transcript.
                pos += text[pos..]
                    .bytes()
                    .take_while(u8::is_ascii_alphabetic)
                    .count();
                let mut rest = text[pos..].chars();
                match rest.next() {
                    Some(n) if is_word_char(n) => pos += n.len_utf8(),
                    Some(n @ ('-' | '\'' | '’')) if rest.next().is_some_and(is_word_char) => {
                        pos += n.len_utf8()
                    }
                    _ => break,
                }
            }
            Kind::Word
        } else {
            Kind::Punct
        };
        let raw = &text[start..pos];
        let norm = match (kind, c) {
            (Kind::Word, _) => fold(raw),
            (Kind::Punct, '’') => Cow::Borrowed("'"),
            _ => Cow::Borrowed(raw),
        };
        let value = match kind {
            Kind::Num if raw.len() <= 4 => raw.parse().ok(),
            Kind::Word => number_word(&norm),
            _ => None,
        };
        tokens.push(Token {
            raw,
            norm,
            kind,
            glued: glued && c != '\n',
            value,
        });
        glued = c != '\n';
    }
    tokens
}

/// Lower case with accents folded away: "Weiß" → "weiss", "Yılmaz" → "yilmaz", "Çelik" → "celik".
/// Hyphens are dropped so "Check-up" and "checkup" are one word; apostrophes are kept ("i'm").
fn fold(raw: &str) -> Cow<'_, str> {
    if raw.bytes().all(|b| b.is_ascii_lowercase()) {
        return Cow::Borrowed(raw);
    }
    if raw.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Cow::Owned(raw.to_ascii_lowercase());
    }
    let mut out = String::with_capacity(raw.len() + 2);
    for c in raw.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' | 'á' | 'à' | 'â' | 'ã' | 'å' | 'ą' | 'ā' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ď' | 'đ' => out.push('d'),
            'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ě' | 'ē' => out.push('e'),
            'ğ' => out.push('g'),
            'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ī' => out.push('i'),
            'ł' => out.push('l'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ö' | 'ó' | 'ò' | 'ô' | 'õ' | 'ø' | 'ō' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ř' => out.push('r'),
            'ß' => out.push_str("ss"),
            'ş' | 'ś' | 'š' => out.push('s'),
            'ť' => out.push('t'),
            'ü' | 'ú' | 'ù' | 'û' | 'ū' | 'ů' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ž' | 'ź' | 'ż' => out.push('z'),
            '\u{300}'..='\u{36f}' | '-' => {}
            '’' => out.push('\''),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// The normalised token at `i`, or "" past the end: lets patterns be plain string compares.
fn norm<'t>(t: &'t [Token<'_>], i: usize) -> &'t str {
    t.get(i).map_or("", |tok| tok.norm.as_ref())
}

/// The normalised token before `i`, or "" at the start.
fn prev_norm<'t>(t: &'t [Token<'_>], i: usize) -> &'t str {
    i.checked_sub(1).map_or("", |p| norm(t, p))
}

/// Whether the token at `i` is the punctuation `p` written right after the previous token.
fn glued_punct(t: &[Token<'_>], i: usize, p: &str) -> bool {
    t.get(i).is_some_and(|tok| tok.glued && tok.is_punct(p))
}

/// Whether the tokens from `i` on spell `words`.
fn phrase_at(t: &[Token<'_>], i: usize, words: &[&str]) -> bool {
    words.iter().enumerate().all(|(k, w)| norm(t, i + k) == *w)
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// A number word from 0 to 59, German or English: "neun", "zwölf", "fünfundzwanzig",
/// "dreißig", "twelve", "twenty-five".
fn number_word(w: &str) -> Option<u32> {
    if let Some(v) = simple_number(w) {
        return Some(v);
    }
    // German compounds put the unit first: "fünfundzwanzig" = 5 + 20. (Tested by hand, not
    // with `split_once`: this runs for every word, and a substring searcher is slow to set up.)
    let compound = (w.ends_with("zig") || w.ends_with("ssig"))
        .then(|| w.as_bytes().windows(3).position(|x| x == b"und"))
        .flatten();
    if let Some(at) = compound {
        let (unit, tens) = (&w[..at], &w[at + 3..]);
        let unit = if unit == "ein" {
            1
        } else {
            simple_number(unit)?
        };
        let tens = simple_number(tens).filter(|t| t % 10 == 0 && *t >= 20)?;
        return (1..=9).contains(&unit).then_some(tens + unit);
    }
    // English compounds, hyphen folded away: "twentyfive".
    for (word, tens) in [("twenty", 20), ("thirty", 30), ("forty", 40), ("fifty", 50)] {
        if let Some(unit) = w.strip_prefix(word).and_then(simple_number) {
            return (1..=9).contains(&unit).then_some(tens + unit);
        }
    }
    None
}

fn simple_number(w: &str) -> Option<u32> {
    Some(match w {
        "null" | "zero" => 0,
        "ein" | "eins" | "one" => 1,
        "zwei" | "zwo" | "two" => 2,
        "drei" | "three" => 3,
        "vier" | "four" => 4,
        "funf" | "five" => 5,
        "sechs" | "six" => 6,
        "sieben" | "seven" => 7,
        "acht" | "eight" => 8,
        "neun" | "nine" => 9,
        "zehn" | "ten" => 10,
        "elf" | "eleven" => 11,
        "zwolf" | "twelve" => 12,
        "dreizehn" | "thirteen" => 13,
        "vierzehn" | "fourteen" => 14,
        "funfzehn" | "fifteen" => 15,
        "sechzehn" | "sixteen" => 16,
        "siebzehn" | "seventeen" => 17,
        "achtzehn" | "eighteen" => 18,
        "neunzehn" | "nineteen" => 19,
        "zwanzig" | "twenty" => 20,
        "dreissig" | "thirty" => 30,
        "vierzig" | "forty" => 40,
        "funfzig" | "fifty" => 50,
        _ => return None,
    })
}

/// A number at `i` (a numeral of up to four digits, or words: "twenty five" is two tokens) and
/// the index after it.
fn number_at(t: &[Token<'_>], i: usize) -> Option<(u32, usize)> {
    let tok = t.get(i).filter(|tok| tok.kind != Kind::Punct)?;
    let v = tok.value?;
    let unit = t
        .get(i + 1)
        .filter(|n| tok.is_word() && n.is_word() && v >= 20 && v % 10 == 0)
        .and_then(|n| n.value)
        .filter(|u| (1..=9).contains(u));
    Some(match unit {
        Some(u) => (v + u, i + 2),
        None => (v, i + 1),
    })
}

/// A day-of-month ordinal word: "ersten", "siebzehnten", "einunddreißigsten", "third",
/// "seventeenth", "twenty-first".
fn ordinal_word(w: &str) -> Option<u32> {
    let irregular = match w {
        "first" => Some(1),
        "second" => Some(2),
        "third" => Some(3),
        "fifth" => Some(5),
        "eighth" => Some(8),
        "ninth" => Some(9),
        "twelfth" => Some(12),
        "twentieth" => Some(20),
        "thirtieth" => Some(30),
        _ => None,
    };
    let v = if irregular.is_some() {
        irregular
    } else if let Some(rest) = w.strip_prefix("twenty").filter(|r| !r.is_empty()) {
        ordinal_word(rest).filter(|u| *u < 10).map(|u| 20 + u)
    } else if let Some(rest) = w.strip_prefix("thirty").filter(|r| !r.is_empty()) {
        ordinal_word(rest).filter(|u| *u < 10).map(|u| 30 + u)
    } else if let Some(v) = w.strip_suffix("th").and_then(simple_number) {
        Some(v)
    } else {
        german_ordinal(w)
    };
    v.filter(|d| (1..=31).contains(d))
}

/// German ordinals drop an ending (-e, -en, -er, -es, -em) and add -t or -st to the number.
fn german_ordinal(w: &str) -> Option<u32> {
    let stem = w.strip_suffix(['n', 'r', 's', 'm']).unwrap_or(w);
    let stem = stem.strip_suffix('e')?;
    match stem {
        "erst" => return Some(1),
        "dritt" => return Some(3),
        "siebt" => return Some(7),
        "acht" => return Some(8),
        _ => {}
    }
    stem.strip_suffix('t')
        .and_then(number_word)
        .or_else(|| stem.strip_suffix("st").and_then(number_word))
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// A date mention before it is combined with its neighbours.
#[derive(Clone, Copy, Debug)]
enum DateHit {
    Day(NaiveDate),
    Weekday(Weekday),
    /// Weeks after the current one (0 = this week).
    Week(u32),
}

/// A mention covering tokens `start..end`.
#[derive(Clone, Copy, Debug)]
struct Hit<T> {
    start: usize,
    end: usize,
    value: T,
}

fn date_in(t: &[Token<'_>], today: NaiveDate) -> Option<DateWish> {
    let mut hits = Vec::new();
    let mut i = 0;
    while i < t.len() {
        match date_at(t, i, today) {
            Some((value, end)) => {
                hits.push(Hit {
                    start: i,
                    end,
                    value,
                });
                i = end;
            }
            None => i += 1,
        }
    }
    resolve_dates(t, &hits, today)
}

/// Combines neighbouring mentions ("Mittwoch nächste Woche", "Donnerstag, den 24.") and
/// resolves the last one.
fn resolve_dates(t: &[Token<'_>], hits: &[Hit<DateHit>], today: NaiveDate) -> Option<DateWish> {
    let mut last = None;
    let mut k = 0;
    while k < hits.len() {
        let this = hits[k].value;
        let next = hits
            .get(k + 1)
            .filter(|n| close_together(t, hits[k].end, n.start));
        let combined = match (this, next.map(|n| n.value)) {
            (DateHit::Weekday(wd), Some(DateHit::Week(w)))
            | (DateHit::Week(w), Some(DateHit::Weekday(wd))) => {
                Some(weekday_in_week(today, w, wd).map(DateWish::Day))
            }
            (DateHit::Weekday(_), Some(DateHit::Day(d)))
            | (DateHit::Day(d), Some(DateHit::Weekday(_))) => Some(Some(DateWish::Day(d))),
            _ => None,
        };
        let resolved = match combined {
            Some(r) => {
                k += 2;
                r
            }
            None => {
                k += 1;
                resolve_date(this, today)
            }
        };
        if resolved.is_some() {
            last = resolved;
        }
    }
    last
}

/// Whether two mentions are parts of one ("Donnerstag, den 24.", "next week on Monday"): at
/// most three linking words between them. "oder", "nein", "lieber" separate alternatives.
fn close_together(t: &[Token<'_>], end: usize, start: usize) -> bool {
    start >= end
        && start - end <= 3
        && t[end..start].iter().all(|tok| {
            matches!(
                tok.norm.as_ref(),
                "," | "den" | "dem" | "der" | "the" | "on" | "am" | "in" | "im" | "of"
            )
        })
}

fn resolve_date(hit: DateHit, today: NaiveDate) -> Option<DateWish> {
    match hit {
        DateHit::Day(d) => Some(DateWish::Day(d)),
        DateHit::Weekday(wd) => next_weekday(today, wd).map(DateWish::Day),
        DateHit::Week(w) => monday_of(today)
            .checked_add_days(Days::new(7 * u64::from(w)))
            .map(DateWish::WeekOf),
    }
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
        .unwrap_or(day)
}

/// The next `wd` strictly after `today` (today's weekday means a week ahead).
fn next_weekday(today: NaiveDate, wd: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + wd.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 { 7 } else { ahead };
    today.checked_add_days(Days::new(u64::from(ahead)))
}

fn weekday_in_week(today: NaiveDate, weeks_ahead: u32, wd: Weekday) -> Option<NaiveDate> {
    let offset = 7 * u64::from(weeks_ahead) + u64::from(wd.num_days_from_monday());
    monday_of(today).checked_add_days(Days::new(offset))
}

/// A day and month with or without a year. Without one, a date already past is next year's.
fn date_from(day: u32, month: u32, year: Option<i32>, today: NaiveDate) -> Option<NaiveDate> {
    match year {
        Some(y) if y < 100 => NaiveDate::from_ymd_opt(2000 + y, month, day),
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => NaiveDate::from_ymd_opt(today.year(), month, day)
            .filter(|d| *d >= today)
            .or_else(|| NaiveDate::from_ymd_opt(today.year() + 1, month, day)),
    }
}

/// A day of the month without a month: the next such day, this month or a following one.
fn coming_day_of_month(day: u32, today: NaiveDate) -> Option<NaiveDate> {
    let first = today.with_day(1)?;
    (0..3).find_map(|k| {
        let month = first.checked_add_months(Months::new(k))?;
        month.with_day(day).filter(|d| *d >= today)
    })
}

fn date_at(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    let tok = &t[i];
    match tok.kind {
        Kind::Punct => None,
        Kind::Num => iso_date(t, i)
            .or_else(|| numeric_date(t, i, today))
            .or_else(|| day_month(t, i, today))
            .or_else(|| lone_day(t, i, today)),
        Kind::Word => day_month(t, i, today)
            .or_else(|| month_day(t, i, today))
            .or_else(|| lone_day(t, i, today))
            .or_else(|| relative_day(t, i, today))
            .or_else(|| week_at(t, i))
            .or_else(|| weekday_word(&tok.norm).map(|(wd, _)| (DateHit::Weekday(wd), i + 1))),
    }
}

/// "2026-09-17".
fn iso_date(t: &[Token<'_>], i: usize) -> Option<(DateHit, usize)> {
    let year = t.get(i).filter(|y| y.raw.len() == 4)?;
    if !glued_punct(t, i + 1, "-") || !glued_punct(t, i + 3, "-") {
        return None;
    }
    let month = t.get(i + 2).filter(|m| m.glued)?.short_num()?;
    let day = t.get(i + 4).filter(|d| d.glued)?.short_num()?;
    let date = NaiveDate::from_ymd_opt(year.raw.parse().ok()?, month, day)?;
    Some((DateHit::Day(date), i + 5))
}

/// Words before a number that make it a time, not a date.
const TIME_MARKERS: &[&str] = &[
    "um", "gegen", "ab", "at", "around", "zwischen", "between", "bis", "until",
];

/// "17.09.2026", "17.9.", "17.09.", "17.09.26"; "am 17.09" needs the preposition.
fn numeric_date(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    let day = t[i].short_num()?;
    if !glued_punct(t, i + 1, ".") {
        return None;
    }
    let month = t.get(i + 2).filter(|m| m.glued)?.short_num()?;
    let mut end = i + 3;
    let mut year = None;
    if glued_punct(t, end, ".") {
        end += 1;
        if let Some(y) = t
            .get(end)
            .filter(|y| y.glued && matches!(y.raw.len(), 2 | 4))
        {
            year = y.raw.parse().ok();
            end += 1;
        }
    } else if !matches!(prev_norm(t, i), "am" | "den" | "dem" | "zum" | "vom" | "on") {
        return None;
    }
    // "um 10.12." is a time with a full stop after it.
    if matches!(prev_norm(t, i), "um" | "gegen" | "at" | "around") || norm(t, end) == "uhr" {
        return None;
    }
    let date = date_from(day, month, year, today)?;
    Some((DateHit::Day(date), end))
}

/// A day of the month: "17", "17.", "17th", "siebzehnten", "seventeenth". Returns it and the
/// index after it.
fn day_at(t: &[Token<'_>], i: usize) -> Option<(u32, usize)> {
    let tok = t.get(i)?;
    let (day, end) = if let Some(d) = tok.short_num() {
        let suffixed = t.get(i + 1).is_some_and(|n| {
            n.glued
                && (n.is_punct(".")
                    || (n.is_word()
                        && matches!(n.norm.as_ref(), "th" | "st" | "nd" | "rd" | "ten" | "te")))
        });
        (d, if suffixed { i + 2 } else { i + 1 })
    } else if tok.is_word() {
        (ordinal_word(&tok.norm)?, i + 1)
    } else {
        return None;
    };
    (1..=31).contains(&day).then_some((day, end))
}

fn month_word(w: &str) -> Option<u32> {
    Some(match w {
        "januar" | "janner" | "january" | "jan" => 1,
        "februar" | "feber" | "february" | "feb" => 2,
        "marz" | "march" => 3,
        "april" | "apr" => 4,
        "mai" | "may" => 5,
        "juni" | "june" | "jun" => 6,
        "juli" | "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sept" | "sep" => 9,
        "oktober" | "october" | "okt" | "oct" => 10,
        "november" | "nov" => 11,
        "dezember" | "december" | "dez" | "dec" => 12,
        _ => return None,
    })
}

/// An optional year after a date: "2026" or ", 2026".
fn year_after(t: &[Token<'_>], i: usize) -> (Option<i32>, usize) {
    let at = if norm(t, i) == "," { i + 1 } else { i };
    match t.get(at) {
        Some(y) if y.kind == Kind::Num && y.raw.len() == 4 => (y.raw.parse().ok(), at + 1),
        _ => (None, i),
    }
}

/// "17. September", "17. September 2026", "17th of September", "siebzehnten September".
fn day_month(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    // Cheap tests first: a day-like token ("17", "-te", "-th", "third") with a month name
    // within three tokens ("17", ".", "of", "September").
    let tok = &t[i];
    let day_like = tok.short_num().is_some()
        || (tok.is_word()
            && ["te", "en", "er", "es", "em", "th", "st", "nd", "rd"]
                .iter()
                .any(|end| tok.norm.ends_with(end)));
    if !day_like || !(i + 1..i + 4).any(|k| month_word(norm(t, k)).is_some()) {
        return None;
    }
    let (day, mut j) = day_at(t, i)?;
    if norm(t, j) == "of" {
        j += 1;
    }
    let month = month_word(norm(t, j))?;
    j += 1;
    if glued_punct(t, j, ".") && norm(t, j - 1).len() <= 4 {
        j += 1; // "Sept."
    }
    let (year, end) = year_after(t, j);
    Some((DateHit::Day(date_from(day, month, year, today)?), end))
}

/// "September 17", "Sept 17th", "September seventeenth, 2026".
fn month_day(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    let month = month_word(norm(t, i))?;
    let mut j = i + 1;
    if glued_punct(t, j, ".") {
        j += 1;
    }
    let (day, j) = day_at(t, j)?;
    // "im September 9 Uhr" is a time in September, not the 9th.
    if matches!(norm(t, j), "uhr" | ":" | "am" | "pm" | "o'clock" | "oclock") {
        return None;
    }
    let (year, end) = year_after(t, j);
    Some((DateHit::Day(date_from(day, month, year, today)?), end))
}

/// "am 17.", "den 17.", "am dritten", "the 17th", "on the third", "17th".
fn lone_day(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    let prev = prev_norm(t, i);
    let tok = &t[i];
    let german_prep = matches!(prev, "am" | "den" | "dem" | "zum" | "vom");
    let ok = if tok.kind == Kind::Num {
        let next = t.get(i + 1).filter(|n| n.glued);
        match next {
            Some(n) if n.is_word() => matches!(n.norm.as_ref(), "th" | "st" | "nd" | "rd"),
            // "am 17." but not "am 17.09" (a numeric date) or a decimal.
            Some(n) if n.is_punct(".") && german_prep => {
                !t.get(i + 2).is_some_and(|a| a.glued && a.kind == Kind::Num)
            }
            _ => false,
        }
    } else {
        german_prep || prev == "the"
    };
    if !ok {
        return None;
    }
    let (day, end) = day_at(t, i)?;
    Some((DateHit::Day(coming_day_of_month(day, today)?), end))
}

/// Words before "Morgen" that make it the noun "morning", not "tomorrow".
const MORNING_NOUN_MARKERS: &[&str] = &[
    "am", "guten", "gute", "jeden", "den", "einen", "schonen", "diesen", "heute", "gestern", "vom",
    "nachsten",
];

/// heute, morgen, übermorgen, today, tomorrow, "the day after tomorrow", "in 3 Tagen",
/// "in two weeks".
fn relative_day(t: &[Token<'_>], i: usize, today: NaiveDate) -> Option<(DateHit, usize)> {
    let days =
        |n: u64, end: usize| Some((DateHit::Day(today.checked_add_days(Days::new(n))?), end));
    match norm(t, i) {
        "heute" | "today" | "tonight" => days(0, i + 1),
        "morgen" if !MORNING_NOUN_MARKERS.contains(&prev_norm(t, i)) => days(1, i + 1),
        "tomorrow" => days(1, i + 1),
        "ubermorgen" => days(2, i + 1),
        "day" if phrase_at(t, i + 1, &["after", "tomorrow"]) => days(2, i + 3),
        "in" => {
            let (n, j) = match norm(t, i + 1) {
                "einer" | "einem" | "a" | "an" | "one" => (1, i + 2),
                _ => number_at(t, i + 1)?,
            };
            match norm(t, j) {
                "tag" | "tagen" | "day" | "days" if n <= 366 => days(u64::from(n), j + 1),
                "woche" | "wochen" | "week" | "weeks" if n <= 52 => Some((DateHit::Week(n), j + 1)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// "nächste Woche", "diese Woche", "übernächste Woche", "next week", "this week",
/// "the week after next".
fn week_at(t: &[Token<'_>], i: usize) -> Option<(DateHit, usize)> {
    let w = norm(t, i);
    if w == "week" && phrase_at(t, i + 1, &["after", "next"]) {
        return Some((DateHit::Week(2), i + 3));
    }
    if !matches!(norm(t, i + 1), "woche" | "week") {
        return None;
    }
    let weeks = match w {
        "diese" | "dieser" | "this" | "current" => 0,
        "nachste" | "nachsten" | "nachster" | "kommende" | "kommenden" | "kommender" | "next"
        | "coming" | "following" => 1,
        "ubernachste" | "ubernachsten" | "ubernachster" => 2,
        _ => return None,
    };
    Some((DateHit::Week(weeks), i + 2))
}

/// A weekday, also as "donnerstags" or joined with a period ("Donnerstagvormittag"); returns
/// the weekday and what follows its name.
fn weekday_word(w: &str) -> Option<(Weekday, &str)> {
    use Weekday::*;
    // Picked by the first two letters: this runs for nearly every word of a transcript.
    let names: &[(&str, Weekday)] = match w.as_bytes().get(..2)? {
        b"mo" => &[("montag", Mon), ("monday", Mon)],
        b"di" => &[("dienstag", Tue)],
        b"tu" => &[("tuesday", Tue)],
        b"mi" => &[("mittwoch", Wed)],
        b"we" => &[("wednesday", Wed)],
        b"do" => &[("donnerstag", Thu)],
        b"th" => &[("thursday", Thu)],
        b"fr" => &[("freitag", Fri), ("friday", Fri)],
        b"sa" => &[("samstag", Sat), ("saturday", Sat)],
        b"so" => &[("sonnabend", Sat), ("sonntag", Sun)],
        b"su" => &[("sunday", Sun)],
        _ => return None,
    };
    names.iter().find_map(|(name, wd)| {
        let rest = w.strip_prefix(name)?;
        let ok = rest.is_empty()
            || rest == "s"
            || rest == "morgen"
            || rest == "fruh"
            || period_word(rest).is_some();
        ok.then_some((*wd, rest))
    })
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

/// A clock time as said, before the afternoon rule.
#[derive(Clone, Copy, Debug)]
struct Clock {
    hour: u32,
    minute: u32,
    /// Unambiguous: 24-hour form (13+, 0, a leading zero) or a.m./p.m.
    exact: bool,
}

fn time_in(t: &[Token<'_>]) -> Option<TimeWish> {
    let mut hits: Vec<Hit<TimeWish>> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if let Some((clock, mut end)) = clock_at(t, i) {
            let mut start = i;
            let mut period = None;
            if let Some((p, e)) = qualifier_after(t, end) {
                period = Some(p);
                end = e;
            } else if let Some(prev) = hits.last().filter(|h| period_just_before(t, h, i)) {
                // "nachmittags um drei": the period qualifies the hour.
                if let TimeWish::Period(p) = prev.value {
                    period = Some(p);
                    start = prev.start;
                    hits.pop();
                }
            }
            end = range_end(t, i, end);
            if let Some(time) = resolve_clock(clock, period) {
                hits.push(Hit {
                    start,
                    end,
                    value: TimeWish::At(time),
                });
            }
            i = end;
        } else if let Some((p, end)) = period_at(t, i) {
            hits.push(Hit {
                start: i,
                end,
                value: TimeWish::Period(p),
            });
            i = end;
        } else {
            i += 1;
        }
    }
    hits.last().map(|h| h.value)
}

/// Whether `hit` is a period ending just before the clock at `i`, with only "um"/"at"-like
/// words between.
fn period_just_before(t: &[Token<'_>], hit: &Hit<TimeWish>, i: usize) -> bool {
    matches!(hit.value, TimeWish::Period(_))
        && hit.end <= i
        && i - hit.end <= 3
        && t[hit.end..i].iter().all(|tok| {
            matches!(
                tok.norm.as_ref(),
                "," | "um" | "at" | "gegen" | "so" | "around" | "ab" | "zwischen" | "between"
            )
        })
}

/// "9 Uhr abends", "um drei am Nachmittag", "at 7 in the evening".
fn qualifier_after(t: &[Token<'_>], j: usize) -> Option<(DayPeriod, usize)> {
    let mut k = j;
    while k < j + 2 && matches!(norm(t, k), "am" | "in" | "the" | "der" | "des") {
        k += 1;
    }
    period_at(t, k)
}

/// After "zwischen 9 und 11 Uhr" the second time is the end of a range, not a new wish.
fn range_end(t: &[Token<'_>], start: usize, end: usize) -> usize {
    if !matches!(prev_norm(t, start), "zwischen" | "between" | "von" | "from") {
        return end;
    }
    if !matches!(norm(t, end), "und" | "bis" | "and" | "to" | "until" | "-") {
        return end;
    }
    match hour_at(t, end + 1) {
        Some((_, after, _)) => {
            let after = clock_at(t, end + 1).map_or(after, |(_, e)| e.max(after));
            if norm(t, after) == "uhr" {
                after + 1
            } else {
                after
            }
        }
        None => end,
    }
}

/// Applies a period and the afternoon rule to a clock time.
fn resolve_clock(clock: Clock, period: Option<DayPeriod>) -> Option<NaiveTime> {
    let mut hour = clock.hour;
    if !clock.exact {
        match period {
            Some(DayPeriod::Afternoon | DayPeriod::Evening) if (1..=11).contains(&hour) => {
                hour += 12
            }
            Some(DayPeriod::Midday) if (1..=3).contains(&hour) => hour += 12,
            // Practices are closed at 3 a.m.: "halb drei" is 14:30.
            None if (1..=6).contains(&hour) => hour += 12,
            _ => {}
        }
    }
    NaiveTime::from_hms_opt(hour, clock.minute, 0)
}

/// An hour said as a numeral (0–23) or a word (1–12): the hour, the index after it, and whether
/// the form is unambiguous (13+, 0, a leading zero).
fn hour_at(t: &[Token<'_>], i: usize) -> Option<(u32, usize, bool)> {
    let tok = t.get(i)?;
    match tok.kind {
        Kind::Num => {
            let h = tok.short_num().filter(|h| *h <= 23)?;
            Some((h, i + 1, tok.raw.starts_with('0') || h == 0 || h >= 13))
        }
        Kind::Word => {
            let h = tok.value.filter(|h| (1..=12).contains(h))?;
            Some((h, i + 1, false))
        }
        Kind::Punct => None,
    }
}

/// The hour before `h` on a 12-hour dial ("halb eins" is 12:30).
fn hour_before(h: u32) -> u32 {
    match h {
        0 | 1 => 12,
        _ => h - 1,
    }
}

fn clock(hour: u32, minute: u32, exact: bool) -> Clock {
    Clock {
        hour,
        minute,
        exact,
    }
}

/// Words after a number that make it a quantity, not a time ("in 2 Wochen", "um 5 Minuten").
const UNIT_WORDS: &[&str] = &[
    "tag", "tage", "tagen", "woche", "wochen", "monat", "monate", "monaten", "jahr", "jahre",
    "jahren", "minute", "minuten", "stunde", "stunden", "mal", "euro", "prozent", "leute",
    "personen", "day", "days", "week", "weeks", "month", "months", "year", "years", "minutes",
    "hour", "hours", "times", "people", "percent", "euros", "%", "€",
];

/// Whether a quantity or a date continues at `j`: then the number before is no time.
fn unit_follows(t: &[Token<'_>], j: usize) -> bool {
    let date_like =
        glued_punct(t, j, ".") && t.get(j + 1).is_some_and(|n| n.glued && n.kind == Kind::Num);
    date_like || UNIT_WORDS.contains(&norm(t, j))
}

/// English words after "9 am" that show the "am" is a.m. and not the German "am (Montag)".
#[rustfmt::skip]
const ENGLISH_AFTER_AM: &[&str] = &[
    "tomorrow", "today", "on", "next", "this", "or", "and", "please", "would", "works", "is", "if",
    "then", "sharp", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
];

/// "am", "pm", "a.m.", "p.m." at `j`: whether it is p.m., and the index after it.
fn meridiem_at(t: &[Token<'_>], j: usize) -> Option<(bool, usize)> {
    let tok = t.get(j)?;
    match tok.norm.as_ref() {
        "pm" => Some((true, j + 1)),
        "am" => {
            let english = tok.glued
                || t.get(j + 1).is_none_or(|n| n.kind == Kind::Punct)
                || ENGLISH_AFTER_AM.contains(&norm(t, j + 1));
            english.then_some((false, j + 1))
        }
        "a" | "p"
            if glued_punct(t, j + 1, ".")
                && t.get(j + 2).is_some_and(|m| m.glued && m.norm == "m") =>
        {
            let end = if glued_punct(t, j + 3, ".") {
                j + 4
            } else {
                j + 3
            };
            Some((tok.norm == "p", end))
        }
        _ => None,
    }
}

fn with_meridiem(hour: u32, minute: u32, pm: bool) -> Option<Clock> {
    if !(1..=12).contains(&hour) {
        return None;
    }
    let hour = hour % 12 + if pm { 12 } else { 0 };
    Some(clock(hour, minute, true))
}

/// Minutes spoken after an hour without "Uhr": "nine thirty", "at 9 30".
fn spoken_minutes(t: &[Token<'_>], j: usize) -> Option<(u32, usize)> {
    let tok = t.get(j)?;
    let (m, end) = match tok.kind {
        Kind::Num if tok.raw.len() == 2 && !tok.glued => (tok.raw.parse().ok()?, j + 1),
        Kind::Word => number_at(t, j)?,
        _ => return None,
    };
    ((10..=59).contains(&m) || (tok.kind == Kind::Num && m <= 59)).then_some((m, end))
}

fn clock_at(t: &[Token<'_>], i: usize) -> Option<(Clock, usize)> {
    if t.get(i)?.kind == Kind::Punct {
        return None;
    }
    if let Some(found) = relative_clock(t, i) {
        return Some(found);
    }
    if t[i].norm == "noon" {
        return Some((clock(12, 0, true), i + 1));
    }
    let (hour, after, exact) = hour_at(t, i)?;
    if t[i].kind == Kind::Num {
        if let Some(found) = separated_clock(t, i, hour, after, exact) {
            return found;
        }
    }
    match norm(t, after) {
        // "9 Uhr", "9 Uhr 30", "neun Uhr dreißig", "14 Uhr"
        "uhr" => {
            let (minute, end) = match number_at(t, after + 1) {
                Some((m, e)) if m <= 59 && !unit_follows(t, e) => (m, e),
                _ => (0, after + 1),
            };
            return Some((clock(hour, minute, exact), end));
        }
        "o'clock" | "oclock" => {
            let end = after + 1;
            return match meridiem_at(t, end) {
                Some((pm, e)) => Some((with_meridiem(hour, 0, pm)?, e)),
                None => Some((clock(hour, 0, exact), end)),
            };
        }
        "noon" if hour == 12 => return Some((clock(12, 0, true), after + 1)),
        _ => {}
    }
    let (minute, after_minutes) = spoken_minutes(t, after).unwrap_or((0, after));
    if let Some((pm, end)) = meridiem_at(t, after_minutes) {
        return Some((with_meridiem(hour, minute, pm)?, end));
    }
    // A bare hour counts only after "um", "at", "gegen", …, or as the start of a range.
    let marker = TIME_MARKERS.contains(&prev_norm(t, i))
        || (matches!(prev_norm(t, i), "von" | "from")
            && matches!(norm(t, after), "bis" | "to" | "until" | "-"));
    if marker && !unit_follows(t, after_minutes) && !unit_follows(t, after) {
        return Some((clock(hour, minute, exact), after_minutes));
    }
    None
}

/// "9:30", "09:30:00", "9.30 Uhr", "um 9.30". `Some(None)` when the numeral cannot start a time
/// ("17.09.2026"); `None` when the form does not apply.
fn separated_clock(
    t: &[Token<'_>],
    i: usize,
    hour: u32,
    after: usize,
    exact: bool,
) -> Option<Option<(Clock, usize)>> {
    let sep = if glued_punct(t, after, ":") {
        ":"
    } else if glued_punct(t, after, ".") {
        "."
    } else {
        return None;
    };
    let minute_tok = t
        .get(after + 1)
        .filter(|m| m.glued && m.kind == Kind::Num && m.raw.len() == 2);
    let Some(minute) = minute_tok
        .and_then(|m| m.raw.parse::<u32>().ok())
        .filter(|m| *m <= 59)
    else {
        // "um 9." at the end of a sentence is still nine o'clock; "17.09.2026" is no time.
        return if sep == "." && t.get(after + 1).is_none_or(|n| n.kind != Kind::Num) {
            None
        } else {
            Some(None)
        };
    };
    let mut end = after + 2;
    if sep == ":" {
        let seconds = glued_punct(t, end, ":")
            && t.get(end + 1)
                .is_some_and(|s| s.glued && s.kind == Kind::Num && s.raw.len() == 2);
        if seconds {
            end += 2;
        }
    } else {
        let date_like = glued_punct(t, end, ".")
            && t.get(end + 1)
                .is_some_and(|y| y.glued && y.kind == Kind::Num);
        let marked = norm(t, end) == "uhr" || TIME_MARKERS.contains(&prev_norm(t, i));
        if date_like || !marked {
            return Some(None);
        }
    }
    if norm(t, end) == "uhr" {
        return Some(Some((clock(hour, minute, exact), end + 1)));
    }
    Some(Some(match meridiem_at(t, end) {
        Some((pm, e)) => match with_meridiem(hour, minute, pm) {
            Some(c) => (c, e),
            None => return Some(None),
        },
        None => (clock(hour, minute, exact), end),
    }))
}

/// An hour for "halb"/"viertel"/"past"/"to" forms: 1–12 as a word, 1–23 as a numeral.
fn dial_hour(t: &[Token<'_>], i: usize) -> Option<(u32, usize, bool)> {
    hour_at(t, i).filter(|(h, _, _)| *h >= 1)
}

/// "halb zehn" (9:30), "viertel nach neun", "viertel vor zehn", "dreiviertel zehn",
/// "zehn nach neun", "fünf vor halb zehn", "half past nine", "quarter to ten", "ten past nine".
fn relative_clock(t: &[Token<'_>], i: usize) -> Option<(Clock, usize)> {
    let before = |(h, e, x): (u32, usize, bool), m: u32| (clock(hour_before(h), m, x), e);
    let at = |(h, e, x): (u32, usize, bool), m: u32| (clock(h, m, x), e);
    match norm(t, i) {
        "halb" => dial_hour(t, i + 1).map(|h| before(h, 30)),
        "dreiviertel" => dial_hour(t, i + 1).map(|h| before(h, 45)),
        "viertel" => match norm(t, i + 1) {
            "nach" => dial_hour(t, i + 2).map(|h| at(h, 15)),
            "vor" => dial_hour(t, i + 2).map(|h| before(h, 45)),
            // South German "viertel zehn" is 9:15.
            _ => dial_hour(t, i + 1).map(|h| before(h, 15)),
        },
        "half" => match norm(t, i + 1) {
            "past" | "after" => dial_hour(t, i + 2).map(|h| at(h, 30)),
            // British "half nine" is 9:30.
            _ => dial_hour(t, i + 1)
                .filter(|(_, _, _)| t[i + 1].is_word())
                .map(|h| at(h, 30)),
        },
        "quarter" => match norm(t, i + 1) {
            "past" | "after" => dial_hour(t, i + 2).map(|h| at(h, 15)),
            "to" | "before" | "of" | "till" => dial_hour(t, i + 2).map(|h| before(h, 45)),
            _ => None,
        },
        _ => minutes_before_after(t, i),
    }
}

/// "zehn nach neun", "5 vor 10", "fünf vor halb zehn", "ten past nine", "twenty to ten".
fn minutes_before_after(t: &[Token<'_>], i: usize) -> Option<(Clock, usize)> {
    let (x, j) = number_at(t, i)?;
    if !(1..=29).contains(&x) {
        return None;
    }
    let after = match norm(t, j) {
        "nach" => true,
        "vor" => false,
        // English only with number words: "from 9 to 11" is a range, not 10:51.
        "past" | "to" if t[i].is_word() && !matches!(prev_norm(t, i), "from" | "between") => {
            norm(t, j) == "past"
        }
        _ => return None,
    };
    if norm(t, j + 1) == "halb" {
        let (h, end, exact) = dial_hour(t, j + 2)?;
        let minute = if after { 30 + x } else { 30 - x };
        return Some((clock(hour_before(h), minute, exact), end));
    }
    let (h, end, exact) = dial_hour(t, j + 1)?;
    Some(if after {
        (clock(h, x, exact), end)
    } else {
        (clock(hour_before(h), 60 - x, exact), end)
    })
}

/// Words before a period word that make it a greeting: "Guten Abend", "good morning".
const GREETING_WORDS: &[&str] = &["guten", "gute", "good", "schonen", "angenehmen", "einen"];

/// A period word in the text: "vormittags", "am Nachmittag", "in the evening", "am Morgen",
/// "morgen früh", "Donnerstagvormittag". Greetings are not periods.
fn period_at(t: &[Token<'_>], i: usize) -> Option<(DayPeriod, usize)> {
    let tok = t.get(i).filter(|tok| tok.is_word())?;
    let prev = prev_norm(t, i);
    if GREETING_WORDS.contains(&prev) {
        return None;
    }
    let w = tok.norm.as_ref();
    let period = match w {
        "morgen" => MORNING_NOUN_MARKERS
            .contains(&prev)
            .then_some(DayPeriod::Morning),
        "fruh" => (matches!(prev, "morgen" | "heute" | "der") || weekday_word(prev).is_some())
            .then_some(DayPeriod::Morning),
        _ => match weekday_word(w) {
            Some((_, "morgen" | "fruh")) => Some(DayPeriod::Morning),
            Some((_, rest)) => period_word(rest),
            None => period_word(w),
        },
    }?;
    Some((period, i + 1))
}

/// A word that names a part of the day on its own.
fn period_word(w: &str) -> Option<DayPeriod> {
    if w.starts_with("vormittag") {
        return Some(DayPeriod::Morning);
    }
    if w.starts_with("nachmittag") {
        return Some(DayPeriod::Afternoon);
    }
    Some(match w {
        "morgens" | "morning" | "mornings" => DayPeriod::Morning,
        "mittag" | "mittags" | "mittagszeit" | "mittagspause" | "midday" | "lunchtime" => {
            DayPeriod::Midday
        }
        "afternoon" | "afternoons" => DayPeriod::Afternoon,
        "abend" | "abends" | "abendtermin" | "evening" | "evenings" | "tonight" => {
            DayPeriod::Evening
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Fuzzy word matching (services and staff)
// ---------------------------------------------------------------------------------------------

/// A folded word with German digraphs collapsed ("fuellung" → "fullung"), so that callers'
/// "ue" spellings and umlauts meet. Applied to both sides of every comparison.
fn match_form(folded: &str) -> Cow<'_, str> {
    let bytes = folded.as_bytes();
    let digraph = |w: &[u8]| matches!(w, [b'a' | b'o' | b'u', b'e']);
    if !folded.is_ascii() || !bytes.windows(2).any(digraph) {
        return Cow::Borrowed(folded);
    }
    let mut out = String::with_capacity(folded.len());
    let mut k = 0;
    while k < bytes.len() {
        out.push(char::from(bytes[k]));
        k += if bytes.get(k..k + 2).is_some_and(digraph) {
            2
        } else {
            1
        };
    }
    Cow::Owned(out)
}

/// The words of a catalogue name ("Dr. Anna Schmidt", "Professionelle Zahnreinigung") in
/// match form, without running the full tokenizer.
fn catalogue_words(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split(|c: char| !(is_word_char(c) || matches!(c, '-' | '\'' | '’')))
        .map(|w| {
            let folded = fold(w);
            match match_form(&folded) {
                Cow::Owned(collapsed) => collapsed,
                Cow::Borrowed(_) => folded.into_owned(),
            }
        })
        .filter(|w| !w.is_empty())
}

/// Edits allowed for a typo: one in words of 5+ letters, two in 9+, none in shorter words.
fn typo_budget(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Whether `a` and `b` are within `k` edits (insert, delete, substitute, swap neighbours).
/// Three rolling rows on the stack: no allocation, and it gives up as soon as a row exceeds `k`.
fn within_edits(a: &[u8], b: &[u8], k: usize) -> bool {
    const MAX: usize = 40;
    if a.len().abs_diff(b.len()) > k {
        return false;
    }
    if a.len() > MAX || b.len() > MAX {
        return a == b;
    }
    // Row `i` of the table lives in `rows[i % 3]`; distances are at most MAX, so bytes do.
    let mut rows = [[0u8; MAX + 1]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate().take(b.len() + 1) {
        *cell = j as u8;
    }
    for i in 1..=a.len() {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur][0] = i as u8;
        let mut row_min = i as u8;
        for j in 1..=b.len() {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut v = (rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1)
                .min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(rows[prev2][j - 2] + 1);
            }
            rows[cur][j] = v;
            row_min = row_min.min(v);
        }
        if usize::from(row_min) > k {
            return false;
        }
    }
    usize::from(rows[a.len() % 3][b.len()]) <= k
}

/// The letters a word uses, one bit each (other bytes share the upper bits).
fn letter_set(w: &[u8]) -> u32 {
    w.iter().fold(0, |set, b| {
        let bit = if b.is_ascii_lowercase() {
            b - b'a'
        } else {
            26 + b % 6
        };
        set | 1 << bit
    })
}

/// The word and, when it has one, the word without an inflection ending
/// ("Zahnreinigungen" → "zahnreinigung", "Kontrolle" → "kontroll", "fillings" → "filling").
fn stems(w: &str) -> ([&str; 2], usize) {
    for suffix in ["ern", "en", "er", "es", "e", "n", "s"] {
        if let Some(stem) = w.strip_suffix(suffix).filter(|s| s.len() >= 4) {
            return ([w, stem], 2);
        }
    }
    ([w, w], 1)
}

/// A word prepared for fuzzy comparison.
struct Term<'w> {
    word: &'w str,
    /// The word and its stem, `stem_count` of them distinct.
    stems: [&'w str; 2],
    stem_count: usize,
    letters: u32,
}

impl<'w> Term<'w> {
    fn new(word: &'w str) -> Self {
        let (stems, stem_count) = stems(word);
        Self {
            word,
            stems,
            stem_count,
            letters: letter_set(word.as_bytes()),
        }
    }

    fn stems(&self) -> &[&'w str] {
        &self.stems[..self.stem_count]
    }

    /// A typo of the other word: within the edit budget of the shorter one.
    fn typo_of(&self, other: &Term<'_>) -> bool {
        let budget = typo_budget(self.word.len().min(other.word.len()));
        // Each edit changes at most two letters of the set of letters used: a cheap test
        // that refuses most unrelated words before filling the table.
        budget > 0
            && (self.letters ^ other.letters).count_ones() as usize <= 2 * budget
            && within_edits(self.word.as_bytes(), other.word.as_bytes(), budget)
    }
}

/// Parts that say nothing about which service is meant ("eine Behandlung", "ein Termin").
#[rustfmt::skip]
const GENERIC_PARTS: &[&str] = &[
    "behandlung", "therapie", "beratung", "sprechstunde", "stunde", "termin", "zahnarzt", "praxis",
    "treatment",
];

/// How well a caller's word fits a word of a service name: 3 the same word (up to inflection),
/// 2 a typo, a compound part ("reinigung" in "zahnreinigung") or a long shared start, 0 nothing.
fn word_score(text: &Term<'_>, target: &Term<'_>) -> u32 {
    let (tw, gw) = (text.word.as_bytes(), target.word.as_bytes());
    // Letters only one side uses: every rule but the shared start keeps them few (an ending
    // adds three at most, a typo two), so most pairs are refused without comparing strings.
    let text_only = (text.letters & !target.letters).count_ones();
    let target_only = (target.letters & !text.letters).count_ones();
    if text_only <= 3 && target_only <= 3 && text.stems().iter().any(|a| target.stems().contains(a))
    {
        return 3;
    }
    // A long shared start: "Kontrolltermin" and "Kontrolluntersuchung".
    if tw.len() >= 8 && gw.len() >= 8 && tw[0] == gw[0] && tw[..8] == gw[..8] {
        return 2;
    }
    // Short words count only when they are the same word.
    if tw.len() < 5 || (text_only > 5 && target_only > 3) {
        return 0;
    }
    if text.typo_of(target) {
        return 2;
    }
    for &part in text.stems() {
        if part.len() < 5 || GENERIC_PARTS.contains(&part) {
            continue;
        }
        for &whole in target.stems() {
            if whole.len() > part.len() && (whole.starts_with(part) || whole.ends_with(part)) {
                return 2;
            }
            // A compound of the caller's own: "Zahnreinigungstermin".
            if whole.len() >= 5 && part.len() > whole.len() && part.starts_with(whole) {
                return 2;
            }
            if part.len() >= 6 && whole.len() > part.len() && part_with_typo(part, whole) {
                return 2;
            }
        }
    }
    0
}

/// A compound part with a typo: "reinigugn" in "zahnreinigung".
fn part_with_typo(part: &str, whole: &str) -> bool {
    let (p, w) = (part.as_bytes(), whole.as_bytes());
    let budget = typo_budget(p.len());
    let close = |piece: &[u8]| {
        piece[0] == p[0]
            && (letter_set(p) ^ letter_set(piece)).count_ones() as usize <= 2 * budget
            && within_edits(p, piece, budget)
    };
    close(&w[..p.len()]) || close(&w[w.len() - p.len()..])
}

/// What English (and colloquial German) words are called in German service names.
fn service_synonyms(w: &str, next: &str) -> &'static [&'static str] {
    const CLEANING: &[&str] = &["reinigung"];
    const CHECKUP: &[&str] = &["kontroll", "untersuchung"];
    const FILLING: &[&str] = &["fullung"];
    const WHITENING: &[&str] = &["bleaching"];
    const ROOT_CANAL: &[&str] = &["wurzel"];
    const PAIN: &[&str] = &["schmerz", "notfall"];
    // Plurals: "cleanings", "fillings", "crowns".
    let w = if w.len() > 4 {
        w.strip_suffix('s').unwrap_or(w)
    } else {
        w
    };
    match w {
        "cleaning" | "hygiene" | "prophylaxis" | "prophylaxe" | "pzr" => CLEANING,
        "checkup" | "examination" | "exam" | "vorsorge" => CHECKUP,
        "check" if next == "up" => CHECKUP,
        "filling" | "cavity" | "cavitie" | "plombe" | "karie" => FILLING,
        "whitening" | "aufhellung" | "zahnaufhellung" => WHITENING,
        "root" if next.starts_with("canal") => ROOT_CANAL,
        "wurzelkanal" => ROOT_CANAL,
        "crown" => &["krone"],
        "implant" => &["implantat"],
        "emergency" | "toothache" | "pain" | "zahnschmerzen" | "zahnweh" => PAIN,
        _ => &[],
    }
}

/// The distinct words of the text in match form, plus what its synonyms stand for.
fn text_words<'t>(t: &'t [Token<'_>]) -> Vec<Cow<'t, str>> {
    let mut words = Vec::with_capacity(t.len());
    for (i, tok) in t.iter().enumerate() {
        if !tok.is_word() || tok.norm.len() < 3 {
            continue;
        }
        words.push(match_form(&tok.norm));
        let synonyms = service_synonyms(&tok.norm, norm(t, i + 1));
        words.extend(synonyms.iter().map(|s| Cow::Borrowed(*s)));
    }
    // Callers repeat themselves; comparing each word once pays for the sort.
    words.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    words.dedup();
    words
}

/// Words of a service name that say nothing on their own.
const NAME_FILLERS: &[&str] = &[
    "und", "and", "fur", "for", "mit", "with", "der", "die", "das", "the",
];

fn service_in<'a>(t: &[Token<'_>], services: &'a [impl Borrow<Service>]) -> Option<&'a Service> {
    let words = text_words(t);
    let terms: Vec<Term<'_>> = words.iter().map(|w| Term::new(w)).collect();
    let mut best: Option<((u32, usize), &Service)> = None;
    let mut tied = false;
    for service in services.iter().map(Borrow::borrow).filter(|s| s.active) {
        let mut score = 0;
        let mut matched_len = 0;
        for part in catalogue_words(&service.name) {
            if part.len() < 3 || NAME_FILLERS.contains(&part.as_str()) {
                continue;
            }
            let target = Term::new(&part);
            let mut s = 0;
            for term in &terms {
                s = s.max(word_score(term, &target));
                if s == 3 {
                    break;
                }
            }
            if s > 0 {
                score += s;
                matched_len += part.len();
            }
        }
        if score < 2 {
            continue;
        }
        let key = (score, matched_len);
        match best {
            Some((best_key, _)) if best_key > key => {}
            Some((best_key, other)) if best_key == key => tied |= other.id != service.id,
            _ => {
                best = Some((key, service));
                tied = false;
            }
        }
    }
    if tied {
        None
    } else {
        best.map(|(_, s)| s)
    }
}

/// Titles and salutations, never part of a name to match.
#[rustfmt::skip]
const TITLES: &[&str] = &[
    "dr", "doktor", "doctor", "prof", "professor", "med", "dent", "dipl", "frau", "herr", "herrn",
    "mr", "mrs", "ms", "miss",
];

/// Words before a name that say a person is meant even when it is written in lower case.
const PERSON_CUES: &[&str] = &["bei", "zu", "mit", "with", "see", "von"];

fn name_parts(name: &str) -> impl Iterator<Item = String> + '_ {
    catalogue_words(name).filter(|p| p.len() >= 2 && !TITLES.contains(&p.as_str()))
}

/// Whether a caller's word is this name part: the same, a genitive ("Schmidts") or a typo.
fn name_fits(word: &Term<'_>, part: &Term<'_>) -> bool {
    word.word == part.word || word.word.strip_suffix('s') == Some(part.word) || word.typo_of(part)
}

/// Whether the token at `j` can be (part of) a staff name mention.
fn could_be_name(t: &[Token<'_>], j: usize, continuing: bool) -> bool {
    let tok = &t[j];
    if !tok.is_word() || tok.norm.len() < 3 {
        return false;
    }
    let prev = prev_norm(t, j);
    let prev = if prev == "." {
        norm(t, j.wrapping_sub(2))
    } else {
        prev
    };
    continuing || tok.capitalised() || TITLES.contains(&prev) || PERSON_CUES.contains(&prev)
}

fn staff_in<'a>(
    t: &[Token<'_>],
    staff: &'a [impl Borrow<Staff>],
    skip: Option<Range<usize>>,
) -> Option<&'a Staff> {
    let people: Vec<&Staff> = staff
        .iter()
        .map(Borrow::borrow)
        .filter(|s| s.active)
        .collect();
    // Every name part with its owner: (0, "anna"), (0, "schmidt"), (1, "mehmet"), …
    let owned: Vec<(usize, String)> = people
        .iter()
        .enumerate()
        .flat_map(|(k, s)| name_parts(&s.name).map(move |p| (k, p)))
        .collect();
    let parts: Vec<(usize, Term<'_>)> = owned.iter().map(|(k, p)| (*k, Term::new(p))).collect();
    let mut current: Option<&Staff> = None;
    // How many words of the current mention fit each person; zero between mentions.
    let mut counts = vec![0u32; people.len()];
    // The last word that counted for each person, so two parts fitting one word count once.
    let mut counted_at = vec![usize::MAX; people.len()];
    let mut i = 0;
    while i < t.len() {
        // A mention: neighbouring words that are all name parts ("Anna Schmidt").
        let mut j = i;
        while j < t.len()
            && !skip.as_ref().is_some_and(|r| r.contains(&j))
            && could_be_name(t, j, j > i)
        {
            let form = match_form(&t[j].norm);
            let word = Term::new(&form);
            let mut any = false;
            for (k, part) in &parts {
                if counted_at[*k] != j && name_fits(&word, part) {
                    counts[*k] += 1;
                    counted_at[*k] = j;
                    any = true;
                }
            }
            if !any {
                break;
            }
            j += 1;
        }
        if j == i {
            i += 1;
            continue;
        }
        let best = counts.iter().copied().max().unwrap_or(0);
        let candidates: Vec<&Staff> = people
            .iter()
            .zip(&counts)
            .filter(|(_, c)| **c == best)
            .map(|(s, _)| *s)
            .collect();
        current = match candidates.as_slice() {
            [only] => Some(*only),
            // Still ambiguous, unless an earlier mention already named one of them.
            _ => current.filter(|c| candidates.iter().any(|s| s.id == c.id)),
        };
        counts.fill(0);
        i = j;
    }
    current
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// A caller's name and the tokens it covers.
struct NameHit {
    text: String,
    span: Range<usize>,
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

fn name_in(t: &[Token<'_>]) -> Option<NameHit> {
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

fn phone_in(t: &[Token<'_>], default_country_calling_code: &str) -> Option<E164Number> {
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

fn email_in(t: &[Token<'_>]) -> Option<String> {
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

// ---------------------------------------------------------------------------------------------
// Intent and urgency
// ---------------------------------------------------------------------------------------------

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

fn booking_intent_in(t: &[Token<'_>]) -> bool {
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

/// "starke Schmerzen", "starke Zahnschmerzen", "severe pain", "really bad toothache".
fn severe_pain_at(t: &[Token<'_>], i: usize) -> bool {
    SEVERE_WORDS.contains(&norm(t, i))
        && (i + 1..i + 3).any(|k| {
            let w = norm(t, k);
            w.contains("schmerz") || matches!(w, "pain" | "pains" | "toothache" | "ache")
        })
}

fn urgency_in(t: &[Token<'_>]) -> bool {
    (0..t.len()).any(|i| {
        let hit = urgent_word(norm(t, i))
            || severe_pain_at(t, i)
            || URGENT_PHRASES.iter().any(|p| phrase_at(t, i, p));
        hit && !negated(t, i)
    })
}

#[cfg(test)]
mod tests {
    use super::super::ids::{BranchId, CompanyId};
    use super::super::model::StaffRole;
    use super::super::schedule::WeeklyHours;
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn at(h: u32, m: u32) -> Option<TimeWish> {
        Some(TimeWish::At(
            NaiveTime::from_hms_opt(h, m, 0).expect("valid test time"),
        ))
    }

    fn on(y: i32, m: u32, d: u32) -> Option<DateWish> {
        Some(DateWish::Day(day(y, m, d)))
    }

    fn week_of(y: i32, m: u32, d: u32) -> Option<DateWish> {
        Some(DateWish::WeekOf(day(y, m, d)))
    }

    fn period(p: DayPeriod) -> Option<TimeWish> {
        Some(TimeWish::Period(p))
    }

    /// Tuesday, 15 September 2026: the call date of the Retell sample.
    fn today() -> NaiveDate {
        day(2026, 9, 15)
    }

    fn service(name: &str, active: bool) -> Service {
        Service {
            id: ServiceId::new(),
            company_id: CompanyId::new(),
            name: name.into(),
            duration_minutes: 30,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            required_skills: Vec::new(),
            active,
        }
    }

    /// The demo catalogue from `src/seed.rs`, plus an inactive service that must never match.
    fn services() -> Vec<Service> {
        let mut all: Vec<Service> = [
            "Kontrolluntersuchung",
            "Professionelle Zahnreinigung",
            "Füllungstherapie",
            "Wurzelbehandlung",
            "Bleaching",
            "Implantatberatung",
            "Schmerzsprechstunde",
        ]
        .iter()
        .map(|n| service(n, true))
        .collect();
        all.push(service("Krone", false));
        all
    }

    fn staff_member(name: &str) -> Staff {
        Staff {
            id: StaffId::new(),
            branch_id: BranchId::new(),
            name: name.into(),
            role: StaffRole::Practitioner,
            skills: Vec::new(),
            languages: Vec::new(),
            working_hours: WeeklyHours::default(),
            breaks: WeeklyHours::default(),
            date_overrides: Vec::new(),
            active: true,
            email: None,
        }
    }

    /// The demo staff from `src/seed.rs`.
    fn staff() -> Vec<Staff> {
        [
            "Dr. Anna Schmidt",
            "Mehmet Yılmaz",
            "Dr. Lukas Weber",
            "Sabine Koch",
            "Dr. Olga Petrova",
            "Jana Fischer",
            "Dr. Thomas Becker",
            "Katrin Wolf",
            "Dr. Layla Haddad",
            "Sophie Wagner",
            "Dr. Maximilian Hofer",
            "Claudia Braun",
        ]
        .iter()
        .map(|n| staff_member(n))
        .collect()
    }

    #[test]
    fn the_sample_day_is_a_tuesday() {
        assert_eq!(today().weekday(), Weekday::Tue);
    }

    #[test]
    fn dates_are_read_relative_to_the_call_date_and_the_last_mention_wins() {
        let cases: &[(&str, Option<DateWish>)] = &[
            ("Geht es am 17.09.2026?", on(2026, 9, 17)),
            ("am 17.9. bitte", on(2026, 9, 17)),
            ("Haben Sie am 17.09. was frei?", on(2026, 9, 17)),
            ("17.09.26", on(2026, 9, 17)),
            ("2026-09-17", on(2026, 9, 17)),
            ("am 17. September", on(2026, 9, 17)),
            ("am 17. September 2026", on(2026, 9, 17)),
            ("am siebzehnten September", on(2026, 9, 17)),
            ("September 17 would be great", on(2026, 9, 17)),
            ("How about Sept 17th?", on(2026, 9, 17)),
            ("the 17th of September", on(2026, 9, 17)),
            ("on the 17th", on(2026, 9, 17)),
            // The 3rd has passed this month, so it is next month's.
            ("the 3rd works", on(2026, 10, 3)),
            ("am dritten Oktober", on(2026, 10, 3)),
            ("heute noch", on(2026, 9, 15)),
            ("morgen um neun", on(2026, 9, 16)),
            ("Morgen ginge es auch", on(2026, 9, 16)),
            ("übermorgen", on(2026, 9, 17)),
            ("today if possible", on(2026, 9, 15)),
            ("tomorrow afternoon", on(2026, 9, 16)),
            ("the day after tomorrow", on(2026, 9, 17)),
            ("Guten Morgen, ich brauche einen Termin", None),
            ("morgens passt es mir am besten", None),
            ("am Donnerstag", on(2026, 9, 17)),
            ("Donnerstag", on(2026, 9, 17)),
            ("Donnerstagvormittag wäre gut", on(2026, 9, 17)),
            ("nächsten Donnerstag", on(2026, 9, 17)),
            ("kommenden Montag", on(2026, 9, 21)),
            ("on Thursday", on(2026, 9, 17)),
            ("next Monday", on(2026, 9, 21)),
            ("this Friday", on(2026, 9, 18)),
            // Today's weekday means a week ahead.
            ("Dienstag", on(2026, 9, 22)),
            ("nächste Woche", week_of(2026, 9, 21)),
            ("next week sometime", week_of(2026, 9, 21)),
            ("diese Woche noch", week_of(2026, 9, 14)),
            ("this week", week_of(2026, 9, 14)),
            ("in zwei Wochen", week_of(2026, 9, 28)),
            ("in 2 weeks", week_of(2026, 9, 28)),
            ("übernächste Woche", week_of(2026, 9, 28)),
            ("in drei Tagen", on(2026, 9, 18)),
            ("nächste Woche Mittwoch", on(2026, 9, 23)),
            ("Thursday next week", on(2026, 9, 24)),
            ("Donnerstag, den 24. September", on(2026, 9, 24)),
            // Past dates without a year are next year's.
            ("am 3.3.", on(2027, 3, 3)),
            ("am 1. März", on(2027, 3, 1)),
            ("am 31.02.", None),
            ("Donnerstag, nein, lieber Freitag", on(2026, 9, 18)),
            ("am 17. oder doch lieber am 18. September", on(2026, 9, 18)),
            ("Donnerstag oder Freitag", on(2026, 9, 18)),
            ("Montag oder Dienstag nächste Woche", on(2026, 9, 22)),
            ("Monday the 21st", on(2026, 9, 21)),
            ("heute Abend", on(2026, 9, 15)),
            // "heute Morgen" is this morning, not tomorrow.
            ("heute Morgen", on(2026, 9, 15)),
            ("um 9.30 Uhr", None),
            ("Meine Nummer ist 0151 23456789", None),
            ("Ich hätte gern einen Termin", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract_date(text, today()), *want, "{text:?}");
        }
    }

    #[test]
    fn times_are_read_in_german_and_english_and_the_last_mention_wins() {
        let cases: &[(&str, Option<TimeWish>)] = &[
            ("9:30", at(9, 30)),
            ("um 09:30 Uhr", at(9, 30)),
            ("9.30 Uhr", at(9, 30)),
            ("um 9 Uhr 30", at(9, 30)),
            ("um 9 Uhr", at(9, 0)),
            ("neun Uhr", at(9, 0)),
            ("neun Uhr fünfundvierzig", at(9, 45)),
            ("Halb zehn passt gut.", at(9, 30)),
            ("viertel nach neun", at(9, 15)),
            ("viertel vor zehn", at(9, 45)),
            ("dreiviertel zehn", at(9, 45)),
            ("zehn nach neun", at(9, 10)),
            ("fünf vor halb zehn", at(9, 25)),
            ("um 14 Uhr", at(14, 0)),
            ("at 9", at(9, 0)),
            ("at 9:30", at(9, 30)),
            ("at nine thirty", at(9, 30)),
            ("9am", at(9, 0)),
            ("9 a.m. tomorrow", at(9, 0)),
            ("2 pm", at(14, 0)),
            ("half past nine", at(9, 30)),
            ("quarter past nine", at(9, 15)),
            ("quarter to ten", at(9, 45)),
            ("ten to ten", at(9, 50)),
            ("at noon", at(12, 0)),
            ("um drei nachmittags", at(15, 0)),
            ("nachmittags um vier", at(16, 0)),
            ("um 8 Uhr abends", at(20, 0)),
            ("at 7 in the evening", at(19, 0)),
            ("12 Uhr mittags", at(12, 0)),
            // Hours 1–6 without a qualifier are afternoon hours; seven stays morning.
            ("halb drei", at(14, 30)),
            ("um sieben", at(7, 0)),
            ("um 3 Uhr morgens", at(3, 0)),
            ("am Vormittag", period(DayPeriod::Morning)),
            ("in the morning", period(DayPeriod::Morning)),
            ("nachmittags", period(DayPeriod::Afternoon)),
            ("morgen früh", period(DayPeriod::Morning)),
            ("über Mittag", period(DayPeriod::Midday)),
            ("Donnerstagnachmittag", period(DayPeriod::Afternoon)),
            ("Guten Morgen!", None),
            ("Guten Abend, ich hätte gern einen Termin", None),
            ("good afternoon", None),
            ("am 17.09.2026", None),
            ("meine Nummer ist 0151 23456789", None),
            ("in 2 weeks", None),
            ("um 9, nein, lieber um 10", at(10, 0)),
            ("zwischen 9 und 11 Uhr", at(9, 0)),
            ("Donnerstag vormittags.\nHalb zehn passt.", at(9, 30)),
            ("um 9 am Donnerstag", at(9, 0)),
            ("um 10 nach 9", at(9, 10)),
            ("12:30 pm", at(12, 30)),
            ("heute Abend", period(DayPeriod::Evening)),
            ("call me at 0151 23456789", None),
            ("ich bin 35 Jahre alt", None),
        ];
        for (text, want) in cases {
            assert_eq!(extract_time(text), *want, "{text:?}");
        }
    }

    #[test]
    fn function_arguments_are_read_literally_first() {
        let times: &[(&str, Option<TimeWish>)] = &[
            ("09:30", at(9, 30)),
            ("9:30", at(9, 30)),
            ("14:00", at(14, 0)),
            ("14:00:00", at(14, 0)),
            ("03:00", at(3, 0)),
            ("14", at(14, 0)),
            ("morning", period(DayPeriod::Morning)),
            ("vormittags", period(DayPeriod::Morning)),
            ("Afternoon", period(DayPeriod::Afternoon)),
            ("noon", at(12, 0)),
            ("halb zehn", at(9, 30)),
            ("", None),
            ("25:00", None),
            ("whenever", None),
        ];
        for (raw, want) in times {
            assert_eq!(parse_time_argument(raw), *want, "{raw:?}");
        }
        let dates: &[(&str, Option<DateWish>)] = &[
            ("2026-09-17", on(2026, 9, 17)),
            (" 2026-09-17T09:30:00 ", on(2026, 9, 17)),
            ("Donnerstag", on(2026, 9, 17)),
            ("next week", week_of(2026, 9, 21)),
            ("2026-02-30", None),
            ("soon", None),
        ];
        for (raw, want) in dates {
            assert_eq!(parse_date_argument(raw, today()), *want, "{raw:?}");
        }
    }

    #[test]
    fn day_periods_parse_and_have_windows() {
        assert_eq!(DayPeriod::parse("Vormittags"), Some(DayPeriod::Morning));
        assert_eq!(DayPeriod::parse("am Morgen"), Some(DayPeriod::Morning));
        assert_eq!(DayPeriod::parse("midday"), Some(DayPeriod::Midday));
        assert_eq!(DayPeriod::parse("noon"), Some(DayPeriod::Midday));
        assert_eq!(DayPeriod::parse("Mittags"), Some(DayPeriod::Midday));
        assert_eq!(DayPeriod::parse("in the evening"), Some(DayPeriod::Evening));
        assert_eq!(DayPeriod::parse("abends"), Some(DayPeriod::Evening));
        assert_eq!(DayPeriod::parse("morgen"), None);
        assert_eq!(DayPeriod::parse("morning or evening"), None);
        assert_eq!(DayPeriod::Morning.window(), (hm(8, 0), hm(12, 0)));
        assert_eq!(DayPeriod::Evening.window(), (hm(17, 0), hm(21, 0)));
        assert_eq!(
            serde_json::to_string(&DayPeriod::Afternoon).ok().as_deref(),
            Some("\"afternoon\"")
        );
        assert_eq!(
            serde_json::from_str::<DayPeriod>("\"midday\"").ok(),
            Some(DayPeriod::Midday)
        );
    }

    #[test]
    fn services_match_tolerantly() {
        let catalogue = services();
        let cases: &[(&str, Option<&str>)] = &[
            (
                "Ich hätte gern einen Termin zur Zahnreinigung",
                Some("Professionelle Zahnreinigung"),
            ),
            (
                "zwei Zahnreinigungen für meine Kinder",
                Some("Professionelle Zahnreinigung"),
            ),
            (
                "eine professionelle Reinigung",
                Some("Professionelle Zahnreinigung"),
            ),
            ("Zahnreiningung", Some("Professionelle Zahnreinigung")),
            ("ZAHNREINIGUNG", Some("Professionelle Zahnreinigung")),
            (
                "I need a teeth cleaning",
                Some("Professionelle Zahnreinigung"),
            ),
            ("a check-up please", Some("Kontrolluntersuchung")),
            ("nur zur Kontrolle", Some("Kontrolluntersuchung")),
            ("eine Untersuchung", Some("Kontrolluntersuchung")),
            ("einen Kontrolltermin", Some("Kontrolluntersuchung")),
            ("I think I need a filling", Some("Füllungstherapie")),
            ("meine Füllung ist rausgefallen", Some("Füllungstherapie")),
            ("eine Fuellung", Some("Füllungstherapie")),
            ("teeth whitening", Some("Bleaching")),
            ("Bleeching", Some("Bleaching")),
            ("root canal treatment", Some("Wurzelbehandlung")),
            ("Wurzelbehandlung", Some("Wurzelbehandlung")),
            ("Beratung für ein Implantat", Some("Implantatberatung")),
            ("ich habe starke Zahnschmerzen", Some("Schmerzsprechstunde")),
            ("terrible toothache", Some("Schmerzsprechstunde")),
            ("Ich möchte einen Termin", None),
            ("eine Beratung", None),
            // The catalogue's "Krone" is inactive.
            ("a new crown", None),
        ];
        for (text, want) in cases {
            let got = match_service(text, &catalogue).map(|s| s.name.as_str());
            assert_eq!(got, *want, "{text:?}");
        }
        let crowns = [service("Krone", true), service("Bleaching", true)];
        assert_eq!(
            match_service("a crown", &crowns).map(|s| s.name.as_str()),
            Some("Krone")
        );
        assert_eq!(
            match_service("zwei Kronen", &crowns).map(|s| s.name.as_str()),
            Some("Krone")
        );
        let twins = [
            service("Zahnreinigung", true),
            service("Zahnreinigung", true),
        ];
        assert_eq!(
            match_service("Zahnreinigung", &twins),
            None,
            "a tie is ambiguous"
        );
    }

    #[test]
    fn staff_match_by_name_and_ambiguity_gives_none() {
        let mut team = staff();
        let name_of = |text: &str, team: &[Staff]| match_staff(text, team).map(|s| s.name.clone());
        let cases: &[(&str, Option<&str>)] = &[
            ("bei Frau Schmidt", Some("Dr. Anna Schmidt")),
            ("zu Dr. Schmidt bitte", Some("Dr. Anna Schmidt")),
            ("with Anna", Some("Dr. Anna Schmidt")),
            ("mit Herrn Yılmaz", Some("Mehmet Yılmaz")),
            ("mit Herrn Yilmaz", Some("Mehmet Yılmaz")),
            ("mit herrn yilmaz", Some("Mehmet Yılmaz")),
            ("bei Dr. Weber", Some("Dr. Lukas Weber")),
            ("bei Frau Schmitt", Some("Dr. Anna Schmidt")),
            (
                "Hier ist Anna Weiß, ich möchte zu Frau Koch",
                Some("Sabine Koch"),
            ),
            (
                "zu Herrn Weber, nein, doch lieber zu Frau Fischer",
                Some("Jana Fischer"),
            ),
            ("Kann ich mit Frau Wolf sprechen?", Some("Katrin Wolf")),
            ("egal bei wem", None),
        ];
        for (text, want) in cases {
            assert_eq!(name_of(text, &team).as_deref(), *want, "{text:?}");
        }
        team.push(staff_member("Dr. Anna Keller"));
        assert_eq!(name_of("mit Anna", &team), None, "two Annas");
        assert_eq!(
            name_of("mit Anna Schmidt", &team).as_deref(),
            Some("Dr. Anna Schmidt")
        );
        assert_eq!(
            name_of("zu Frau Keller. Ja, zu Anna.", &team).as_deref(),
            Some("Dr. Anna Keller"),
            "an earlier mention narrows a later one"
        );
    }

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
