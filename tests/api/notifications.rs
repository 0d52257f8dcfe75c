//! Notifications end to end: subscriptions through the admin API, events published on a real
//! server, deliveries to a local receiver (an actix server on a free port) and to a local SMTP
//! sink. Waits poll the receiver or the API in a bounded loop; nothing sleeps to synchronise.

use crate::helpers::{next_working_tuesday, on_both_backends, test_config, wait_until, TestDb};
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use awc::http::Method;
use callflow::events::{DomainEvent, EventType, Events};
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::seed::COMPANY_SLUG;
use callflow::startup::Application;
use callflow::store::Database;
use callflow_actors::domain::*;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Quick retries, so tests see several attempts in well under a second.
const FAST_RETRIES: &[(&str, &str)] = &[
    ("CALLFLOW_NOTIFICATIONS__BACKOFF_BASE_MS", "20"),
    ("CALLFLOW_NOTIFICATIONS__BACKOFF_MAX_SECS", "1"),
    ("CALLFLOW_NOTIFICATIONS__MAX_ATTEMPTS", "3"),
    ("CALLFLOW_NOTIFICATIONS__REQUEST_TIMEOUT_SECS", "5"),
    ("CALLFLOW_NOTIFICATIONS__POLL_INTERVAL_MS", "50"),
];

// ---------------------------------------------------------------------------------------------
// The receiver: records every request, fails the first N with a chosen status.

#[derive(Clone, Debug)]
struct Received {
    path: String,
    signature: Option<String>,
    event_id: Option<String>,
    event_type: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Script {
    fail_next: AtomicUsize,
    fail_status: AtomicU16,
    requests: Mutex<Vec<Received>>,
    /// While true, requests are recorded but not answered (a delivery stays in flight).
    held: tokio::sync::watch::Sender<bool>,
}

struct Receiver {
    url: String,
    script: Arc<Script>,
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Script {
            fail_status: AtomicU16::new(500),
            ..Script::default()
        });
        let state = web::Data::from(script.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("a free port");
        let url = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        actix_web::rt::spawn(server);
        Self { url, script }
    }

    /// Answers the next `n` requests with `status`.
    fn fail_next(&self, n: usize, status: u16) {
        self.script.fail_status.store(status, Ordering::SeqCst);
        self.script.fail_next.store(n, Ordering::SeqCst);
    }

    /// Holds (`true`) or releases (`false`) the answers to requests.
    fn hold(&self, held: bool) {
        self.script.held.send_replace(held);
    }

    fn requests(&self) -> Vec<Received> {
        self.script.requests.lock().expect("not poisoned").clone()
    }

    fn count(&self) -> usize {
        self.script.requests.lock().expect("not poisoned").len()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        wait_until(&format!("the receiver got {n} requests"), || async {
            self.count() >= n
        })
        .await;
        self.requests()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, script: web::Data<Script>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    script
        .requests
        .lock()
        .expect("not poisoned")
        .push(Received {
            path: req.path().to_owned(),
            signature: header("callflow-signature"),
            event_id: header("callflow-event-id"),
            event_type: header("callflow-event-type"),
            content_type: header("content-type"),
            body: body.to_vec(),
        });
    let mut held = script.held.subscribe();
    let _ = held.wait_for(|held| !held).await;
    let failing = script
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        let status = script.fail_status.load(Ordering::SeqCst);
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
            .body("nope")
    } else {
        HttpResponse::Ok().body("ok")
    }
}

/// Verifies a `Callflow-Signature` independently of callflow's code: HMAC-SHA256 keyed with
/// the secret over `"<t>.<body>"`, hex.
fn signature_is_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let age = Utc::now().timestamp() - t.parse::<i64>().unwrap_or(0);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    age.abs() < 300 && hex::encode(mac.finalize().into_bytes()) == v1
}

// ---------------------------------------------------------------------------------------------
// The SMTP sink: enough of SMTP for lettre, capturing each message's DATA.

#[derive(Clone, Debug)]
struct Mail {
    recipients: Vec<String>,
    data: String,
}

async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let sink = mails.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut recipients = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "RCPT" => {
                            recipients.push(line.clone());
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            sink.lock().expect("not poisoned").push(Mail {
                                recipients: std::mem::take(&mut recipients),
                                data,
                            });
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, mails)
}

// ---------------------------------------------------------------------------------------------
// The server under test, kept so tests can publish events and stop it.

struct Server {
    address: String,
    events: Events,
    database: Database,
    handle: ServerHandle,
    running: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    client: awc::Client,
}

impl Server {
    async fn start(db: &TestDb, overrides: &[(&str, &str)]) -> Self {
        let app = Application::build(test_config(&db.url, overrides))
            .await
            .expect("server starts");
        let address = format!("http://{}", app.address());
        let (events, database, handle) = (app.events(), app.database(), app.handle());
        let running = actix_web::rt::spawn(app.run_until_stopped());
        Self {
            address,
            events,
            database,
            handle,
            running,
            client: awc::Client::default(),
        }
    }

