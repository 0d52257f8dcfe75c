//! Services and staff members named in the text, matched fuzzily against the catalogue.

use super::contact::name_in;
use super::tokens::{fold, is_word_char, norm, prev_norm, tokenize, Token};
use crate::domain::model::{Service, Staff};
use std::borrow::{Borrow, Cow};
use std::ops::Range;

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

pub(super) fn service_in<'a>(
    t: &[Token<'_>],
    services: &'a [impl Borrow<Service>],
) -> Option<&'a Service> {
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
pub(super) const TITLES: &[&str] = &[
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

pub(super) fn staff_in<'a>(
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{service, services, staff, staff_member};
    use super::*;

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
}
