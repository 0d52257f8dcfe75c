//! Reliability and security under hostile input and faults (issue 13): each test tries to break a
//! promise through the real HTTP surface: a signed body run as another function, another caller's
//! appointment cancelled by its id, a rival company capturing calls by reusing a slug or an agent
//! id, characters a backend cannot store and a poison call-log write blocking every other.

use crate::helpers::on_both_backends;
use crate::helpers::{
    next_working_tuesday_iso, spawn_app, spawn_app_on, spawn_app_with_engine, wait_until, Answer,
    TestApp, TestDb, PATIENCE,
};
use awc::http::Method;
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::retell::signature;
use callflow::seed::{BERLIN_AGENT, COMPANY_SLUG};
use callflow_actors::domain::{AppointmentStatus, Call, CallId, Company, CompanyId, Role};
use callflow_actors::CallLogWrite;
use chrono::Utc;
use serde_json::{json, Value};

const DEMO_KEY: &str = "demo-retell-key-change-me";
const BERLIN_NUMBER: &str = "+493012345678";
const BERLIN_SLUG: &str = "praxis-mueller-berlin";
/// The demo customer Jürgen Weiß.
const JUERGEN: &str = "+4915123456789";
/// Another caller, unknown to the demo company until they book.
const STRANGER: &str = "+4917612345678";
/// A number no company has registered.
const UNREGISTERED: &str = "+4969111111111";

/// Posts `body` signed now with the demo key, as Retell would.
async fn retell(app: &TestApp, path: &str, body: &[u8]) -> Answer {
    let header = signature::sign(body, DEMO_KEY.as_bytes(), Utc::now().timestamp_millis());
    let request = app
        .request(Method::POST, path)
        .content_type("application/json")
        .insert_header(("X-Retell-Signature", header));
    app.send(request, Some(body.to_vec())).await
}

/// The full custom-function body of a call from `from` to `to`.
fn function_body(name: &str, call_id: &str, from: &str, to: &str, args: Value) -> Value {
    json!({
        "name": name,
        "call": {
            "call_id": call_id,
            "from_number": from,
            "to_number": to,
            "metadata": {"tenant_id": BERLIN_SLUG}
        },
        "args": args
    })
}

/// The demo company's open callbacks.
async fn demo_callback_count(app: &TestApp) -> usize {
    let store = app.database.store();
    let company = store
        .company_by_slug(COMPANY_SLUG)
        .await
        .expect("store answers")
        .expect("demo company");
    store
        .list_callbacks(company.id)
        .await
        .expect("store answers")
        .len()
}

/// The signature covers the body, not the path: a body naming `check_availability` posted to
/// `request_callback` is refused, not run as a callback request.
#[actix_web::test]
async fn a_body_signed_for_one_function_does_not_run_another() {
    let app = spawn_app().await;
    let call_id = "call_body_for_another_function";
    let check = function_body(
        "check_availability",
        call_id,
        JUERGEN,
        BERLIN_NUMBER,
        json!({"service": "Zahnreinigung", "date": next_working_tuesday_iso(),
            "reason": "Bitte zurückrufen", "phone_number": JUERGEN}),
    );
    let answer = retell(
        &app,
        "/retell/functions/request_callback",
        check.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "function_mismatch");
    assert_eq!(demo_callback_count(&app).await, 0, "nothing was run");

    // The same body at its own path runs.
    let answer = retell(
        &app,
        "/retell/functions/check_availability",
        check.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["ok"], true, "{}", answer.body);

    // An args-only body has no function name (a `name` in it is the caller's): accepted.
    let args_only = json!({"call_id": call_id, "name": "Jürgen Weiß",
        "reason": "Rückruf wegen Termin"});
    let answer = retell(
        &app,
        "/retell/functions/request_callback",
        args_only.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["ok"], true, "{}", answer.body);
    assert_eq!(demo_callback_count(&app).await, 1);
}

