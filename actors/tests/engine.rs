//! The engine end to end on the in-memory store: routing, slots, holds, bookings under
//! contention, hold expiry, call ends, live reloads and an actor failing mid-load.

use callflow_actors::call::CallContext;
use callflow_actors::clock::{Clock, ManualClock};
use callflow_actors::domain::routing::{InboundCall, RouteMethod, Routing};
use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::staff::{GetCalendarSize, SimulateFailure};
use callflow_actors::store::prelude::*;
use callflow_actors::{
    BookingOutcome, BookingRequest, CallLogWrite, Engine, EngineSettings, SlotQuery,
};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use std::sync::Arc;
use std::time::Duration as StdDuration;

const ALL_WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

struct Fixture {
    company: Company,
    branches: [Branch; 2],
    staff: Vec<Staff>,
    cleaning: Service,
    customer: Customer,
}

fn hours(spec: &str) -> WeeklyHours {
    let range = TimeRange::parse(spec).expect("valid range");
    WeeklyHours::same_on(&ALL_WEEK, DayHours::new(vec![range]).expect("one range"))
}

fn fixture() -> Fixture {
    let company = Company {
        id: CompanyId::new(),
        name: "Praxis Test".into(),
        slug: "praxis-test".into(),
        default_branch_id: None,
    };
    let branch = |slug: &str, prefix: &str| Branch {
        id: BranchId::new(),
        company_id: company.id,
        name: format!("Praxis {slug}"),
        slug: slug.into(),
        address: "Teststraße 1".into(),
        time_zone: Berlin,
        languages: vec![Language::DE, Language::EN],
        active: true,
        fallback_branch_id: None,
        service_area_prefixes: vec![prefix.into()],
        opening_hours: hours("07:00-19:00"),
        date_overrides: Vec::new(),
        agent_by_language: Default::default(),
    };
    let branches = [branch("nord", "+4940"), branch("sued", "+4989")];
    let staff_member = |name: &str, branch: &Branch, skills: &[&str]| Staff {
        id: StaffId::new(),
        branch_id: branch.id,
        name: name.into(),
        role: StaffRole::Practitioner,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        languages: vec![Language::DE],
        working_hours: hours("08:00-17:00"),
        breaks: WeeklyHours::default(),
        date_overrides: Vec::new(),
        active: true,
        email: None,
    };
    let staff = vec![
        staff_member("Anna Nord", &branches[0], &["prophylaxis"]),
        staff_member("Ben Nord", &branches[0], &["prophylaxis"]),
        staff_member("Clara Sued", &branches[1], &["prophylaxis"]),
    ];
    let cleaning = Service {
        id: ServiceId::new(),
        company_id: company.id,
        name: "Zahnreinigung".into(),
        duration_minutes: 60,
        buffer_before_minutes: 5,
        buffer_after_minutes: 10,
        required_skills: vec!["prophylaxis".into()],
        active: true,
    };
    let customer = Customer {
        id: CustomerId::new(),
        company_id: company.id,
        phone: E164Number::parse("+4915100000001").expect("valid"),
        name: Some("Erika Muster".into()),
        external_ref: None,
        preferred_language: Some(Language::DE),
        preferred_staff_id: None,
        vip: false,
        failed_booking_count: 0,
    };
    Fixture {
        company,
        branches,
        staff,
        cleaning,
        customer,
    }
}

async fn seed(store: &MemoryStore, f: &Fixture) {
    store.upsert_company(&f.company).await.expect("stored");
    for b in &f.branches {
        store.upsert_branch(b).await.expect("stored");
    }
    for (i, b) in f.branches.iter().enumerate() {
        let number = PhoneNumber {
            number: E164Number::parse(&format!("+49301111000{i}")).expect("valid"),
            company_id: f.company.id,
            branch_id: Some(b.id),
            retell_agent_id: None,
        };
        store.upsert_phone_number(&number).await.expect("stored");
    }
    for s in &f.staff {
        store.upsert_staff(s).await.expect("stored");
    }
    store.upsert_service(&f.cleaning).await.expect("stored");
    store.upsert_customer(&f.customer).await.expect("stored");
}

