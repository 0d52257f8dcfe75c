//! The admin CRUD API through HTTP: create/read/update/delete on both backends, validation,
//! changes reaching the running actors, the role matrix with company isolation on every
//! endpoint, the audit log, and the OpenAPI document matching the routes.

use crate::helpers::on_both_backends;
use crate::helpers::{
    next_working_tuesday, spawn_app, spawn_app_with_engine, Answer, TestApp, TestDb,
};
use awc::http::Method;
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::retell::signature;
use callflow::seed::{demo_data, COMPANY_SLUG};
use callflow_actors::domain::callback::{new_callback, CallbackDraft, CallbackPolicy};
use callflow_actors::domain::routing::{InboundCall, Routing};
use callflow_actors::domain::*;
use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DEMO_KEY: &str = "demo-retell-key-change-me";
const BERLIN_SLUG: &str = "praxis-mueller-berlin";
/// The demo's Hamburg number (routes by the dialled number alone).
const HAMBURG_NUMBER: &str = "+494012345678";

pub async fn token(
    app: &TestApp,
    company: &str,
    role: Role,
    staff: Option<StaffId>,
    branch: Option<&str>,
) -> String {
    let request = TokenRequest {
        company: company.into(),
        role,
        staff,
        branch: branch.map(str::to_owned),
        name: None,
    };
    issue_token(&*app.database.store(), &request, Utc::now())
        .await
        .expect("token issued")
        .secret
}

/// Sends `method path` with the token and an optional JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut request = app.request(method, path);
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    match body {
        Some(body) => {
            let request = request.content_type("application/json");
            app.send(request, Some(body.to_string().into_bytes())).await
        }
        None => app.send(request, None).await,
    }
}

fn berlin_time(day: chrono::NaiveDate, hour: u32) -> String {
    Berlin
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("time")))
        .single()
        .expect("unambiguous")
        .with_timezone(&Utc)
        .to_rfc3339()
}

