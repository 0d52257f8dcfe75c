//! Phone numbers in E.164 form, the key every inbound call is routed by.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in strict E.164 form: `+`, a non-zero country digit, 8 to 15 digits in all.
///
/// Only obtainable by parsing, so every `E164Number` in the engine is known to be well formed.
/// Parsing is lenient about the separators people type (spaces, dashes, dots, parentheses) and
/// the `00` international prefix, never about anything else.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164Number(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPhoneNumber {
    /// The number did not start with `+` or `00`.
    #[error("phone number must be in international form, starting with + and the country code")]
    NotInternational,
    /// Something other than digits and separators appeared.
    #[error("phone number may contain only digits after the leading +")]
    BadCharacter,
    /// Too few or too many digits, or a country code starting with 0.
    #[error("phone number must have 8 to 15 digits and a country code that does not start with 0")]
    BadLength,
}

impl E164Number {
    /// Parses `+49 30 1234-5678`, `0049301234 5678` or `+493012345678` into `+493012345678`.
    pub fn parse(raw: &str) -> Result<Self, InvalidPhoneNumber> {
        let trimmed = raw.trim();
        let rest = if let Some(rest) = trimmed.strip_prefix('+') {
            rest
        } else if let Some(rest) = trimmed.strip_prefix("00") {
            rest
        } else {
            return Err(InvalidPhoneNumber::NotInternational);
        };
        let mut digits = String::with_capacity(16);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' => {}
                _ => return Err(InvalidPhoneNumber::BadCharacter),
            }
        }
        let count = digits.len() - 1;
        if !(8..=15).contains(&count) || digits.as_bytes()[1] == b'0' {
            return Err(InvalidPhoneNumber::BadLength);
        }
        Ok(Self(digits))
    }

    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// True when the number starts with `prefix` (an E.164 prefix such as `+4930`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for E164Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for E164Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for E164Number {
    type Err = InvalidPhoneNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_ways_of_writing_an_international_number() {
        for raw in [
            "+493012345678",
            "+49 30 1234-5678",
            "0049 (30) 12345678",
            " +49.30.12345678 ",
        ] {
            assert_eq!(
                E164Number::parse(raw).map(|n| n.to_string()),
                Ok("+493012345678".into()),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_national_forms_letters_and_bad_lengths() {
        assert_eq!(
            E164Number::parse("030 12345678"),
            Err(InvalidPhoneNumber::NotInternational)
        );
        assert_eq!(
            E164Number::parse("+49 30 CALL NOW"),
            Err(InvalidPhoneNumber::BadCharacter)
        );
        assert_eq!(
            E164Number::parse("+4930"),
            Err(InvalidPhoneNumber::BadLength)
        );
        assert_eq!(
            E164Number::parse("+4930123456789012"),
            Err(InvalidPhoneNumber::BadLength)
        );
        assert_eq!(
            E164Number::parse("+0301234567"),
            Err(InvalidPhoneNumber::BadLength)
        );
    }

    #[test]
    fn prefixes_match_on_the_normalised_form() {
        let n = E164Number::parse("+49 30 12345678").expect("valid");
        assert!(n.has_prefix("+4930"));
        assert!(!n.has_prefix("+4940"));
        assert_eq!(n.digits(), "493012345678");
    }
}
