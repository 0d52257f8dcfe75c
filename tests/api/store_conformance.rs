//! One conformance suite for the `Store`, run against every implementation: the in-memory
//! store, SQLite and Postgres. The engine and the server must not be able to tell them apart.

use callflow::seed::{self, Demo};
use callflow_actors::domain::callback::{merge, new_callback, CallbackDraft, CallbackPolicy};
use callflow_actors::domain::*;
use callflow_actors::{CallLogWrite, CallbackFilter, Opened, Recorded, Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;

/// Generates one test per case and implementation: `memory::case`, `sqlite::case` and
/// `postgres::case`.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod memory {
            $(
                #[actix_web::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(callflow_actors::memory_store::MemoryStore::new())).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $case() {
                    let db = crate::helpers::TestDb::sqlite();
                    super::$case(db.store().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $case() {
                    let Some(db) = crate::helpers::TestDb::postgres().await else { return };
                    super::$case(db.store().await).await;
                }
            )+
        }
    };
}

conformance!(
    seeding_the_demo_twice_changes_nothing,
    branches_read_back_exactly_as_written,
    customers_are_found_by_phone_within_their_own_company_only,
    overlapping_appointments_for_one_staff_member_are_refused,
    cancelling_an_appointment_frees_its_time,
    the_same_idempotency_key_returns_the_first_appointment,
    concurrent_bookings_of_one_slot_yield_exactly_one_appointment,
    call_updates_keep_known_fields_and_never_move_backwards,
    a_redelivered_call_event_is_recorded_once,
    unprocessed_call_events_come_oldest_first_until_marked_processed,
    callbacks_list_most_urgent_first_then_oldest_and_stay_within_their_company,
    callback_lists_filter_by_status_branch_and_assignee_and_honour_the_limit,
    opening_a_callback_for_a_new_number_creates_it,
    a_repeat_request_within_the_window_merges_into_the_open_callback,
    a_request_after_the_window_or_after_closing_opens_a_new_callback,
    sixteen_concurrent_requests_for_one_number_leave_exactly_one_callback,
    the_same_number_at_another_company_opens_its_own_callback,
    revoked_api_tokens_are_not_found,
    audit_entries_read_back_newest_first,
    a_call_log_batch_applies_in_order_and_dedupes_events,
    caller_history_is_the_branch_of_the_latest_appointment_or_call,
    updating_a_callback_succeeds_once_per_version,
    updating_a_callback_never_touches_another_companys,
    open_callbacks_are_counted_per_assignee_and_paged_by_deadline,
    an_escalation_is_written_with_its_callback_or_not_at_all,
    staff_who_served_a_customer_come_most_recent_first,
    staff_are_found_by_company_and_never_across_companies,
);

async fn seeded(store: &Arc<dyn Store>) -> Demo {
    seed::seed_demo(&**store).await.expect("demo seeds");
    seed::demo_data()
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 3, hour, minute, 0)
        .single()
        .expect("valid time")
}

/// A 30-minute appointment with 5-minute buffers on both sides, for staff member `staff`.
fn appointment(demo: &Demo, staff: usize, start: DateTime<Utc>, key: Option<&str>) -> Appointment {
    let staff = &demo.staff[staff];
    Appointment {
        id: AppointmentId::new(),
        company_id: demo.company.id,
        branch_id: staff.branch_id,
        staff_id: staff.id,
        customer_id: demo.customers[0].id,
        service_id: demo.services[0].id,
        starts_at: start,
        ends_at: start + Duration::minutes(30),
        blocked_from: start - Duration::minutes(5),
        blocked_until: start + Duration::minutes(35),
        status: AppointmentStatus::Booked,
        source_call_id: CallId::parse("call_test").ok(),
        idempotency_key: key.map(str::to_owned),
        assignment_reason: Some("test".into()),
        notes: Some("Patient hat empfindliche Zähne.".into()),
        created_at: at(8, 0),
    }
}

async fn seeding_the_demo_twice_changes_nothing(store: Arc<dyn Store>) {
    let first = seed::seed_demo(&*store).await.expect("first seed");
    let second = seed::seed_demo(&*store).await.expect("second seed");
    assert_eq!(first, second);
    assert_eq!(store.list_companies().await.expect("companies").len(), 1);
    assert_eq!(store.list_branches(None).await.expect("branches").len(), 3);
    assert_eq!(store.list_staff(None).await.expect("staff").len(), 12);
    assert_eq!(store.list_phone_numbers().await.expect("numbers").len(), 3);
    assert!(
        !seed::seed_demo_if_empty(&*store).await.expect("check"),
        "a seeded database is not empty"
    );
}