    /// Stops gracefully (attempts in flight finish) and waits until the database is closed.
    async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.running.await;
    }

    async fn company(&self, slug: &str) -> Company {
        self.database
            .store()
            .company_by_slug(slug)
            .await
            .expect("store reachable")
            .expect("the company exists")
    }

    async fn admin_token(&self, slug: &str) -> String {
        let request = TokenRequest {
            company: slug.into(),
            role: Role::Admin,
            staff: None,
            branch: None,
            name: None,
        };
        issue_token(&*self.database.store(), &request, Utc::now())
            .await
            .expect("token issued")
            .secret
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .insert_header(("Authorization", format!("Bearer {token}")));
        let mut response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        }
        .expect("the server answers");
        let bytes = response.body().await.expect("a body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (response.status().as_u16(), json)
    }

    /// Creates a subscription; returns its id and secret.
    async fn subscribe(&self, token: &str, body: Value) -> (String, String) {
        let (status, created) = self
            .call(Method::POST, "/api/v1/webhooks", token, Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        (
            created["id"].as_str().expect("an id").to_owned(),
            created["secret"].as_str().expect("a secret").to_owned(),
        )
    }

    async fn deliveries(&self, token: &str, query: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/webhooks/deliveries{query}"),
                token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["deliveries"].as_array().expect("a list").clone()
    }

    async fn publish(&self, t: EventType, company: CompanyId, data: Value) -> DomainEvent {
        let event = DomainEvent::new(t, company, Utc::now(), data);
        self.events.publish(event.clone()).await;
        event
    }
}

fn callback_data() -> Value {
    json!({"callback": {"id": "0193a0a0-0000-7000-8000-000000000001", "name": "Erika Mustermann",
                        "phone": "+49301234567", "reason": "Termin verschieben",
                        "priority": "high", "status": "pending"}})
}

// ---------------------------------------------------------------------------------------------

async fn a_failing_receiver_gets_signed_retries_until_it_accepts(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    let (subscription, secret) = server
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": format!("{}/hooks", receiver.url),
                                  "name": "CRM"}),
        )
        .await;
    assert!(secret.starts_with("whsec_"));
    receiver.fail_next(2, 503);

    let event = server
        .publish(EventType::CallbackRequested, company.id, callback_data())
        .await;
    let requests = receiver.wait_for(3).await;
    for r in &requests {
        assert_eq!(r.path, "/hooks");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            r.event_id,
            Some(event.id.to_string()),
            "retries carry the same id"
        );
        assert_eq!(r.event_type.as_deref(), Some("CallbackRequested"));
        let signature = r.signature.as_deref().expect("signed");
        assert!(
            signature_is_valid(&secret, signature, &r.body),
            "{signature}"
        );
        assert!(!signature_is_valid("whsec_wrong", signature, &r.body));
        let body = r.json();
        assert_eq!(body["id"], event.id.to_string());
        assert_eq!(body["type"], "CallbackRequested");
        assert!(body["at"]
            .as_str()
            .is_some_and(|at| at.parse::<chrono::DateTime<Utc>>().is_ok()));
        assert_eq!(body["data"]["callback"]["name"], "Erika Mustermann");
        assert!(body.get("company_id").is_none());
    }
    wait_until("the delivery is marked delivered", || async {
        server.deliveries(&token, "?status=delivered").await.len() == 1
    })
    .await;
    let delivered = &server.deliveries(&token, "").await[0];
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(delivered["subscription_id"], subscription.as_str());
    assert_eq!(delivered["last_status"], 200);
    assert_eq!(
        receiver.count(),
        3,
        "nothing is sent after the receiver accepted"
    );

    let (status, log) = server
        .call(Method::GET, "/api/v1/notifications", &token, None)
        .await;
    assert_eq!(status, 200, "{log}");
    let entries = log["notifications"].as_array().expect("a list");
    let outcomes: Vec<(&str, i64, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap_or(""),
                e["attempt"].as_i64().unwrap_or(0),
                e["status_code"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("delivered", 3, 200), ("retry", 2, 503), ("retry", 1, 503)],
        "newest first"
    );
    assert!(
        entries[0]["target"]
            .as_str()
            .is_some_and(|t| !t.contains("/hooks")),
        "path redacted"
    );
    server.stop().await;
}

