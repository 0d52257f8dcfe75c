//! Opaque slot ids: what is needed to book a slot (staff, service, start), sealed with a MAC so a
//! voice agent can repeat one but never invent or alter one.
//!
//! Layout before encoding: staff id (16 bytes) ‖ service id (16) ‖ start in minutes since the
//! Unix epoch (4, big-endian) ‖ the first 8 bytes of HMAC-SHA256 over those 36 bytes.
//! Encoded as URL-safe base64 without padding behind a `slot_` prefix (64 characters in all).
//! The key is shared by every node, so any node can book a slot another node offered.

use super::ids::{ServiceId, StaffId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "slot_";
const PAYLOAD_LEN: usize = 36;
const MAC_LEN: usize = 8;

/// What a slot id stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotRef {
    /// Who performs the service.
    pub staff_id: StaffId,
    /// What is booked.
    pub service_id: ServiceId,
    /// When the customer's time starts (whole minutes).
    pub start: DateTime<Utc>,
}

/// A slot id that was not issued by us (or was damaged on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown slot id: ask for available slots again")]
pub struct InvalidSlotId;

/// Issues and checks slot ids with one secret key.
#[derive(Clone)]
pub struct SlotIdCodec {
    mac: HmacSha256,
}

impl std::fmt::Debug for SlotIdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotIdCodec([key redacted])")
    }
}

impl SlotIdCodec {
    /// A codec whose key is derived from `secret` (any length).
    pub fn new(secret: &[u8]) -> Self {
        // Derive a dedicated key, so the slot MAC never equals a MAC made with the secret itself.
        let mut derive =
            HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        derive.update(b"callflow slot id v1");
        let key = derive.finalize().into_bytes();
        Self {
            mac: HmacSha256::new_from_slice(&key).expect("HMAC accepts keys of any length"),
        }
    }

    fn tag(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&full[..MAC_LEN]);
        tag
    }

    /// The id of a slot. Seconds are dropped: slots start on whole minutes.
    pub fn encode(&self, slot: &SlotRef) -> String {
        let minutes = u32::try_from(slot.start.timestamp().div_euclid(60)).unwrap_or(u32::MAX);
        let mut bytes = [0u8; PAYLOAD_LEN + MAC_LEN];
        bytes[..16].copy_from_slice(slot.staff_id.0.as_bytes());
        bytes[16..32].copy_from_slice(slot.service_id.0.as_bytes());
        bytes[32..36].copy_from_slice(&minutes.to_be_bytes());
        let tag = self.tag(&bytes[..PAYLOAD_LEN]);
        bytes[PAYLOAD_LEN..].copy_from_slice(&tag);
        let mut id = String::with_capacity(PREFIX.len() + 59);
        id.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(bytes, &mut id);
        id
    }

    /// What an id stands for, if we issued it.
    pub fn decode(&self, id: &str) -> Result<SlotRef, InvalidSlotId> {
        let encoded = id.trim().strip_prefix(PREFIX).ok_or(InvalidSlotId)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| InvalidSlotId)?;
        if bytes.len() != PAYLOAD_LEN + MAC_LEN {
            return Err(InvalidSlotId);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| InvalidSlotId)?;
        let uuid = |range: std::ops::Range<usize>| {
            Uuid::from_slice(&payload[range]).map_err(|_| InvalidSlotId)
        };
        let minutes = u32::from_be_bytes([payload[32], payload[33], payload[34], payload[35]]);
        let start = Utc
            .timestamp_opt(i64::from(minutes) * 60, 0)
            .single()
            .ok_or(InvalidSlotId)?;
        Ok(SlotRef {
            staff_id: StaffId(uuid(0..16)?),
            service_id: ServiceId(uuid(16..32)?),
            start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotRef {
        SlotRef {
            staff_id: StaffId::new(),
            service_id: ServiceId::new(),
            start: Utc
                .with_ymd_and_hms(2026, 9, 17, 7, 30, 0)
                .single()
                .expect("valid"),
        }
    }

    #[test]
    fn ids_round_trip_and_are_64_url_safe_characters() {
        let codec = SlotIdCodec::new(b"secret");
        let slot = slot();
        let id = codec.encode(&slot);
        assert_eq!(id.len(), 64);
        assert!(id.starts_with("slot_"));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(codec.decode(&id), Ok(slot));
        assert_eq!(
            codec.decode(&format!("  {id} ")),
            Ok(slot),
            "surrounding spaces are tolerated"
        );
    }

    #[test]
    fn altered_invented_or_foreign_ids_are_refused() {
        let codec = SlotIdCodec::new(b"secret");
        let id = codec.encode(&slot());
        let mut altered = id.clone().into_bytes();
        let last = altered.len() - 20;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            codec.decode(&String::from_utf8(altered).expect("ascii")),
            Err(InvalidSlotId)
        );
        assert_eq!(
            SlotIdCodec::new(b"other node key").decode(&id),
            Err(InvalidSlotId)
        );
        for invented in [
            "",
            "slot_",
            "slot_abc",
            "2026-09-17T09:30",
            &id[5..],
            &format!("{id}AA"),
        ] {
            assert_eq!(codec.decode(invented), Err(InvalidSlotId), "{invented:?}");
        }
    }
}
