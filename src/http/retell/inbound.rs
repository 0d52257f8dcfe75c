//! The answer to `call_inbound`: which agent answers, and what it knows before saying hello.

use crate::app::calls::{CallFacts, Placed};
use crate::app::Calls;
use crate::metrics::RETELL_INBOUND_UNROUTED_TOTAL;
use crate::retell::payload::CallInbound;
use crate::retell::speech::Tongue;
use callflow_actors::domain::E164Number;
use callflow_actors::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `{"call_inbound": {...}}`; empty inside when nobody can take the call, so the number's
/// default agent answers.
#[derive(Debug, Serialize)]
pub struct InboundAnswer {
    /// The answer's body.
    pub call_inbound: InboundBody,
}

/// What Retell reads from our answer.
#[derive(Debug, Default, Serialize)]
pub struct InboundBody {
    /// Variables the agent's prompt uses (strings only: Retell refuses anything else).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dynamic_variables: BTreeMap<&'static str, String>,
    /// Echoed back on every later event and function call of this call.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The branch's agent for the call's language, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_agent_id: Option<String>,
}

/// Answers an inbound call. Malformed numbers and unknown numbers get the empty answer.
pub async fn answer(calls: &Calls, inbound: &CallInbound) -> Result<InboundAnswer, StoreError> {
    let unrouted = |reason: &'static str| {
        metrics::counter!(RETELL_INBOUND_UNROUTED_TOTAL, "reason" => reason).increment(1);
        tracing::warn!(to = %inbound.to_number, reason, "inbound call not routed; the number's default agent answers");
        InboundAnswer {
            call_inbound: InboundBody::default(),
        }
    };
    let Ok(to) = E164Number::parse(&inbound.to_number) else {
        return Ok(unrouted("malformed_number"));
    };
    let from = inbound
        .from_number
        .as_deref()
        .and_then(|n| E164Number::parse(n).ok());
    let facts = CallFacts {
        to: &to,
        from: from.as_ref(),
        agent: inbound.agent_id.as_deref(),
        branch_hint: inbound.branch_hint(),
        detected_language: inbound.language_hint(),
    };
    match calls.place(facts).await? {
        Ok(placed) => Ok(InboundAnswer {
            call_inbound: body(&placed, calls.now()),
        }),
        Err(reason) => Ok(unrouted(reason.as_str())),
    }
}

/// The answer for a placed call at `now` (pure, so a test can fix the clock).
pub fn body(placed: &Placed, now: DateTime<Utc>) -> InboundBody {
    let branch = &placed.info.branch;
    let company = &placed.info.company;
    let tongue = Tongue::from(placed.language);
    let local = now.with_timezone(&branch.time_zone);
    let today = local.date_naive();
    let services: Vec<String> = placed
        .info
        .services
        .iter()
        .map(|s| s.name.clone())
        .collect();

    let mut vars = BTreeMap::new();
    vars.insert("company_name", company.name.clone());
    vars.insert("branch_name", branch.name.clone());
    vars.insert("branch_slug", branch.slug.clone());
    vars.insert("branch_address", branch.address.clone());
    vars.insert("opening_hours_today", tongue.hours(branch.hours_on(today)));
    vars.insert("services", tongue.and(&services));
    vars.insert("current_date", today.format("%Y-%m-%d").to_string());
    vars.insert(
        "current_weekday",
        tongue.weekday(chrono::Datelike::weekday(&today)).to_owned(),
    );
    vars.insert("current_time", local.format("%H:%M").to_string());
    vars.insert("current_date_spoken", tongue.date(today));
    vars.insert("language", placed.language.as_str().to_owned());
    let returning = placed.customer.is_some();
    vars.insert("is_returning_customer", returning.to_string());
    if let Some(customer) = &placed.customer {
        if let Some(name) = &customer.name {
            vars.insert("caller_name", name.clone());
        }
        let reference = customer
            .external_ref
            .clone()
            .unwrap_or_else(|| customer.id.to_string());
        vars.insert("customer_id", reference);
    }

    let route = &placed.route;
    let mut metadata = Map::new();
    metadata.insert("company".into(), json!(company.slug));
    metadata.insert("branch".into(), json!(branch.slug));
    metadata.insert("routing_method".into(), json!(route.method.as_str()));
    // f32 → JSON would print 0.8999999761581421; two decimals are what the value means.
    let confidence = (f64::from(route.confidence) * 100.0).round() / 100.0;
    metadata.insert("routing_confidence".into(), json!(confidence));
    metadata.insert("language".into(), json!(placed.language.as_str()));
    if let Some(customer) = &placed.customer {
        metadata.insert("customer_id".into(), json!(customer.id));
    }

    InboundBody {
        dynamic_variables: vars,
        metadata,
        override_agent_id: branch.agent_by_language.get(&placed.language).cloned(),
    }
}
