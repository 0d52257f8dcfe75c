//! Automatic assignment, the SLA monitor and callback events, driven by a manual clock: no
//! test sleeps. The monitor runs against a real store (SQLite and Postgres); time moves only
//! when a test advances the clock and asks the monitor to fire what is due.

use crate::helpers::on_both_backends;
use crate::helpers::{spawn_app_with_clock, TestDb};
use async_trait::async_trait;
use awc::http::Method;
use callflow::app::callbacks::Opened;
use callflow::app::{Callbacks, Settings};
use callflow::events::{DomainEvent, EventListener, EventType, Events};
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::sla::{ManualClock, SlaHandle};
use callflow_actors::domain::assignment::AssignmentRules;
use callflow_actors::domain::callback::{CallbackDraft, CallbackPolicy};
use callflow_actors::domain::sla::SlaRules;
use callflow_actors::domain::*;
use callflow_actors::Store;
use chrono::{DateTime, Duration, TimeZone, Utc, Weekday};
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Monday 3 June 2030, 08:00 UTC (10:00 in Berlin).
fn monday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 3, 8, 0, 0)
        .single()
        .expect("valid time")
}

/// Every event published, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<DomainEvent>>);

#[async_trait]
impl EventListener for Recorder {
    async fn on_event(&self, event: &DomainEvent) {
        self.0.lock().expect("not poisoned").push(event.clone());
    }
}

impl Recorder {
    /// The types recorded since the last call.
    fn take(&self) -> Vec<EventType> {
        self.0
            .lock()
            .expect("not poisoned")
            .drain(..)
            .map(|e| e.event_type)
            .collect()
    }

    fn last(&self, event_type: EventType) -> Option<DomainEvent> {
        self.0
            .lock()
            .expect("not poisoned")
            .iter()
            .rev()
            .find(|e| e.event_type == event_type)
            .cloned()
    }
}

/// A company with one Berlin branch open around the clock: Anna (reception, knows implants),
/// Ben (reception) and Clara (manager), all always at work (so picks made at the real time of
/// an HTTP request are predictable too; working hours are covered by the domain's tests).
struct World {
    store: Arc<dyn Store>,
    branch: Branch,
    anna: Staff,
    ben: Staff,
    clara: Staff,
}