/// Runs `name` in a call from `from` to the Berlin number; the answer must be a 200.
async fn function_from(app: &TestApp, from: &str, name: &str, call_id: &str, args: Value) -> Value {
    let body = function_body(name, call_id, from, BERLIN_NUMBER, args);
    let answer = retell(
        app,
        &format!("/retell/functions/{name}"),
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{name}: {}", answer.body);
    answer.json()
}

/// An appointment id is no proof of whose appointment it is: another caller of the same company
/// can neither cancel nor move it by its id, and the owner still can.
async fn another_callers_appointment_cannot_be_cancelled_or_moved_by_its_id(db: TestDb) {
    let app = spawn_app_on(db, &[]).await;
    let day = next_working_tuesday_iso();
    let booked = function_from(
        &app,
        JUERGEN,
        "book_appointment",
        "call_owner_books_an_appointment",
        json!({"service": "Zahnreinigung", "date": day, "time": "10:00"}),
    )
    .await;
    assert_eq!(booked["ok"], true, "{booked}");
    let id = booked["appointment_id"].clone();
    // The stranger is a customer too (with an appointment of their own).
    let theirs = function_from(
        &app,
        STRANGER,
        "book_appointment",
        "call_stranger_books_too",
        json!({"service": "Zahnreinigung", "date": day, "time": "15:00"}),
    )
    .await;
    assert_eq!(theirs["ok"], true, "{theirs}");

    let stranger_call = "call_stranger_names_an_id";
    let cancel = function_from(
        &app,
        STRANGER,
        "cancel_appointment",
        stranger_call,
        json!({"appointment_id": id}),
    )
    .await;
    assert_eq!(cancel["error"], "unknown_appointment", "{cancel}");
    let moved = function_from(
        &app,
        STRANGER,
        "reschedule_appointment",
        stranger_call,
        json!({"appointment_id": id, "date": day, "time": "16:00"}),
    )
    .await;
    assert_eq!(moved["error"], "unknown_appointment", "{moved}");
    // Naming their own number in the args changes nothing.
    let cancel = function_from(
        &app,
        STRANGER,
        "cancel_appointment",
        stranger_call,
        json!({"appointment_id": id, "phone_number": STRANGER}),
    )
    .await;
    assert_eq!(cancel["error"], "unknown_appointment", "{cancel}");

    let store = app.database.store();
    let stored = store
        .appointment(id.as_str().expect("an id").parse().expect("an id"))
        .await
        .expect("store answers")
        .expect("stored");
    assert_eq!(stored.status, AppointmentStatus::Booked, "untouched");

    // The owner cancels it by its id.
    let cancel = function_from(
        &app,
        JUERGEN,
        "cancel_appointment",
        "call_owner_cancels_by_id",
        json!({"appointment_id": id}),
    )
    .await;
    assert_eq!(cancel["status"], "cancelled", "{cancel}");
    assert_eq!(cancel["appointment_id"], id, "{cancel}");
}

on_both_backends!(another_callers_appointment_cannot_be_cancelled_or_moved_by_its_id);

/// An admin token of the company with this slug.
async fn admin_of(app: &TestApp, company: &str) -> String {
    let request = TokenRequest {
        company: company.into(),
        role: Role::Admin,
        staff: None,
        branch: None,
        name: None,
    };
    issue_token(&*app.database.store(), &request, Utc::now())
        .await
        .expect("token issued")
        .secret
}

/// Sends `method path` with an admin token and a JSON body.
async fn admin(app: &TestApp, token: &str, method: Method, path: &str, body: &Value) -> Answer {
    let request = app
        .request(method, path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .content_type("application/json");
    app.send(request, Some(body.to_string().into_bytes())).await
}

/// A second company (written to the store) and an admin token of it.
async fn rival_company(app: &TestApp) -> String {
    let company = Company {
        id: CompanyId::new(),
        name: "Rivalen GmbH".into(),
        slug: "rivalen".into(),
        default_branch_id: None,
    };
    app.database
        .store()
        .upsert_company(&company)
        .await
        .expect("company stored");
    admin_of(app, "rivalen").await
}

/// A rival company reusing the demo's Berlin slug captures nothing: a hint on a number nobody
/// registered routes nowhere, and the demo's own hint still names its own branch.
#[actix_web::test]
async fn a_rival_branch_with_the_same_slug_captures_no_calls() {
    let app = spawn_app().await;
    let rival = rival_company(&app).await;
    let created = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Rivalen Mitte", "slug": BERLIN_SLUG, "time_zone": "Europe/Berlin",
            "address": "Rivalenweg 1, 10115 Berlin"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);

    // A function call on an unregistered number, with the slug in the metadata.
    let body = function_body(
        "get_branch_info",
        "call_hint_on_an_unregistered_number",
        JUERGEN,
        UNREGISTERED,
        json!({}),
    );
    let answer = retell(
        &app,
        "/retell/functions/get_branch_info",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let info = answer.json();
    assert_ne!(info["company"], "Rivalen GmbH", "captured: {info}");
    assert_eq!(info["error"], "unknown_call", "{info}");

    // The demo's own number with its own slug still routes explicitly to its branch.
    let inbound = json!({"event": "call_inbound", "call_inbound": {
        "from_number": JUERGEN, "to_number": BERLIN_NUMBER,
        "custom_sip_headers": {"x-tenant": BERLIN_SLUG}}});
    let answer = retell(&app, "/retell/webhook", inbound.to_string().as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let metadata = &answer.json()["call_inbound"]["metadata"];
    assert_eq!(metadata["company"], COMPANY_SLUG, "{metadata}");
    assert_eq!(metadata["branch"], BERLIN_SLUG, "{metadata}");
    assert_eq!(metadata["routing_method"], "explicit", "{metadata}");
}

/// A number or an agent id one company owns cannot be registered by another (409), so an
/// unregistered number answered by the demo's agent still reaches the demo.
async fn a_number_or_agent_id_of_another_company_cannot_be_registered(db: TestDb) {
    let app = spawn_app_on(db, &[]).await;
    let rival = rival_company(&app).await;
    let taken_number = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/phone-numbers",
        &json!({"number": BERLIN_NUMBER}),
    )
    .await;
    assert_eq!(taken_number.status, 409, "{}", taken_number.body);
    let taken_agent = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/phone-numbers",
        &json!({"number": UNREGISTERED, "retell_agent_id": BERLIN_AGENT}),
    )
    .await;
    assert_eq!(taken_agent.status, 409, "{}", taken_agent.body);
    let taken_by_branch = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Rivalen Nord", "slug": "rivalen-nord", "time_zone": "Europe/Berlin",
            "agent_by_language": {"de": BERLIN_AGENT}}),
    )
    .await;
    assert_eq!(taken_by_branch.status, 409, "{}", taken_by_branch.body);
    // A branch without the agent, then a PATCH adding it: refused too.
    let branch = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Rivalen Nord", "slug": "rivalen-nord", "time_zone": "Europe/Berlin",
            "agent_by_language": {"de": "agent_rivalen_own"}}),
    )
    .await;
    assert_eq!(branch.status, 201, "{}", branch.body);
    let branch_id = branch.json()["id"].as_str().expect("an id").to_owned();
    let patched = admin(
        &app,
        &rival,
        Method::PATCH,
        &format!("/api/v1/branches/{branch_id}"),
        &json!({"agent_by_language": {"de": "agent_rivalen_own", "en": BERLIN_AGENT}}),
    )
    .await;
    assert_eq!(patched.status, 409, "{}", patched.body);
    // Its own agent id on its own number is fine.
    let own = admin(
        &app,
        &rival,
        Method::POST,
        "/api/v1/phone-numbers",
        &json!({"number": UNREGISTERED, "retell_agent_id": "agent_rivalen_own"}),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.body);

    // A call to a number nobody registered, answered by the demo's agent, reaches the demo.
    let body = json!({
        "name": "get_branch_info",
        "call": {"call_id": "call_demo_agent_other_number", "from_number": JUERGEN,
            "to_number": "+4969222222222", "agent_id": BERLIN_AGENT},
        "args": {}
    });
    let answer = retell(
        &app,
        "/retell/functions/get_branch_info",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["company"],
        "Zahnarztpraxis Dr. Müller",
        "{}",
        answer.body
    );
}

