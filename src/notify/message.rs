//! What each kind of notification says: the signed JSON body of a webhook, a Slack message, a
//! Teams Adaptive Card and an e-mail, all from the stored event (`{"id","type","at","data"}`).
//!
//! Slack, Teams and e-mail are read by people, so they get a title and a few facts picked from
//! the event's data (the callback, appointment or call inside it), not the raw JSON.

use serde_json::{json, Map, Value};

/// A readable summary of an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// One line: what happened, to whom.
    pub title: String,
    /// Label and value pairs, in a stable order.
    pub facts: Vec<(String, String)>,
    /// The event id and time, for the footer.
    pub footer: String,
}

/// Fields shown as facts, in this order, with their labels; looked up in the event's entity.
const FACTS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("phone", "Phone"),
    ("caller", "Caller"),
    ("from_number", "Caller"),
    ("reason", "Reason"),
    ("priority", "Priority"),
    ("status", "Status"),
    ("due_at", "Due"),
    ("starts_at", "Starts"),
    ("ends_at", "Ends"),
    ("service_name", "Service"),
    ("staff_name", "Staff"),
    ("branch_name", "Branch"),
    ("assigned_staff_id", "Assignee"),
    ("escalation_level", "Escalation level"),
    ("to_number", "Dialled"),
    ("duration_ms", "Duration (ms)"),
    ("disconnection_reason", "Ended because"),
    ("call_id", "Call"),
    ("id", "Id"),
];

/// The entity an event is about (`data.callback`, `data.appointment` or `data.call`) merged
/// with the event's own top-level scalar fields, which win.
fn entity(data: &Value) -> Map<String, Value> {
    let mut merged = Map::new();
    for key in ["callback", "appointment", "call"] {
        if let Some(Value::Object(inner)) = data.get(key) {
            merged.extend(inner.clone());
            break;
        }
    }
    if let Value::Object(top) = data {
        for (k, v) in top {
            if !v.is_object() && !v.is_array() {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    merged
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.chars().take(300).collect()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// "CallbackSlaBreached" → "Callback SLA breached".
fn headline(event_type: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in event_type.chars() {
        if c.is_uppercase() && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .iter()
        .enumerate()
        .map(|(i, w)| match w.as_str() {
            "Sla" => "SLA".to_owned(),
            _ if i == 0 => w.clone(),
            _ => w.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The summary of a stored event.
pub fn summarize(event: &Value) -> Summary {
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("Event");
    let data = event.get("data").cloned().unwrap_or(Value::Null);
    let fields = entity(&data);
    let mut facts: Vec<(String, String)> = Vec::new();
    for (key, label) in FACTS {
        if facts.iter().any(|(l, _)| l == label) {
            continue;
        }
        if let Some(value) = fields.get(*key).and_then(text_of) {
            facts.push(((*label).to_owned(), value));
        }
    }
    let who = ["name", "caller", "phone", "from_number"]
        .iter()
        .find_map(|k| fields.get(*k).and_then(text_of));
    let title = match who {
        Some(who) => format!("{}: {who}", headline(event_type)),
        None => headline(event_type),
    };
    let footer = format!(
        "{} · event {} · {}",
        event_type,
        event.get("id").and_then(Value::as_str).unwrap_or("?"),
        event.get("at").and_then(Value::as_str).unwrap_or("?")
    );
    Summary {
        title,
        facts,
        footer,
    }
}

/// A Slack incoming-webhook message: `text` (the notification and fallback) and Block Kit
/// blocks (header, facts as fields of at most 10, context footer).
pub fn slack(summary: &Summary) -> Value {
    let fields: Vec<Value> = summary
        .facts
        .iter()
        .take(10)
        .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")}))
        .collect();
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&summary.title, 150), "emoji": false}
    })];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": summary.footer}]
    }));
    json!({"text": summary.title, "blocks": blocks})
}

/// A Microsoft Teams message: an Adaptive Card in the `attachments` envelope that Teams
/// Workflows ("post to a channel when a webhook request is received") and connectors accept.
pub fn teams(summary: &Summary) -> Value {
    let facts: Vec<Value> = summary
        .facts
        .iter()
        .map(|(label, value)| json!({"title": label, "value": value}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder",
                     "text": summary.title, "wrap": true},
                    {"type": "FactSet", "facts": facts},
                    {"type": "TextBlock", "text": summary.footer, "isSubtle": true,
                     "size": "Small", "wrap": true}
                ]
            }
        }]
    })
}

/// An e-mail's subject and plain-text body.
pub fn email(summary: &Summary) -> (String, String) {
    let mut body = format!("{}\n\n", summary.title);
    for (label, value) in &summary.facts {
        body.push_str(&format!("{label}: {value}\n"));
    }
    body.push_str(&format!("\n-- \n{}\n", summary.footer));
    (
        format!("[callflow] {}", truncate(&summary.title, 200)),
        body,
    )
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breached() -> Value {
        json!({
            "id": "0193",
            "type": "CallbackSlaBreached",
            "at": "2026-11-21T10:00:00Z",
            "data": {"callback": {"id": "cb1", "name": "Max Muster", "phone": "+4930123456",
                                   "reason": "Rückruf wegen Termin", "priority": "urgent",
                                   "due_at": "2026-11-21T09:59:00Z"},
                     "escalation_level": 1}
        })
    }

    #[test]
    fn a_summary_names_the_event_and_who_it_is_about() {
        let s = summarize(&breached());
        assert_eq!(s.title, "Callback SLA breached: Max Muster");
        assert_eq!(s.facts[0], ("Name".into(), "Max Muster".into()));
        assert!(s.facts.contains(&("Priority".into(), "urgent".into())));
        assert!(s.facts.contains(&("Escalation level".into(), "1".into())));
        assert!(s.footer.contains("0193"));
    }

    #[test]
    fn slack_messages_have_text_and_blocks() {
        let body = slack(&summarize(&breached()));
        assert_eq!(body["text"], "Callback SLA breached: Max Muster");
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][1]["fields"][0]["text"], "*Name*\nMax Muster");
    }

    #[test]
    fn teams_messages_are_adaptive_cards_in_attachments() {
        let body = teams(&summarize(&breached()));
        let card = &body["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][1]["facts"][0]["title"], "Name");
    }

    #[test]
    fn emails_have_a_subject_and_the_facts() {
        let (subject, body) = email(&summarize(&breached()));
        assert_eq!(subject, "[callflow] Callback SLA breached: Max Muster");
        assert!(body.contains("Reason: Rückruf wegen Termin\n"));
    }

    #[test]
    fn events_without_an_entity_still_read() {
        let s = summarize(&json!({"type": "CallStarted", "data": {}}));
        assert_eq!(s.title, "Call started");
        assert!(s.facts.is_empty());
    }
}
