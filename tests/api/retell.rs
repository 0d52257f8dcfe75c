//! Retell through HTTP, as Retell calls us: signed webhooks and custom functions, the samples
//! from ../shared/retell, bad signatures, bad bodies, redeliveries and a whole demo call on
//! SQLite and Postgres.

use crate::helpers::on_both_backends;
use crate::helpers::{
    next_working_tuesday, skip, spawn_app, spawn_app_on, wait_until, Answer, TestApp, TestDb,
    REQUIRE_SERVICES,
};
use callflow::retell::signature;
use callflow_actors::domain::{CallEvent, CallId, CallStatus};
use callflow_actors::Recorded;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const DEMO_KEY: &str = "demo-retell-key-change-me";
const SAMPLE_CALL_ID: &str = "call_bb3bb233d7f204595a9201d0b7";

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/retell/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sample_json(name: &str) -> Value {
    serde_json::from_slice(&sample(name)).expect("sample is JSON")
}

impl TestApp {
    /// Posts `body` signed now with the demo key, as Retell would.
    async fn retell(&self, path: &str, body: &[u8]) -> Answer {
        let header = signature::sign(body, DEMO_KEY.as_bytes(), Utc::now().timestamp_millis());
        self.retell_with(path, body, Some(&header)).await
    }

    async fn retell_with(&self, path: &str, body: &[u8], header: Option<&str>) -> Answer {
        let mut request = self
            .request(awc::http::Method::POST, path)
            .content_type("application/json");
        if let Some(header) = header {
            request = request.insert_header(("X-Retell-Signature", header));
        }
        self.send(request, Some(body.to_vec())).await
    }

