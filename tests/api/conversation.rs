//! The conversation as a caller has it: signed custom functions through HTTP, in German and
//! English, each answer judged as the sentence the agent will speak (who, when, why not).

use crate::helpers::{next_working_tuesday_iso, spawn_app, TestApp};
use callflow::retell::signature;
use chrono::Utc;
use serde_json::{json, Value};

const DEMO_KEY: &str = "demo-retell-key-change-me";
/// Jürgen Weiß, a German-speaking customer of the demo.
const GERMAN_CALLER: &str = "+4915123456789";
/// A caller from the UK: answered in English.
const ENGLISH_CALLER: &str = "+447700900123";

/// Calls function `name` of call `call_id` from `from` to the Berlin branch.
async fn say(app: &TestApp, from: &str, call_id: &str, name: &str, args: Value) -> Value {
    let body = json!({
        "name": name,
        "call": {"call_id": call_id, "from_number": from, "to_number": "+493012345678",
                 "metadata": {"tenant_id": "praxis-mueller-berlin"}},
        "args": args
    })
    .to_string();
    let header = signature::sign(
        body.as_bytes(),
        DEMO_KEY.as_bytes(),
        Utc::now().timestamp_millis(),
    );
    let request = app
        .request(
            awc::http::Method::POST,
            &format!("/retell/functions/{name}"),
        )
        .content_type("application/json")
        .insert_header(("X-Retell-Signature", header));
    let answer = app.send(request, Some(body.into_bytes())).await;
    assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    answer.json()
}

fn message(answer: &Value) -> &str {
    answer["message"].as_str().unwrap_or_default()
}

