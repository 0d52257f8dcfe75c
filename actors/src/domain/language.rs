//! Languages callers speak and staff can serve in.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 639-1 language code in lower case (`de`, `en`, `tr`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Language([u8; 2]);

/// The text was not a two-letter language code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language must be a two-letter ISO 639-1 code such as \"de\" or \"en\"")]
pub struct InvalidLanguage;

impl Language {
    /// German.
    pub const DE: Language = Language(*b"de");
    /// English.
    pub const EN: Language = Language(*b"en");

    /// Parses `de`, `DE` or a locale such as `de-DE` / `en_US` (the region is dropped).
    pub fn parse(raw: &str) -> Result<Self, InvalidLanguage> {
        let code = raw.trim().split(['-', '_']).next().unwrap_or_default();
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Ok(Self([a.to_ascii_lowercase(), b.to_ascii_lowercase()]))
            }
            _ => Err(InvalidLanguage),
        }
    }

    /// The two-letter code.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.as_str().to_owned()
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Language {
    type Err = InvalidLanguage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_locales_case_insensitively() {
        assert_eq!(Language::parse("de"), Ok(Language::DE));
        assert_eq!(Language::parse("EN-us"), Ok(Language::EN));
        assert_eq!(
            Language::parse("tr_TR").map(|l| l.to_string()),
            Ok("tr".into())
        );
    }

    #[test]
    fn refuses_anything_else() {
        for raw in ["", "deu", "d", "1e", "ü"] {
            assert_eq!(Language::parse(raw), Err(InvalidLanguage), "{raw:?}");
        }
    }
}