async fn branches_read_back_exactly_as_written(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let mut stored = store
        .list_branches(Some(demo.company.id))
        .await
        .expect("branches");
    let mut expected = demo.branches.clone();
    stored.sort_by_key(|b| b.id);
    expected.sort_by_key(|b| b.id);
    assert_eq!(stored, expected);
    let company = store
        .company_by_slug("praxis-mueller")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(company, demo.company);
    let berlin_staff = store
        .list_staff(Some(demo.branches[0].id))
        .await
        .expect("staff");
    assert_eq!(berlin_staff.len(), 4);
    assert!(berlin_staff.iter().all(|s| demo.staff.contains(s)));
    let mut services = store
        .list_services(demo.company.id)
        .await
        .expect("services");
    services.sort_by_key(|s| s.id);
    let mut expected = demo.services.clone();
    expected.sort_by_key(|s| s.id);
    assert_eq!(services, expected);
}

async fn customers_are_found_by_phone_within_their_own_company_only(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let phone = E164Number::parse(seed::JUERGEN_NUMBER).expect("valid");
    let found = store
        .customer_by_phone(demo.company.id, &phone)
        .await
        .expect("read");
    assert_eq!(found.as_ref(), Some(&demo.customers[0]));
    let other = Company {
        id: CompanyId::new(),
        name: "Other".into(),
        slug: "other".into(),
        default_branch_id: None,
    };
    store.upsert_company(&other).await.expect("other company");
    assert_eq!(
        store
            .customer_by_phone(other.id, &phone)
            .await
            .expect("read"),
        None
    );
    let duplicate = Customer {
        id: CustomerId::new(),
        ..demo.customers[0].clone()
    };
    assert!(matches!(
        store.upsert_customer(&duplicate).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn overlapping_appointments_for_one_staff_member_are_refused(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let first = store
        .insert_appointment(&appointment(&demo, 0, at(9, 0), None))
        .await
        .expect("free slot");
    assert_eq!(
        store.appointment(first.id).await.expect("read").as_ref(),
        Some(&first)
    );

    // 09:20 overlaps 09:00-09:30; 09:35 overlaps the 5-minute buffers on both sides.
    for start in [at(9, 20), at(9, 35), at(8, 30)] {
        let clash = store
            .insert_appointment(&appointment(&demo, 0, start, None))
            .await;
        assert!(
            matches!(clash, Err(StoreError::Conflict(_))),
            "{start} must be refused: {clash:?}"
        );
    }
    // Buffers touching is fine: 09:40 blocks from 09:35, where the first one's block ends.
    store
        .insert_appointment(&appointment(&demo, 0, at(9, 40), None))
        .await
        .expect("adjacent slot");
    // Another staff member at the same time is fine.
    store
        .insert_appointment(&appointment(&demo, 1, at(9, 0), None))
        .await
        .expect("other staff");

    let day = store
        .staff_appointments(demo.staff[0].id, at(0, 0), at(23, 0))
        .await
        .expect("calendar");
    assert_eq!(
        day.iter().map(|a| a.starts_at).collect::<Vec<_>>(),
        [at(9, 0), at(9, 40)]
    );
}

async fn cancelling_an_appointment_frees_its_time(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let booked = store
        .insert_appointment(&appointment(&demo, 0, at(10, 0), None))
        .await
        .expect("booked");
    let cancelled = store
        .set_appointment_status(booked.id, AppointmentStatus::Cancelled)
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert!(store
        .staff_appointments(demo.staff[0].id, at(0, 0), at(23, 0))
        .await
        .expect("read")
        .is_empty());
    store
        .insert_appointment(&appointment(&demo, 0, at(10, 0), None))
        .await
        .expect("time is free again");
    assert_eq!(
        store
            .set_appointment_status(AppointmentId::new(), AppointmentStatus::Cancelled)
            .await
            .expect("update"),
        None
    );
}

async fn the_same_idempotency_key_returns_the_first_appointment(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let first = store
        .insert_appointment(&appointment(&demo, 0, at(11, 0), Some("call_x:book:abc")))
        .await
        .expect("booked");
    let retry = store
        .insert_appointment(&appointment(&demo, 0, at(11, 0), Some("call_x:book:abc")))
        .await
        .expect("retry");
    assert_eq!(retry.id, first.id);
    let by_key = store
        .appointment_by_key(demo.company.id, "call_x:book:abc")
        .await
        .expect("read");
    assert_eq!(by_key.map(|a| a.id), Some(first.id));
    assert_eq!(
        store
            .appointment_by_key(CompanyId::new(), "call_x:book:abc")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .staff_appointments(demo.staff[0].id, at(0, 0), at(23, 0))
            .await
            .expect("read")
            .len(),
        1
    );
}

async fn concurrent_bookings_of_one_slot_yield_exactly_one_appointment(store: Arc<dyn Store>) {
    let demo = Arc::new(seeded(&store).await);
    let attempts: Vec<_> = (0..24)
        .map(|_| {
            let (store, demo) = (store.clone(), demo.clone());
            actix_web::rt::spawn(async move {
                store
                    .insert_appointment(&appointment(&demo, 0, at(14, 0), None))
                    .await
            })
        })
        .collect();
    let mut booked = 0;
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            Ok(_) => booked += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(booked, 1);
    assert_eq!(
        store
            .staff_appointments(demo.staff[0].id, at(0, 0), at(23, 0))
            .await
            .expect("read")
            .len(),
        1
    );
}

async fn call_updates_keep_known_fields_and_never_move_backwards(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let id = CallId::parse("call_bb3bb233d7f204595a9201d0b7").expect("valid");
    let started = Call {
        company_id: Some(demo.company.id),
        branch_id: Some(demo.branches[0].id),
        from_number: E164Number::parse(seed::JUERGEN_NUMBER).ok(),
        to_number: E164Number::parse(seed::BERLIN_NUMBER).ok(),
        language: Some(Language::DE),
        status: CallStatus::Ongoing,
        started_at: Some(at(9, 0)),
        ..Call::registered(id.clone())
    };
    store.upsert_call(&started).await.expect("started");
    let ended = Call {
        status: CallStatus::Ended,
        ended_at: Some(at(9, 2)),
        duration_ms: Some(65_200),
        disconnection_reason: Some("user_hangup".into()),
        transcript: Some("Agent: Guten Tag …".into()),
        ..Call::registered(id.clone())
    };
    store.upsert_call(&ended).await.expect("ended");
    // A late redelivery of call_started must not reopen the call.
    store.upsert_call(&started).await.expect("redelivered");
    let stored = store.call(&id).await.expect("read").expect("exists");
    assert_eq!(stored.status, CallStatus::Ended);
    assert_eq!(
        stored.branch_id,
        Some(demo.branches[0].id),
        "kept from the first event"
    );
    assert_eq!(stored.duration_ms, Some(65_200));
    assert_eq!(stored.disconnection_reason.as_deref(), Some("user_hangup"));
    assert_eq!(stored.started_at, Some(at(9, 0)));
}

async fn a_redelivered_call_event_is_recorded_once(store: Arc<dyn Store>) {
    let event = CallEvent {
        call_id: CallId::parse("call_1").expect("valid"),
        event: "call_ended".into(),
        dedupe_key: "call_ended:call_1".into(),
        payload: serde_json::json!({"event": "call_ended", "call": {"call_id": "call_1", "note": "Grüße"}}),
        received_at: at(9, 0),
    };
    assert_eq!(
        store.record_call_event(&event).await.expect("first"),
        Recorded::New
    );
    assert_eq!(
        store.record_call_event(&event).await.expect("again"),
        Recorded::Duplicate
    );
    let other = CallEvent {
        dedupe_key: "call_analyzed:call_1".into(),
        event: "call_analyzed".into(),
        ..event
    };
    assert_eq!(
        store.record_call_event(&other).await.expect("other event"),
        Recorded::New
    );
}

async fn unprocessed_call_events_come_oldest_first_until_marked_processed(store: Arc<dyn Store>) {
    let event = |name: &str, received_at: DateTime<Utc>| CallEvent {
        call_id: CallId::parse("call_replay").expect("valid"),
        event: name.into(),
        dedupe_key: format!("{name}:call_replay"),
        payload: serde_json::json!({"event": name, "call": {"call_id": "call_replay", "note": "Grüße"}}),
        received_at,
    };
    // Recorded out of order: the list is by receipt time, not by insertion.
    let ended = event("call_ended", at(9, 5));
    let started = event("call_started", at(9, 0));
    let analyzed = event("call_analyzed", at(9, 10));
    for e in [&ended, &started, &analyzed] {
        assert_eq!(
            store.record_call_event(e).await.expect("recorded"),
            Recorded::New
        );
    }
    let pending = |before: DateTime<Utc>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .unprocessed_call_events(before, limit)
                .await
                .expect("read")
        }
    };
    assert_eq!(
        pending(at(9, 10), 10).await,
        vec![started.clone(), ended.clone()],
        "oldest first, and only those received before the cut-off"
    );
    assert_eq!(pending(at(12, 0), 1).await, vec![started.clone()]);
    store
        .mark_call_event_processed(&started.dedupe_key, at(9, 1))
        .await
        .expect("marked");
    store
        .mark_call_event_processed(&started.dedupe_key, at(11, 0))
        .await
        .expect("marking again is fine");
    store
        .mark_call_event_processed("call_ended:never_received", at(9, 1))
        .await
        .expect("an unknown key is no error");
    assert_eq!(
        pending(at(12, 0), 10).await,
        vec![ended.clone(), analyzed.clone()]
    );
    for e in [&ended, &analyzed] {
        store
            .mark_call_event_processed(&e.dedupe_key, at(12, 0))
            .await
            .expect("marked");
    }
    assert!(pending(at(12, 0), 10).await.is_empty());
    assert_eq!(
        store.record_call_event(&started).await.expect("again"),
        Recorded::Duplicate,
        "a processed event still dedupes its redelivery"
    );
}

fn callback(demo: &Demo, priority: Priority, created_at: DateTime<Utc>) -> CallbackRequest {
    CallbackRequest {
        id: CallbackId::new(),
        company_id: demo.company.id,
        branch_id: Some(demo.branches[0].id),
        customer_id: Some(demo.customers[0].id),
        phone: demo.customers[0].phone.clone(),
        name: Some("Jürgen Weiß".into()),
        reason: "Termin zur Zahnreinigung".into(),
        notes: None,
        priority,
        status: CallbackStatus::Pending,
        assigned_staff_id: None,
        assignment_reason: None,
        language: Some(Language::DE),
        source_call_id: None,
        scheduled_for: None,
        due_at: created_at + Duration::hours(24),
        attempts: 0,
        escalation_level: 0,
        version: 1,
        created_at,
        updated_at: created_at,
        assigned_at: None,
        contacted_at: None,
        completed_at: None,
    }
}

async fn callbacks_list_most_urgent_first_then_oldest_and_stay_within_their_company(
    store: Arc<dyn Store>,
) {
    let demo = seeded(&store).await;
    let old_normal = callback(&demo, Priority::Normal, at(8, 0));
    let new_urgent = callback(&demo, Priority::Urgent, at(10, 0));
    let old_high = callback(&demo, Priority::High, at(8, 30));
    let new_high = callback(&demo, Priority::High, at(9, 30));
    for cb in [&old_normal, &new_urgent, &new_high, &old_high] {
        store.insert_callback(cb).await.expect("stored");
    }
    let listed: Vec<_> = store
        .list_callbacks(demo.company.id)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        listed,
        [new_urgent.id, old_high.id, new_high.id, old_normal.id]
    );
    assert_eq!(
        store
            .callback(demo.company.id, old_normal.id)
            .await
            .expect("read"),
        Some(old_normal.clone())
    );
    assert_eq!(
        store
            .callback(CompanyId::new(), old_normal.id)
            .await
            .expect("read"),
        None
    );
    assert!(store
        .list_callbacks(CompanyId::new())
        .await
        .expect("list")
        .is_empty());
}