fn week(range: &str) -> WeeklyHours {
    let day = DayHours::new(vec![TimeRange::parse(range).expect("valid")]).expect("valid");
    WeeklyHours::same_on(
        &[
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        day,
    )
}

async fn world(store: Arc<dyn Store>) -> World {
    let company = Company {
        id: CompanyId::new(),
        name: "Praxis SLA".into(),
        slug: format!("praxis-sla-{}", uuid::Uuid::new_v4().simple()),
        default_branch_id: None,
    };
    store.upsert_company(&company).await.expect("stored");
    let branch = Branch {
        id: BranchId::new(),
        company_id: company.id,
        name: "Mitte".into(),
        slug: format!("mitte-{}", uuid::Uuid::new_v4().simple()),
        address: "Hauptstraße 1".into(),
        time_zone: chrono_tz::Europe::Berlin,
        languages: vec![Language::DE],
        active: true,
        fallback_branch_id: None,
        service_area_prefixes: Vec::new(),
        opening_hours: week("00:00-23:59"),
        date_overrides: Vec::new(),
        agent_by_language: Default::default(),
    };
    store.upsert_branch(&branch).await.expect("stored");
    let person = |name: &str, role: StaffRole, skills: &[&str]| Staff {
        id: StaffId::new(),
        branch_id: branch.id,
        name: name.into(),
        role,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        languages: vec![Language::DE],
        working_hours: week("00:00-23:59"),
        breaks: WeeklyHours::default(),
        date_overrides: Vec::new(),
        active: true,
        email: None,
    };
    let anna = person("Anna", StaffRole::Reception, &["implant"]);
    let ben = person("Ben", StaffRole::Reception, &[]);
    let clara = person("Clara", StaffRole::Manager, &[]);
    for s in [&anna, &ben, &clara] {
        store.upsert_staff(s).await.expect("stored");
    }
    World {
        store,
        branch,
        anna,
        ben,
        clara,
    }
}

fn draft(world: &World, phone: &str, reason: &str) -> CallbackDraft {
    CallbackDraft {
        company_id: world.branch.company_id,
        branch_id: Some(world.branch.id),
        customer_id: None,
        phone: E164Number::parse(phone).expect("valid"),
        name: None,
        reason: reason.into(),
        notes: None,
        priority: None,
        language: None,
        source_call_id: None,
        scheduled_for: None,
    }
}

/// A monitor on the world's store with a manual clock, and the events it and openings publish.
struct Monitor {
    clock: Arc<ManualClock>,
    callbacks: Callbacks,
    recorder: Arc<Recorder>,
    sla: SlaHandle,
}

fn monitor(store: &Arc<dyn Store>, now: DateTime<Utc>) -> Monitor {
    let clock = Arc::new(ManualClock::new(now));
    let events = Events::new();
    let settings = Settings {
        callbacks: CallbackPolicy::default(),
        assignment: AssignmentRules::default(),
        auto_assign: true,
        sla: SlaRules::default(),
    };
    let callbacks = Callbacks::new(store.clone(), None, events.clone(), clock.clone(), settings);
    let sla = SlaHandle::start(callbacks.clone(), clock.clone());
    events.subscribe(sla.listener());
    callbacks.set_watch(Arc::new(sla.clone()));
    let recorder = Arc::new(Recorder::default());
    events.subscribe(recorder.clone());
    Monitor {
        clock,
        callbacks,
        recorder,
        sla,
    }
}

impl Monitor {
    async fn open(&self, draft: CallbackDraft) -> (CallbackRequest, Opened) {
        self.callbacks
            .open(draft, false, None)
            .await
            .expect("opened")
    }

    /// Moves the clock and fires what is due; how many points fired.
    async fn advance(&self, by: Duration) -> usize {
        self.clock.advance(by);
        self.sla.fire_due().await.expect("monitor alive")
    }
}

trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        callflow::sla::Clock::now(self)
    }
}

async fn reload(world: &World, id: CallbackId) -> CallbackRequest {
    world
        .store
        .callback(world.branch.company_id, id)
        .await
        .expect("readable")
        .expect("exists")
}

on_both_backends!(
    a_late_callback_is_warned_escalated_level_by_level_and_finally_expires,
    a_restart_rebuilds_the_timers_and_fires_breaches_missed_while_down,
    a_callback_closed_behind_the_monitors_back_is_dropped_not_escalated,
    a_repeat_request_that_raises_priority_moves_the_timer_earlier,
    assigning_without_a_staff_id_picks_automatically_and_publishes_events,
);