on_both_backends!(a_number_or_agent_id_of_another_company_cannot_be_registered);

/// NUL cannot be stored in Postgres text: a transcript with one is accepted (stripped) and
/// does not stop later bookings; an admin text with one is a 422 naming the field, not a 500.
async fn nul_characters_are_handled_at_the_edge(db: TestDb) {
    let app = spawn_app_on(db, &[]).await;
    let store = app.database.store();
    let call_id = "call_transcript_with_a_nul";
    let updated = json!({"event": "transcript_updated", "call": {
        "call_id": call_id, "from_number": JUERGEN, "to_number": BERLIN_NUMBER,
        "metadata": {"tenant_id": BERLIN_SLUG},
        "transcript": "Agent: Guten Tag.\nUser: Hallo\u{0000} hier ist Jürgen.\n"
    }});
    let answer = retell(&app, "/retell/webhook", updated.to_string().as_bytes()).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let id = CallId::parse(call_id).expect("valid");
    wait_until("the transcript is in the call log, without the NUL", || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store.call(&id).await.ok().flatten().is_some_and(|c| {
                c.transcript.as_deref() == Some("Agent: Guten Tag.\nUser: Hallo hier ist Jürgen.\n")
            })
        }
    })
    .await;
    let booked = function_from(
        &app,
        JUERGEN,
        "book_appointment",
        call_id,
        json!({"service": "Zahnreinigung", "date": next_working_tuesday_iso(), "time": "10:00",
            "patient_name": "Jürgen\u{0000} Weiß", "notes": "empfindlich\u{0000}"}),
    )
    .await;
    assert_eq!(booked["ok"], true, "{booked}");
    let callback = function_from(
        &app,
        JUERGEN,
        "request_callback",
        call_id,
        json!({"reason": "Frage\u{0000} zur Rechnung", "name": "Jürgen\u{0000}"}),
    )
    .await;
    assert_eq!(callback["ok"], true, "{callback}");

    let token = admin_of(&app, COMPANY_SLUG).await;
    let branch = admin(
        &app,
        &token,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Praxis\u{0000} Potsdam", "slug": "praxis-potsdam",
            "time_zone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(branch.status, 422, "{}", branch.body);
    assert!(
        branch.json()["fields"]["name"].is_string(),
        "{}",
        branch.body
    );
    let nested = admin(
        &app,
        &token,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Praxis Potsdam", "slug": "praxis-potsdam",
            "time_zone": "Europe/Berlin", "agent_by_language": {"de": "agent\u{0000}"}}),
    )
    .await;
    assert_eq!(nested.status, 422, "{}", nested.body);
    assert!(
        nested.json()["fields"]["agent_by_language"].is_string(),
        "{}",
        nested.body
    );
    let customer = admin(
        &app,
        &token,
        Method::POST,
        "/api/v1/customers",
        &json!({"phone": "+4915199999999", "name": "Eva\u{0000}"}),
    )
    .await;
    assert_eq!(customer.status, 422, "{}", customer.body);
    assert!(
        customer.json()["fields"]["name"].is_string(),
        "{}",
        customer.body
    );
    let callback = admin(
        &app,
        &token,
        Method::POST,
        "/api/v1/callbacks",
        &json!({"phone": "+4915199999999", "name": "Eva", "reason": "Rückruf\u{0000}"}),
    )
    .await;
    // Callback texts are cleaned of control characters, NUL included, and stored.
    assert_eq!(callback.status, 201, "{}", callback.body);
    assert_eq!(callback.json()["reason"], "Rückruf", "{}", callback.body);

    // Nothing is stuck: the admin API still writes, the agent still books.
    let branch = admin(
        &app,
        &token,
        Method::POST,
        "/api/v1/branches",
        &json!({"name": "Praxis Potsdam", "slug": "praxis-potsdam",
            "time_zone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(branch.status, 201, "{}", branch.body);
    let again = function_from(
        &app,
        JUERGEN,
        "book_appointment",
        "call_after_the_nul",
        json!({"service": "Zahnreinigung", "date": next_working_tuesday_iso(), "time": "15:00"}),
    )
    .await;
    assert_eq!(again["ok"], true, "{again}");
}

on_both_backends!(nul_characters_are_handled_at_the_edge);

/// A call-log write the database refuses (Postgres cannot store a NUL, should one get past the
/// edge) is set aside on its own: the rest of its batch is stored, a flush returns, and
/// bookings go on instead of waiting behind a batch retried forever.
async fn a_poison_call_log_write_is_set_aside_and_blocks_nothing(db: TestDb) {
    let on_postgres = db.url.starts_with("postgres");
    let (app, engine) = spawn_app_with_engine(db).await;
    let store = app.database.store();
    let poison_id = CallId::parse("call_poison_transcript_write").expect("valid");
    let good_id = CallId::parse("call_good_write_same_batch").expect("valid");
    let mut poison = Call::registered(poison_id.clone());
    poison.transcript = Some("User: Hallo\u{0000}".into());
    let mut good = Call::registered(good_id.clone());
    good.transcript = Some("User: Hallo".into());
    engine
        .log_call(CallLogWrite::Call(poison))
        .await
        .expect("queued");
    engine
        .log_call(CallLogWrite::Call(good))
        .await
        .expect("queued");
    // A guard against a hang, not a measurement: before the fix this never returned.
    actix_web::rt::time::timeout(PATIENCE, engine.flush())
        .await
        .expect("the flush returns")
        .expect("the engine answers");
    let stored = store.call(&good_id).await.expect("store answers");
    assert_eq!(
        stored.and_then(|c| c.transcript).as_deref(),
        Some("User: Hallo"),
        "the good write of the batch is stored"
    );
    if on_postgres {
        assert!(
            store
                .call(&poison_id)
                .await
                .expect("store answers")
                .is_none(),
            "the refused write is set aside"
        );
        let metrics = app.get("/metrics").await.body;
        assert!(
            metrics.contains("callflow_persistence_dropped_writes_total{reason=\"refused\"}"),
            "{metrics}"
        );
    }
    let booked = function_from(
        &app,
        JUERGEN,
        "book_appointment",
        "call_books_after_a_poison_write",
        json!({"service": "Zahnreinigung", "date": next_working_tuesday_iso(), "time": "10:00"}),
    )
    .await;
    assert_eq!(booked["ok"], true, "{booked}");
}

on_both_backends!(a_poison_call_log_write_is_set_aside_and_blocks_nothing);
