//! The store methods behind the admin API, run against the in-memory store, SQLite and
//! Postgres: callback pages in every order (keyset cursors, stable under inserts), the
//! statistics on a hand-made dataset, audit filters and pages, deletes that are refused while
//! in use, customer and appointment filters.

use callflow::seed::{self, Demo};
use callflow_actors::admin_query::*;
use callflow_actors::domain::callback::{new_callback, CallbackDraft, CallbackPolicy};
use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::{CallbackFilter, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;

macro_rules! on_every_store {
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

on_every_store!(
    callback_pages_follow_every_order_and_stay_stable_under_inserts,
    callback_filters_by_priority_and_overdue,
    statistics_follow_their_definitions_on_a_hand_made_dataset,
    audit_entries_filter_and_page_newest_first,
    branches_in_use_and_customers_with_appointments_are_not_deleted,
    appointments_and_customers_filter_and_page,
);

#[allow(dead_code)]
fn _memory_is_a_store(store: MemoryStore) -> Arc<dyn Store> {
    Arc::new(store)
}

async fn seeded(store: &Arc<dyn Store>) -> Demo {
    seed::seed_demo(&**store).await.expect("seed");
    seed::demo_data()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 10, 12, 0, 0)
        .single()
        .expect("valid")
}

fn callback(demo: &Demo, priority: Priority, created_at: DateTime<Utc>) -> CallbackRequest {
    let draft = CallbackDraft {
        company_id: demo.company.id,
        branch_id: Some(demo.branches[0].id),
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
    new_callback(
        CallbackId::new(),
        &draft,
        priority,
        &CallbackPolicy::default(),
        created_at,
    )
}

async fn page_through(
    store: &Arc<dyn Store>,
    company: CompanyId,
    sort: CallbackSort,
    limit: u32,
    mut between_pages: impl FnMut(usize) -> Option<CallbackRequest>,
) -> Vec<CallbackId> {
    let mut seen = Vec::new();
    let mut after = None;
    for page in 0.. {
        let found = store
            .find_callbacks(
                company,
                &CallbackFilter {
                    sort,
                    after,
                    limit,
                    ..CallbackFilter::default()
                },
            )
            .await
            .expect("page");
        seen.extend(found.iter().map(|c| c.id));
        if found.len() < limit as usize {
            break;
        }
        after = found.last().map(|c| sort.cursor_of(c));
        if let Some(new) = between_pages(page) {
            store.insert_callback(&new).await.expect("insert");
        }
    }
    seen
}

async fn callback_pages_follow_every_order_and_stay_stable_under_inserts(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let mut all = Vec::new();
    for i in 0..23i64 {
        let priority = Priority::ALL[(i % 3) as usize];
        // Every third pair shares a creation time: the id breaks the tie.
        let created = now() - Duration::minutes(10 * (i / 2));
        let mut c = callback(&demo, priority, created);
        c.due_at = now() + Duration::minutes(7 * ((i * 5) % 11));
        store.insert_callback(&c).await.expect("insert");
        all.push(c);
    }
    for (sort, _) in CallbackSort::ALL {
        let mut expected = all.clone();
        expected.sort_by(|x, y| sort.compare(x, y));
        let expected: Vec<CallbackId> = expected.iter().map(|c| c.id).collect();
        let paged = page_through(&store, demo.company.id, *sort, 4, |_| None).await;
        assert_eq!(paged, expected, "{}", sort.as_str());
        let unpaged = store
            .find_callbacks(
                demo.company.id,
                &CallbackFilter {
                    sort: *sort,
                    limit: 1000,
                    ..CallbackFilter::default()
                },
            )
            .await
            .expect("all");
        assert_eq!(
            unpaged.iter().map(|c| c.id).collect::<Vec<_>>(),
            expected,
            "{}",
            sort.as_str()
        );
    }
    // New callbacks arriving between pages never make a page repeat or skip an older row.
    let before: Vec<CallbackId> = all.iter().map(|c| c.id).collect();
    let paged = page_through(&store, demo.company.id, CallbackSort::Queue, 4, |page| {
        Some(callback(
            &demo,
            Priority::ALL[page % 3],
            now() - Duration::minutes(5 * page as i64),
        ))
    })
    .await;
    let unique: std::collections::BTreeSet<_> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len(), "no row twice");
    for id in &before {
        assert!(paged.contains(id), "no row skipped");
    }
}

async fn callback_filters_by_priority_and_overdue(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let mut late = callback(&demo, Priority::High, now() - Duration::hours(5));
    late.due_at = now() - Duration::hours(1);
    let mut late_closed = callback(&demo, Priority::High, now() - Duration::hours(5));
    late_closed.due_at = now() - Duration::hours(1);
    late_closed.status = CallbackStatus::Completed;
    late_closed.completed_at = Some(now() - Duration::hours(2));
    let on_time = callback(&demo, Priority::Normal, now() - Duration::hours(1));
    for c in [&late, &late_closed, &on_time] {
        store.insert_callback(c).await.expect("insert");
    }
    let ids = |filter: CallbackFilter| {
        let store = store.clone();
        async move {
            store
                .find_callbacks(demo.company.id, &filter)
                .await
                .expect("find")
                .iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(CallbackFilter {
            overdue_at: Some(now()),
            ..CallbackFilter::default()
        })
        .await,
        [late.id]
    );
    assert_eq!(
        ids(CallbackFilter {
            priority: Some(Priority::High),
            sort: CallbackSort::CreatedAsc,
            ..CallbackFilter::default()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        ids(CallbackFilter {
            priority: Some(Priority::Normal),
            ..CallbackFilter::default()
        })
        .await,
        [on_time.id]
    );
}

/// The dataset of the statistics test, its figures worked out by hand in the comments.
async fn statistics_follow_their_definitions_on_a_hand_made_dataset(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let (s1, s2) = (demo.staff[0].id, demo.staff[3].id);
    let hamburg = demo.branches[1].id;
    let secs = Duration::seconds;
    let n = now();
    let mut rows = Vec::new();
    // A: normal, pending, created today (11:00 UTC), due tomorrow.
    rows.push(callback(&demo, Priority::Normal, n - Duration::hours(1)));
    // B: high, assigned after 600 s, created 30 h ago, due 26 h ago: overdue and missed.
    let mut b = callback(&demo, Priority::High, n - Duration::hours(30));
    b.status = CallbackStatus::Assigned;
    b.assigned_staff_id = Some(s1);
    b.assigned_at = Some(b.created_at + secs(600));
    rows.push(b);
    // C: urgent, assigned +120 s, contacted +1200 s, completed +1800 s, due +3600 s: met.
    let mut c = callback(&demo, Priority::Urgent, n - Duration::days(2));
    c.status = CallbackStatus::Completed;
    c.assigned_staff_id = Some(s1);
    c.assigned_at = Some(c.created_at + secs(120));
    c.contacted_at = Some(c.created_at + secs(1200));
    c.completed_at = Some(c.created_at + secs(1800));
    rows.push(c);
    // D: normal, assigned +3600 s, completed two days after creation, due after one: missed.
    let mut d = callback(&demo, Priority::Normal, n - Duration::days(3));
    d.status = CallbackStatus::Completed;
    d.assigned_at = Some(d.created_at + secs(3600));
    d.completed_at = Some(d.created_at + Duration::days(2));
    rows.push(d);
    // E: high, expired at its deadline five days ago: missed.
    let mut e = callback(&demo, Priority::High, n - Duration::days(5));
    e.status = CallbackStatus::Expired;
    e.completed_at = Some(e.due_at);
    rows.push(e);
    // F: normal, cancelled: counts for neither.
    let mut f = callback(&demo, Priority::Normal, n - Duration::days(1));
    f.status = CallbackStatus::Cancelled;
    f.completed_at = Some(n - Duration::hours(20));
    rows.push(f);
    // G: urgent, completed on time 19 days ago: outside the 7-day window.
    let mut g = callback(&demo, Priority::Urgent, n - Duration::days(20));
    g.status = CallbackStatus::Completed;
    g.assigned_at = Some(g.created_at + secs(5));
    g.completed_at = Some(g.created_at + secs(60));
    rows.push(g);
    // H: normal, contacted (assigned +60 s, contacted +300 s), created 2 h ago, due later.
    let mut h = callback(&demo, Priority::Normal, n - Duration::hours(2));
    h.status = CallbackStatus::Contacted;
    h.assigned_staff_id = Some(s1);
    h.assigned_at = Some(h.created_at + secs(60));
    h.contacted_at = Some(h.created_at + secs(300));
    rows.push(h);
    // I: urgent, Hamburg, assigned +30 s to s2, created 10 h ago, due 9 h ago: overdue, missed.
    let mut i = callback(&demo, Priority::Urgent, n - Duration::hours(10));
    i.branch_id = Some(hamburg);
    i.status = CallbackStatus::Assigned;
    i.assigned_staff_id = Some(s2);
    i.assigned_at = Some(i.created_at + secs(30));
    rows.push(i);
    for row in &rows {
        store.insert_callback(row).await.expect("insert");
    }
    let query = StatsQuery {
        branch_id: None,
        now: n,
        // Local midnight in Berlin (summer time) on 2030-06-10.
        today_start: Utc
            .with_ymd_and_hms(2030, 6, 9, 22, 0, 0)
            .single()
            .expect("valid"),
        window_start: n - Duration::days(7),
    };
    let stats = store
        .callback_stats(demo.company.id, &query)
        .await
        .expect("stats");
    assert_eq!(stats.pending, 1, "A");
    assert_eq!(stats.open, 4, "A, B, H, I");
    assert_eq!(stats.overdue, 2, "B, I");
    assert_eq!(stats.created_today, 3, "A, H, I");
    let figure = |p: Priority| {
        let f = stats
            .sla
            .iter()
            .find(|f| f.priority == p)
            .expect("a figure per priority");
        (f.met, f.missed, f.compliance_percent)
    };
    assert_eq!(figure(Priority::Normal), (0, 1, Some(0.0)), "D late");
    assert_eq!(
        figure(Priority::High),
        (0, 2, Some(0.0)),
        "B open past due, E expired"
    );
    assert_eq!(
        figure(Priority::Urgent),
        (1, 1, Some(50.0)),
        "C met, I open past due"
    );
    assert_eq!(
        stats.avg_seconds_to_assign,
        Some(882.0),
        "(600+120+3600+60+30)/5"
    );
    assert_eq!(stats.avg_seconds_to_contact, Some(750.0), "(1200+300)/2");
    assert_eq!(
        stats.avg_seconds_to_complete,
        Some(87300.0),
        "(1800+172800)/2"
    );
    assert_eq!(
        stats.staff_load,
        [
            StaffLoad {
                staff_id: s1,
                open: 2
            },
            StaffLoad {
                staff_id: s2,
                open: 1
            }
        ]
    );
    // The Berlin branch alone: without I.
    let berlin = store
        .callback_stats(
            demo.company.id,
            &StatsQuery {
                branch_id: Some(demo.branches[0].id),
                ..query
            },
        )
        .await
        .expect("stats");
    assert_eq!(
        (berlin.open, berlin.overdue, berlin.created_today),
        (3, 1, 2)
    );
    assert_eq!(
        berlin
            .sla
            .iter()
            .find(|f| f.priority == Priority::Urgent)
            .and_then(|f| f.compliance_percent),
        Some(100.0)
    );
    assert_eq!(berlin.staff_load.len(), 1);
    // The SQL answers equal the definition in code on the same rows.
    let mut listed = store.list_callbacks(demo.company.id).await.expect("list");
    listed.sort_by_key(|c| c.id);
    assert_eq!(
        callflow_actors::domain::callback_stats::compute(&listed, &query),
        stats
    );
    // An empty company has no figures to divide.
    let empty = store
        .callback_stats(CompanyId::new(), &query)
        .await
        .expect("stats");
    assert_eq!(empty.open, 0);
    assert!(empty.sla.iter().all(|f| f.compliance_percent.is_none()));
    assert_eq!(empty.avg_seconds_to_assign, None);
}

async fn audit_entries_filter_and_page_newest_first(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    for i in 0..7 {
        let entry = AuditEntry {
            company_id: demo.company.id,
            token_id: None,
            action: if i % 2 == 0 {
                "staff.update"
            } else {
                "branch.update"
            }
            .into(),
            entity_type: if i % 2 == 0 { "staff" } else { "branch" }.into(),
            entity_id: format!("e{}", i % 3),
            old_value: None,
            new_value: Some(serde_json::json!({ "i": i })),
            ip: Some("10.0.0.1".into()),
            at: now() + Duration::minutes(i),
        };
        store.append_audit(&entry).await.expect("append");
    }
    let find = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .find_audit(demo.company.id, &filter)
                .await
                .expect("find")
        }
    };
    let all = find(AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    })
    .await;
    let order: Vec<i64> = all
        .iter()
        .map(|r| {
            r.entry
                .new_value
                .as_ref()
                .and_then(|v| v["i"].as_i64())
                .unwrap_or(-1)
        })
        .collect();
    assert_eq!(order, [6, 5, 4, 3, 2, 1, 0]);
    let first = find(AuditFilter {
        entity_type: Some("staff".into()),
        limit: 2,
        ..AuditFilter::default()
    })
    .await;
    let rest = find(AuditFilter {
        entity_type: Some("staff".into()),
        before_id: first.last().map(|r| r.id),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    let seen: Vec<_> = first.iter().chain(&rest).map(|r| r.entry.at).collect();
    assert_eq!(seen.len(), 4, "entries 6, 4, 2, 0");
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    let one = find(AuditFilter {
        entity_id: Some("e1".into()),
        action: Some("branch.update".into()),
        since: Some(now() + Duration::minutes(2)),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        one.len(),
        0,
        "e1 branch updates are i = 1 (too early) and 4 (staff)"
    );
    let other = find(AuditFilter {
        entity_id: Some("e0".into()),
        limit: 10,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(other.len(), 3, "i = 0, 3, 6");
    assert!(store
        .find_audit(
            CompanyId::new(),
            &AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            }
        )
        .await
        .expect("find")
        .is_empty());
}

async fn branches_in_use_and_customers_with_appointments_are_not_deleted(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let company = demo.company.id;
    assert_eq!(
        store
            .delete_branch(company, demo.branches[0].id)
            .await
            .expect("delete"),
        Deleted::InUse
    );
    assert_eq!(
        store
            .delete_branch(CompanyId::new(), demo.branches[0].id)
            .await
            .expect("delete"),
        Deleted::NotFound,
        "another company's branch"
    );
    let mut empty = demo.branches[2].clone();
    empty.id = BranchId::new();
    empty.slug = "leer".into();
    store.upsert_branch(&empty).await.expect("branch");
    assert_eq!(
        store
            .delete_branch(company, empty.id)
            .await
            .expect("delete"),
        Deleted::Deleted
    );
    assert!(!store
        .list_branches(Some(company))
        .await
        .expect("list")
        .iter()
        .any(|b| b.id == empty.id));
    let juergen = demo.customers[0].id;
    assert_eq!(
        store
            .delete_customer(company, juergen)
            .await
            .expect("delete"),
        Deleted::InUse
    );
    let loner = demo.customers[1].id;
    let had_appointments = demo
        .past_appointments
        .iter()
        .any(|a| a.customer_id == loner);
    if !had_appointments {
        assert_eq!(
            store.delete_customer(company, loner).await.expect("delete"),
            Deleted::Deleted
        );
        assert_eq!(store.customer(company, loner).await.expect("read"), None);
    }
    let number = &demo.numbers[0].number;
    assert!(!store
        .delete_phone_number(CompanyId::new(), number)
        .await
        .expect("delete"));
    assert!(store
        .delete_phone_number(company, number)
        .await
        .expect("delete"));
    assert!(!store
        .list_phone_numbers()
        .await
        .expect("list")
        .iter()
        .any(|n| &n.number == number));
}

async fn appointments_and_customers_filter_and_page(store: Arc<dyn Store>) {
    let demo = seeded(&store).await;
    let company = demo.company.id;
    let base = demo.past_appointments[0].clone();
    let mut made = Vec::new();
    for i in 0..5 {
        let start = now() + Duration::hours(i);
        let a = Appointment {
            id: AppointmentId::new(),
            starts_at: start,
            ends_at: start + Duration::minutes(30),
            blocked_from: start,
            blocked_until: start + Duration::minutes(30),
            status: AppointmentStatus::Booked,
            idempotency_key: None,
            ..base.clone()
        };
        made.push(store.insert_appointment(&a).await.expect("insert"));
    }
    let page = |after: Option<(DateTime<Utc>, AppointmentId)>| {
        let store = store.clone();
        async move {
            store
                .find_appointments(
                    company,
                    &AppointmentFilter {
                        staff_id: Some(base.staff_id),
                        from: Some(now()),
                        after,
                        limit: 3,
                        ..AppointmentFilter::default()
                    },
                )
                .await
                .expect("find")
        }
    };
    let first = page(None).await;
    let second = page(first.last().map(|a| (a.starts_at, a.id))).await;
    let ids: Vec<_> = first.iter().chain(&second).map(|a| a.id).collect();
    assert_eq!(ids, made.iter().map(|a| a.id).collect::<Vec<_>>());
    let until = store
        .find_appointments(
            company,
            &AppointmentFilter {
                customer_id: Some(base.customer_id),
                until: Some(now()),
                limit: 10,
                ..AppointmentFilter::default()
            },
        )
        .await
        .expect("find");
    assert_eq!(until.iter().map(|a| a.id).collect::<Vec<_>>(), [base.id]);
    assert!(store
        .find_appointments(
            CompanyId::new(),
            &AppointmentFilter {
                limit: 10,
                ..AppointmentFilter::default()
            }
        )
        .await
        .expect("find")
        .is_empty());

    let all = store
        .find_customers(
            company,
            &CustomerFilter {
                limit: 100,
                ..CustomerFilter::default()
            },
        )
        .await
        .expect("customers");
    assert_eq!(all.len(), demo.customers.len());
    assert!(all
        .windows(2)
        .all(|w| w[0].phone.as_str() < w[1].phone.as_str()));
    let after_first = store
        .find_customers(
            company,
            &CustomerFilter {
                after_phone: Some(all[0].phone.to_string()),
                limit: 100,
                ..CustomerFilter::default()
            },
        )
        .await
        .expect("customers");
    assert_eq!(after_first.len(), all.len() - 1);
    let one = store
        .find_customers(
            company,
            &CustomerFilter {
                phone: Some(all[1].phone.clone()),
                limit: 100,
                ..CustomerFilter::default()
            },
        )
        .await
        .expect("customers");
    assert_eq!(one, [all[1].clone()]);
}
