//! Heap bytes kept per idle call actor and per staff actor with a 60-day calendar, counted
//! exactly by an instrumented global allocator (net of everything freed again).
//!
//! Run with `cargo bench --bench memory`; it prints one line per figure.

mod support;

use actix::Actor;
use callflow_actors::call::CallContext;
use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::staff::{BranchSchedule, GetCalendarSize, StaffActor};
use callflow_actors::{Engine, EngineSettings};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::Arc;
use support::{bench_branch, seed, APPOINTMENTS_PER_DAY, CALENDAR_DAYS};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CALLS: usize = 10_000;
const STAFF_ACTORS: usize = 50;

/// Net heap bytes allocated while `work` runs.
fn net_bytes(work: impl FnOnce()) -> i64 {
    let region = Region::new(GLOBAL);
    work();
    let change = region.change();
    change.bytes_allocated as i64 - change.bytes_deallocated as i64
        + change.bytes_reallocated as i64
}

fn main() {
    let system = actix::System::new();
    let branch = bench_branch(STAFF_ACTORS);
    let store = Arc::new(MemoryStore::new());
    system.block_on(seed(&store, &branch));
    let engine = system.block_on(async {
        Engine::start(store.clone(), EngineSettings::default())
            .await
            .expect("engine starts")
    });

    // Idle call actors: started, registered in the directory, idle timer armed.
    let calls = net_bytes(|| {
        system.block_on(async {
            for i in 0..CALLS {
                let context = CallContext {
                    call_id: CallId::parse(&format!("call_{i:032x}")).expect("valid call id"),
                    company_id: branch.company.id,
                    branch_id: branch.branch.id,
                    caller: Some(branch.customer.phone.clone()),
                    language: Language::DE,
                    customer_id: Some(branch.customer.id),
                };
                engine.start_call(context).await.expect("call starts");
            }
        })
    });
    assert_eq!(engine.active_calls(), CALLS, "every call actor is alive");
    println!(
        "idle call actor: {} bytes each ({CALLS} actors, {:.1} MiB in all)",
        calls / CALLS as i64,
        calls as f64 / 1_048_576.0
    );

    // Staff actors with a loaded calendar; started here (not by the engine) so only their own
    // bytes are counted. The store's copies of the appointments were allocated before.
    let schedule = Arc::new(BranchSchedule::from(&branch.branch));
    let rules = EngineSettings::default().rules;
    let mut actors = Vec::new();
    let staff = net_bytes(|| {
        system.block_on(async {
            for member in &branch.staff {
                let actor = StaffActor::new(
                    Arc::new(member.clone()),
                    schedule.clone(),
                    rules,
                    store.clone(),
                    1024,
                )
                .start();
                let (appointments, _) = actor.send(GetCalendarSize).await.expect("loaded");
                assert!(appointments as i64 >= CALENDAR_DAYS * APPOINTMENTS_PER_DAY as i64 / 2);
                actors.push(actor);
            }
        })
    });
    println!(
        "staff actor with a {CALENDAR_DAYS}-day calendar ({} appointments): {} bytes each ({STAFF_ACTORS} actors)",
        CALENDAR_DAYS * APPOINTMENTS_PER_DAY as i64,
        staff / STAFF_ACTORS as i64
    );
    drop(actors);

    // The same actors with nothing booked: the fixed cost, apart from the calendar.
    let mut empty = Vec::new();
    let fixed = net_bytes(|| {
        system.block_on(async {
            for member in &branch.staff {
                let stranger = Staff {
                    id: StaffId::new(),
                    ..member.clone()
                };
                let actor = StaffActor::new(
                    Arc::new(stranger),
                    schedule.clone(),
                    rules,
                    store.clone(),
                    1024,
                )
                .start();
                actor.send(GetCalendarSize).await.expect("loaded");
                empty.push(actor);
            }
        })
    });
    println!(
        "staff actor with an empty calendar: {} bytes each ({STAFF_ACTORS} actors)",
        fixed / STAFF_ACTORS as i64
    );
}
