//! Numbers said as numerals or words, German and English, and day-of-month ordinals.

use super::tokens::{Kind, Token};

/// A number word from 0 to 59, German or English: "neun", "zwölf", "fünfundzwanzig",
/// "dreißig", "twelve", "twenty-five".
pub(super) fn number_word(w: &str) -> Option<u32> {
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
pub(super) fn number_at(t: &[Token<'_>], i: usize) -> Option<(u32, usize)> {
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
pub(super) fn ordinal_word(w: &str) -> Option<u32> {
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
