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
    // stats_alloc already counts a realloc's growth as allocated and its shrinking as
    // deallocated (`bytes_reallocated` repeats the same deltas), so the net is these two.
    change.bytes_allocated as i64 - change.bytes_deallocated as i64
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

    // Staff actors started here (not by the engine) so only their own bytes are counted; the
    // store's copies of the appointments were allocated before. Strangers (ids with nothing
    // booked) first, for the fixed cost; then the real staff with their 60-day calendars.
    let schedule = Arc::new(BranchSchedule::from(&branch.branch));
    let strangers: Vec<Staff> = branch
        .staff
        .iter()
        .map(|member| Staff {
            id: StaffId::new(),
            ..member.clone()
        })
        .collect();
    let mut kept = Vec::new();
    let fixed = net_bytes(|| kept.push(start_staff(&system, &strangers, &schedule, &store)));
    println!(
        "staff actor with an empty calendar: {} bytes each ({STAFF_ACTORS} actors)",
        fixed / STAFF_ACTORS as i64
    );
    let full = net_bytes(|| kept.push(start_staff(&system, &branch.staff, &schedule, &store)));
    println!(
        "staff actor with a {CALENDAR_DAYS}-day calendar ({} appointments): {} bytes each ({STAFF_ACTORS} actors)",
        CALENDAR_DAYS * APPOINTMENTS_PER_DAY as i64,
        full / STAFF_ACTORS as i64
    );
}

/// Starts one staff actor per member, waits until each has loaded its calendar, then lets the
/// runtime settle so that buffers freed after the loads are not counted.
fn start_staff(
    system: &actix::SystemRunner,
    members: &[Staff],
    schedule: &Arc<BranchSchedule>,
    store: &Arc<MemoryStore>,
) -> Vec<actix::Addr<StaffActor>> {
    system.block_on(async {
        let mut actors = Vec::with_capacity(members.len());
        for member in members {
            let actor = StaffActor::new(
                Arc::new(member.clone()),
                schedule.clone(),
                EngineSettings::default().rules,
                store.clone(),
                1024,
            )
            .start();
            actor.send(GetCalendarSize).await.expect("loaded");
            actors.push(actor);
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        actors
    })
}
