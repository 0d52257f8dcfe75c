//! The time of day a caller asks for: clock times, spoken or written, and parts of the day.

use super::dates::{weekday_word, MORNING_NOUN_MARKERS};
use super::numbers::number_at;
use super::tokens::{glued_punct, norm, prev_norm, tokenize, Hit, Kind, Token};
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::ops::Range;

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

/// Words before a number that make it a time, not a date.
const TIME_MARKERS: &[&str] = &[
    "um", "gegen", "ab", "at", "around", "zwischen", "between", "bis", "until",
];

/// A clock time as said, before the afternoon rule.
#[derive(Clone, Copy, Debug)]
struct Clock {
    hour: u32,
    minute: u32,
    /// Unambiguous: 24-hour form (13+, 0, a leading zero) or a.m./p.m.
    exact: bool,
}

pub(super) fn time_in(t: &[Token<'_>]) -> Option<TimeWish> {
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
pub(super) fn period_word(w: &str) -> Option<DayPeriod> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{at, period};
    use super::*;

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
}
