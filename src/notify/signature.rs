//! Signing outbound webhooks, Stripe-style.
//!
//! Each request carries `Callflow-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256, keyed with the subscription's signing secret (the whole `whsec_…` string as
//! UTF-8 bytes), over `"<t>.<raw body>"`. To verify, a receiver:
//! 1. splits the header on `,` and takes `t` and every `v1` value;
//! 2. computes HMAC-SHA256(secret, `t` + "." + the raw request body, byte for byte, before any
//!    JSON parsing) and hex-encodes it;
//! 3. accepts when it equals one of the `v1` values (compared in constant time) and `t` is
//!    within its tolerance of its own clock (5 minutes is usual), which stops replays;
//! 4. deduplicates on `Callflow-Event-Id`: a retry carries the same id and body, with a new `t`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the timestamp and signature.
pub const SIGNATURE_HEADER: &str = "Callflow-Signature";
/// The header with the event id (receivers deduplicate on it).
pub const EVENT_ID_HEADER: &str = "Callflow-Event-Id";
/// The header with the event type.
pub const EVENT_TYPE_HEADER: &str = "Callflow-Event-Type";
/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

type HmacSha256 = Hmac<Sha256>;

/// A new random signing secret: `whsec_` and 43 base64url characters (256 bits).
pub fn new_secret() -> Result<String, getrandom::Error> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Callflow-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Checks a `Callflow-Signature` value as a receiver would (see the module docs): true when a
/// `v1` matches and `t` is within `tolerance_secs` of `now` (unix seconds).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    candidates.into_iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|bytes| mac(secret, t, body).verify_slice(&bytes).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_the_secret_body_and_time_it_was_made_with() {
        let body = br#"{"id":"1","type":"CallStarted"}"#;
        let header = sign("whsec_test", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_test", &header, body, 1_700_000_100, 300));
        assert!(!verify("whsec_other", &header, body, 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, b"{}", 1_700_000_100, 300));
        assert!(!verify("whsec_test", &header, body, 1_700_001_000, 300));
        assert!(!verify("whsec_test", "v1=abc", body, 1_700_000_000, 300));
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: printf '1.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign("key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }

    #[test]
    fn secrets_are_prefixed_and_random() {
        let (a, b) = (new_secret().expect("random"), new_secret().expect("random"));
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 43);
        assert_ne!(a, b);
    }
}