async fn revoked_api_tokens_are_not_found(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let token = ApiToken {
        id: TokenId::new(),
        company_id: demo.company.id,
        role: Role::Manager,
        staff_id: Some(demo.staff[0].id),
        branch_id: Some(demo.branches[0].id),
        name: "front desk".into(),
        token_hash: "a".repeat(64),
        created_at: at(8, 0),
        revoked_at: None,
    };
    store.insert_api_token(&token).await.expect("stored");
    assert_eq!(
        store
            .api_token_by_hash(&token.token_hash)
            .await
            .expect("read"),
        Some(token.clone())
    );
    let revoked = ApiToken {
        id: TokenId::new(),
        token_hash: "b".repeat(64),
        revoked_at: Some(at(9, 0)),
        ..token
    };
    store.insert_api_token(&revoked).await.expect("stored");
    assert_eq!(
        store
            .api_token_by_hash(&revoked.token_hash)
            .await
            .expect("read"),
        None
    );
}

async fn audit_entries_read_back_newest_first(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let entry = |action: &str, minute: u32| AuditEntry {
        company_id: demo.company.id,
        token_id: None,
        action: action.into(),
        entity_type: "callback".into(),
        entity_id: "cb-1".into(),
        old_value: Some(serde_json::json!({"status": "pending"})),
        new_value: Some(serde_json::json!({"status": "assigned", "note": "Rückruf"})),
        ip: Some("127.0.0.1".into()),
        at: at(9, minute),
    };
    store
        .append_audit(&entry("callback.create", 0))
        .await
        .expect("stored");
    store
        .append_audit(&entry("callback.assign", 5))
        .await
        .expect("stored");
    let log = store.list_audit(demo.company.id, 10).await.expect("read");
    assert_eq!(
        log,
        [entry("callback.assign", 5), entry("callback.create", 0)]
    );
    assert_eq!(
        store
            .list_audit(demo.company.id, 1)
            .await
            .expect("read")
            .len(),
        1
    );
}

