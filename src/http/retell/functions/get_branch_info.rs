//! `get_branch_info`: address, opening hours for the coming week, services, languages.

use super::answer::Answer;
use super::context::FunctionContext;
use crate::retell::speech::Tongue;
use chrono::Duration;
use serde_json::{json, Map, Value};

pub fn run(ctx: &FunctionContext<'_>) -> Answer {
    let info = &ctx.active.info;
    let branch = &info.branch;
    let tongue = ctx.tongue;
    let today = ctx.today();
    let week: Map<String, Value> = (0..7)
        .map(|offset| {
            let day = today + Duration::days(offset);
            (
                tongue.weekday(chrono::Datelike::weekday(&day)).to_owned(),
                json!(tongue.hours(branch.hours_on(day))),
            )
        })
        .collect();
    let services: Vec<Value> = info
        .services
        .iter()
        .map(|s| json!({"name": s.name, "duration_minutes": s.duration_minutes}))
        .collect();
    let hours_today = tongue.hours(branch.hours_on(today));
    let message = match tongue {
        Tongue::De => format!(
            "{} finden Sie in {}. Heute haben wir {} geöffnet.",
            branch.name, branch.address, hours_today
        ),
        Tongue::En => format!(
            "{} is at {}. Today we're open {}.",
            branch.name, branch.address, hours_today
        ),
    };
    Answer::ok(message)
        .with("company", json!(info.company.name))
        .with("branch", json!(branch.name))
        .with("address", json!(branch.address))
        .with("opening_hours_today", json!(hours_today))
        .with("opening_hours_next_7_days", Value::Object(week))
        .with("services", json!(services))
        .with(
            "languages",
            json!(branch
                .languages
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()),
        )
}