    async fn function(&self, name: &str, call_id: &str, args: Value) -> Value {
        let body = json!({
            "name": name,
            "call": {
                "call_id": call_id,
                "from_number": "+4915123456789",
                "to_number": "+493012345678",
                "metadata": {"tenant_id": "praxis-mueller-berlin"}
            },
            "args": args
        });
        let answer = self
            .retell(
                &format!("/retell/functions/{name}"),
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        answer.json()
    }
}

/// `call_ended` of a call in which Jürgen Weiß urgently wanted a cleaning and hung up unbooked.
fn missed_booking_call_ended(call_id: &str) -> Value {
    json!({"event": "call_ended", "call": {
        "call_id": call_id,
        "from_number": "+4915123456789",
        "to_number": "+493012345678",
        "metadata": {"tenant_id": "praxis-mueller-berlin"},
        "disconnection_reason": "user_hangup",
        "transcript": "Agent: Praxis Dr. Müller, guten Tag.\nUser: Hallo, hier ist Jürgen Weiß, ich bräuchte dringend einen Termin zur Zahnreinigung am Freitag.\nAgent: Einen Moment bitte.\nUser: Ach, ich muss los, tschüss.\n"
    }})
}

/// A callback opened for Jürgen Weiß's call that wanted a cleaning and got no booking.
fn assert_missed_booking_callback(
    callback: &callflow_actors::domain::CallbackRequest,
    call_id: &str,
) {
    assert_eq!(callback.phone.as_str(), "+4915123456789");
    assert_eq!(
        callback.source_call_id.as_ref().map(|c| c.as_str()),
        Some(call_id)
    );
    assert!(
        callback.reason.contains("Professionelle Zahnreinigung"),
        "{callback:?}"
    );
}

/// Waits until every accepted call event has been followed up (marked processed).
async fn all_events_processed(store: &std::sync::Arc<dyn callflow_actors::Store>) {
    wait_until("every accepted call event is followed up", || {
        let store = store.clone();
        async move {
            store
                .unprocessed_call_events(Utc::now(), 10)
                .await
                .is_ok_and(|e| e.is_empty())
        }
    })
    .await
}

/// The demo company's callback requests.
async fn demo_callbacks(
    store: &dyn callflow_actors::Store,
) -> Vec<callflow_actors::domain::CallbackRequest> {
    let company = store
        .company_by_slug("praxis-mueller")
        .await
        .expect("store answers")
        .expect("demo company");
    store
        .list_callbacks(company.id)
        .await
        .expect("store answers")
}

#[actix_web::test]
async fn the_inbound_sample_is_answered_with_the_branch_and_the_recognised_caller() {
    let app = spawn_app().await;
    let answer = app
        .retell("/retell/webhook", &sample("call_inbound.json"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    let inbound = &body["call_inbound"];
    let vars = &inbound["dynamic_variables"];
    assert_eq!(vars["company_name"], "Zahnarztpraxis Dr. Müller");
    assert!(
        vars["branch_name"]
            .as_str()
            .unwrap_or_default()
            .contains("Berlin"),
        "{vars}"
    );
    assert_eq!(vars["caller_name"], "Jürgen Weiß");
    assert_eq!(vars["customer_id"], "KD-104857");
    assert_eq!(vars["is_returning_customer"], "true");
    assert_eq!(vars["language"], "de");
    assert!(vars["services"]
        .as_str()
        .unwrap_or_default()
        .contains("Professionelle Zahnreinigung"));
    for (name, value) in vars.as_object().expect("object") {
        assert!(
            value.is_string(),
            "dynamic variable {name} must be a string: {value}"
        );
    }
    // The sample names the branch in a SIP header: the most certain rule wins.
    assert_eq!(inbound["metadata"]["branch"], "praxis-mueller-berlin");
    assert_eq!(inbound["metadata"]["routing_method"], "explicit");
    assert_eq!(inbound["metadata"]["routing_confidence"], 1.0);
}

#[actix_web::test]
async fn an_unknown_number_gets_the_empty_answer_and_a_metric() {
    let app = spawn_app().await;
    let body = json!({"event": "call_inbound", "call_inbound": {
        "from_number": "+4915100000000", "to_number": "+4969111111111"}});
    let answer = app
        .retell("/retell/webhook", body.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"call_inbound": {}}));
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("callflow_retell_inbound_unrouted_total{reason=\"unknown_number\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_number_alone_routes_by_the_dialled_number_and_a_caller_from_abroad_gets_english() {
    let app = spawn_app().await;
    let body = json!({"event": "call_inbound", "call_inbound": {
        "from_number": "+447700900123", "to_number": "+494012345678"}});
    let answer = app
        .retell("/retell/webhook", body.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let inbound = &answer.json()["call_inbound"];
    assert_eq!(inbound["metadata"]["routing_method"], "dialled_number");
    assert_eq!(
        inbound["dynamic_variables"]["is_returning_customer"],
        "false"
    );
    assert_eq!(inbound["dynamic_variables"]["language"], "en");
    assert!(inbound["dynamic_variables"].get("caller_name").is_none());
}

#[actix_web::test]
async fn missing_malformed_stale_and_wrong_signatures_get_401_without_detail() {
    let app = spawn_app().await;
    let body = sample("call_started.json");
    let now = Utc::now().timestamp_millis();
    let good = signature::sign(&body, DEMO_KEY.as_bytes(), now);
    let stale = signature::sign(&body, DEMO_KEY.as_bytes(), now - 301_000);
    let wrong_key = signature::sign(&body, b"another-key", now);
    let cases: [(&str, Option<String>); 6] = [
        ("missing", None),
        ("malformed", Some(format!("v={now}, d=abc"))),
        ("no digest", Some(format!("v={now}"))),
        ("stale", Some(stale)),
        ("wrong key", Some(wrong_key)),
        ("extra field", Some(format!("{good},x=1"))),
    ];
    for (case, header) in cases {
        let answer = app
            .retell_with("/retell/webhook", &body, header.as_deref())
            .await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(answer.json()["error"]["message"], "unauthorized", "{case}");
    }
    // The right signature over other bytes (re-serialised JSON) fails too.
    let reserialised = serde_json::to_vec(&sample_json("call_started.json")).expect("json");
    let answer = app
        .retell_with("/retell/webhook", &reserialised, Some(&good))
        .await;
    assert_eq!(answer.status, 401);
    let answer = app
        .retell_with("/retell/functions/get_branch_info", &body, None)
        .await;
    assert_eq!(answer.status, 401, "functions are signed too");
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("callflow_retell_signature_failures_total{reason=\"stale\"} 1"),
        "{metrics}"
    );
}

/// The official SDK signs a body with umlauts; we verify it on its raw bytes.
#[actix_web::test]
async fn a_body_with_umlauts_signed_by_the_official_sdk_verifies() {
    let app = spawn_app().await;
    let body = sample("call_inbound.json");
    let with_umlauts = String::from_utf8(body).expect("utf-8").replace(
        "\"to_number\"",
        "\"note\": \"Grüße aus Köln, Weiß\", \"to_number\"",
    );
    let Some(header) = sdk_sign(with_umlauts.as_bytes()) else {
        return;
    };
    let answer = app
        .retell_with("/retell/webhook", with_umlauts.as_bytes(), Some(&header))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["call_inbound"]["dynamic_variables"]["caller_name"],
        "Jürgen Weiß"
    );
}

fn sdk_sign(body: &[u8]) -> Option<String> {
    let script = format!("{}/tests/retell_sdk/sign.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .args([script.as_str(), "--key", DEMO_KEY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("body written");
    let out = child.wait_with_output().expect("sign.py finishes");
    if out.status.code() == Some(77) {
        skip(
            "retell-sdk",
            "the retell-sdk Python package is not installed",
        );
        assert!(
            std::env::var_os(REQUIRE_SERVICES).is_none(),
            "retell-sdk is required"
        );
        return None;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .expect("ascii")
            .trim()
            .to_owned(),
    )
}

#[actix_web::test]
async fn malformed_json_is_400_an_oversized_body_413_and_an_unknown_event_2xx() {
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[("CALLFLOW_SERVER__MAX_BODY_BYTES", "4096")],
    )
    .await;
    let answer = app
        .retell("/retell/webhook", b"{\"event\": \"call_ended\", ")
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let answer = app.retell("/retell/webhook", b"{\"call\": {}}").await;
    assert_eq!(answer.status, 400, "no event: {}", answer.body);
    let big = format!(
        "{{\"event\":\"transcript_updated\",\"pad\":\"{}\"}}",
        "x".repeat(5000)
    );
    let answer = app.retell("/retell/webhook", big.as_bytes()).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let answer = app
        .retell(
            "/retell/webhook",
            br#"{"event":"call_teleported","call":{"call_id":"call_x"}}"#,
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let answer = app
        .retell(
            "/retell/webhook",
            br#"{"event":"call_ended","call":{"no_id":true}}"#,
        )
        .await;
    assert_eq!(answer.status, 400, "a call without an id: {}", answer.body);
    let answer = app
        .retell(
            "/retell/webhook",
            br#"{"event":"call_voicemail_detected","call":{"foo":1}}"#,
        )
        .await;
    assert_eq!(
        answer.status, 204,
        "an unknown event is accepted whatever its call: {}",
        answer.body
    );
    let answer = app.retell("/retell/functions/launch_rocket", b"{}").await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[actix_web::test]
async fn functions_with_missing_or_nonsense_arguments_answer_2xx_with_a_code_and_a_sentence() {
    let app = spawn_app().await;
    let call = "call_nonsense_arguments_0001";
    let cases = [
        ("check_availability", json!({}), "missing_service"),
        (
            "check_availability",
            json!({"service": "Pizza Margherita"}),
            "unknown_service",
        ),
        (
            "check_availability",
            json!({"service": "Zahnreinigung", "date": "am Sankt-Nimmerleins-Tag"}),
            "invalid_date",
        ),
        (
            "check_availability",
            json!({"service": "Zahnreinigung", "date": "31.02.2027"}),
            "invalid_date",
        ),
        (
            "book_appointment",
            json!({"slot_id": "made-up-by-the-llm"}),
            "invalid_slot",
        ),
        (
            "book_appointment",
            json!({"service": "Zahnreinigung", "date": "2027-03-02"}),
            "missing_time",
        ),
        (
            "book_appointment",
            json!({"service": "Zahnreinigung", "date": "2027-03-02", "time": "09:00", "phone_number": "12"}),
            "invalid_phone",
        ),
        (
            "cancel_appointment",
            json!({"appointment_id": "not-a-uuid"}),
            "unknown_appointment",
        ),
        (
            "cancel_appointment",
            json!({"appointment_id": "0196b6a4-0000-7000-8000-000000000000"}),
            "unknown_appointment",
        ),
        (
            "request_callback",
            json!({"phone_number": "abc"}),
            "invalid_phone",
        ),
        (
            "book_appointment",
            json!({"service": "Zahnreinigung", "date": "2026-01-05", "time": "10:00"}),
            "in_the_past",
        ),
        (
            "book_appointment",
            json!({"service": "Zahnreinigung", "date": "2026-12-25", "time": "10:00"}),
            "outside_opening_hours",
        ),
        (
            "check_availability",
            json!({"service": "Zahnreinigung", "date": "2026-12-25"}),
            "closed_that_day",
        ),
    ];
    for (function, args, code) in cases {
        let answer = app.function(function, call, args.clone()).await;
        assert_eq!(answer["ok"], false, "{function} {args}: {answer}");
        assert_eq!(answer["error"], code, "{function} {args}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.len() > 10, "a sentence to say: {answer}");
    }
    // Args of the wrong JSON types are read tolerantly or refused, never a 5xx.
    let answer = app
        .function(
            "check_availability",
            call,
            json!({"service": 42, "date": ["x"]}),
        )
        .await;
    assert_eq!(answer["error"], "missing_service", "{answer}");
}

#[actix_web::test]
async fn the_args_only_body_works_for_a_call_already_started() {
    let app = spawn_app().await;
    let answer = app
        .retell("/retell/webhook", &sample("call_started.json"))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    // The call actor starts right after the 204 (slow work happens after the answer).
    let body = json!({"call_id": SAMPLE_CALL_ID}).to_string();
    let mut info = Value::Null;
    for _ in 0..100 {
        let answer = app
            .retell("/retell/functions/get_branch_info", body.as_bytes())
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        info = answer.json();
        if info["ok"] == true {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(info["ok"], true, "{info}");
    assert!(
        info["address"]
            .as_str()
            .unwrap_or_default()
            .contains("Berlin"),
        "{info}"
    );
    // Retell's documented way for args-only tools: the call id in the URL.
    let answer = app
        .retell(
            &format!("/retell/functions/get_branch_info?call_id={SAMPLE_CALL_ID}"),
            b"{}",
        )
        .await;
    assert_eq!(answer.json()["ok"], true, "{}", answer.body);
    let unknown = app
        .retell("/retell/functions/get_branch_info", br#"{"service":"x"}"#)
        .await;
    assert_eq!(unknown.json()["error"], "unknown_call", "{}", unknown.body);
}

/// The demo call end to end: inbound → started → availability → booking (and Retell's retry)
/// → a competitor losing the slot → ended (twice) → analysed.
async fn demo_call(app: &TestApp) {
    let store = app.database.store();
    let answer = app
        .retell("/retell/webhook", &sample("call_inbound.json"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = app
        .retell("/retell/webhook", &sample("call_started.json"))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);

    let day = next_working_tuesday();
    let mut check = sample_json("function_check_availability.json");
    check["args"]["date"] = json!(day.format("%Y-%m-%d").to_string());
    let answer = app
        .retell(
            "/retell/functions/check_availability",
            check.to_string().as_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let offer = answer.json();
    assert_eq!(offer["ok"], true, "{offer}");
    let slots = offer["slots"].as_array().expect("slots");
    assert!(!slots.is_empty(), "{offer}");
    for slot in slots {
        let hour: u32 = slot["time"].as_str().unwrap_or_default()[..2]
            .parse()
            .expect("hour");
        assert!((8..12).contains(&hour), "vormittags: {slot}");
        assert_eq!(
            slot["staff"], "Mehmet Yılmaz",
            "the Berlin prophylaxis assistant: {slot}"
        );
    }
    assert!(
        offer["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Frei wäre"),
        "{offer}"
    );

    let slot_id = slots[0]["slot_id"].as_str().expect("slot id").to_owned();
    let mut book = sample_json("function_book_appointment.json");
    book["args"] = json!({
        "slot_id": slot_id,
        "patient_name": "Jürgen Weiß",
        "phone_number": "+4915123456789",
        "notes": "Patient hat empfindliche Zähne."
    });
    let body = book.to_string();
    let first = app
        .retell("/retell/functions/book_appointment", body.as_bytes())
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let booked = first.json();
    assert_eq!(booked["ok"], true, "{booked}");
    assert!(
        booked["message"]
            .as_str()
            .unwrap_or_default()
            .contains("gebucht"),
        "{booked}"
    );
    // Retell retries the same request: the same appointment, not a second one.
    let retry = app
        .retell("/retell/functions/book_appointment", body.as_bytes())
        .await;
    assert_eq!(
        retry.json()["appointment_id"],
        booked["appointment_id"],
        "{}",
        retry.body
    );

    let rival = app
        .function(
            "book_appointment",
            "call_rival_for_the_same_slot",
            json!({"slot_id": slot_id, "patient_name": "Erika Muster", "phone_number": "+4917012345678"}),
        )
        .await;
    assert_eq!(rival["error"], "slot_taken", "{rival}");
    assert!(
        !rival["alternatives"]
            .as_array()
            .expect("alternatives")
            .is_empty(),
        "{rival}"
    );

    let ended = sample("call_ended.json");
    assert_eq!(app.retell("/retell/webhook", &ended).await.status, 204);
    assert_eq!(
        app.retell("/retell/webhook", &ended).await.status,
        204,
        "redelivery"
    );
    let call_id = CallId::parse(SAMPLE_CALL_ID).expect("valid");
    wait_until("the ended call is logged with its transcript", || {
        let (store, call_id) = (store.clone(), call_id.clone());
        async move {
            matches!(store.call(&call_id).await, Ok(Some(c)) if c.status == CallStatus::Ended && c.transcript.is_some())
        }
    })
    .await;
    // A transcript update delivered late does not replace the final transcript.
    let late = json!({"event": "transcript_updated", "call": {"call_id": SAMPLE_CALL_ID, "transcript": "User: Hallo"}});
    assert_eq!(
        app.retell("/retell/webhook", late.to_string().as_bytes())
            .await
            .status,
        204
    );
    let mut analyzed = sample_json("call_ended.json");
    analyzed["event"] = json!("call_analyzed");
    // Without a transcript of its own, so the one checked below is the stored final one.
    if let Some(call) = analyzed["call"].as_object_mut() {
        call.remove("transcript");
    }
    analyzed["call"]["call_analysis"] = json!({
        "call_summary": "Termin zur Zahnreinigung gebucht.",
        "user_sentiment": "Positive",
        "call_successful": true
    });
    let answer = app
        .retell("/retell/webhook", analyzed.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    wait_until("the analysis is stored", || {
        let (store, call_id) = (store.clone(), call_id.clone());
        async move {
            matches!(store.call(&call_id).await, Ok(Some(c)) if c.status == CallStatus::Analyzed && c.successful == Some(true))
        }
    })
    .await;
    all_events_processed(&store).await;
    // The call log is written in order, so once the analysis is stored the late update is too.
    let call = store
        .call(&call_id)
        .await
        .expect("store answers")
        .expect("call");
    assert!(
        call.transcript
            .as_deref()
            .unwrap_or_default()
            .contains("Halb zehn"),
        "{call:?}"
    );
    let callbacks = demo_callbacks(&*store).await;
    assert!(
        callbacks.is_empty(),
        "a call that booked needs no callback: {callbacks:?}"
    );
}

async fn the_demo_call_works_end_to_end(db: TestDb) {
    let app = spawn_app_on(db, &[]).await;
    demo_call(&app).await;
}

on_both_backends!(the_demo_call_works_end_to_end);

#[actix_web::test]
async fn a_call_that_wanted_a_booking_and_got_none_becomes_a_callback() {
    let app = spawn_app().await;
    let store = app.database.store();
    let call_id = "call_wanted_but_did_not_book_01";
    let ended = missed_booking_call_ended(call_id);
    let answer = app
        .retell("/retell/webhook", ended.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    wait_until("a callback is opened", || {
        let store = store.clone();
        async move { demo_callbacks(&*store).await.len() == 1 }
    })
    .await;
    let callbacks = demo_callbacks(&*store).await;
    let callback = &callbacks[0];
    assert_missed_booking_callback(callback, call_id);
    assert_ne!(
        callback.priority.as_str(),
        "normal",
        "dringend raises the priority: {callback:?}"
    );
}

#[actix_web::test]
async fn request_callback_opens_one_and_a_second_request_merges_into_it() {
    let app = spawn_app().await;
    let call = "call_wants_a_callback_000001";
    let first = app
        .function(
            "request_callback",
            call,
            json!({"reason": "Frage zur Rechnung", "name": "Jürgen Weiß"}),
        )
        .await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["merged"], false, "{first}");
    let second = app
        .function(
            "request_callback",
            call,
            json!({"reason": "Es ist dringend, starke Schmerzen"}),
        )
        .await;
    assert_eq!(second["merged"], true, "{second}");
    assert_eq!(second["callback_id"], first["callback_id"], "{second}");
    assert_eq!(
        second["priority"], "high",
        "urgent words raise the priority: {second}"
    );
}

/// The README's walkthrough: `callflow retell send` signs each example file with the configured
/// key and posts it; every step is accepted.
#[actix_web::test]
async fn the_readme_demo_call_runs_through_the_retell_send_command() {
    let app = spawn_app().await;
    let steps = [
        (
            "1_call_inbound.json",
            "-> 200",
            "\"caller_name\": \"Jürgen Weiß\"",
        ),
        ("2_call_started.json", "-> 204", ""),
        ("3_check_availability.json", "-> 200", "\"slots\""),
        ("4_book_appointment.json", "-> 200", "\"message\""),
        ("5_call_ended.json", "-> 204", ""),
        ("6_call_analyzed.json", "-> 204", ""),
    ];
    for (file, status, contains) in steps {
        let path = format!("{}/examples/demo-call/{file}", env!("CARGO_MANIFEST_DIR"));
        let url = app.address.clone();
        // The command blocks; run it off the test's runtime thread, which serves the app.
        let out = actix_web::rt::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_callflow"))
                .args(["retell", "send", &path, "--url", &url])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("CALLFLOW_LOGGING__LEVEL", "warn")
                .output()
                .expect("callflow runs")
        })
        .await
        .expect("command finished");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(status), "{file}: {stdout}");
        assert!(stdout.contains(contains), "{file}: {stdout}");
    }
}

/// The store decides whether a call booked, so a booked call gets no callback even when its
/// analysis arrives first (and ends the call actor) and the transcript is full of booking words.
#[actix_web::test]
async fn a_call_that_booked_needs_no_callback_whatever_order_its_events_arrive_in() {
    let app = spawn_app().await;
    let store = app.database.store();
    let call_id = "call_booked_then_analysed_first";
    let day = next_working_tuesday();
    let offer = app
        .function(
            "check_availability",
            call_id,
            json!({"service": "Zahnreinigung", "date": day.format("%Y-%m-%d").to_string()}),
        )
        .await;
    let slot_id = offer["slots"][0]["slot_id"]
        .as_str()
        .expect("a slot")
        .to_owned();
    let booked = app
        .function("book_appointment", call_id, json!({"slot_id": slot_id}))
        .await;
    assert_eq!(booked["ok"], true, "{booked}");
    let call = |event: &str| {
        json!({"event": event, "call": {
            "call_id": call_id, "from_number": "+4915123456789", "to_number": "+493012345678",
            "transcript": "User: Ich möchte einen Termin zur Zahnreinigung buchen.\n",
            "call_analysis": {"call_successful": false, "call_summary": "unklar"}
        }})
        .to_string()
    };
    assert_eq!(
        app.retell("/retell/webhook", call("call_analyzed").as_bytes())
            .await
            .status,
        204
    );
    assert_eq!(
        app.retell("/retell/webhook", call("call_ended").as_bytes())
            .await
            .status,
        204
    );
    let id = CallId::parse(call_id).expect("valid");
    all_events_processed(&store).await;
    let call = store.call(&id).await.expect("store answers").expect("call");
    assert_eq!(call.status, CallStatus::Analyzed);
    let callbacks = demo_callbacks(&*store).await;
    assert!(callbacks.is_empty(), "{callbacks:?}");
}

/// Book, cancel, and the same request again: a new appointment, not the cancelled one
/// replayed; and Retell's retry of that finds it.
#[actix_web::test]
async fn a_booking_repeated_after_its_cancellation_books_afresh() {
    let app = spawn_app().await;
    let call_id = "call_book_cancel_book_again";
    let day = next_working_tuesday().format("%Y-%m-%d").to_string();
    let args = json!({"service": "Zahnreinigung", "date": day, "time": "15:00"});
    let first = app
        .function("book_appointment", call_id, args.clone())
        .await;
    assert_eq!(first["ok"], true, "{first}");
    // On the phone the caller knows the spoken reference, not the id.
    let cancelled = app
        .function(
            "cancel_appointment",
            call_id,
            json!({"reference": first["reference"]}),
        )
        .await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(
        cancelled["appointment_id"], first["appointment_id"],
        "{cancelled}"
    );
    let again = app
        .function("book_appointment", call_id, args.clone())
        .await;
    assert_eq!(again["ok"], true, "{again}");
    assert_ne!(again["appointment_id"], first["appointment_id"], "{again}");
    let retry = app.function("book_appointment", call_id, args).await;
    assert_eq!(retry["appointment_id"], again["appointment_id"], "{retry}");
    assert_ne!(
        first["reference"], again["reference"],
        "references tell bookings apart"
    );
    // "Cancel my appointment": the caller's only upcoming one.
    let mine = app.function("cancel_appointment", call_id, json!({})).await;
    assert_eq!(mine["appointment_id"], again["appointment_id"], "{mine}");
}

/// A `call_ended` accepted (stored) by a server that stopped before its follow-up ran: the next
/// server on the same database replays it at start-up.
async fn an_unprocessed_event_is_replayed_at_start(db: TestDb) {
    let call_id = "call_accepted_then_crashed_01";
    let payload = missed_booking_call_ended(call_id);
    let event = CallEvent {
        call_id: CallId::parse(call_id).expect("valid"),
        event: "call_ended".into(),
        dedupe_key: format!("call_ended:{call_id}"),
        payload,
        received_at: Utc::now() - Duration::seconds(5),
    };
    {
        let store = db.store().await;
        assert_eq!(
            store.record_call_event(&event).await.expect("stored"),
            Recorded::New
        );
        assert_eq!(
            store
                .unprocessed_call_events(Utc::now(), 10)
                .await
                .expect("read")
                .len(),
            1
        );
    }

    let app = spawn_app_on(db, &[]).await;
    let store = app.database.store();
    // The replay runs before the server answers: everything is there once it is up.
    let callbacks = demo_callbacks(&*store).await;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    let callback = &callbacks[0];
    assert_missed_booking_callback(callback, call_id);
    let call = store
        .call(&event.call_id)
        .await
        .expect("store answers")
        .expect("the call log has the call");
    assert_eq!(call.status, CallStatus::Ended);
    assert!(
        store
            .unprocessed_call_events(Utc::now(), 10)
            .await
            .expect("read")
            .is_empty(),
        "the replayed event is marked processed"
    );

    // Retell redelivering it now changes nothing.
    let answer = app
        .retell("/retell/webhook", event.payload.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    all_events_processed(&store).await;
    assert_eq!(demo_callbacks(&*store).await.len(), 1);
}

on_both_backends!(an_unprocessed_event_is_replayed_at_start);

/// A webhook's follow-up marks its event processed, so a later start replays nothing.
#[actix_web::test]
async fn a_followed_up_event_is_marked_processed() {
    let app = spawn_app().await;
    let store = app.database.store();
    let started = json!({"event": "call_started", "call": {
        "call_id": "call_marked_processed_01",
        "from_number": "+4915123456789",
        "to_number": "+493012345678",
        "metadata": {"tenant_id": "praxis-mueller-berlin"}
    }});
    let answer = app
        .retell("/retell/webhook", started.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    all_events_processed(&store).await;
}

/// "Move my appointment to 14:00": the caller's only upcoming appointment moves; the new time
/// is booked before the old one is freed.
#[actix_web::test]
async fn a_caller_moves_their_appointment_without_knowing_its_id() {
    let app = spawn_app().await;
    let call_id = "call_moves_an_appointment_01";
    let day = next_working_tuesday().format("%Y-%m-%d").to_string();
    let booked = app
        .function(
            "book_appointment",
            call_id,
            json!({"service": "Zahnreinigung", "date": day, "time": "09:00"}),
        )
        .await;
    assert_eq!(booked["ok"], true, "{booked}");
    let moved = app
        .function(
            "reschedule_appointment",
            call_id,
            json!({"old_date": day, "old_time": "09:00", "date": day, "time": "14:00"}),
        )
        .await;
    assert_eq!(moved["ok"], true, "{moved}");
    assert_eq!(
        moved["previous_appointment_id"], booked["appointment_id"],
        "{moved}"
    );
    assert!(
        moved["start"]
            .as_str()
            .unwrap_or_default()
            .contains("T14:00"),
        "{moved}"
    );
    assert!(
        moved["message"]
            .as_str()
            .unwrap_or_default()
            .contains("verlegt"),
        "{moved}"
    );
    // The old one is gone: only the new one is left to cancel.
    let mine = app.function("cancel_appointment", call_id, json!({})).await;
    assert_ne!(mine["appointment_id"], booked["appointment_id"], "{mine}");
    assert_eq!(mine["status"], "cancelled", "{mine}");
}

/// An admin token of the demo company, for the admin API's side of a test.
async fn demo_admin(app: &TestApp) -> String {
    let request = callflow::http::api::auth::TokenRequest {
        company: "praxis-mueller".into(),
        role: callflow_actors::domain::Role::Admin,
        staff: None,
        branch: None,
        name: None,
    };
    callflow::http::api::auth::issue_token(&*app.database.store(), &request, Utc::now())
        .await
        .expect("token issued")
        .secret
}

/// A slot `check_availability` offered at another branch (the caller's branch has nobody
/// free) can be the new time of a reschedule: the appointment moves to that branch.
async fn a_reschedule_to_a_slot_offered_at_another_branch_moves_it_there(db: TestDb) {
    let app = spawn_app_on(db, &[]).await;
    let call_id = "call_moves_to_another_branch";
    let day = next_working_tuesday().format("%Y-%m-%d").to_string();
    let booked = app
        .function(
            "book_appointment",
            call_id,
            json!({"service": "Zahnreinigung", "date": day, "time": "09:00"}),
        )
        .await;
    assert_eq!(booked["ok"], true, "{booked}");
    assert_eq!(booked["staff"], "Mehmet Yılmaz", "{booked}");

    // Berlin's only prophylaxis assistant leaves: cleanings are offered elsewhere.
    let admin = demo_admin(&app).await;
    let staff = app
        .send(
            app.request(awc::http::Method::GET, "/api/v1/staff")
                .insert_header(("Authorization", format!("Bearer {admin}"))),
            None,
        )
        .await;
    assert_eq!(staff.status, 200, "{}", staff.body);
    let mehmet = staff.json()["staff"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["name"] == "Mehmet Yılmaz")
        .expect("the demo's Berlin assistant")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let gone = app
        .send(
            app.request(
                awc::http::Method::DELETE,
                &format!("/api/v1/staff/{mehmet}"),
            )
            .insert_header(("Authorization", format!("Bearer {admin}"))),
            None,
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);

    let offer = app
        .function(
            "check_availability",
            call_id,
            json!({"service": "Zahnreinigung", "date": day}),
        )
        .await;
    let elsewhere = offer["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(offer["alternatives"].as_array().into_iter().flatten())
        .find(|s| s["other_branch"] == true)
        .unwrap_or_else(|| panic!("a slot at another branch: {offer}"))
        .clone();
    let moved = app
        .function(
            "reschedule_appointment",
            call_id,
            json!({"appointment_id": booked["appointment_id"], "slot_id": elsewhere["slot_id"]}),
        )
        .await;
    assert_eq!(moved["ok"], true, "{moved}");
    assert_eq!(moved["start"], elsewhere["start"], "{moved}");
    assert_eq!(moved["staff"], elsewhere["staff"], "{moved}");
    let new_id = moved["appointment_id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("an appointment id");
    let stored = app
        .database
        .store()
        .appointment(new_id)
        .await
        .expect("store answers")
        .expect("stored");
    let branch_name = app
        .database
        .store()
        .list_branches(Some(stored.company_id))
        .await
        .expect("store answers")
        .into_iter()
        .find(|b| b.id == stored.branch_id)
        .expect("its branch")
        .name;
    assert_eq!(
        branch_name, elsewhere["branch"],
        "booked where it was offered"
    );
}

/// A number said in a call without a country code is read in the configured region when the
/// caller withheld theirs, as everywhere else numbers are read.
async fn a_missed_booking_callback_reads_the_spoken_number_in_the_configured_region(db: TestDb) {
    let app = spawn_app_on(db, &[("CALLFLOW_CALLBACKS__DEFAULT_REGION", "AT")]).await;
    let store = app.database.store();
    let ended = json!({"event": "call_ended", "call": {
        "call_id": "call_withheld_number_region",
        "to_number": "+493012345678",
        "metadata": {"tenant_id": "praxis-mueller-berlin"},
        "disconnection_reason": "user_hangup",
        "transcript": "Agent: Praxis Dr. Müller, guten Tag.\nUser: Ich möchte einen Termin zur Zahnreinigung. Meine Nummer ist 0664 1234567.\nAgent: Einen Moment bitte.\nUser: Ich rufe später nochmal an.\n"
    }});
    let answer = app
        .retell("/retell/webhook", ended.to_string().as_bytes())
        .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    wait_until("a callback is opened", || {
        let store = store.clone();
        async move { demo_callbacks(&*store).await.len() == 1 }
    })
    .await;
    let callbacks = demo_callbacks(&*store).await;
    assert_eq!(
        callbacks[0].phone.as_str(),
        "+436641234567",
        "read in AT, not with a fixed +49: {:?}",
        callbacks[0]
    );
}

on_both_backends!(
    a_reschedule_to_a_slot_offered_at_another_branch_moves_it_there,
    a_missed_booking_callback_reads_the_spoken_number_in_the_configured_region,
);
