//! Double booking is impossible through the engine on a real database: 500 simultaneous attempts
//! on one slot, and two engines (two nodes, each with its own staff actors) sharing one database,
//! where only the database can decide.

use crate::helpers::on_both_backends;
use crate::helpers::TestDb;
use callflow::seed::{self, Demo};
use callflow_actors::domain::*;
use callflow_actors::{BookingOutcome, BookingRequest, Engine, EngineSettings, Store};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use std::sync::Arc;

/// 10:00 on the first working day at least two days ahead (clear of notice and holidays).
fn slot_start(demo: &Demo) -> DateTime<Utc> {
    let holidays: Vec<_> = demo.branches[0]
        .date_overrides
        .iter()
        .map(|o| o.date)
        .collect();
    let mut day = (Utc::now() + Duration::days(2))
        .with_timezone(&Berlin)
        .date_naive();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) || holidays.contains(&day) {
        day = day.succ_opt().expect("a later day exists");
    }
    let local = day.and_hms_opt(10, 0, 0).expect("valid time");
    Berlin
        .from_local_datetime(&local)
        .earliest()
        .expect("10:00 exists")
        .with_timezone(&Utc)
}

/// A booking of the demo's cleaning with Mehmet Yılmaz in Berlin.
fn request(demo: &Demo, start: DateTime<Utc>, call: &str) -> BookingRequest {
    BookingRequest {
        company_id: demo.company.id,
        branch_id: demo.branches[0].id,
        service_id: demo.services[1].id,
        staff_id: Some(demo.staff[1].id),
        start,
        customer_id: demo.customers[0].id,
        call_id: CallId::parse(call).ok(),
        idempotency_key: None,
        notes: None,
        language: Some(Language::DE),
    }
}

async fn seeded(db: &TestDb) -> (Arc<dyn Store>, Demo) {
    let store = db.store().await;
    seed::seed_demo(&*store).await.expect("demo seeds");
    (store, seed::demo_data())
}

fn count(outcomes: &[BookingOutcome]) -> (usize, usize) {
    let booked = outcomes
        .iter()
        .filter(|o| matches!(o, BookingOutcome::Booked(_)))
        .count();
    let taken = outcomes
        .iter()
        .filter(|o| matches!(o, BookingOutcome::Taken(a) if !a.slots.is_empty()))
        .count();
    (booked, taken)
}

async fn five_hundred_attempts_book_once(db: TestDb) {
    let (store, demo) = seeded(&db).await;
    let engine = Engine::start(store.clone(), EngineSettings::default())
        .await
        .expect("engine starts");
    let start = slot_start(&demo);
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let (engine, req) = (engine.clone(), request(&demo, start, &format!("call_{i}")));
            actix_web::rt::spawn(async move {
                engine
                    .book(&req, Utc::now())
                    .await
                    .expect("no engine error")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task ran"));
    }
    assert_eq!(
        count(&outcomes),
        (1, 499),
        "one booking, 499 answers with alternatives"
    );
    let stored = store
        .staff_appointments(
            demo.staff[1].id,
            start - Duration::hours(2),
            start + Duration::hours(2),
        )
        .await;
    assert_eq!(stored.expect("read").len(), 1);
}

async fn two_engines_sharing_a_database_book_once(db: TestDb) {
    let (store, demo) = seeded(&db).await;
    let node_a = Engine::start(store.clone(), EngineSettings::default())
        .await
        .expect("node A starts");
    let node_b = Engine::start(db.store().await, EngineSettings::default())
        .await
        .expect("node B starts");
    let start = slot_start(&demo);
    // Each node's staff actor grants its own hold: only the database can refuse the second.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let engine = if i % 2 == 0 {
                node_a.clone()
            } else {
                node_b.clone()
            };
            let req = request(&demo, start, &format!("call_{i}"));
            actix_web::rt::spawn(async move {
                engine
                    .book(&req, Utc::now())
                    .await
                    .expect("no engine error")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task ran"));
    }
    assert_eq!(
        count(&outcomes).0,
        1,
        "exactly one booking across both nodes"
    );
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, BookingOutcome::Booked(_) | BookingOutcome::Taken(_))));
    let stored = store
        .staff_appointments(
            demo.staff[1].id,
            start - Duration::hours(2),
            start + Duration::hours(2),
        )
        .await;
    assert_eq!(stored.expect("read").len(), 1);
    // Both nodes have learned the booking: neither offers that time with that staff member now.
    for node in [&node_a, &node_b] {
        let local = start.with_timezone(&Berlin).date_naive();
        let query = callflow_actors::SlotQuery {
            branch_id: demo.branches[0].id,
            service_id: demo.services[1].id,
            from: local,
            to: local,
            wanted: Some(start),
            window: None,
            preferred_staff: Some(demo.staff[1].id),
            only_staff: None,
            language: None,
            served_before: Vec::new(),
            other_branches: false,
        };
        let offer = node.find_slots(&query, Utc::now()).await.expect("slots");
        assert!(!offer
            .slots
            .iter()
            .any(|s| s.start == start && s.staff_id == demo.staff[1].id));
    }
}

on_both_backends!(five_hundred_attempts_book_once);

on_both_backends!(two_engines_sharing_a_database_book_once);
