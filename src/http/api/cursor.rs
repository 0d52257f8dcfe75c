//! Opaque page cursors: the sort key of the last row of a page, as base64url text.
//!
//! Clients must treat them as opaque; inside they are `kind|field|…`, so a cursor of one list
//! (or one sort order) given to another is refused (422) rather than misread.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use callflow_actors::admin_query::{CallbackCursor, CallbackSort};
use callflow_actors::domain::*;
use chrono::{DateTime, SecondsFormat, Utc};

/// The message for a cursor that cannot be read.
pub const INVALID: &str = "is not a cursor of this list; pass next_cursor unchanged";

fn encode(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(parts.join("|"))
}

fn decode(raw: &str, kind: &str, count: usize) -> Option<Vec<String>> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let parts: Vec<String> = text.split('|').map(str::to_owned).collect();
    (parts.len() == count && parts[0] == kind).then_some(parts)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The cursor after `callback` in `sort` order.
pub fn callback(sort: CallbackSort, callback: &CallbackRequest) -> String {
    let c = sort.cursor_of(callback);
    encode(&[
        "cb",
        sort.as_str(),
        &c.rank.to_string(),
        &time(c.at),
        &c.id.to_string(),
    ])
}

/// Reads a callback cursor of `sort`.
pub fn parse_callback(raw: &str, sort: CallbackSort) -> Option<CallbackCursor> {
    let parts = decode(raw, "cb", 5)?;
    if parts[1] != sort.as_str() {
        return None;
    }
    Some(CallbackCursor {
        sort,
        rank: parts[2].parse().ok()?,
        at: parse_time(&parts[3])?,
        id: parts[4].parse().ok()?,
    })
}

/// The cursor after the audit entry with sequence number `id`.
pub fn audit(id: i64) -> String {
    encode(&["audit", &id.to_string()])
}

/// Reads an audit cursor.
pub fn parse_audit(raw: &str) -> Option<i64> {
    decode(raw, "audit", 2)?[1].parse().ok()
}

/// The cursor after `appointment`.
pub fn appointment(appointment: &Appointment) -> String {
    encode(&[
        "apt",
        &time(appointment.starts_at),
        &appointment.id.to_string(),
    ])
}

/// Reads an appointment cursor.
pub fn parse_appointment(raw: &str) -> Option<(DateTime<Utc>, AppointmentId)> {
    let parts = decode(raw, "apt", 3)?;
    Some((parse_time(&parts[1])?, parts[2].parse().ok()?))
}

/// The cursor after `customer`.
pub fn customer(customer: &Customer) -> String {
    encode(&["cust", customer.phone.as_str()])
}

/// Reads a customer cursor.
pub fn parse_customer(raw: &str) -> Option<String> {
    decode(raw, "cust", 2).map(|p| p[1].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_lists() {
        assert_eq!(parse_audit(&audit(42)), Some(42));
        assert_eq!(parse_audit("not base64!"), None);
        assert_eq!(parse_customer(&audit(42)), None);
        let at = Utc::now();
        let id = AppointmentId::new();
        let raw = encode(&["apt", &time(at), &id.to_string()]);
        assert_eq!(parse_appointment(&raw), Some((at, id)));
    }
}
