//! Typed identifiers: a `StaffId` can never be passed where a `BranchId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) identifier; ids sort roughly by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A tenant: one business with its branches, staff and customers.
    CompanyId
);
uuid_id!(
    /// One location of a company, with its own phone numbers, hours and staff.
    BranchId
);
uuid_id!(
    /// One staff member, who owns a calendar.
    StaffId
);
uuid_id!(
    /// A bookable service (e.g. a dental cleaning).
    ServiceId
);
uuid_id!(
    /// A customer of a company, recognised by phone number.
    CustomerId
);
uuid_id!(
    /// A booked (or cancelled) appointment.
    AppointmentId
);
uuid_id!(
    /// A callback request opened when a booking could not be made.
    CallbackId
);
uuid_id!(
    /// An admin API token.
    TokenId
);
uuid_id!(
    /// An outbound webhook subscription.
    SubscriptionId
);

/// Retell's own call identifier (e.g. `call_bb3bb233d7f204595a9201d0b7`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(String);

impl CallId {
    /// Longest call id we accept; Retell's are ~35 characters.
    pub const MAX_LEN: usize = 128;

    /// Accepts any non-empty, printable ASCII id up to [`Self::MAX_LEN`] characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidCallId> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidCallId)
        }
    }

    /// An owner id for holds made outside a call (admin API bookings).
    pub fn for_api() -> Self {
        Self(format!("api_{}", Uuid::new_v4().simple()))
    }

    /// The id as Retell sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A call id was empty, too long or contained non-printable characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("call id must be 1 to 128 printable ASCII characters")]
pub struct InvalidCallId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = BranchId::new();
        assert_eq!(id.to_string().parse::<BranchId>().ok(), Some(id));
    }

    #[test]
    fn call_ids_reject_empty_and_control_characters() {
        assert!(CallId::parse("call_bb3bb233d7f204595a9201d0b7").is_ok());
        assert_eq!(CallId::parse(""), Err(InvalidCallId));
        assert_eq!(CallId::parse("call\n1"), Err(InvalidCallId));
        assert_eq!(CallId::parse(&"x".repeat(129)), Err(InvalidCallId));
    }
}