async fn a_delivery_dead_letters_after_the_maximum_and_redelivers_on_request(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    server
        .subscribe(&token, json!({"kind": "webhook", "target": receiver.url}))
        .await;
    receiver.fail_next(usize::MAX, 500);
    server
        .publish(EventType::CallbackEscalated, company.id, callback_data())
        .await;
    wait_until("the delivery is dead", || async {
        server.deliveries(&token, "?status=dead").await.len() == 1
    })
    .await;
    assert_eq!(receiver.count(), 3, "max_attempts = 3");
    let dead = &server.deliveries(&token, "?status=dead").await[0];
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["last_status"], 500);
    assert!(dead["last_error"]
        .as_str()
        .is_some_and(|e| e.contains("500")));
    assert_eq!(
        dead["payload"]["type"], "CallbackEscalated",
        "dead letters are readable"
    );

    receiver.fail_next(0, 500);
    let id = dead["id"].as_str().expect("an id");
    let path = format!("/api/v1/webhooks/deliveries/{id}/redeliver");
    let (status, queued) = server.call(Method::POST, &path, &token, None).await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["status"], "pending");
    receiver.wait_for(4).await;
    wait_until("the redelivery is delivered", || async {
        server.deliveries(&token, "?status=delivered").await.len() == 1
    })
    .await;
    // The next attempt stays in flight (the receiver does not answer), so it is still pending
    // when redelivery is asked for again.
    receiver.hold(true);
    let (status, again) = server.call(Method::POST, &path, &token, None).await;
    assert_eq!(status, 200, "a delivered one may be sent again: {again}");
    receiver.wait_for(5).await;
    let (status, _) = server.call(Method::POST, &path, &token, None).await;
    assert_eq!(status, 409, "but not while it is pending");
    receiver.hold(false);
    server.stop().await;
}

async fn filters_and_companies_decide_who_gets_an_event(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    let store = server.database.store();
    let other = Company {
        id: CompanyId::new(),
        name: "Other".into(),
        slug: "other".into(),
        default_branch_id: None,
    };
    store.upsert_company(&other).await.expect("stored");
    let other_token = server.admin_token("other").await;
    server
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": format!("{}/ended", receiver.url),
                                  "event_types": ["CallEnded"]}),
        )
        .await;
    server
        .subscribe(
            &other_token,
            json!({"kind": "webhook", "target": format!("{}/other", receiver.url)}),
        )
        .await;

    server
        .publish(EventType::CallStarted, company.id, json!({}))
        .await;
    assert!(
        server.deliveries(&token, "").await.is_empty(),
        "filtered out"
    );
    assert!(
        server.deliveries(&other_token, "").await.is_empty(),
        "not the other company's"
    );
    server
        .publish(EventType::CallEnded, company.id, json!({}))
        .await;
    let ours = server.deliveries(&token, "").await;
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["event_type"], "CallEnded");
    assert!(server.deliveries(&other_token, "").await.is_empty());
    server
        .publish(EventType::CallStarted, other.id, json!({}))
        .await;
    assert_eq!(server.deliveries(&other_token, "").await.len(), 1);
    assert_eq!(server.deliveries(&token, "").await.len(), 1);

    let requests = receiver.wait_for(2).await;
    let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/ended", "/other"]);

    // Each company sees only its own subscriptions and deliveries.
    let (_, listed) = server
        .call(Method::GET, "/api/v1/webhooks", &other_token, None)
        .await;
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(1));
    let theirs = listed["webhooks"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/api/v1/webhooks/{theirs}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks/{theirs}"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    let delivery = server.deliveries(&other_token, "").await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/api/v1/webhooks/deliveries/{delivery}/redeliver"),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

async fn pending_deliveries_survive_a_restart(db: TestDb) {
    let receiver = Receiver::start().await;
    let overrides = [
        ("CALLFLOW_NOTIFICATIONS__BACKOFF_BASE_MS", "50"),
        ("CALLFLOW_NOTIFICATIONS__BACKOFF_MAX_SECS", "1"),
        ("CALLFLOW_NOTIFICATIONS__MAX_ATTEMPTS", "50"),
        ("CALLFLOW_NOTIFICATIONS__POLL_INTERVAL_MS", "50"),
    ];
    let first = Server::start(&db, &overrides).await;
    let token = first.admin_token(COMPANY_SLUG).await;
    let company = first.company(COMPANY_SLUG).await;
    first
        .subscribe(&token, json!({"kind": "webhook", "target": receiver.url}))
        .await;
    receiver.fail_next(usize::MAX, 500);
    let event = first
        .publish(
            EventType::AppointmentBooked,
            company.id,
            json!({"appointment": {}}),
        )
        .await;
    receiver.wait_for(1).await;
    first.stop().await;
    let tried_before = receiver.count();

    receiver.fail_next(0, 500);
    let second = Server::start(&db, &overrides).await;
    wait_until(
        "the pending delivery is delivered after the restart",
        || async { second.deliveries(&token, "?status=delivered").await.len() == 1 },
    )
    .await;
    let last = receiver.requests().pop().expect("a request");
    assert_eq!(last.event_id, Some(event.id.to_string()));
    assert!(receiver.count() > tried_before);
    second.stop().await;
}

