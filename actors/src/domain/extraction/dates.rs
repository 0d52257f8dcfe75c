//! The day a caller asks for, relative to the call's local date.

use super::numbers::{number_at, ordinal_word};
use super::times::period_word;
use super::tokens::{glued_punct, norm, phrase_at, prev_norm, tokenize, Hit, Kind, Token};
use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// On which day a caller wants to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateWish {
    /// One day.
    Day(NaiveDate),
    /// Any day of the week starting on this Monday ("nächste Woche").
    WeekOf(NaiveDate),
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

/// A date mention before it is combined with its neighbours.
#[derive(Clone, Copy, Debug)]
enum DateHit {
    Day(NaiveDate),
    Weekday(Weekday),
    /// Weeks after the current one (0 = this week).
    Week(u32),
}

pub(super) fn date_in(t: &[Token<'_>], today: NaiveDate) -> Option<DateWish> {
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

pub(super) fn month_word(w: &str) -> Option<u32> {
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
pub(super) const MORNING_NOUN_MARKERS: &[&str] = &[
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
pub(super) fn weekday_word(w: &str) -> Option<(Weekday, &str)> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{on, today, week_of};
    use super::*;

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
    fn date_arguments_are_read_as_iso_first() {
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
}