async fn a_call_log_batch_applies_in_order_and_dedupes_events(store: Arc<dyn Store>) {
    let id = CallId::parse("call_batch").expect("valid");
    let event = |name: &str| CallEvent {
        call_id: id.clone(),
        event: name.into(),
        dedupe_key: format!("{name}:call_batch"),
        payload: serde_json::json!({"event": name}),
        received_at: at(9, 0),
    };
    let batch = [
        CallLogWrite::Event(event("call_started")),
        CallLogWrite::Call(Call {
            status: CallStatus::Ongoing,
            started_at: Some(at(9, 0)),
            ..Call::registered(id.clone())
        }),
        CallLogWrite::Event(event("call_started")),
        CallLogWrite::Call(Call {
            status: CallStatus::Ended,
            duration_ms: Some(1_000),
            ..Call::registered(id.clone())
        }),
    ];
    store.apply_call_log(&batch).await.expect("batch applies");
    let call = store.call(&id).await.expect("read").expect("exists");
    assert_eq!(
        (call.status, call.started_at, call.duration_ms),
        (CallStatus::Ended, Some(at(9, 0)), Some(1_000))
    );
    assert_eq!(
        store
            .record_call_event(&event("call_started"))
            .await
            .expect("read"),
        Recorded::Duplicate
    );
}