async fn audit_actions(app: &TestApp, admin: &str, entity_id: &str) -> Vec<String> {
    let answer = call(
        app,
        Method::GET,
        &format!("/api/v1/audit?entity_id={entity_id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

async fn crud_reaches_the_actors_and_is_audited(db: TestDb) {
    let (app, engine) = spawn_app_with_engine(db).await;
    let secret = token(&app, COMPANY_SLUG, Role::Admin, None, None).await;
    let admin = Some(secret.as_str());
    let demo = demo_data();
    let berlin = demo.branches[0].id;

    // A branch: create, read, patch, delete (empty) and refusal while in use.
    let created = call(
        &app,
        Method::POST,
        "/api/v1/branches",
        admin,
        Some(&json!({"name": "Praxis Potsdam", "slug": "praxis-potsdam",
            "time_zone": "Europe/Berlin", "languages": ["de", "en"],
            "opening_hours": {"mon": ["08:00-12:00", "13:00-18:00"]}})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let branch_id = created.json()["id"].as_str().expect("id").to_owned();
    let read = call(
        &app,
        Method::GET,
        &format!("/api/v1/branches/{branch_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(read.json()["opening_hours"]["mon"][1], "13:00-18:00");
    let patched = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/branches/{branch_id}"),
        admin,
        Some(&json!({"address": "Am Kanal 1", "active": false})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["address"], "Am Kanal 1");
    assert_eq!(patched.json()["name"], "Praxis Potsdam", "untouched");
    let duplicate = call(
        &app,
        Method::POST,
        "/api/v1/branches",
        admin,
        Some(&json!({"name": "X", "slug": "praxis-potsdam", "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    let in_use = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/branches/{berlin}"),
        admin,
        None,
    )
    .await;
    assert_eq!(in_use.status, 409, "{}", in_use.body);
    let deleted = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/branches/{branch_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = call(
        &app,
        Method::GET,
        &format!("/api/v1/branches/{branch_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        audit_actions(&app, &secret, &branch_id).await,
        ["branch.delete", "branch.update", "branch.create"]
    );

    // A service and a staff member: the engine books them right after the POSTs.
    let service = call(
        &app,
        Method::POST,
        "/api/v1/services",
        admin,
        Some(&json!({"name": "Kurzberatung", "duration_minutes": 30})),
    )
    .await;
    assert_eq!(service.status, 201, "{}", service.body);
    let service_id = service.json()["id"].as_str().expect("id").to_owned();
    let member = call(
        &app,
        Method::POST,
        "/api/v1/staff",
        admin,
        Some(
            &json!({"branch_id": berlin.to_string(), "name": "Dr. Neu", "role": "practitioner",
            "languages": ["de"], "working_hours": {"tue": ["08:00-17:00"]},
            "email": "neu@example.com"}),
        ),
    )
    .await;
    assert_eq!(member.status, 201, "{}", member.body);
    let staff_id = member.json()["id"].as_str().expect("id").to_owned();
    let customer = call(
        &app,
        Method::POST,
        "/api/v1/customers",
        admin,
        Some(&json!({"phone": "0171 5550101", "name": "Nora Neu", "vip": true})),
    )
    .await;
    assert_eq!(customer.status, 201, "{}", customer.body);
    assert_eq!(customer.json()["phone"], "+491715550101");
    let customer_id = customer.json()["id"].as_str().expect("id").to_owned();

    let day = next_working_tuesday();
    let booking = json!({"branch_id": berlin.to_string(), "service_id": service_id,
        "customer_id": customer_id, "staff_id": staff_id, "start": berlin_time(day, 10)});
    let booked = call(
        &app,
        Method::POST,
        "/api/v1/appointments",
        admin,
        Some(&booking),
    )
    .await;
    assert_eq!(
        booked.status, 201,
        "the new staff member's calendar is live: {}",
        booked.body
    );
    let appointment_id = booked.json()["id"].as_str().expect("id").to_owned();
    let again = call(
        &app,
        Method::POST,
        "/api/v1/appointments",
        admin,
        Some(&booking),
    )
    .await;
    assert_eq!(
        again.status, 409,
        "the calendar actor refuses the overlap: {}",
        again.body
    );
    assert!(again.json()["alternatives"].is_array());
    let listed = call(
        &app,
        Method::GET,
        &format!("/api/v1/appointments?staff={staff_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(
        listed.json()["appointments"][0]["id"],
        appointment_id.as_str()
    );
    let moved = call(
        &app,
        Method::POST,
        &format!("/api/v1/appointments/{appointment_id}/reschedule"),
        admin,
        Some(&json!({"start": berlin_time(day, 11)})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let moved_id = moved.json()["id"].as_str().expect("id").to_owned();
    // The old time is free again: book it anew.
    let rebooked = call(
        &app,
        Method::POST,
        "/api/v1/appointments",
        admin,
        Some(&booking),
    )
    .await;
    assert_eq!(rebooked.status, 201, "{}", rebooked.body);
    let cancelled = call(
        &app,
        Method::POST,
        &format!("/api/v1/appointments/{moved_id}/cancel"),
        admin,
        None,
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(
        audit_actions(&app, &secret, &appointment_id).await,
        ["appointment.reschedule", "appointment.create"]
    );

    // Deleting staff deactivates them: the engine no longer books them.
    let removed = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/staff/{staff_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.json()["active"], false);
    let later = json!({"branch_id": berlin.to_string(), "service_id": service_id,
        "customer_id": customer_id, "staff_id": staff_id, "start": berlin_time(day, 14)});
    let refused = call(
        &app,
        Method::POST,
        "/api/v1/appointments",
        admin,
        Some(&later),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.json()["fields"]["staff_id"].is_string());
    let customer_gone = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/customers/{customer_id}"),
        admin,
        None,
    )
    .await;
    assert_eq!(
        customer_gone.status, 409,
        "they have appointments: {}",
        customer_gone.body
    );
    assert_eq!(
        audit_actions(&app, &secret, &staff_id).await,
        ["staff.deactivate", "staff.create"]
    );

    // A removed number stops routing at once (asked of the registry directly: an unrouted
    // webhook would count in the process-wide metrics other tests read).
    let hamburg: E164Number = HAMBURG_NUMBER.parse().expect("number");
    let routes = || {
        let call = InboundCall {
            to_number: &hamburg,
            from_number: None,
            agent_id: None,
            explicit_branch: None,
            caller_history: None,
        };
        matches!(engine.route(&call), Routing::Routed(_))
    };
    assert!(routes());
    let number = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/phone-numbers/{HAMBURG_NUMBER}"),
        admin,
        None,
    )
    .await;
    assert_eq!(number.status, 204, "{}", number.body);
    assert!(!routes(), "the deleted number no longer routes");
    let re_added = call(
        &app,
        Method::POST,
        "/api/v1/phone-numbers",
        admin,
        Some(&json!({"number": HAMBURG_NUMBER, "branch_id": demo.branches[1].id.to_string()})),
    )
    .await;
    assert_eq!(re_added.status, 201, "{}", re_added.body);
    assert!(routes(), "added back, it routes again");
    let inbound = json!({"event": "call_inbound", "call_inbound": {
        "from_number": "+447700900123", "to_number": HAMBURG_NUMBER}});
    assert_eq!(
        retell_inbound(&app, &inbound).await["call_inbound"]["metadata"]["routing_method"],
        "dialled_number"
    );
    let twice = call(
        &app,
        Method::POST,
        "/api/v1/phone-numbers",
        admin,
        Some(&json!({"number": HAMBURG_NUMBER})),
    )
    .await;
    assert_eq!(twice.status, 409, "{}", twice.body);
}

on_both_backends!(crud_reaches_the_actors_and_is_audited);

async fn retell_inbound(app: &TestApp, body: &Value) -> Value {
    let raw = body.to_string();
    let header = signature::sign(
        raw.as_bytes(),
        DEMO_KEY.as_bytes(),
        Utc::now().timestamp_millis(),
    );
    let request = app
        .request(Method::POST, "/retell/webhook")
        .content_type("application/json")
        .insert_header(("X-Retell-Signature", header));
    let answer = app.send(request, Some(raw.into_bytes())).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

#[actix_web::test]
async fn invalid_values_are_422_naming_each_field_and_unknown_fields_are_refused() {
    let app = spawn_app().await;
    let admin = token(&app, COMPANY_SLUG, Role::Admin, None, None).await;
    let cases = [
        (
            "/api/v1/branches",
            json!({"name": " ", "slug": "Not A Slug", "time_zone": "Mars/Olympus",
                "languages": ["xx1"], "opening_hours": {"mon": ["18:00-08:00"]}, "colour": "red"}),
            &[
                "name",
                "slug",
                "time_zone",
                "languages",
                "opening_hours",
                "colour",
            ][..],
        ),
        (
            "/api/v1/staff",
            json!({"branch_id": "nowhere", "role": "wizard", "email": "not-an-email",
                "working_hours": {"tue": ["08:00-12:00", "11:00-13:00"]}}),
            &["branch_id", "name", "role", "email", "working_hours"][..],
        ),
        (
            "/api/v1/services",
            json!({"name": "X", "duration_minutes": 0, "buffer_after_minutes": -5}),
            &["duration_minutes", "buffer_after_minutes"][..],
        ),
        (
            "/api/v1/customers",
            json!({"phone": "12", "preferred_language": "deutsch", "vip": "yes"}),
            &["phone", "preferred_language", "vip"][..],
        ),
        (
            "/api/v1/phone-numbers",
            json!({"number": "+49 30 CALL NOW", "branch_id": uuid::Uuid::new_v4().to_string()}),
            &["number", "branch_id"][..],
        ),
        (
            "/api/v1/appointments",
            json!({"branch_id": uuid::Uuid::new_v4().to_string(), "start": "tomorrow"}),
            &["branch_id", "service_id", "customer_id", "start"][..],
        ),
    ];
    for (path, body, fields) in cases {
        let answer = call(&app, Method::POST, path, Some(&admin), Some(&body)).await;
        assert_eq!(answer.status, 422, "{path}: {}", answer.body);
        let named: BTreeSet<String> = answer.json()["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect();
        let wanted: BTreeSet<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(named, wanted, "{path}: {}", answer.body);
    }
    let malformed = app.post("/api/v1/branches", "{not json").await;
    assert_eq!(malformed.status, 401, "auth comes first");
    let malformed = call(&app, Method::GET, "/api/v1/branches", Some(&admin), None).await;
    assert_eq!(malformed.status, 200);
    let request = app
        .request(Method::POST, "/api/v1/branches")
        .insert_header(("Authorization", format!("Bearer {admin}")))
        .content_type("application/json");
    let bad = app.send(request, Some(b"{not json".to_vec())).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

/// Another company with one of everything, written straight to the store.
struct Other {
    branch: Branch,
    number: PhoneNumber,
    staff: Staff,
    service: Service,
    customer: Customer,
    appointment: Appointment,
    callback: CallbackRequest,
}

async fn other_company(app: &TestApp) -> Other {
    let store = app.database.store();
    let company = Company {
        id: CompanyId::new(),
        name: "Andere GmbH".into(),
        slug: "andere".into(),
        default_branch_id: None,
    };
    store.upsert_company(&company).await.expect("company");
    let mut branch = demo_data().branches[0].clone();
    branch.id = BranchId::new();
    branch.company_id = company.id;
    branch.slug = "andere-mitte".into();
    store.upsert_branch(&branch).await.expect("branch");
    let number = PhoneNumber {
        number: "+493099999999".parse().expect("number"),
        company_id: company.id,
        branch_id: Some(branch.id),
        retell_agent_id: None,
    };
    store.upsert_phone_number(&number).await.expect("number");
    let mut staff = demo_data().staff[0].clone();
    staff.id = StaffId::new();
    staff.branch_id = branch.id;
    store.upsert_staff(&staff).await.expect("staff");
    let mut service = demo_data().services[0].clone();
    service.id = ServiceId::new();
    service.company_id = company.id;
    store.upsert_service(&service).await.expect("service");
    let mut customer = demo_data().customers[0].clone();
    customer.id = CustomerId::new();
    customer.company_id = company.id;
    store.upsert_customer(&customer).await.expect("customer");
    let mut appointment = demo_data().past_appointments[0].clone();
    appointment.id = AppointmentId::new();
    appointment.company_id = company.id;
    appointment.branch_id = branch.id;
    appointment.staff_id = staff.id;
    appointment.customer_id = customer.id;
    appointment.service_id = service.id;
    appointment.idempotency_key = None;
    store
        .insert_appointment(&appointment)
        .await
        .expect("appointment");
    let callback = open_callback(app, company.id, Some(branch.id), Some(staff.id)).await;
    Other {
        branch,
        number,
        staff,
        service,
        customer,
        appointment,
        callback,
    }
}

/// A callback written straight to the store, assigned when `staff` is given.
pub async fn open_callback(
    app: &TestApp,
    company: CompanyId,
    branch: Option<BranchId>,
    staff: Option<StaffId>,
) -> CallbackRequest {
    let draft = CallbackDraft {
        company_id: company,
        branch_id: branch,
        customer_id: None,
        phone: "+4915100000001".parse().expect("phone"),
        name: None,
        reason: "Rückruf".into(),
        notes: None,
        priority: None,
        language: None,
        source_call_id: None,
        scheduled_for: None,
    };
    let mut callback = new_callback(
        CallbackId::new(),
        &draft,
        Priority::Normal,
        &CallbackPolicy::default(),
        Utc::now(),
    );
    if let Some(staff) = staff {
        callback.status = CallbackStatus::Assigned;
        callback.assigned_staff_id = Some(staff);
        callback.assigned_at = Some(Utc::now());
    }
    app.database
        .store()
        .insert_callback(&callback)
        .await
        .expect("callback");
    callback
}

/// The ids an endpoint's path is filled with.
struct Ids {
    branch: String,
    number: String,
    staff: String,
    service: String,
    customer: String,
    appointment: String,
    callback: String,
}

impl Ids {
    fn fill(&self, path: &str) -> String {
        let path = path.replace("{number}", &self.number);
        let id = if path.starts_with("/api/v1/branches") {
            &self.branch
        } else if path.starts_with("/api/v1/staff") {
            &self.staff
        } else if path.starts_with("/api/v1/services") {
            &self.service
        } else if path.starts_with("/api/v1/customers") {
            &self.customer
        } else if path.starts_with("/api/v1/appointments") {
            &self.appointment
        } else {
            &self.callback
        };
        path.replace("{id}", id)
    }
}

/// Each endpoint with a body and the status expected for admin, manager and staff on their own
/// company's data; in this order (deletes last) so earlier requests see the seeded state.
fn matrix(
    own_berlin: &str,
    tuesday_ten: &str,
    service: &str,
    customer: &str,
) -> Vec<(Method, &'static str, Value, [u16; 3])> {
    use Method as M;
    let none = Value::Null;
    vec![
        (M::GET, "/api/v1/audit", none.clone(), [200, 403, 403]),
        (M::GET, "/api/v1/callbacks", none.clone(), [200, 200, 200]),
        (
            M::POST,
            "/api/v1/callbacks",
            json!({"phone": "+4915100000777", "reason": "Frage", "branch": BERLIN_SLUG}),
            [201, 201, 201],
        ),
        (
            M::GET,
            "/api/v1/callbacks/stats",
            none.clone(),
            [200, 200, 403],
        ),
        (
            M::GET,
            "/api/v1/callbacks/{id}",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::POST,
            "/api/v1/callbacks/{id}/contact",
            json!({}),
            [200, 200, 200],
        ),
        (
            M::POST,
            "/api/v1/callbacks/bulk",
            json!({"action": "complete", "ids": ["{id}"]}),
            [200, 200, 200],
        ),
        (M::GET, "/api/v1/branches", none.clone(), [200, 200, 200]),
        (
            M::POST,
            "/api/v1/branches",
            json!({"name": "Neu", "slug": "neu", "time_zone": "Europe/Berlin"}),
            [201, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/branches/{id}",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::PATCH,
            "/api/v1/branches/{id}",
            json!({}),
            [200, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/phone-numbers",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::POST,
            "/api/v1/phone-numbers",
            json!({"number": "+493055555555", "branch_id": own_berlin}),
            [201, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/phone-numbers/{number}",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::PATCH,
            "/api/v1/phone-numbers/{number}",
            json!({}),
            [200, 403, 403],
        ),
        (M::GET, "/api/v1/staff", none.clone(), [200, 200, 200]),
        (
            M::POST,
            "/api/v1/staff",
            json!({"name": "Neu", "role": "reception", "branch_id": own_berlin}),
            [201, 201, 403],
        ),
        (M::GET, "/api/v1/staff/{id}", none.clone(), [200, 200, 200]),
        (M::PATCH, "/api/v1/staff/{id}", json!({}), [200, 200, 403]),
        (M::GET, "/api/v1/services", none.clone(), [200, 200, 200]),
        (
            M::POST,
            "/api/v1/services",
            json!({"name": "Neu", "duration_minutes": 30}),
            [201, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/services/{id}",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::PATCH,
            "/api/v1/services/{id}",
            json!({}),
            [200, 403, 403],
        ),
        (M::GET, "/api/v1/customers", none.clone(), [200, 200, 200]),
        (
            M::POST,
            "/api/v1/customers",
            json!({"phone": "+4915100000888"}),
            [201, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/customers/{id}",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::PATCH,
            "/api/v1/customers/{id}",
            json!({}),
            [200, 403, 403],
        ),
        (
            M::GET,
            "/api/v1/appointments",
            none.clone(),
            [200, 200, 200],
        ),
        (
            M::POST,
            "/api/v1/appointments",
            json!({"branch_id": own_berlin, "service_id": service, "customer_id": customer, "start": tuesday_ten}),
            [201, 201, 403],
        ),
        (
            M::GET,
            "/api/v1/appointments/{id}",
            none.clone(),
            [200, 200, 200],
        ),
        // The seeded appointment is completed: nothing to cancel or move.
        (
            M::POST,
            "/api/v1/appointments/{id}/reschedule",
            json!({"start": tuesday_ten}),
            [409, 409, 403],
        ),
        (
            M::POST,
            "/api/v1/appointments/{id}/cancel",
            none.clone(),
            [409, 409, 403],
        ),
        (
            M::DELETE,
            "/api/v1/customers/{id}",
            none.clone(),
            [409, 403, 403],
        ),
        (
            M::DELETE,
            "/api/v1/services/{id}",
            none.clone(),
            [200, 403, 403],
        ),
        (
            M::DELETE,
            "/api/v1/branches/{id}",
            none.clone(),
            [409, 403, 403],
        ),
        (
            M::DELETE,
            "/api/v1/phone-numbers/{number}",
            none.clone(),
            [204, 403, 403],
        ),
        (M::DELETE, "/api/v1/staff/{id}", none, [200, 200, 403]),
    ]
}

fn with_ids(body: &Value, ids: &Ids) -> Option<Value> {
    if body.is_null() {
        return None;
    }
    Some(serde_json::from_str(&body.to_string().replace("{id}", &ids.callback)).expect("json"))
}

#[actix_web::test]
async fn every_endpoint_answers_by_role_and_never_shows_another_company() {
    let demo = demo_data();
    let appointment = &demo.past_appointments[0];
    let member = appointment.staff_id;
    assert_eq!(
        appointment.branch_id, demo.branches[0].id,
        "a Berlin appointment"
    );
    let berlin = demo.branches[0].id.to_string();
    let tuesday_ten = berlin_time(next_working_tuesday(), 10);
    let service = demo.services[1].id.to_string();
    let customer = demo.customers[0].id.to_string();
    let table = matrix(&berlin, &tuesday_ten, &service, &customer);
    let roles = [Role::Admin, Role::Manager, Role::Staff];
    for (r, role) in roles.iter().enumerate() {
        // A fresh server per role: the writes of one role do not change what the next sees.
        let app = spawn_app().await;
        let secret = match role {
            Role::Admin => token(&app, COMPANY_SLUG, Role::Admin, None, None).await,
            Role::Manager => {
                token(&app, COMPANY_SLUG, Role::Manager, None, Some(BERLIN_SLUG)).await
            }
            Role::Staff => token(&app, COMPANY_SLUG, Role::Staff, Some(member), None).await,
        };
        let own_callback = open_callback(
            &app,
            demo.company.id,
            Some(demo.branches[0].id),
            Some(member),
        )
        .await;
        let other = other_company(&app).await;
        let own = Ids {
            branch: berlin.clone(),
            number: demo.numbers[0].number.to_string(),
            staff: member.to_string(),
            service: demo.services[0].id.to_string(),
            customer: customer.clone(),
            appointment: appointment.id.to_string(),
            callback: own_callback.id.to_string(),
        };
        assert_eq!(demo.numbers[0].branch_id, Some(demo.branches[0].id));
        let foreign = Ids {
            branch: other.branch.id.to_string(),
            number: other.number.number.to_string(),
            staff: other.staff.id.to_string(),
            service: other.service.id.to_string(),
            customer: other.customer.id.to_string(),
            appointment: other.appointment.id.to_string(),
            callback: other.callback.id.to_string(),
        };
        for (method, path, body, expected) in &table {
            let unauthenticated = call(&app, method.clone(), &own.fill(path), None, None).await;
            assert_eq!(
                unauthenticated.status, 401,
                "{method} {path} without a token"
            );
            if path.contains('{') {
                // Another company's data: 404, whatever the role, before anything else.
                let answer = call(
                    &app,
                    method.clone(),
                    &foreign.fill(path),
                    Some(&secret),
                    with_ids(body, &foreign).as_ref(),
                )
                .await;
                assert_eq!(
                    answer.status, 404,
                    "{role} {method} {path} (other company): {}",
                    answer.body
                );
            }
            let answer = call(
                &app,
                method.clone(),
                &own.fill(path),
                Some(&secret),
                with_ids(body, &own).as_ref(),
            )
            .await;
            assert_eq!(
                answer.status, expected[r],
                "{role} {method} {path}: {}",
                answer.body
            );
        }
        // Bulk on another company's callback: a per-id not_found, and lists never show it.
        let bulk = call(
            &app,
            Method::POST,
            "/api/v1/callbacks/bulk",
            Some(&secret),
            Some(&json!({"action": "complete", "ids": [other.callback.id.to_string()]})),
        )
        .await;
        assert_eq!(
            bulk.json()["results"][0]["error"]["code"],
            "not_found",
            "{}",
            bulk.body
        );
        for (path, foreign_id) in [
            ("/api/v1/branches", other.branch.id.to_string()),
            ("/api/v1/phone-numbers", other.number.number.to_string()),
            ("/api/v1/staff", other.staff.id.to_string()),
            ("/api/v1/services", other.service.id.to_string()),
            ("/api/v1/customers", other.customer.id.to_string()),
            ("/api/v1/appointments", other.appointment.id.to_string()),
            ("/api/v1/callbacks", other.callback.id.to_string()),
        ] {
            let answer = call(&app, Method::GET, path, Some(&secret), None).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            assert!(
                !answer.body.contains(&foreign_id),
                "{role} {path} shows another company"
            );
        }
    }
}

#[actix_web::test]
async fn every_mutation_is_audited_with_token_ip_and_values() {
    let app = spawn_app().await;
    let admin = token(&app, COMPANY_SLUG, Role::Admin, None, None).await;
    let demo = demo_data();
    let callback = open_callback(&app, demo.company.id, Some(demo.branches[0].id), None).await;
    let assign = call(
        &app,
        Method::POST,
        &format!("/api/v1/callbacks/{}/assign", callback.id),
        Some(&admin),
        Some(&json!({"staff_id": demo.staff[0].id.to_string()})),
    )
    .await;
    assert_eq!(assign.status, 200, "{}", assign.body);
    let created = call(
        &app,
        Method::POST,
        "/api/v1/callbacks",
        Some(&admin),
        Some(&json!({"phone": "+4915100000999", "reason": "Frage"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let bulk = call(
        &app,
        Method::POST,
        "/api/v1/callbacks/bulk",
        Some(&admin),
        Some(&json!({"action": "cancel", "ids": [callback.id.to_string()]})),
    )
    .await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    let log = call(
        &app,
        Method::GET,
        &format!(
            "/api/v1/audit?entity_type=callback&entity_id={}",
            callback.id
        ),
        Some(&admin),
        None,
    )
    .await;
    let entries = log.json()["entries"].as_array().expect("entries").clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["callback.cancel", "callback.assign"]);
    let assigned = &entries[1];
    assert_eq!(assigned["old_value"]["status"], "pending");
    assert_eq!(assigned["new_value"]["status"], "assigned");
    assert_eq!(assigned["ip"], "127.0.0.1");
    assert!(assigned["token_id"].is_string());
    let created_id = created.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        audit_actions(&app, &admin, &created_id).await,
        ["callback.create"]
    );

    // Pages: newest first, cursor to the end, filters.
    for i in 0..5 {
        let answer = call(
            &app,
            Method::POST,
            "/api/v1/services",
            Some(&admin),
            Some(&json!({"name": format!("S{i}"), "duration_minutes": 30})),
        )
        .await;
        assert_eq!(answer.status, 201);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/audit?action=service.create&limit=2".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, Some(&admin), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let body = page.json();
        for e in body["entries"].as_array().expect("entries") {
            seen.push(e["new_value"]["name"].as_str().expect("name").to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/audit?action=service.create&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ["S4", "S3", "S2", "S1", "S0"]);
    let bad = call(
        &app,
        Method::GET,
        "/api/v1/audit?cursor=xyz&since=yesterday",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(bad.json()["fields"]["cursor"].is_string());
    assert!(bad.json()["fields"]["since"].is_string());
}

#[actix_web::test]
async fn the_openapi_document_and_the_routes_match_in_both_directions() {
    let app = spawn_app().await;
    let admin = token(&app, COMPANY_SLUG, Role::Admin, None, None).await;
    let served = app.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200, "no auth needed");
    let doc = served.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .filter(|k| !k.starts_with("parameters"))
                .map(move |m| (path.clone(), m.to_uppercase()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = callflow::http::api::endpoints()
        .iter()
        .map(|e| (format!("/api/v1{}", e.path), e.method.to_string()))
        .collect();
    assert_eq!(
        documented, routed,
        "the document lists exactly the route table"
    );
    // Every documented operation is routed (answers something other than our 404 for unknown
    // paths or 405), and every other method on a documented path is 405.
    let ids = Ids {
        branch: uuid::Uuid::new_v4().to_string(),
        number: "+491111111111".into(),
        staff: uuid::Uuid::new_v4().to_string(),
        service: uuid::Uuid::new_v4().to_string(),
        customer: uuid::Uuid::new_v4().to_string(),
        appointment: uuid::Uuid::new_v4().to_string(),
        callback: uuid::Uuid::new_v4().to_string(),
    };
    let paths: BTreeSet<&String> = documented.iter().map(|(p, _)| p).collect();
    for path in paths {
        let concrete = ids.fill(path).replace("{action}", "contact");
        for method in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            let answer = call(&app, m, &concrete, Some(&admin), Some(&json!({}))).await;
            let is_documented = documented.contains(&(path.clone(), method.to_owned()));
            let unrouted = answer.status == 405
                || (answer.status == 404 && answer.body.contains("no such endpoint"));
            assert_eq!(
                !unrouted, is_documented,
                "{method} {concrete}: {} {}",
                answer.status, answer.body
            );
        }
    }
    // Every schema reference resolves.
    let text = served.body;
    for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
    }
}

#[actix_web::test]
async fn callback_lists_page_filter_and_sort_through_http_and_stats_follow_the_scope() {
    let app = spawn_app().await;
    let admin = token(&app, COMPANY_SLUG, Role::Admin, None, None).await;
    let manager = token(&app, COMPANY_SLUG, Role::Manager, None, Some(BERLIN_SLUG)).await;
    let demo = demo_data();
    let member = demo.staff[0].id;
    let mut ids = Vec::new();
    for i in 0..7 {
        let branch = demo.branches[i % 2].id;
        let staff = (i % 3 == 0).then_some(member);
        ids.push(
            open_callback(&app, demo.company.id, Some(branch), staff)
                .await
                .id,
        );
    }
    // Page through in queue order, three at a time.
    let mut seen = Vec::new();
    let mut path = "/api/v1/callbacks?limit=3".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, Some(&admin), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let body = page.json();
        for c in body["callbacks"].as_array().expect("callbacks") {
            seen.push(c["id"].as_str().expect("id").to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/callbacks?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    let assigned = call(
        &app,
        Method::GET,
        &format!("/api/v1/callbacks?assignee={member}&status=assigned&sort=-created_at"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        assigned.json()["callbacks"].as_array().map(Vec::len),
        Some(3)
    );
    let berlin_only = call(&app, Method::GET, "/api/v1/callbacks", Some(&manager), None).await;
    assert_eq!(
        berlin_only.json()["callbacks"].as_array().map(Vec::len),
        Some(4)
    );
    let hamburg = call(
        &app,
        Method::GET,
        "/api/v1/callbacks?branch=praxis-mueller-hamburg",
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(hamburg.status, 403, "{}", hamburg.body);
    let wrong = call(
        &app,
        Method::GET,
        "/api/v1/callbacks?sort=newest&overdue=maybe&priority=soon&limit=0&cursor=abc&colour=red",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    let fields: BTreeSet<String> = wrong.json()["fields"]
        .as_object()
        .expect("fields")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        fields,
        ["colour", "cursor", "limit", "overdue", "priority", "sort"]
            .iter()
            .map(|f| (*f).to_owned())
            .collect::<BTreeSet<_>>()
    );
    let queue_cursor = {
        let page = call(
            &app,
            Method::GET,
            "/api/v1/callbacks?limit=1",
            Some(&admin),
            None,
        )
        .await;
        page.json()["next_cursor"]
            .as_str()
            .expect("cursor")
            .to_owned()
    };
    let mismatched = call(
        &app,
        Method::GET,
        &format!("/api/v1/callbacks?sort=due_at&cursor={queue_cursor}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        mismatched.status, 422,
        "a cursor of another order: {}",
        mismatched.body
    );

    let stats = call(
        &app,
        Method::GET,
        "/api/v1/callbacks/stats?window_days=7",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let body = stats.json();
    assert_eq!(body["time_zone"], "Europe/Berlin", "the default branch's");
    assert_eq!(body["open"], 7);
    assert_eq!(body["pending"], 4);
    assert_eq!(body["created_today"], 7);
    assert_eq!(body["staff_load"][0]["open"], 3);
    let scoped = call(
        &app,
        Method::GET,
        "/api/v1/callbacks/stats",
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(scoped.json()["open"], 4, "the manager's branch");
    assert_eq!(scoped.json()["window_days"], 30);
    let bad = call(
        &app,
        Method::GET,
        "/api/v1/callbacks/stats?window_days=0",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(bad.status, 422);
}
