//! The tokenizer every scan runs on: words folded to lower case without accents, numerals,
//! punctuation, and the small helpers patterns use to look at tokens.

use super::numbers::number_word;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Letters (with inner hyphens and apostrophes: "check-up", "I'm").
    Word,
    /// ASCII digits.
    Num,
    /// Any other single character; line breaks are kept as "\n".
    Punct,
}

#[derive(Debug)]
pub(super) struct Token<'a> {
    /// The text as written.
    pub(super) raw: &'a str,
    /// Words: lower case, accents folded, hyphens dropped ("Zähne" → "zahne", "Check-up" →
    /// "checkup"). Numbers and punctuation: as written.
    pub(super) norm: Cow<'a, str>,
    pub(super) kind: Kind,
    /// No whitespace before it ("9am", the dots in "17.09.2026").
    pub(super) glued: bool,
    /// Numerals of up to four digits and number words up to 59 ("neun", "twenty"), read once
    /// here because date and time patterns ask for them at every position.
    pub(super) value: Option<u32>,
}

impl Token<'_> {
    pub(super) fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub(super) fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.norm == p
    }

    /// A numeral of one or two digits.
    pub(super) fn short_num(&self) -> Option<u32> {
        if self.kind == Kind::Num && self.raw.len() <= 2 {
            self.value
        } else {
            None
        }
    }

    pub(super) fn capitalised(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }
}

pub(super) fn is_word_char(c: char) -> bool {
    // Combining marks belong to their letter ("İ" lower-cases to "i" + U+0307).
    c.is_alphabetic() || ('\u{300}'..='\u{36f}').contains(&c)
}

pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
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
pub(super) fn fold(raw: &str) -> Cow<'_, str> {
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
pub(super) fn norm<'t>(t: &'t [Token<'_>], i: usize) -> &'t str {
    t.get(i).map_or("", |tok| tok.norm.as_ref())
}

/// The normalised token before `i`, or "" at the start.
pub(super) fn prev_norm<'t>(t: &'t [Token<'_>], i: usize) -> &'t str {
    i.checked_sub(1).map_or("", |p| norm(t, p))
}

/// Whether the token at `i` is the punctuation `p` written right after the previous token.
pub(super) fn glued_punct(t: &[Token<'_>], i: usize, p: &str) -> bool {
    t.get(i).is_some_and(|tok| tok.glued && tok.is_punct(p))
}

/// Whether the tokens from `i` on spell `words`.
pub(super) fn phrase_at(t: &[Token<'_>], i: usize, words: &[&str]) -> bool {
    words.iter().enumerate().all(|(k, w)| norm(t, i + k) == *w)
}

/// A mention covering tokens `start..end`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit<T> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) value: T,
}