async fn slack_and_teams_get_their_own_formats(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    server
        .subscribe(
            &token,
            json!({"kind": "slack", "target": format!("{}/slack", receiver.url)}),
        )
        .await;
    server
        .subscribe(
            &token,
            json!({"kind": "teams", "target": format!("{}/teams", receiver.url)}),
        )
        .await;
    server
        .publish(EventType::CallbackSlaBreached, company.id, callback_data())
        .await;
    let requests = receiver.wait_for(2).await;
    let by_path = |p: &str| {
        requests
            .iter()
            .find(|r| r.path == p)
            .unwrap_or_else(|| panic!("a request to {p}"))
            .clone()
    };
    let slack = by_path("/slack");
    assert!(slack.signature.is_none(), "Slack and Teams are not signed");
    let slack = slack.json();
    assert_eq!(slack["text"], "Callback SLA breached: Erika Mustermann");
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert_eq!(slack["blocks"][1]["type"], "section");
    assert!(slack["blocks"][1]["fields"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x["text"] == "*Phone*\n+49301234567")));
    let teams = by_path("/teams").json();
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(
        card["content"]["body"][0]["text"],
        "Callback SLA breached: Erika Mustermann"
    );
    assert!(card["content"]["body"][1]["facts"]
        .as_array()
        .is_some_and(|f| f
            .iter()
            .any(|x| x["title"] == "Priority" && x["value"] == "high")));
    server.stop().await;
}