#[actix_web::test]
async fn a_named_practitioner_who_is_free_is_the_one_offered() {
    let app = spawn_app().await;
    let answer = say(
        &app,
        GERMAN_CALLER,
        "call_conv_named_free",
        "check_availability",
        json!({"service": "Kontrolle", "date": next_working_tuesday_iso(), "time": "10:00",
               "staff": "Frau Dr. Schmidt"}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["staff_free"], true, "{answer}");
    assert_eq!(answer["wanted_time_free"], true, "{answer}");
    for slot in answer["slots"].as_array().expect("slots") {
        assert_eq!(slot["staff"], "Dr. Anna Schmidt", "{answer}");
    }
    assert!(message(&answer).contains("ist frei"), "{answer}");

    // A day without a time: her times that day, never "not free" while she has some.
    let day_only = say(
        &app,
        GERMAN_CALLER,
        "call_conv_named_day",
        "check_availability",
        json!({"service": "Kontrolle", "date": next_working_tuesday_iso(), "staff": "Dr. Schmidt"}),
    )
    .await;
    assert_eq!(day_only["staff_free"], true, "{day_only}");
    assert!(
        message(&day_only).starts_with("Bei Dr. Anna Schmidt wäre Dienstag"),
        "{day_only}"
    );
}

#[actix_web::test]
async fn a_named_practitioner_who_is_not_in_is_said_so_with_their_times_and_someone_else() {
    let app = spawn_app().await;
    let answer = say(
        &app,
        GERMAN_CALLER,
        "call_conv_named_away",
        "check_availability",
        json!({"service": "Füllung", "date": next_working_tuesday_iso(), "time": "10:00",
               "doctor": "Dr. Weber"}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["staff_free"], false, "{answer}");
    let said = message(&answer);
    assert!(
        said.starts_with("Dr. Lukas Weber ist am Dienstag"),
        "the wish and the person, not a silent replacement: {said}"
    );
    assert!(said.contains("leider nicht frei"), "{said}");
    assert!(
        said.contains("Bei Dr. Lukas Weber wäre Mittwoch"),
        "his nearest times: {said}"
    );
    assert!(
        said.contains("Zur gewünschten Zeit wäre Dr. Anna Schmidt frei."),
        "someone else at the wished time: {said}"
    );
    assert_eq!(
        said.matches("Mittwoch").count(),
        1,
        "his day said once, not before every time: {said}"
    );
    let slots = answer["slots"].as_array().expect("slots");
    assert_eq!(slots[0]["staff"], "Dr. Lukas Weber", "his first: {answer}");
    assert!(
        slots.iter().any(|s| s["staff"] == "Dr. Anna Schmidt"),
        "{answer}"
    );
}

#[actix_web::test]
async fn a_name_nobody_has_gets_who_we_have_in_german_and_english() {
    let app = spawn_app().await;
    let german = say(
        &app,
        GERMAN_CALLER,
        "call_conv_unknown_de",
        "check_availability",
        json!({"service": "Füllung", "date": next_working_tuesday_iso(), "staff": "Dr. House"}),
    )
    .await;
    assert_eq!(german["ok"], false, "{german}");
    assert_eq!(german["error"], "unknown_staff", "{german}");
    assert_eq!(
        message(&german),
        "Dr. House arbeitet nicht bei uns. Füllungstherapie machen bei uns Dr. Anna Schmidt und Dr. Lukas Weber.",
        "{german}"
    );
    let english = say(
        &app,
        ENGLISH_CALLER,
        "call_conv_unknown_en",
        "check_availability",
        json!({"service": "filling", "date": next_working_tuesday_iso(), "staff": "Dr. House"}),
    )
    .await;
    assert_eq!(english["error"], "unknown_staff", "{english}");
    assert!(
        message(&english).starts_with("Dr. House doesn't work with us."),
        "{english}"
    );
}

#[actix_web::test]
async fn a_named_person_who_does_not_do_the_service_says_so_and_who_does() {
    let app = spawn_app().await;
    let answer = say(
        &app,
        GERMAN_CALLER,
        "call_conv_wrong_person",
        "check_availability",
        json!({"service": "Zahnreinigung", "date": next_working_tuesday_iso(), "staff": "Dr. Schmidt"}),
    )
    .await;
    assert_eq!(
        answer["error"], "staff_does_not_perform_service",
        "{answer}"
    );
    assert_eq!(
        message(&answer),
        "Dr. Anna Schmidt bietet Professionelle Zahnreinigung nicht an; das machen bei uns Mehmet Yılmaz.",
        "{answer}"
    );
}

#[actix_web::test]
async fn a_confirmation_speaks_the_reference_and_a_move_keeps_the_practitioner() {
    let app = spawn_app().await;
    let call = "call_conv_reference_and_move";
    let booked = say(
        &app,
        GERMAN_CALLER,
        call,
        "book_appointment",
        json!({"service": "Kontrolle", "date": next_working_tuesday_iso(), "time": "10:00",
               "staff": "Dr. Schmidt"}),
    )
    .await;
    assert_eq!(booked["ok"], true, "{booked}");
    assert_eq!(booked["staff"], "Dr. Anna Schmidt", "{booked}");
    let reference = booked["reference"].as_str().expect("a reference");
    let spelled: Vec<String> = reference.chars().map(String::from).collect();
    assert!(
        message(&booked).ends_with(&format!("Ihre Buchungsnummer ist {}.", spelled.join(" "))),
        "the reference, letter by letter: {booked}"
    );
    let moved = say(
        &app,
        GERMAN_CALLER,
        call,
        "reschedule_appointment",
        json!({"old_date": next_working_tuesday_iso(), "old_time": "10:00", "date": next_working_tuesday_iso(), "time": "14:00"}),
    )
    .await;
    assert_eq!(moved["ok"], true, "{moved}");
    assert_eq!(
        moved["staff"], "Dr. Anna Schmidt",
        "a new time only: the practitioner stays: {moved}"
    );
    assert!(
        message(&moved).contains("bei Dr. Anna Schmidt. Ihre Buchungsnummer ist"),
        "{moved}"
    );
}

#[actix_web::test]
async fn a_callback_is_promised_with_exactly_the_priority_stored_and_pain_raises_it() {
    let app = spawn_app().await;
    let asked_high = say(
        &app,
        GERMAN_CALLER,
        "call_conv_callback_high",
        "request_callback",
        json!({"reason": "Frage zur Rechnung", "priority": "high"}),
    )
    .await;
    assert_eq!(asked_high["priority"], "high", "{asked_high}");
    assert!(
        message(&asked_high).contains("mit hoher Priorität"),
        "high is not promised as urgent: {asked_high}"
    );
    let in_pain = say(
        &app,
        ENGLISH_CALLER,
        "call_conv_callback_pain",
        "request_callback",
        json!({"reason": "My tooth really hurts when I chew"}),
    )
    .await;
    let stored = in_pain["priority"].as_str().expect("a priority");
    assert_ne!(stored, "normal", "pain raises the priority: {in_pain}");
    let promised = match stored {
        "urgent" => "as urgent",
        _ => "with high priority",
    };
    assert!(
        message(&in_pain).contains(promised),
        "said as stored ({stored}): {in_pain}"
    );
}