async fn a_late_callback_is_warned_escalated_level_by_level_and_finally_expires(db: TestDb) {
    let w = world(db.store().await).await;
    let m = monitor(&w.store, monday_morning());
    let (cb, opened) = m
        .open(draft(&w, "+4915100000001", "Frage zum Implantat"))
        .await;
    assert_eq!(opened, Opened::Created);
    assert_eq!(cb.status, CallbackStatus::Assigned, "assigned on creation");
    assert_eq!(cb.assigned_staff_id, Some(w.anna.id), "she knows implants");
    assert_eq!(cb.version, 1);
    assert_eq!(
        cb.assignment_reason.as_deref(),
        Some("knows implant; least loaded: 0 open; at work now")
    );
    assert_eq!(
        m.recorder.take(),
        [EventType::CallbackRequested, EventType::CallbackAssigned]
    );
    let (watched, next) = m.sla.watched().await.expect("alive");
    assert_eq!(watched, 1);
    assert_eq!(
        next,
        Some(cb.due_at - Duration::hours(1)),
        "warned an hour ahead"
    );

    // 23 h later (Tuesday 07:00 UTC): the warning.
    assert_eq!(m.advance(Duration::hours(23)).await, 1);
    assert_eq!(m.recorder.take(), [EventType::CallbackSlaApproaching]);
    // Nothing is due a minute before the deadline; at the deadline it breaches.
    assert_eq!(m.advance(Duration::minutes(59)).await, 0);
    assert_eq!(m.advance(Duration::minutes(1)).await, 1);
    assert_eq!(
        m.recorder.take(),
        [
            EventType::CallbackSlaBreached,
            EventType::CallbackEscalated,
            EventType::CallbackAssigned
        ]
    );
    let first = reload(&w, cb.id).await;
    assert_eq!(first.priority, Priority::Urgent);
    assert_eq!(first.escalation_level, 1);
    assert_eq!(first.assigned_staff_id, Some(w.clara.id), "the manager");
    assert_eq!(first.due_at, m.clock.now_utc() + Duration::hours(1));
    assert_eq!(first.version, 2);

    // Urgent SLA of 60 min: warned 15 min ahead, then level 2 goes to the next best (not
    // Clara, who has it): Anna, who knows implants.
    assert_eq!(m.advance(Duration::minutes(45)).await, 1);
    assert_eq!(m.recorder.take(), [EventType::CallbackSlaApproaching]);
    assert_eq!(m.advance(Duration::minutes(15)).await, 1);
    let second = reload(&w, cb.id).await;
    assert_eq!(second.escalation_level, 2);
    assert_eq!(second.assigned_staff_id, Some(w.anna.id));
    m.recorder.take();

    assert_eq!(
        m.advance(Duration::minutes(60)).await,
        2,
        "warning and breach"
    );
    let third = reload(&w, cb.id).await;
    assert_eq!(third.escalation_level, 3);
    assert_eq!(third.assigned_staff_id, Some(w.clara.id));
    m.recorder.take();

    // At the highest level (3) a breach only notifies.
    assert_eq!(m.advance(Duration::minutes(60)).await, 2);
    let breach = m
        .recorder
        .last(EventType::CallbackSlaBreached)
        .expect("a breach event");
    assert_eq!(breach.data["final"], true);
    assert_eq!(breach.data["callback"]["id"], cb.id.to_string());
    assert_eq!(
        m.recorder.take(),
        [
            EventType::CallbackSlaApproaching,
            EventType::CallbackSlaBreached
        ]
    );
    let unchanged = reload(&w, cb.id).await;
    assert_eq!(unchanged.version, third.version, "nothing written");
    let escalations = w
        .store
        .callback_escalations(w.branch.company_id, cb.id)
        .await
        .expect("readable");
    let trail: Vec<_> = escalations
        .iter()
        .map(|e| (e.level, e.from_staff_id, e.to_staff_id))
        .collect();
    assert_eq!(
        trail,
        [
            (1, Some(w.anna.id), Some(w.clara.id)),
            (2, Some(w.clara.id), Some(w.anna.id)),
            (3, Some(w.anna.id), Some(w.clara.id)),
        ]
    );
    assert!(escalations[0].reason.starts_with("SLA breached"));

    // A day past the final deadline it expires and leaves the schedule.
    assert_eq!(m.advance(Duration::hours(24)).await, 1);
    // The same payload shape as when an operator changes the status: from, to and the action.
    let changed = m
        .recorder
        .last(EventType::CallbackStatusChanged)
        .expect("published");
    assert_eq!(changed.data["action"], "expire", "{}", changed.data);
    assert_eq!(changed.data["to"], "expired", "{}", changed.data);
    assert!(changed.data["from"].is_string(), "{}", changed.data);
    assert!(
        changed.data.get("branch_name").is_some(),
        "{}",
        changed.data
    );
    assert_eq!(m.recorder.take(), [EventType::CallbackStatusChanged]);
    let expired = reload(&w, cb.id).await;
    assert_eq!(expired.status, CallbackStatus::Expired);
    assert_eq!(m.sla.watched().await.expect("alive"), (0, None));
}

