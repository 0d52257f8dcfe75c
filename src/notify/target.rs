//! What a subscription is and where it sends: its kind, its validated target and its event
//! filter. Pure validation; the admin API reports the messages per field.

use crate::events::EventType;
use awc::http::Uri;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a notification is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A signed JSON `POST` to any HTTP(S) endpoint.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams incoming webhook (Workflows or connector URL).
    Teams,
    /// An e-mail over the configured SMTP server.
    Email,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Webhook, Kind::Slack, Kind::Teams, Kind::Email];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::Email => "email",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| "must be one of webhook, slack, teams, email".to_owned())
    }
}

/// Longest target accepted (URLs of Teams Workflows are long, but not this long).
pub const MAX_TARGET_CHARS: usize = 2048;

/// Checks `raw` as a target of `kind` and returns it trimmed: an http(s) URL for webhooks, an
/// https URL for Slack and Teams (plain http only to a loopback host, for local testing), an
/// e-mail address for e-mail.
pub fn parse_target(kind: Kind, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is required".into());
    }
    if raw.chars().count() > MAX_TARGET_CHARS {
        return Err(format!("must be at most {MAX_TARGET_CHARS} characters"));
    }
    match kind {
        Kind::Email => raw
            .parse::<lettre::Address>()
            .map(|_| raw.to_owned())
            .map_err(|_| "must be an e-mail address".into()),
        Kind::Webhook => parse_url(raw, false),
        Kind::Slack | Kind::Teams => parse_url(raw, true),
    }
}

fn parse_url(raw: &str, https_only: bool) -> Result<String, String> {
    let uri: Uri = raw
        .parse()
        .map_err(|_| "must be an http:// or https:// URL".to_owned())?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or("must be an absolute URL with a host")?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("must not carry a user name or password".into());
    }
    match uri.scheme_str() {
        Some("https") => Ok(raw.to_owned()),
        Some("http") if !https_only || is_loopback(host) => Ok(raw.to_owned()),
        Some("http") => Err("must be an https:// URL".into()),
        _ => Err("must be an http:// or https:// URL".into()),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The target as it may be logged: a URL without its path and query (for Slack and Teams the
/// path *is* the credential), an e-mail address as it is.
pub fn redacted(kind: Kind, target: &str) -> String {
    if kind == Kind::Email {
        return target.to_owned();
    }
    match target.parse::<Uri>() {
        Ok(uri) => format!(
            "{}://{}/…",
            uri.scheme_str().unwrap_or("?"),
            uri.authority().map_or("?", |a| a.as_str())
        ),
        Err(_) => "(invalid URL)".into(),
    }
}

/// Reads an event filter: known event type names, without duplicates, in declaration order.
/// Empty means every event.
pub fn parse_event_types(raw: &[String]) -> Result<Vec<EventType>, String> {
    let mut types = Vec::with_capacity(raw.len());
    for name in raw {
        let t: EventType = name.trim().parse().map_err(|_| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            format!("{name:?} is not an event type; known: {}", known.join(", "))
        })?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    types.sort();
    Ok(types)
}

/// Whether a filter (as stored: names) takes an event of type `t`; empty takes all.
pub fn filter_matches(filter: &[String], t: EventType) -> bool {
    filter.is_empty() || filter.iter().any(|name| name == t.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_take_http_and_https_urls_with_a_host() {
        assert!(parse_target(Kind::Webhook, " https://example.com/hook ").is_ok());
        assert!(parse_target(Kind::Webhook, "http://10.0.0.1:8080/x?y=1").is_ok());
        assert!(parse_target(Kind::Webhook, "ftp://example.com").is_err());
        assert!(parse_target(Kind::Webhook, "/relative").is_err());
        assert!(parse_target(Kind::Webhook, "https://user:pw@example.com/").is_err());
        assert!(parse_target(Kind::Webhook, "").is_err());
        assert!(
            parse_target(Kind::Webhook, &format!("https://a.io/{}", "x".repeat(3000))).is_err()
        );
    }

    #[test]
    fn slack_and_teams_need_https_except_on_loopback() {
        assert!(parse_target(Kind::Slack, "https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(parse_target(Kind::Slack, "http://hooks.slack.com/services/T/B/X").is_err());
        assert!(parse_target(Kind::Teams, "http://127.0.0.1:9000/teams").is_ok());
        assert!(parse_target(Kind::Teams, "http://localhost/teams").is_ok());
        assert!(parse_target(Kind::Teams, "http://[::1]:80/teams").is_ok());
    }

    #[test]
    fn email_targets_are_addresses() {
        assert!(parse_target(Kind::Email, "ops@example.com").is_ok());
        assert!(parse_target(Kind::Email, "not an address").is_err());
    }

    #[test]
    fn redaction_keeps_scheme_and_host_only() {
        assert_eq!(
            redacted(Kind::Slack, "https://hooks.slack.com/services/T/B/SECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(redacted(Kind::Email, "a@b.de"), "a@b.de");
    }

    #[test]
    fn event_filters_are_known_types_deduplicated() {
        let parsed =
            parse_event_types(&["CallEnded".into(), "CallStarted".into(), "CallEnded".into()])
                .expect("known types");
        assert_eq!(parsed, vec![EventType::CallStarted, EventType::CallEnded]);
        assert!(parse_event_types(&["callback.requested".into()]).is_err());
        assert!(filter_matches(&[], EventType::CallEnded));
        assert!(filter_matches(&["CallEnded".into()], EventType::CallEnded));
        assert!(!filter_matches(
            &["CallEnded".into()],
            EventType::CallStarted
        ));
    }
}
