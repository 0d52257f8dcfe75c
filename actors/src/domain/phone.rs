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
    /// The text could not be read as a phone number at all.
    #[error("not a phone number")]
    Unreadable,
    /// Read as a number, but no such number exists in its country's numbering plan.
    #[error("not a valid phone number for its country")]
    NotInNumberingPlan,
    /// The default region given for national numbers is not a known ISO 3166 country code.
    #[error("unknown default region {0:?}")]
    UnknownRegion(String),
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

    /// Reads a number as people type it, national or international, and checks it against its
    /// country's numbering plan (libphonenumber metadata).
    ///
    /// A national number (`030 1234567`) is read in `default_region`, an ISO 3166 country code
    /// such as `"DE"`; an international one (`+44 20 7946 0958`, `0049 …`) ignores it. Unlike
    /// [`E164Number::parse`], which only checks the shape, this refuses numbers that cannot exist
    /// (`+49 1`), so use it wherever a person or a caller typed the number.
    pub fn parse_with_region(raw: &str, default_region: &str) -> Result<Self, InvalidPhoneNumber> {
        let region: phonenumber::country::Id =
            default_region
                .trim()
                .to_ascii_uppercase()
                .parse()
                .map_err(|_| InvalidPhoneNumber::UnknownRegion(default_region.to_owned()))?;
        if raw.chars().any(char::is_alphabetic) {
            // libphonenumber reads vanity letters ("0800-FLOWERS") as digits; we never want that.
            return Err(InvalidPhoneNumber::BadCharacter);
        }
        let number = phonenumber::parse(Some(region), raw.trim())
            .map_err(|_| InvalidPhoneNumber::Unreadable)?;
        if !phonenumber::is_valid(&number) {
            return Err(InvalidPhoneNumber::NotInNumberingPlan);
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        // Guard the invariant of the type whatever the metadata says.
        Self::parse(&e164)
    }

    /// The ISO 3166 region the number belongs to (`"GB"` for `+44 7700 …`), when known: the
    /// region a caller's own national numbers are meant in.
    pub fn region(&self) -> Option<String> {
        let number = phonenumber::parse(None, &self.0).ok()?;
        // The main region of the calling code (GB for +44, not Guernsey, which shares it):
        // national numbers are read the same way throughout a shared numbering plan.
        let regions = phonenumber::metadata::DATABASE.by_code(&number.country().code())?;
        let main = regions
            .iter()
            .find(|m| m.is_main_country_for_code())
            .or(regions.first())?;
        Some(main.id().to_owned())
    }

    /// The country calling code without `+` (`"49"`), when known.
    pub fn country_calling_code(&self) -> Option<String> {
        let number = phonenumber::parse(None, &self.0).ok()?;
        Some(number.country().code().to_string())
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

/// The country calling code of an ISO 3166 region, without `+` (`"49"` for `"DE"`), when
/// libphonenumber knows the region.
pub fn calling_code_of_region(region: &str) -> Option<String> {
    let region = region.trim().to_ascii_uppercase();
    phonenumber::metadata::DATABASE
        .by_id(region.as_str())
        .map(|m| m.country_code().to_string())
}

/// True when `code` is an ISO 3166 country code libphonenumber knows (`"DE"`, `"at"`).
pub fn is_known_region(code: &str) -> bool {
    code.trim()
        .to_ascii_uppercase()
        .parse::<phonenumber::country::Id>()
        .is_ok()
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
    fn a_region_has_its_calling_code() {
        assert_eq!(calling_code_of_region("DE").as_deref(), Some("49"));
        assert_eq!(calling_code_of_region("at").as_deref(), Some("43"));
        assert_eq!(calling_code_of_region("XX"), None);
    }

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
    fn national_numbers_are_read_in_the_default_region() {
        for (raw, region, expected) in [
            ("030 1234567", "DE", "+49301234567"),
            ("(030) 123 456 78", "de", "+493012345678"),
            ("0151 23456789", "DE", "+4915123456789"),
            ("020 7946 0958", "GB", "+442079460958"),
        ] {
            assert_eq!(
                E164Number::parse_with_region(raw, region).map(|n| n.to_string()),
                Ok(expected.into()),
                "{raw} in {region}"
            );
        }
    }

    #[test]
    fn international_numbers_ignore_the_default_region() {
        for raw in ["+44 20 7946 0958", "0044 20 7946 0958"] {
            assert_eq!(
                E164Number::parse_with_region(raw, "DE").map(|n| n.to_string()),
                Ok("+442079460958".into()),
                "{raw}"
            );
        }
        assert_eq!(
            E164Number::parse_with_region("+1 212 555 0123", "DE").map(|n| n.to_string()),
            Ok("+12125550123".into())
        );
    }

    #[test]
    fn impossible_numbers_letters_and_unknown_regions_are_refused() {
        for raw in [
            "+49 1",
            "12",
            "+49 30 12",
            "+1 000 000 0000",
            "+999 123456789",
        ] {
            assert!(
                matches!(
                    E164Number::parse_with_region(raw, "DE"),
                    Err(InvalidPhoneNumber::NotInNumberingPlan | InvalidPhoneNumber::Unreadable)
                ),
                "{raw}: {:?}",
                E164Number::parse_with_region(raw, "DE")
            );
        }
        assert_eq!(
            E164Number::parse_with_region("call me", "DE"),
            Err(InvalidPhoneNumber::BadCharacter)
        );
        assert_eq!(
            E164Number::parse_with_region("", "DE"),
            Err(InvalidPhoneNumber::Unreadable)
        );
        assert_eq!(
            E164Number::parse_with_region("030 1234567", "XX"),
            Err(InvalidPhoneNumber::UnknownRegion("XX".into()))
        );
    }

    #[test]
    fn prefixes_match_on_the_normalised_form() {
        let n = E164Number::parse("+49 30 12345678").expect("valid");
        assert!(n.has_prefix("+4930"));
        assert!(!n.has_prefix("+4940"));
        assert_eq!(n.digits(), "493012345678");
    }

    #[test]
    fn a_number_knows_its_region_and_calling_code() {
        let uk = E164Number::parse("+447911123456").expect("valid");
        assert_eq!(uk.region().as_deref(), Some("GB"));
        assert_eq!(uk.country_calling_code().as_deref(), Some("44"));
        let berlin = E164Number::parse("+493012345678").expect("valid");
        assert_eq!(berlin.region().as_deref(), Some("DE"));
    }
}