async fn a_restart_rebuilds_the_timers_and_fires_breaches_missed_while_down(db: TestDb) {
    let w = world(db.store().await).await;
    let before = monitor(&w.store, monday_morning());
    let (late, _) = before.open(draft(&w, "+4915100000002", "Rückruf")).await;
    before.clock.advance(Duration::hours(2));
    let (warned_while_down, _) = before.open(draft(&w, "+4915100000003", "Rückruf")).await;
    // Back on Tuesday at 09:30: `late` passed its deadline (08:00) and the other its warning
    // point (09:00) but not its deadline (10:00).
    let after = monitor(
        &w.store,
        monday_morning() + Duration::hours(25) + Duration::minutes(30),
    );
    let (watched, next) = after.sla.watched().await.expect("alive");
    assert_eq!(watched, 2, "both rebuilt from the database");
    assert_eq!(next, Some(late.due_at), "the missed breach is due now");
    assert_eq!(after.advance(Duration::zero()).await, 1, "fires at start");
    assert_eq!(
        after.recorder.take(),
        [
            EventType::CallbackSlaBreached,
            EventType::CallbackEscalated,
            EventType::CallbackAssigned
        ],
        "no late warning for the other one"
    );
    assert_eq!(reload(&w, late.id).await.escalation_level, 1);
    assert_eq!(
        after.sla.watched().await.expect("alive").1,
        Some(warned_while_down.due_at)
    );
}

async fn a_callback_closed_behind_the_monitors_back_is_dropped_not_escalated(db: TestDb) {
    let w = world(db.store().await).await;
    let m = monitor(&w.store, monday_morning());
    let (cb, _) = m.open(draft(&w, "+4915100000004", "Rückruf")).await;
    // Completed by a write that published nothing (another node, a script).
    let done = CallbackRequest {
        status: CallbackStatus::Completed,
        completed_at: Some(monday_morning()),
        version: cb.version + 1,
        ..cb.clone()
    };
    assert!(w
        .store
        .update_callback(&done, cb.version)
        .await
        .expect("written"));
    m.recorder.take();
    assert_eq!(m.advance(Duration::hours(23)).await, 1, "the warning point");
    assert!(
        m.recorder.take().is_empty(),
        "no warning for a closed callback"
    );
    assert_eq!(m.sla.watched().await.expect("alive"), (0, None));
    assert_eq!(reload(&w, cb.id).await.escalation_level, 0);
}

async fn a_repeat_request_that_raises_priority_moves_the_timer_earlier(db: TestDb) {
    let w = world(db.store().await).await;
    let m = monitor(&w.store, monday_morning());
    let (cb, _) = m.open(draft(&w, "+4915100000005", "Rückruf")).await;
    m.clock.advance(Duration::minutes(10));
    let urgent = CallbackDraft {
        priority: Some(Priority::Urgent),
        ..draft(&w, "+4915100000005", "Dringend!")
    };
    let (merged, opened) = m.open(urgent).await;
    assert_eq!(opened, Opened::Merged);
    assert_eq!(merged.id, cb.id);
    assert_eq!(merged.due_at, m.clock.now_utc() + Duration::hours(1));
    let (_, next) = m.sla.watched().await.expect("alive");
    assert_eq!(next, Some(merged.due_at - Duration::minutes(15)));
}