async fn e_mail_goes_to_subscribers_assignees_and_managers(db: TestDb) {
    let (port, mails) = smtp_sink().await;
    let port = port.to_string();
    let mut overrides = FAST_RETRIES.to_vec();
    overrides.extend([
        ("CALLFLOW_SMTP__HOST", "127.0.0.1"),
        ("CALLFLOW_SMTP__PORT", port.as_str()),
        ("CALLFLOW_SMTP__TLS", "none"),
        ("CALLFLOW_SMTP__FROM", "Callflow <alerts@callflow.example>"),
    ]);
    let server = Server::start(&db, &overrides).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    server
        .subscribe(
            &token,
            json!({"kind": "email", "target": "ops@example.com",
                                  "event_types": ["CallbackRequested"]}),
        )
        .await;
    server
        .publish(EventType::CallbackRequested, company.id, callback_data())
        .await;
    wait_until("the subscriber's mail arrived", || async {
        !mails.lock().expect("not poisoned").is_empty()
    })
    .await;
    let mail = mails.lock().expect("not poisoned")[0].clone();
    assert!(mail.recipients[0].contains("ops@example.com"), "{mail:?}");
    assert!(
        mail.data
            .contains("Subject: [callflow] Callback requested: Erika Mustermann"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("alerts@callflow.example"));

    // Built-in alerts: the assignee when the SLA approaches, the branch's managers on a breach.
    let store = server.database.store();
    let branch = store
        .list_branches(Some(company.id))
        .await
        .expect("branches")
        .into_iter()
        .next()
        .expect("a branch");
    let staff = store.list_staff(Some(branch.id)).await.expect("staff");
    let assignee = staff
        .iter()
        .find(|s| s.role != StaffRole::Manager && s.email.is_some() && s.active)
        .expect("a staff member with e-mail");
    let managers: Vec<String> = staff
        .iter()
        .filter(|s| s.role == StaffRole::Manager && s.active)
        .filter_map(|s| s.email.clone())
        .collect();
    assert!(!managers.is_empty(), "the demo branch has a manager");
    let mut data = callback_data();
    data["callback"]["assigned_staff_id"] = json!(assignee.id);
    data["callback"]["branch_id"] = json!(branch.id);
    // At the highest escalation level a breach mails the managers itself.
    data["final"] = json!(true);
    server
        .publish(EventType::CallbackSlaApproaching, company.id, data.clone())
        .await;
    server
        .publish(EventType::CallbackSlaBreached, company.id, data)
        .await;
    let expected = 1 + 1 + managers.len();
    wait_until("the alerts arrived", || async {
        mails.lock().expect("not poisoned").len() >= expected
    })
    .await;
    let mails = mails.lock().expect("not poisoned").clone();
    let to = |address: &str| {
        mails
            .iter()
            .filter(|m| m.recipients.iter().any(|r| r.contains(address)))
            .cloned()
            .collect::<Vec<_>>()
    };
    let own = to(assignee.email.as_deref().unwrap_or_default());
    assert_eq!(own.len(), 1, "{mails:?}");
    assert!(own[0].data.contains("Callback SLA approaching"));
    for manager in &managers {
        let theirs = to(manager);
        assert_eq!(theirs.len(), 1, "{manager}: {mails:?}");
        assert!(theirs[0].data.contains("Callback SLA breached"));
    }
    assert_eq!(
        mails.len(),
        expected,
        "the subscriber filtered the SLA events out"
    );
    // The log line is written once the sink has answered: wait for it too.
    let logged = || async {
        let (_, log) = server
            .call(Method::GET, "/api/v1/notifications", &token, None)
            .await;
        log["notifications"].as_array().cloned().unwrap_or_default()
    };
    wait_until("every mail is logged", || async {
        logged().await.len() == expected
    })
    .await;
    let entries = logged().await;
    assert!(entries
        .iter()
        .all(|e| e["kind"] == "email" && e["status_code"] == 250));
    server.stop().await;
}

async fn a_410_gone_switches_the_subscription_off(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let company = server.company(COMPANY_SLUG).await;
    let (id, _) = server
        .subscribe(&token, json!({"kind": "webhook", "target": receiver.url}))
        .await;
    receiver.fail_next(1, 410);
    server
        .publish(EventType::CallEnded, company.id, json!({}))
        .await;
    wait_until("the delivery is dead", || async {
        server.deliveries(&token, "?status=dead").await.len() == 1
    })
    .await;
    assert_eq!(receiver.count(), 1, "410 is not retried");
    let (_, subscription) = server
        .call(Method::GET, &format!("/api/v1/webhooks/{id}"), &token, None)
        .await;
    assert_eq!(subscription["active"], false);
    assert!(subscription["disabled_reason"]
        .as_str()
        .is_some_and(|r| r.contains("410")));
    assert!(subscription.get("secret").is_none(), "never shown again");
    server
        .publish(EventType::CallEnded, company.id, json!({}))
        .await;
    assert_eq!(
        server.deliveries(&token, "").await.len(),
        1,
        "nothing queued while off"
    );
    let (status, on) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            &token,
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(on["active"], true);
    assert!(on["disabled_reason"].is_null());
    server.stop().await;
}

/// Signs `body` as Retell would (demo key) and posts it to `path`.
async fn retell(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let header = callflow::retell::signature::sign(
        body.as_bytes(),
        b"demo-retell-key-change-me",
        Utc::now().timestamp_millis(),
    );
    let mut response = server
        .client
        .post(format!("{}{path}", server.address))
        .content_type("application/json")
        .insert_header(("X-Retell-Signature", header))
        .send_body(body)
        .await
        .expect("the server answers");
    let bytes = response.body().await.expect("a body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn retell_calls_and_bookings_are_published(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    server
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": receiver.url,
                   "event_types": ["CallStarted", "AppointmentBooked", "AppointmentCancelled"]}),
        )
        .await;
    let call = json!({"call_id": "call_notify_events", "from_number": "+4915123456789",
                      "to_number": "+493012345678", "start_timestamp": 1_763_700_000_000_i64,
                      "metadata": {"tenant_id": "praxis-mueller-berlin"}});
    let (status, _) = retell(
        &server,
        "/retell/webhook",
        &json!({"event": "call_started", "call": call}),
    )
    .await;
    assert_eq!(status, 204);
    let started = receiver.wait_for(1).await.remove(0).json();
    assert_eq!(started["type"], "CallStarted");
    assert_eq!(started["data"]["call"]["id"], "call_notify_events");
    assert_eq!(started["data"]["call"]["from_number"], "+4915123456789");
    assert!(started["data"]["branch_name"].is_string(), "{started}");

    let day = next_working_tuesday().format("%Y-%m-%d").to_string();
    let args = json!({"service": "Zahnreinigung", "date": day, "time": "15:00"});
    let (status, booked) = retell(
        &server,
        "/retell/functions/book_appointment",
        &json!({"name": "book_appointment", "call": call, "args": args}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(booked["ok"], true, "{booked}");
    let event = receiver.wait_for(2).await.remove(1).json();
    assert_eq!(event["type"], "AppointmentBooked");
    assert_eq!(event["data"]["appointment"]["id"], booked["appointment_id"]);
    assert_eq!(
        event["data"]["service_name"],
        "Professionelle Zahnreinigung"
    );
    assert_eq!(event["data"]["caller"], "+4915123456789");
    assert_eq!(event["data"]["call_id"], "call_notify_events");

    let (status, cancelled) = retell(
        &server,
        "/retell/functions/cancel_appointment",
        &json!({"name": "cancel_appointment", "call": call,
                "args": {"appointment_id": booked["appointment_id"]}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let event = receiver.wait_for(3).await.remove(2).json();
    assert_eq!(event["type"], "AppointmentCancelled");
    assert_eq!(event["data"]["appointment"]["id"], booked["appointment_id"]);
    assert_eq!(event["data"]["appointment"]["status"], "cancelled");

    // A redelivered call_started is deduplicated by Retell's event key; a replayed follow-up
    // would publish the same event id, which the outbox queues once.
    let (status, _) = retell(
        &server,
        "/retell/webhook",
        &json!({"event": "call_started", "call": call}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(server.deliveries(&token, "").await.len(), 3);
    server.stop().await;
}

/// The admin API's bookings, moves and cancellations publish the same events as the voice
/// agent's, with the same payload fields (names and the customer's number next to the ids).
async fn admin_api_appointment_changes_reach_webhook_subscribers(db: TestDb) {
    let receiver = Receiver::start().await;
    let server = Server::start(&db, FAST_RETRIES).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    server
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": receiver.url,
                   "event_types": ["AppointmentBooked", "AppointmentCancelled",
                                   "AppointmentRescheduled"]}),
        )
        .await;
    let (status, branches) = server
        .call(Method::GET, "/api/v1/branches", &token, None)
        .await;
    assert_eq!(status, 200, "{branches}");
    let berlin = branches["branches"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|b| b["slug"] == "praxis-mueller-berlin")
        .expect("the demo's Berlin branch")
        .clone();
    let (status, services) = server
        .call(Method::GET, "/api/v1/services", &token, None)
        .await;
    assert_eq!(status, 200, "{services}");
    let cleaning = services["services"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["name"] == "Professionelle Zahnreinigung")
        .expect("the demo's cleaning")
        .clone();
    let (status, customer) = server
        .call(
            Method::POST,
            "/api/v1/customers",
            &token,
            Some(json!({"phone": "+491715550199", "name": "Greta Admin"})),
        )
        .await;
    assert_eq!(status, 201, "{customer}");
    let at = |hour: u32| {
        let day = next_working_tuesday();
        chrono_tz::Europe::Berlin
            .from_local_datetime(&day.and_hms_opt(hour, 0, 0).expect("a time"))
            .single()
            .expect("unambiguous")
            .to_rfc3339()
    };
    let (status, booked) = server
        .call(
            Method::POST,
            "/api/v1/appointments",
            &token,
            Some(
                json!({"branch_id": berlin["id"], "service_id": cleaning["id"],
                        "customer_id": customer["id"], "start": at(10)}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let event = receiver.wait_for(1).await.remove(0).json();
    assert_eq!(event["type"], "AppointmentBooked");
    assert_eq!(event["data"]["appointment"]["id"], booked["id"]);
    assert_eq!(
        event["data"]["service_name"],
        "Professionelle Zahnreinigung"
    );
    assert_eq!(event["data"]["branch_name"], berlin["name"]);
    assert_eq!(event["data"]["customer_name"], "Greta Admin");
    assert_eq!(event["data"]["customer_phone"], "+491715550199");
    assert!(event["data"]["staff_name"].is_string(), "{event}");

    let (status, moved) = server
        .call(
            Method::POST,
            &format!(
                "/api/v1/appointments/{}/reschedule",
                booked["id"].as_str().expect("id")
            ),
            &token,
            Some(json!({"start": at(14)})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let event = receiver.wait_for(2).await.remove(1).json();
    assert_eq!(
        event["type"], "AppointmentRescheduled",
        "one event, not booked + cancelled"
    );
    assert_eq!(event["data"]["appointment"]["id"], moved["id"]);
    assert_eq!(event["data"]["old"]["appointment_id"], booked["id"]);
    assert_eq!(event["data"]["old"]["starts_at"], booked["starts_at"]);
    assert_eq!(event["data"]["new"]["starts_at"], moved["starts_at"]);
    assert_eq!(event["data"]["customer_phone"], "+491715550199");

    let (status, cancelled) = server
        .call(
            Method::POST,
            &format!(
                "/api/v1/appointments/{}/cancel",
                moved["id"].as_str().expect("id")
            ),
            &token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let event = receiver.wait_for(3).await.remove(2).json();
    assert_eq!(event["type"], "AppointmentCancelled");
    assert_eq!(event["data"]["appointment"]["id"], moved["id"]);
    assert_eq!(event["data"]["appointment"]["status"], "cancelled");
    assert_eq!(event["data"]["customer_name"], "Greta Admin");
    server.stop().await;
}

async fn two_nodes_never_send_the_same_delivery_twice(db: TestDb) {
    let receiver = Receiver::start().await;
    let first = Server::start(&db, FAST_RETRIES).await;
    let second = Server::start(&db, FAST_RETRIES).await;
    let token = first.admin_token(COMPANY_SLUG).await;
    let company = first.company(COMPANY_SLUG).await;
    first
        .subscribe(&token, json!({"kind": "webhook", "target": receiver.url}))
        .await;
    let n = 60;
    for i in 0..n {
        let node = if i % 2 == 0 { &first } else { &second };
        node.publish(EventType::CallEnded, company.id, json!({"i": i}))
            .await;
    }
    wait_until("every delivery is delivered", || async {
        first
            .deliveries(&token, "?status=delivered&limit=500")
            .await
            .len()
            == n
    })
    .await;
    let requests = receiver.requests();
    let mut ids: Vec<String> = requests.iter().filter_map(|r| r.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    assert_eq!(requests.len(), n, "no delivery was sent by both nodes");

    let (_, metrics) = {
        let mut response = first
            .client
            .get(format!("{}/metrics", first.address))
            .send()
            .await
            .expect("the server answers");
        let body = response.body().await.expect("a body");
        (
            response.status(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    };
    assert!(
        metrics.contains("callflow_notifications_total{kind=\"webhook\",outcome=\"delivered\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("callflow_notification_attempt_duration_seconds"));
    first.stop().await;
    second.stop().await;
}

/// The outbox's lease at the SQL level: a claim hides a delivery from other claims until its
/// lease runs out; after that another worker takes it over, and the first one's late outcome
/// is not recorded (its attempt number no longer matches).
async fn an_expired_lease_is_taken_over_and_the_late_outcome_ignored(db: TestDb) {
    use callflow::notify::outbox::{self, Attempt, NewDelivery, Outcome};
    use callflow::notify::target::Kind;
    let setup = Server::start(&db, &[]).await;
    let token = setup.admin_token(COMPANY_SLUG).await;
    let company = setup.company(COMPANY_SLUG).await;
    // Unreachable on purpose: only the SQL below may touch the delivery.
    let (subscription, _) = setup
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": "http://127.0.0.1:9/never"}),
        )
        .await;
    setup.stop().await;

    let database = db.connect().await;
    let now = Utc::now();
    let event = DomainEvent::new(EventType::CallEnded, company.id, now, json!({}));
    let delivery = NewDelivery {
        subscription_id: Some(subscription.parse().expect("a uuid")),
        kind: Kind::Webhook,
        recipient: None,
    };
    let payload = serde_json::to_value(&event).expect("serialises");
    let queued = outbox::enqueue(
        &database,
        company.id,
        event.id,
        "CallEnded",
        &payload,
        &[delivery.clone(), delivery],
        now,
    )
    .await
    .expect("queued");
    assert_eq!(queued, 1, "one row per subscription and event");

    let lease = chrono::Duration::seconds(30);
    let first = outbox::claim_due(&database, now, now + lease, 10)
        .await
        .expect("claimed");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);
    let again = outbox::claim_due(&database, now, now + lease, 10)
        .await
        .expect("claimed");
    assert!(again.is_empty(), "leased: nobody else gets it");

    let later = now + lease + chrono::Duration::seconds(1);
    let second = outbox::claim_due(&database, later, later + lease, 10)
        .await
        .expect("claimed");
    assert_eq!(second.len(), 1, "the lease ran out: taken over");
    assert_eq!(second[0].attempt, 2);

    let attempt = |outcome| Attempt {
        outcome,
        status_code: Some(200),
        error: None,
        duration_ms: 1,
        target: "http://127.0.0.1:9/…".into(),
        at: later,
    };
    let late = outbox::record(&database, &first[0], &attempt(Outcome::Delivered))
        .await
        .expect("recorded");
    assert!(!late, "the first holder lost its lease");
    let current = outbox::record(&database, &second[0], &attempt(Outcome::Delivered))
        .await
        .expect("recorded");
    assert!(current);
    let log = outbox::list_log(&database, company.id, None, 10)
        .await
        .expect("log");
    assert_eq!(log.len(), 1, "only the current holder's attempt is logged");
    assert_eq!(log[0].attempt, 2);
    assert!(outbox::claim_due(&database, later, later + lease, 10)
        .await
        .expect("claimed")
        .is_empty());
    database.close().await;
}

on_both_backends!(
    a_failing_receiver_gets_signed_retries_until_it_accepts,
    a_delivery_dead_letters_after_the_maximum_and_redelivers_on_request,
    filters_and_companies_decide_who_gets_an_event,
    pending_deliveries_survive_a_restart,
    slack_and_teams_get_their_own_formats,
    e_mail_goes_to_subscribers_assignees_and_managers,
    a_410_gone_switches_the_subscription_off,
    retell_calls_and_bookings_are_published,
    admin_api_appointment_changes_reach_webhook_subscribers,
    two_nodes_never_send_the_same_delivery_twice,
    an_expired_lease_is_taken_over_and_the_late_outcome_ignored,
);

#[actix_web::test]
async fn subscriptions_are_validated_and_admin_only() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let token = server.admin_token(COMPANY_SLUG).await;
    let bad = [
        (json!({"kind": "pager", "target": "https://x.io"}), "kind"),
        (json!({"kind": "webhook", "target": "ftp://x.io"}), "target"),
        (
            json!({"kind": "slack", "target": "http://hooks.slack.com/x"}),
            "target",
        ),
        (json!({"kind": "webhook"}), "target"),
        (
            json!({"kind": "email", "target": "ops@example.com"}),
            "kind",
        ),
        (
            json!({"kind": "webhook", "target": "https://x.io", "event_types": ["Nope"]}),
            "event_types",
        ),
        (
            json!({"kind": "webhook", "target": "https://x.io", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = server
            .call(Method::POST, "/api/v1/webhooks", &token, Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["fields"].get(field).is_some(), "{body}: {answer}");
    }
    let (id, _) = server
        .subscribe(
            &token,
            json!({"kind": "webhook", "target": "https://example.com/h", "name": "CRM",
                                  "event_types": ["CallEnded", "CallStarted"]}),
        )
        .await;
    let path = format!("/api/v1/webhooks/{id}");
    let (status, body) = server
        .call(Method::PATCH, &path, &token, Some(json!({"kind": "slack"})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = server
        .call(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"event_types": [], "description": "all events"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event_types"], json!([]));
    assert_eq!(body["description"], "all events");
    assert_eq!(body["name"], "CRM");

    let store = server.database.store();
    let branch = store
        .list_branches(None)
        .await
        .expect("branches")
        .into_iter()
        .next()
        .expect("a branch");
    let request = TokenRequest {
        company: COMPANY_SLUG.into(),
        role: Role::Manager,
        staff: None,
        branch: Some(branch.slug.clone()),
        name: None,
    };
    let manager = issue_token(&*store, &request, Utc::now())
        .await
        .expect("token issued")
        .secret;
    for (method, p) in [
        (Method::GET, "/api/v1/webhooks".to_owned()),
        (Method::GET, path.clone()),
        (Method::GET, "/api/v1/webhooks/deliveries".to_owned()),
        (Method::GET, "/api/v1/notifications".to_owned()),
    ] {
        let (status, _) = server.call(method, &p, &manager, None).await;
        assert_eq!(status, 403, "{p}");
    }
    let (status, _) = server.call(Method::DELETE, &path, &token, None).await;
    assert_eq!(status, 204);
    let (status, _) = server.call(Method::GET, &path, &token, None).await;
    assert_eq!(status, 404);

    let company = server.company(COMPANY_SLUG).await;
    let audit = store.list_audit(company.id, 10).await.expect("audit log");
    let mut actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.entity_id == id)
        .map(|e| e.action.as_str())
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["webhook.create", "webhook.delete", "webhook.update"]
    );
    let created = audit
        .iter()
        .find(|e| e.action == "webhook.create")
        .and_then(|e| e.new_value.clone())
        .expect("the new value");
    assert_eq!(created["name"], "CRM");
    assert!(
        created.get("secret").is_none(),
        "no secret in the audit log"
    );
    server.stop().await;
}

/// Outbox insert latency and delivery throughput, for the report (not an assertion; run with
/// `cargo test --test api measure_ -- --ignored --nocapture`). The inserts are timed with no
/// worker running, the drain with a fresh server whose worker finds them all due.
async fn measure_delivery_throughput(db: TestDb) {
    use callflow::notify::listener::OutboxListener;
    let receiver = Receiver::start().await;
    let setup = Server::start(&db, &[]).await;
    let token = setup.admin_token(COMPANY_SLUG).await;
    let company = setup.company(COMPANY_SLUG).await;
    setup
        .subscribe(&token, json!({"kind": "webhook", "target": receiver.url}))
        .await;
    setup.stop().await;

    let database = db.connect().await;
    let listener = OutboxListener::new(
        database.clone(),
        database.store(),
        false,
        Arc::new(tokio::sync::Notify::new()),
    );
    let n = 2000;
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let event = DomainEvent::new(
            EventType::CallEnded,
            company.id,
            Utc::now(),
            callback_data(),
        );
        let t = Instant::now();
        listener.enqueue(&event).await.expect("queued");
        latencies.push(t.elapsed());
    }
    let enqueued = started.elapsed();
    database.close().await;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    for concurrency in ["8", "32"] {
        let before = receiver.count();
        let started = Instant::now();
        let server = Server::start(
            &db,
            &[
                ("CALLFLOW_NOTIFICATIONS__CONCURRENCY", concurrency),
                ("CALLFLOW_NOTIFICATIONS__POLL_INTERVAL_MS", "50"),
            ],
        )
        .await;
        wait_until("all delivered", || async { receiver.count() >= before + n }).await;
        let drained = started.elapsed();
        println!(
            "MEASURE {} concurrency {concurrency}: {n} due deliveries drained in {drained:?} = {:.0}/s",
            if db.url.starts_with("sqlite") { "sqlite" } else { "postgres" },
            n as f64 / drained.as_secs_f64()
        );
        // Queue them again for the next round.
        let (_, _) = (server.deliveries(&token, "?limit=1").await, ());
        let database = db.connect().await;
        let listener = OutboxListener::new(
            database.clone(),
            database.store(),
            false,
            Arc::new(tokio::sync::Notify::new()),
        );
        server.stop().await;
        for _ in 0..n {
            let event = DomainEvent::new(
                EventType::CallEnded,
                company.id,
                Utc::now(),
                callback_data(),
            );
            listener.enqueue(&event).await.expect("queued");
        }
        database.close().await;
    }
    println!(
        "MEASURE {}: {n} events through the outbox listener (1 matching subscription): \
         p50 {:?} p99 {:?} max {:?}; {:.0} events/s serially",
        if db.url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        },
        pct(0.5),
        pct(0.99),
        latencies[latencies.len() - 1],
        n as f64 / enqueued.as_secs_f64()
    );
}

mod measure_ {
    #[actix_web::test]
    #[ignore = "a measurement, run by hand"]
    async fn sqlite() {
        super::measure_delivery_throughput(crate::helpers::TestDb::sqlite()).await;
    }

    #[actix_web::test]
    #[ignore = "a measurement, run by hand"]
    async fn postgres() {
        if let Some(db) = crate::helpers::TestDb::postgres().await {
            super::measure_delivery_throughput(db).await;
        }
    }
}