async fn caller_history_is_the_branch_of_the_latest_appointment_or_call(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let juergen = demo.customers[0].phone.clone();
    // The seed gives Jürgen a past appointment in Berlin.
    let berlin = demo.branches[0].id;
    assert_eq!(
        store
            .caller_history(demo.company.id, &juergen)
            .await
            .expect("read"),
        Some(berlin)
    );
    let hamburg = demo.branches[1].id;
    let call = Call {
        company_id: Some(demo.company.id),
        branch_id: Some(hamburg),
        from_number: Some(juergen.clone()),
        status: CallStatus::Ended,
        started_at: Some(Utc::now()),
        ..Call::registered(CallId::parse("call_recent").expect("valid"))
    };
    store.upsert_call(&call).await.expect("stored");
    assert_eq!(
        store
            .caller_history(demo.company.id, &juergen)
            .await
            .expect("read"),
        Some(hamburg)
    );
    let stranger = E164Number::parse("+4917000000001").expect("valid");
    assert_eq!(
        store
            .caller_history(demo.company.id, &stranger)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .caller_history(CompanyId::new(), &juergen)
            .await
            .expect("read"),
        None
    );
}

async fn callback_lists_filter_by_status_branch_and_assignee_and_honour_the_limit(
    store: Arc<dyn Store>,
) {
    let demo = seeded(&store).await;
    let pending = callback(&demo, Priority::Normal, at(8, 0));
    let assigned = CallbackRequest {
        status: CallbackStatus::Assigned,
        assigned_staff_id: Some(demo.staff[0].id),
        ..callback(&demo, Priority::High, at(8, 30))
    };
    let elsewhere = CallbackRequest {
        branch_id: Some(demo.branches[1].id),
        ..callback(&demo, Priority::Urgent, at(9, 0))
    };
    for cb in [&pending, &assigned, &elsewhere] {
        store.insert_callback(cb).await.expect("stored");
    }
    let ids = |filter: CallbackFilter| {
        let store = store.clone();
        async move {
            store
                .find_callbacks(demo.company.id, &filter)
                .await
                .expect("list")
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(CallbackFilter {
            status: Some(CallbackStatus::Pending),
            ..CallbackFilter::default()
        })
        .await,
        [elsewhere.id, pending.id]
    );
    assert_eq!(
        ids(CallbackFilter {
            branch_id: Some(demo.branches[0].id),
            ..CallbackFilter::default()
        })
        .await,
        [assigned.id, pending.id]
    );
    assert_eq!(
        ids(CallbackFilter {
            assigned_staff_id: Some(demo.staff[0].id),
            ..CallbackFilter::default()
        })
        .await,
        [assigned.id]
    );
    assert_eq!(
        ids(CallbackFilter {
            limit: 1,
            ..CallbackFilter::default()
        })
        .await,
        [elsewhere.id]
    );
}

fn draft(demo: &Demo, company: CompanyId, reason: &str) -> CallbackDraft {
    CallbackDraft {
        company_id: company,
        branch_id: Some(demo.branches[0].id),
        customer_id: None,
        phone: demo.customers[1].phone.clone(),
        name: None,
        reason: reason.into(),
        notes: None,
        priority: None,
        language: Some(Language::DE),
        source_call_id: None,
        scheduled_for: None,
    }
}

/// Opens a callback through the store the way the server does: a candidate row, and the merge
/// rule for an open one.
async fn open(
    store: &Arc<dyn Store>,
    draft: &CallbackDraft,
    priority: Priority,
    now: DateTime<Utc>,
) -> (CallbackRequest, Opened) {
    let policy = CallbackPolicy::default();
    let candidate = new_callback(CallbackId::new(), draft, priority, &policy, now);
    let merge_into = |existing: &CallbackRequest| merge(existing, draft, priority, &policy, now);
    store
        .open_callback(&candidate, policy.merge_since(now), &merge_into)
        .await
        .expect("opened")
}

async fn all_callbacks(store: &Arc<dyn Store>, company: CompanyId) -> Vec<CallbackRequest> {
    store.list_callbacks(company).await.expect("list")
}

async fn opening_a_callback_for_a_new_number_creates_it(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let (created, opened) = open(
        &store,
        &draft(&demo, demo.company.id, "Termin"),
        Priority::High,
        at(8, 0),
    )
    .await;
    assert_eq!(opened, Opened::Created);
    assert_eq!(created.status, CallbackStatus::Pending);
    assert_eq!(created.due_at, at(12, 0));
    assert_eq!(
        store
            .callback(demo.company.id, created.id)
            .await
            .expect("read"),
        Some(created)
    );
}

async fn a_repeat_request_within_the_window_merges_into_the_open_callback(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let (first, _) = open(
        &store,
        &draft(&demo, demo.company.id, "Termin"),
        Priority::Normal,
        at(8, 0),
    )
    .await;
    let again = CallbackDraft {
        name: Some("Aylin Kaya".into()),
        notes: Some("Zahn abgebrochen".into()),
        ..draft(&demo, demo.company.id, "dringend")
    };
    let (merged, opened) = open(&store, &again, Priority::High, at(9, 59)).await;
    assert_eq!(opened, Opened::Merged);
    assert_eq!(merged.id, first.id);
    assert_eq!(merged.priority, Priority::High);
    assert_eq!(merged.version, 2);
    assert_eq!(merged.name.as_deref(), Some("Aylin Kaya"));
    assert_eq!(
        merged.notes.as_deref(),
        Some("[2030-06-03 09:59 UTC] repeat request: dringend\nZahn abgebrochen")
    );
    let stored = store
        .callback(demo.company.id, first.id)
        .await
        .expect("read");
    assert_eq!(stored, Some(merged), "the merge is what was stored");
    assert_eq!(all_callbacks(&store, demo.company.id).await.len(), 1);
}

async fn a_request_after_the_window_or_after_closing_opens_a_new_callback(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let d = draft(&demo, demo.company.id, "Termin");
    let (first, _) = open(&store, &d, Priority::Normal, at(8, 0)).await;
    let (second, opened) = open(&store, &d, Priority::Normal, at(10, 1)).await;
    assert_eq!(opened, Opened::Created, "two hours and a minute later");
    assert_ne!(second.id, first.id);

    let closed = CallbackRequest {
        status: CallbackStatus::Completed,
        ..callback(&demo, Priority::Normal, at(11, 0))
    };
    store.insert_callback(&closed).await.expect("stored");
    let closed_draft = CallbackDraft {
        phone: closed.phone.clone(),
        ..d
    };
    let (third, opened) = open(&store, &closed_draft, Priority::Normal, at(11, 5)).await;
    assert_eq!(
        opened,
        Opened::Created,
        "a completed callback absorbs nothing"
    );
    assert_ne!(third.id, closed.id);
    assert_eq!(all_callbacks(&store, demo.company.id).await.len(), 4);
}

async fn sixteen_concurrent_requests_for_one_number_leave_exactly_one_callback(
    store: Arc<dyn Store>,
) {
    let demo = Arc::new(seeded(&store).await);
    let attempts: Vec<_> = (0..16)
        .map(|i| {
            let (store, demo) = (store.clone(), demo.clone());
            actix_web::rt::spawn(async move {
                let d = draft(&demo, demo.company.id, &format!("Anfrage {i}"));
                open(&store, &d, Priority::Normal, at(8, 0)).await
            })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        let (_, opened) = attempt.await.expect("task ran");
        if opened == Opened::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let stored = all_callbacks(&store, demo.company.id).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].version, 16, "every other request merged in");
    let notes = stored[0].notes.as_deref().unwrap_or_default();
    assert_eq!(notes.lines().count(), 15, "{notes}");
}

async fn the_same_number_at_another_company_opens_its_own_callback(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let other = Company {
        id: CompanyId::new(),
        name: "Salon Kaya".into(),
        slug: "salon-kaya".into(),
        default_branch_id: None,
    };
    store.upsert_company(&other).await.expect("stored");
    let ours = open(
        &store,
        &draft(&demo, demo.company.id, "Termin"),
        Priority::Normal,
        at(8, 0),
    )
    .await;
    let theirs_draft = CallbackDraft {
        branch_id: None,
        ..draft(&demo, other.id, "Termin")
    };
    let theirs = open(&store, &theirs_draft, Priority::Normal, at(8, 5)).await;
    assert_eq!(theirs.1, Opened::Created);
    assert_ne!(theirs.0.id, ours.0.id);
    assert_eq!(all_callbacks(&store, demo.company.id).await.len(), 1);
    assert_eq!(all_callbacks(&store, other.id).await.len(), 1);
    assert_eq!(
        store.callback(other.id, ours.0.id).await.expect("read"),
        None
    );
}

async fn updating_a_callback_succeeds_once_per_version(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let original = callback(&demo, Priority::Normal, at(8, 0));
    store.insert_callback(&original).await.expect("stored");
    let changed = CallbackRequest {
        status: CallbackStatus::Assigned,
        assigned_staff_id: Some(demo.staff[0].id),
        assignment_reason: Some("assigned manually".into()),
        notes: Some("[2030-06-03 09:00 UTC] assigned".into()),
        attempts: 1,
        version: original.version + 1,
        updated_at: at(9, 0),
        assigned_at: Some(at(9, 0)),
        // Identity, phone and creation time are never written.
        phone: E164Number::parse("+4930999999").expect("valid"),
        created_at: at(1, 0),
        ..original.clone()
    };
    assert!(store
        .update_callback(&changed, original.version)
        .await
        .expect("update"));
    let stored = store
        .callback(demo.company.id, original.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        stored,
        CallbackRequest {
            phone: original.phone.clone(),
            created_at: original.created_at,
            ..changed.clone()
        }
    );

    // A second writer that read version 1 too loses: nothing is written.
    let stale = CallbackRequest {
        status: CallbackStatus::Cancelled,
        version: original.version + 1,
        ..original.clone()
    };
    assert!(!store
        .update_callback(&stale, original.version)
        .await
        .expect("update"));
    let unknown = CallbackRequest {
        id: CallbackId::new(),
        ..changed.clone()
    };
    assert!(!store
        .update_callback(&unknown, changed.version)
        .await
        .expect("update"));
    let after = store
        .callback(demo.company.id, original.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(after, stored, "the stale write changed nothing");

    let next = CallbackRequest {
        status: CallbackStatus::Completed,
        version: stored.version + 1,
        completed_at: Some(at(10, 0)),
        ..stored.clone()
    };
    assert!(store
        .update_callback(&next, stored.version)
        .await
        .expect("update"));
    assert_eq!(
        store
            .callback(demo.company.id, original.id)
            .await
            .expect("read")
            .map(|c| (c.status, c.version)),
        Some((CallbackStatus::Completed, 3))
    );
}

async fn updating_a_callback_never_touches_another_companys(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let ours = callback(&demo, Priority::Normal, at(8, 0));
    store.insert_callback(&ours).await.expect("stored");
    let other = CompanyId::new();
    let hijack = CallbackRequest {
        company_id: other,
        status: CallbackStatus::Cancelled,
        version: ours.version + 1,
        ..ours.clone()
    };
    assert!(!store
        .update_callback(&hijack, ours.version)
        .await
        .expect("update"));
    assert_eq!(
        store
            .callback(demo.company.id, ours.id)
            .await
            .expect("read")
            .as_ref(),
        Some(&ours),
        "untouched"
    );
}

async fn open_callbacks_are_counted_per_assignee_and_paged_by_deadline(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let (anna, ben) = (demo.staff[0].id, demo.staff[1].id);
    let mut all = Vec::new();
    for (i, (status, staff)) in [
        (CallbackStatus::Assigned, Some(anna)),
        (CallbackStatus::Contacted, Some(anna)),
        (CallbackStatus::Completed, Some(anna)),
        (CallbackStatus::Assigned, Some(ben)),
        (CallbackStatus::Pending, None),
    ]
    .into_iter()
    .enumerate()
    {
        let cb = CallbackRequest {
            status,
            assigned_staff_id: staff,
            // Deadlines out of insertion order; two share one to exercise the id tie-break.
            due_at: at(9, 0) + Duration::hours([3, 1, 2, 1, 5][i]),
            ..callback(&demo, Priority::Normal, at(8, i as u32))
        };
        store.insert_callback(&cb).await.expect("stored");
        all.push(cb);
    }
    let mut counts = store
        .open_callback_counts(demo.company.id)
        .await
        .expect("counted");
    counts.sort();
    let mut want = vec![(anna, 2), (ben, 1)];
    want.sort();
    assert_eq!(counts, want, "contacted counts, completed does not");
    assert!(store
        .open_callback_counts(CompanyId::new())
        .await
        .expect("counted")
        .is_empty());

    // Pending and assigned only (contacted met its SLA), by deadline then id, two per page.
    let mut want: Vec<_> = [&all[0], &all[3], &all[4]]
        .iter()
        .map(|c| (c.due_at, c.id))
        .collect();
    want.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.watched_callbacks(after, 2).await.expect("page");
        seen.extend(page.iter().map(|c| (c.due_at, c.id)));
        after = page.last().map(|c| (c.due_at, c.id));
        if page.len() < 2 {
            break;
        }
    }
    assert_eq!(seen, want);
}

async fn an_escalation_is_written_with_its_callback_or_not_at_all(store: Arc<dyn Store>) {
    use callflow_actors::domain::sla::CallbackEscalation;
    let demo = seeded(&store).await;
    let original = callback(&demo, Priority::Normal, at(8, 0));
    store.insert_callback(&original).await.expect("stored");
    let escalated = CallbackRequest {
        priority: Priority::Urgent,
        escalation_level: 1,
        status: CallbackStatus::Assigned,
        assigned_staff_id: Some(demo.staff[3].id),
        assigned_at: Some(at(9, 0)),
        due_at: at(10, 0),
        version: original.version + 1,
        updated_at: at(9, 0),
        ..original.clone()
    };
    let record = CallbackEscalation {
        callback_id: original.id,
        from_staff_id: None,
        to_staff_id: Some(demo.staff[3].id),
        reason: "SLA breached".into(),
        level: 1,
        at: at(9, 0),
    };
    assert!(store
        .escalate_callback(&escalated, original.version, &record)
        .await
        .expect("written"));
    // A second escalation from the same stale version writes neither row.
    let stale = CallbackEscalation {
        level: 2,
        ..record.clone()
    };
    assert!(!store
        .escalate_callback(&escalated, original.version, &stale)
        .await
        .expect("refused"));
    let stored = store
        .callback(demo.company.id, original.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored, escalated);
    assert_eq!(
        store
            .callback_escalations(demo.company.id, original.id)
            .await
            .expect("read"),
        [record]
    );
    assert!(
        store
            .callback_escalations(CompanyId::new(), original.id)
            .await
            .expect("read")
            .is_empty(),
        "another company sees none"
    );
}

async fn staff_who_served_a_customer_come_most_recent_first(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let customer = demo.customers[0].id;
    let mut past: Vec<_> = demo
        .past_appointments
        .iter()
        .filter(|a| a.customer_id == customer && a.status != AppointmentStatus::Cancelled)
        .map(|a| (a.starts_at, a.staff_id))
        .collect();
    past.sort_by(|a, b| b.cmp(a));
    let mut want: Vec<StaffId> = Vec::new();
    for (_, staff) in past {
        if !want.contains(&staff) {
            want.push(staff);
        }
    }
    assert!(!want.is_empty(), "the demo has history for this customer");
    assert_eq!(store.staff_who_served(customer).await.expect("read"), want);
    assert!(store
        .staff_who_served(CustomerId::new())
        .await
        .expect("read")
        .is_empty());
}

async fn staff_are_found_by_company_and_never_across_companies(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let other = Company {
        id: CompanyId::new(),
        name: "Other".into(),
        slug: "other".into(),
        default_branch_id: None,
    };
    store.upsert_company(&other).await.expect("other company");
    let branch = Branch {
        id: BranchId::new(),
        company_id: other.id,
        slug: "elsewhere".into(),
        fallback_branch_id: None,
        ..demo.branches[0].clone()
    };
    store.upsert_branch(&branch).await.expect("other branch");
    let stranger = Staff {
        id: StaffId::new(),
        branch_id: branch.id,
        name: "Fremde Kraft".into(),
        ..demo.staff[0].clone()
    };
    store.upsert_staff(&stranger).await.expect("other staff");

    let by_id = |mut staff: Vec<Staff>| {
        staff.sort_by_key(|s| s.id);
        staff
    };
    assert_eq!(
        by_id(store.company_staff(demo.company.id).await.expect("staff")),
        by_id(demo.staff.clone()),
        "every branch's staff, and only the company's"
    );
    assert_eq!(
        store.company_staff(other.id).await.expect("staff"),
        vec![stranger.clone()]
    );
    assert_eq!(
        store.company_staff(CompanyId::new()).await.expect("staff"),
        Vec::<Staff>::new()
    );

    for member in &demo.staff {
        assert_eq!(
            store
                .staff_member(demo.company.id, member.id)
                .await
                .expect("read")
                .as_ref(),
            Some(member)
        );
        assert_eq!(
            store.staff_member(other.id, member.id).await.expect("read"),
            None,
            "another company's staff member is invisible"
        );
    }
    assert_eq!(
        store
            .staff_member(other.id, stranger.id)
            .await
            .expect("read"),
        Some(stranger.clone())
    );
    assert_eq!(
        store
            .staff_member(demo.company.id, stranger.id)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .staff_member(demo.company.id, StaffId::new())
            .await
            .expect("read"),
        None
    );
}