async fn assigning_without_a_staff_id_picks_automatically_and_publishes_events(db: TestDb) {
    let store = db.store().await;
    let w = world(store.clone()).await;
    let clock = Arc::new(ManualClock::new(monday_morning()));
    let (app, events, _sla) =
        spawn_app_with_clock(db, &[("CALLFLOW_CALLBACKS__AUTO_ASSIGN", "false")], clock).await;
    let recorder = Arc::new(Recorder::default());
    events.subscribe(recorder.clone());
    let company = w
        .store
        .list_companies()
        .await
        .expect("readable")
        .into_iter()
        .find(|c| c.id == w.branch.company_id)
        .expect("the world's company");
    let token = issue_token(
        &*w.store,
        &TokenRequest {
            company: company.slug.clone(),
            role: Role::Admin,
            staff: None,
            branch: None,
            name: None,
        },
        Utc::now(),
    )
    .await
    .expect("token issued")
    .secret;
    let post = |path: String, body: serde_json::Value| {
        let request = app
            .request(Method::POST, &path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .content_type("application/json");
        app.send(request, Some(body.to_string().into_bytes()))
    };
    let created = post(
        "/api/v1/callbacks".into(),
        json!({"phone": "+4915100000006", "reason": "Rückruf", "branch": w.branch.slug}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    assert_eq!(created.json()["status"], "pending", "auto_assign is off");
    assert_eq!(recorder.take(), [EventType::CallbackRequested]);

    let assigned = post(format!("/api/v1/callbacks/{id}/assign"), json!({})).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    let body = assigned.json();
    assert_eq!(body["status"], "assigned");
    let staff = body["assigned_staff_id"].as_str().expect("an assignee");
    assert!([w.anna.id, w.ben.id, w.clara.id]
        .iter()
        .any(|s| s.to_string() == staff));
    assert_eq!(
        body["assignment_reason"],
        "least loaded: 0 open; at work now"
    );
    let event = recorder
        .last(EventType::CallbackAssigned)
        .expect("an assigned event");
    assert_eq!(event.data["automatic"], true);
    assert_eq!(event.data["staff_id"], staff);
    assert_eq!(event.data["callback"]["version"], 2);
    assert_eq!(recorder.take(), [EventType::CallbackAssigned]);

    // Reassigning without a staff_id hands it to someone else.
    let again = post(format!("/api/v1/callbacks/{id}/assign"), json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_ne!(again.json()["assigned_staff_id"].as_str(), Some(staff));
    recorder.take();

    let completed = post(format!("/api/v1/callbacks/{id}/complete"), json!({})).await;
    assert_eq!(completed.status, 200, "{}", completed.body);
    let changed = recorder
        .last(EventType::CallbackStatusChanged)
        .expect("a status event");
    assert_eq!(changed.data["from"], "assigned");
    assert_eq!(changed.data["to"], "completed");
    assert_eq!(recorder.take(), [EventType::CallbackStatusChanged]);
}

#[actix_web::test]
async fn a_step_that_fails_on_the_store_is_retried_thirty_seconds_later() {
    let memory = Arc::new(callflow_actors::memory_store::MemoryStore::new());
    let store: Arc<dyn Store> = memory.clone();
    let w = world(store).await;
    let m = monitor(&w.store, monday_morning());
    let (cb, _) = m.open(draft(&w, "+4915100000007", "Rückruf")).await;
    let (_, next) = m.sla.watched().await.expect("alive");
    assert_eq!(next, Some(cb.due_at - Duration::hours(1)), "{cb:?}");
    m.clock.advance(Duration::hours(23));
    memory.set_failing(true);
    assert_eq!(m.advance(Duration::hours(1)).await, 2, "warning and breach");
    let (watched, next) = m.sla.watched().await.expect("alive");
    assert_eq!(watched, 1, "still watched");
    assert_eq!(next, Some(m.clock.now_utc() + Duration::seconds(30)));
    memory.set_failing(false);
    m.recorder.take();
    assert_eq!(m.advance(Duration::seconds(29)).await, 0);
    assert_eq!(m.advance(Duration::seconds(1)).await, 1);
    assert_eq!(
        m.recorder.take(),
        [
            EventType::CallbackSlaBreached,
            EventType::CallbackEscalated,
            EventType::CallbackAssigned
        ]
    );
    assert_eq!(reload(&w, cb.id).await.escalation_level, 1);
}