async fn start(settings: EngineSettings) -> (Engine, Arc<MemoryStore>, Fixture) {
    let store = Arc::new(MemoryStore::new());
    let f = fixture();
    seed(&store, &f).await;
    let engine = Engine::start(store.clone(), settings)
        .await
        .expect("engine starts");
    (engine, store, f)
}

/// [`start`] with the engine's holds expiring by `clock`.
async fn start_with_clock(
    settings: EngineSettings,
    clock: Arc<dyn Clock>,
) -> (Engine, Arc<MemoryStore>, Fixture) {
    let store = Arc::new(MemoryStore::new());
    let f = fixture();
    seed(&store, &f).await;
    let engine = Engine::start_with_clock(store.clone(), settings, clock)
        .await
        .expect("engine starts");
    (engine, store, f)
}

/// A day at least two days ahead (clear of the minimum notice), as a local date.
fn booking_day() -> NaiveDate {
    (Utc::now() + Duration::days(2))
        .with_timezone(&Berlin)
        .date_naive()
}

fn local(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).expect("valid"))
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

fn request(
    f: &Fixture,
    staff: Option<StaffId>,
    start: DateTime<Utc>,
    call: &str,
) -> BookingRequest {
    BookingRequest {
        company_id: f.company.id,
        branch_id: f.branches[0].id,
        service_id: f.cleaning.id,
        staff_id: staff,
        start,
        customer_id: f.customer.id,
        call_id: CallId::parse(call).ok(),
        idempotency_key: None,
        notes: None,
        language: Some(Language::DE),
    }
}

fn query(f: &Fixture, day: NaiveDate, wanted: Option<DateTime<Utc>>) -> SlotQuery {
    SlotQuery {
        branch_id: f.branches[0].id,
        service_id: f.cleaning.id,
        from: day,
        to: day,
        wanted,
        window: None,
        preferred_staff: None,
        only_staff: None,
        language: Some(Language::DE),
        served_before: Vec::new(),
        other_branches: true,
    }
}

#[actix_rt::test]
async fn a_dialled_number_routes_to_its_branch_and_an_unknown_one_is_unrouted() {
    let (engine, _, f) = start(EngineSettings::default()).await;
    let to = E164Number::parse("+493011110001").expect("valid");
    let call = InboundCall {
        to_number: &to,
        from_number: None,
        agent_id: None,
        explicit_branch: None,
        caller_history: None,
    };
    match engine.route(&call) {
        Routing::Routed(route) => {
            assert_eq!(route.branch_id, f.branches[1].id);
            assert_eq!(route.method, RouteMethod::DialledNumber);
        }
        other => panic!("expected a route, got {other:?}"),
    }
    let unknown = E164Number::parse("+441632960000").expect("valid");
    let call = InboundCall {
        to_number: &unknown,
        ..call
    };
    assert!(matches!(engine.route(&call), Routing::Unrouted(_)));
}

#[actix_rt::test]
async fn free_slots_are_offered_with_ids_that_decode_to_what_is_needed_to_book() {
    let (engine, _, f) = start(EngineSettings::default()).await;
    let day = booking_day();
    let availability = engine
        .find_slots(&query(&f, day, None), Utc::now())
        .await
        .expect("slots");
    assert_eq!(availability.slots.len(), 3, "max_slots_offered");
    let first = &availability.slots[0];
    // Staff start at 08:00 and the 5-minute buffer must fit inside working hours.
    assert_eq!(first.start, local(day, 8, 15));
    let decoded = engine.slot_ids().decode(&first.slot_id).expect("our id");
    assert_eq!(
        (decoded.staff_id, decoded.service_id, decoded.start),
        (first.staff_id, f.cleaning.id, first.start)
    );
    assert!(availability.top_reason.is_some());
}

