//! Criterion benchmarks of the engine's hot spots: number resolution, availability (the pure
//! computation and the actor fan-out), scoring, the hold round trip through a staff actor, slot
//! ids and the Retell signature check.
//!
//! Run with `cargo bench --bench engine`; figures are in the README.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

mod support;

use callflow::retell::signature;
use callflow_actors::call::CallContext;
use callflow_actors::domain::availability::{free_slots, ServiceTiming, WorkPattern};
use callflow_actors::domain::routing::InboundCall;
use callflow_actors::domain::scoring::{rank, Candidate, ScoringRequest, ScoringWeights};
use callflow_actors::domain::slot_id::SlotRef;
use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::staff::ReleaseHold;
use callflow_actors::{Engine, EngineSettings, SlotQuery};
use chrono::Utc;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use support::{bench_branch, bench_day, local, seed, BenchBranch, STAFF};

fn domain(c: &mut Criterion) {
    let b = bench_branch(STAFF);
    let settings = EngineSettings::default();
    let day = bench_day();
    let timing = ServiceTiming::from(&b.service);
    let now = Utc::now();
    let busy: Vec<Vec<availability::Interval>> = b
        .staff
        .iter()
        .map(|s| {
            let mut busy: Vec<_> = b
                .appointments
                .iter()
                .filter(|a| a.staff_id == s.id)
                .filter_map(|a| availability::Interval::new(a.blocked_from, a.blocked_until))
                .collect();
            busy.sort_by_key(|i| i.start);
            busy
        })
        .collect();

    c.bench_function("availability/branch_day_10_staff_pure", |bench| {
        bench.iter(|| {
            let mut offered = 0;
            for (s, busy) in b.staff.iter().zip(&busy) {
                let pattern = WorkPattern {
                    time_zone: b.branch.time_zone,
                    opening_hours: &b.branch.opening_hours,
                    branch_overrides: &b.branch.date_overrides,
                    working_hours: &s.working_hours,
                    breaks: &s.breaks,
                    staff_overrides: &s.date_overrides,
                };
                offered += free_slots(&pattern, day, &timing, busy, &settings.rules, now).len();
            }
            black_box(offered)
        })
    });

    let candidates: Vec<Candidate> = b
        .staff
        .iter()
        .enumerate()
        .map(|(i, s)| Candidate {
            staff_id: s.id,
            name: &s.name,
            skills: &s.skills,
            languages: &s.languages,
            free_at_wanted_time: i % 2 == 0,
            minutes_to_next_free: Some(i as i64 * 15),
            bookings_today: i as u32 % 4,
            bookings_this_week: i as u32 * 2,
            served_customer_before: i == 3,
        })
        .collect();
    let request = ScoringRequest {
        required_skills: &b.service.required_skills,
        language: Some(Language::DE),
        preferred_staff: None,
    };
    let weights = ScoringWeights::default();
    c.bench_function("scoring/rank_10_staff", |bench| {
        bench.iter(|| black_box(rank(black_box(&candidates), &request, &weights)))
    });

    let codec = slot_id::SlotIdCodec::new(&settings.slot_secret);
    let slot = SlotRef {
        staff_id: b.staff[0].id,
        service_id: b.service.id,
        start: local(day, 9, 30),
    };
    let id = codec.encode(&slot);
    c.bench_function("slot_id/encode", |bench| {
        bench.iter(|| black_box(codec.encode(black_box(&slot))))
    });
    c.bench_function("slot_id/decode", |bench| {
        bench.iter(|| black_box(codec.decode(black_box(&id))))
    });

    let body = include_bytes!("../tests/fixtures/retell/call_ended.json");
    let ended: serde_json::Value = serde_json::from_slice(body).expect("sample is JSON");
    let transcript = ended["call"]["transcript"]
        .as_str()
        .expect("transcript")
        .to_owned();
    let demo = callflow::seed::demo_data();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 9, 15).expect("valid date");
    c.bench_function("extraction/call_ended_transcript", |bench| {
        bench.iter(|| {
            black_box(extraction::extract(
                black_box(&transcript),
                today,
                &demo.services,
                &demo.staff,
                "49",
            ))
        })
    });

    let key = b"key_3f8a2c1e9b7d4f6a0c5e8b2d1f9a7c3e";
    let now_ms = Utc::now().timestamp_millis();
    let header = signature::sign(body, key, now_ms);
    c.bench_function("signature/verify_call_ended", |bench| {
        bench.iter(|| {
            black_box(signature::verify(
                Some(black_box(&header)),
                black_box(body),
                key,
                now_ms,
                signature::DEFAULT_TOLERANCE_MS,
            ))
        })
    });
}

/// Starts an engine on the in-memory store with the bench branch loaded.
fn engine(system: &actix::SystemRunner, b: &BenchBranch) -> Engine {
    system.block_on(async {
        let store = Arc::new(MemoryStore::new());
        seed(&store, b).await;
        Engine::start(store, EngineSettings::default())
            .await
            .expect("engine starts")
    })
}

fn actors(c: &mut Criterion) {
    let system = actix::System::new();
    let b = bench_branch(STAFF);
    let engine = engine(&system, &b);
    let day = bench_day();

    let to = b.number.number.clone();
    let from = E164Number::parse("+4917012345678").expect("valid");
    c.bench_function("route/dialled_number", |bench| {
        bench.iter(|| {
            black_box(engine.route(&InboundCall {
                to_number: black_box(&to),
                from_number: Some(&from),
                agent_id: None,
                explicit_branch: None,
                caller_history: None,
            }))
        })
    });

    let query = SlotQuery {
        branch_id: b.branch.id,
        service_id: b.service.id,
        from: day,
        to: day,
        wanted: None,
        window: None,
        preferred_staff: None,
        only_staff: None,
        language: Some(Language::DE),
        served_before: Vec::new(),
        other_branches: false,
    };
    c.bench_function("availability/branch_day_10_staff_actors", |bench| {
        bench.iter(|| system.block_on(engine.find_slots(&query, Utc::now())))
    });

    let call = CallId::parse("call_bench_hold_round_trip").expect("valid call id");
    system
        .block_on(engine.start_call(CallContext {
            call_id: call.clone(),
            company_id: b.company.id,
            branch_id: b.branch.id,
            caller: Some(from.clone()),
            language: Language::DE,
            customer_id: Some(b.customer.id),
        }))
        .expect("call starts");
    let slot = SlotRef {
        staff_id: b.staff[0].id,
        service_id: b.service.id,
        start: local(day, 15, 45), // free: between the 14:30 appointment and closing
    };
    let staff = engine.staff_actor(slot.staff_id).expect("staff actor");
    // Hold then release, so every iteration finds the slot free again; the figure is two round trips.
    c.bench_function("hold/hold_and_release_round_trips", |bench| {
        bench.iter(|| {
            system.block_on(async {
                let hold = engine
                    .hold(&call, &slot, Utc::now())
                    .await
                    .expect("engine answers")
                    .expect("slot is free");
                staff
                    .send(ReleaseHold {
                        hold: hold.id,
                        owner: call.clone(),
                    })
                    .await
                    .expect("actor answers")
                    .expect("owner releases")
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = domain, actors
}
criterion_main!(benches);