#[actix_rt::test]
async fn booking_is_durable_idempotent_and_a_taken_slot_offers_alternatives() {
    let (engine, store, f) = start(EngineSettings::default()).await;
    let start_at = local(booking_day(), 10, 0);
    let anna = f.staff[0].id;
    let mut req = request(&f, Some(anna), start_at, "call_one");
    req.idempotency_key = Some("call_one:book_appointment:abc".into());
    let booked = match engine.book(&req, Utc::now()).await.expect("book") {
        BookingOutcome::Booked(a) => a,
        other => panic!("expected booked, got {other:?}"),
    };
    assert_eq!(
        store
            .appointment(booked.id)
            .await
            .expect("read")
            .map(|a| a.status),
        Some(AppointmentStatus::Booked)
    );

    match engine.book(&req, Utc::now()).await.expect("retry") {
        BookingOutcome::Replayed(a) => assert_eq!(a.id, booked.id),
        other => panic!("expected the same appointment, got {other:?}"),
    }

    let other_caller = request(&f, Some(anna), start_at, "call_two");
    match engine.book(&other_caller, Utc::now()).await.expect("book") {
        BookingOutcome::Taken(alternatives) => {
            assert!(!alternatives.slots.is_empty(), "alternatives are offered");
            assert!(alternatives
                .slots
                .iter()
                .all(|s| !(s.staff_id == anna && s.start == start_at)));
        }
        other => panic!("expected taken, got {other:?}"),
    }
    // Without a named staff member, Ben is free at the same time.
    let anyone = request(&f, None, start_at, "call_three");
    match engine.book(&anyone, Utc::now()).await.expect("book") {
        BookingOutcome::Booked(a) => assert_eq!(a.staff_id, f.staff[1].id),
        other => panic!("expected booked with Ben, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_time_outside_hours_is_unbookable_with_alternatives() {
    let (engine, _, f) = start(EngineSettings::default()).await;
    let late = local(booking_day(), 18, 0);
    match engine
        .book(
            &request(&f, Some(f.staff[0].id), late, "call_late"),
            Utc::now(),
        )
        .await
        .expect("book")
    {
        BookingOutcome::Unbookable(why, alternatives) => {
            assert_eq!(
                why,
                callflow_actors::domain::availability::Unbookable::OutsideHours
            );
            assert!(!alternatives.slots.is_empty());
        }
        other => panic!("expected unbookable, got {other:?}"),
    }
}

#[actix_rt::test]
async fn five_hundred_simultaneous_attempts_on_one_slot_book_exactly_once() {
    let (engine, store, f) = start(EngineSettings::default()).await;
    let start_at = local(booking_day(), 11, 0);
    let anna = f.staff[0].id;
    let attempts: Vec<_> = (0..500)
        .map(|i| {
            let (engine, req) = (
                engine.clone(),
                request(&f, Some(anna), start_at, &format!("call_{i}")),
            );
            actix_rt::spawn(async move { engine.book(&req, Utc::now()).await })
        })
        .collect();
    let (mut booked, mut taken_with_alternatives) = (0, 0);
    for attempt in attempts {
        match attempt.await.expect("task ran").expect("no engine error") {
            BookingOutcome::Booked(_) => booked += 1,
            BookingOutcome::Taken(alt) if !alt.slots.is_empty() => taken_with_alternatives += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((booked, taken_with_alternatives), (1, 499));
    let day = store
        .staff_appointments(
            anna,
            start_at - Duration::hours(1),
            start_at + Duration::hours(2),
        )
        .await
        .expect("read");
    assert_eq!(day.len(), 1);
}

async fn calendar_size(engine: &Engine, staff: StaffId) -> (usize, usize) {
    let actor = engine.staff_actor(staff).expect("staff actor");
    actor
        .send(GetCalendarSize)
        .await
        .expect("staff actor answers")
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
    false
}

#[actix_rt::test]
async fn a_hold_blocks_others_until_it_expires_by_the_engine_clock() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (engine, _, f) = start_with_clock(EngineSettings::default(), clock.clone()).await;
    let ttl = Duration::from_std(engine.settings().hold_ttl).expect("a ttl of minutes");
    let availability = engine
        .find_slots(&query(&f, booking_day(), None), clock.now())
        .await
        .expect("slots");
    let slot = engine
        .slot_ids()
        .decode(&availability.slots[0].slot_id)
        .expect("ours");
    let caller = CallId::parse("call_hold").expect("valid");
    engine
        .hold(&caller, &slot, clock.now())
        .await
        .expect("engine")
        .expect("held");
    let stranger = CallId::parse("call_other").expect("valid");
    let stranger_holds = async || {
        engine
            .hold(&stranger, &slot, clock.now())
            .await
            .expect("engine")
            .is_ok()
    };
    assert!(!stranger_holds().await, "held by someone else");
    // A second before its expiry the hold still blocks the slot and is not removed.
    clock.advance(ttl - Duration::seconds(1));
    assert!(!stranger_holds().await, "still held");
    assert_eq!(engine.expire_holds().await.expect("actors answer"), 0);
    assert_eq!(calendar_size(&engine, slot.staff_id).await.1, 1);
    // At its expiry it lapses: nothing sleeps, the clock moved.
    clock.advance(Duration::seconds(1));
    assert_eq!(engine.expire_holds().await.expect("actors answer"), 1);
    assert_eq!(calendar_size(&engine, slot.staff_id).await.1, 0, "expired");
    assert!(stranger_holds().await, "free again");
}

#[actix_rt::test]
async fn ending_a_call_releases_its_holds() {
    let (engine, _, f) = start(EngineSettings::default()).await;
    let caller = CallId::parse("call_end").expect("valid");
    let context = CallContext {
        call_id: caller.clone(),
        company_id: f.company.id,
        branch_id: f.branches[0].id,
        caller: Some(f.customer.phone.clone()),
        language: Language::DE,
        customer_id: Some(f.customer.id),
    };
    engine.start_call(context).await.expect("call started");
    assert_eq!(engine.active_calls(), 1);
    let availability = engine
        .find_slots(&query(&f, booking_day(), None), Utc::now())
        .await
        .expect("slots");
    let slot = engine
        .slot_ids()
        .decode(&availability.slots[0].slot_id)
        .expect("ours");
    engine
        .hold(&caller, &slot, Utc::now())
        .await
        .expect("engine")
        .expect("held");
    assert!(
        eventually(
            async || engine.end_call(&caller).await.map(|s| s.open_holds) == Some(1)
                || engine.active_calls() == 0
        )
        .await
    );
    assert!(
        eventually(async || calendar_size(&engine, slot.staff_id).await.1 == 0).await,
        "hold released"
    );
    assert_eq!(engine.active_calls(), 0);
}

#[actix_rt::test]
async fn a_new_number_routes_after_a_reload_without_a_restart() {
    let (engine, store, f) = start(EngineSettings::default()).await;
    let new = E164Number::parse("+493099999999").expect("valid");
    let call = InboundCall {
        to_number: &new,
        from_number: None,
        agent_id: None,
        explicit_branch: None,
        caller_history: None,
    };
    assert!(matches!(engine.route(&call), Routing::Unrouted(_)));
    let number = PhoneNumber {
        number: new.clone(),
        company_id: f.company.id,
        branch_id: Some(f.branches[1].id),
        retell_agent_id: None,
    };
    store.upsert_phone_number(&number).await.expect("stored");
    engine.reload(Some(f.company.id)).await.expect("reloaded");
    assert!(matches!(engine.route(&call), Routing::Routed(r) if r.branch_id == f.branches[1].id));
}

#[actix_rt::test]
async fn a_staff_actor_that_fails_mid_load_comes_back_with_every_booking_and_others_keep_serving() {
    let (engine, store, f) = start(EngineSettings::default()).await;
    let day = booking_day();
    let (anna, clara) = (f.staff[0].id, f.staff[2].id);
    let before = request(&f, Some(anna), local(day, 8, 15), "call_before");
    let BookingOutcome::Booked(first) = engine.book(&before, Utc::now()).await.expect("book")
    else {
        panic!("booked")
    };
    // A hold lives only in the actor's memory: its disappearance proves the actor was rebuilt.
    let evening = callflow_actors::domain::slot_id::SlotRef {
        staff_id: anna,
        service_id: f.cleaning.id,
        start: local(day, 15, 0),
    };
    let holder = CallId::parse("call_holding").expect("valid");
    engine
        .hold(&holder, &evening, Utc::now())
        .await
        .expect("engine")
        .expect("held");
    assert_eq!(calendar_size(&engine, anna).await.1, 1);

    // Load on both branches: Anna's 15-minute grid in the north, Clara's in the south.
    let mut tasks = Vec::new();
    for i in 0..32u32 {
        let start_at = local(day, 9 + i / 4, (i % 4) * 15);
        let mut north = request(&f, Some(anna), start_at, &format!("call_n{i}"));
        north.idempotency_key = Some(format!("north-{i}"));
        let mut south = request(&f, Some(clara), start_at, &format!("call_s{i}"));
        south.branch_id = f.branches[1].id;
        south.idempotency_key = Some(format!("south-{i}"));
        for req in [north, south] {
            let engine = engine.clone();
            tasks.push(actix_rt::spawn(async move {
                (req.branch_id, engine.book(&req, Utc::now()).await)
            }));
        }
        if i == 8 {
            engine
                .staff_actor(anna)
                .expect("actor")
                .do_send(SimulateFailure);
        }
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        let (branch, outcome) = task.await.expect("task ran");
        match outcome {
            Ok(BookingOutcome::Booked(a)) => acknowledged.push(a),
            Ok(_) => {}
            // Only the failing actor's own requests may see it gone; the other branch never does.
            Err(e) => assert_eq!(
                branch, f.branches[0].id,
                "the south branch was affected: {e}"
            ),
        }
    }
    assert!(
        acknowledged.iter().any(|a| a.staff_id == clara),
        "the other branch kept booking"
    );
    for a in acknowledged.iter().chain([&first]) {
        assert!(
            store.appointment(a.id).await.expect("read").is_some(),
            "acknowledged booking {} was lost",
            a.id
        );
    }
    // Anna's actor is back, its calendar rebuilt from the store: it knows every booking of hers.
    let stored = store
        .staff_appointments(anna, local(day, 0, 0), local(day, 23, 0))
        .await
        .expect("read");
    assert!(
        eventually(async || calendar_size(&engine, anna).await == (stored.len(), 0)).await,
        "rebuilt from the store"
    );
    match engine.book(&before, Utc::now()).await.expect("book") {
        BookingOutcome::Taken(_) => {}
        other => panic!("the restarted actor must still block the first booking, got {other:?}"),
    }
}

/// While the database is unavailable a call-log flush gives up after a bounded number of tries
/// instead of holding the persistence mailbox (and every appointment commit queued in it)
/// forever; the writes are kept and stored once the database is back.
#[actix_rt::test]
async fn an_unavailable_database_delays_call_log_writes_for_a_bounded_time_and_loses_none() {
    let (engine, store, _) = start(EngineSettings::default()).await;
    store.set_failing(true);
    let id = CallId::parse("call_logged_during_an_outage").expect("valid");
    engine
        .log_call(CallLogWrite::Call(Call::registered(id.clone())))
        .await
        .expect("queued");
    // A guard against a hang, not a measurement: before the bound this never returned.
    tokio::time::timeout(StdDuration::from_secs(30), engine.flush())
        .await
        .expect("the flush gives up after bounded tries")
        .expect("the engine answers");
    // Writes queued meanwhile wait behind the kept ones, and the next flush is bounded too.
    let later = CallId::parse("call_logged_later_in_the_outage").expect("valid");
    engine
        .log_call(CallLogWrite::Call(Call::registered(later.clone())))
        .await
        .expect("queued");
    tokio::time::timeout(StdDuration::from_secs(30), engine.flush())
        .await
        .expect("the flush gives up after bounded tries")
        .expect("the engine answers");
    store.set_failing(false);
    engine.flush().await.expect("the engine answers");
    for id in [id, later] {
        assert!(
            store.call(&id).await.expect("read").is_some(),
            "the kept write {id} is stored once the database is back"
        );
    }
}
