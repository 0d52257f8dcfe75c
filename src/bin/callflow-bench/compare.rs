//! Side by side in one run, on this machine:
//! - reserving contended slots through (a) the engine's staff actors, (b) a Redis Lua
//!   set-if-absent-with-expiry script, (c) a Postgres transaction with `SELECT … FOR UPDATE`:
//!   the same attempts, slots and concurrency for each;
//! - the webhook path against a static JSON answer of the same server (the HTTP ceiling).

use crate::client::Target;
use crate::payloads::{self, CallFacts};
use crate::schedule::Rng;
use callflow_actors::domain::slot_id::SlotRef;
use callflow_actors::domain::CallId;
use callflow_actors::staff::ReleaseHold;
use callflow_actors::Engine;
use redis::Script;
use serde::Serialize;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The contended workload every reservation method runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Workload {
    /// Distinct slots fought over.
    pub slots: usize,
    /// Reservation attempts (a won attempt also releases, so slots keep being fought over).
    pub attempts: u64,
    /// Attempts in flight at once.
    pub concurrency: usize,
}

/// One method's result.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Attempts per second.
    pub ops_per_sec: f64,
    /// Attempts that got the slot.
    pub won: u64,
    /// Attempts that failed (not refused: failed).
    pub errors: u64,
    /// Wall time.
    pub seconds: f64,
}

/// The reservation comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Reservations {
    /// What each method ran.
    pub workload: Workload,
    /// Through the staff actors.
    pub actors: Option<Measured>,
    /// Through the Redis script; `None` when Redis is unreachable.
    pub redis_lua: Option<Measured>,
    /// Through a Postgres transaction; `None` without Postgres.
    pub postgres_for_update: Option<Measured>,
    /// actors ÷ Redis, in attempts per second.
    pub actors_vs_redis: Option<f64>,
    /// actors ÷ Postgres, in attempts per second.
    pub actors_vs_postgres: Option<f64>,
    /// What was skipped, and why.
    pub notes: Vec<String>,
}

/// Runs `attempt(i)` for `i` in `0..attempts`, `concurrency` at a time; counts wins and errors.
async fn drive<F, Fut>(workload: Workload, attempt: F) -> Measured
where
    F: Fn(u64) -> Fut + 'static,
    Fut: Future<Output = Result<bool, String>> + 'static,
{
    let next = Rc::new(Cell::new(0u64));
    let won = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let first_error: Rc<Cell<Option<String>>> = Rc::new(Cell::new(None));
    let attempt = Rc::new(attempt);
    let started = Instant::now();
    let workers: Vec<_> = (0..workload.concurrency.max(1))
        .map(|_| {
            let (next, won, errors, first_error, attempt) = (
                next.clone(),
                won.clone(),
                errors.clone(),
                first_error.clone(),
                attempt.clone(),
            );
            actix_rt::spawn(async move {
                loop {
                    let i = next.get();
                    if i >= workload.attempts {
                        return;
                    }
                    next.set(i + 1);
                    match attempt(i).await {
                        Ok(true) => won.set(won.get() + 1),
                        Ok(false) => {}
                        Err(e) => {
                            errors.set(errors.get() + 1);
                            let seen = first_error.take();
                            first_error.set(seen.or(Some(e)));
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(e) = first_error.take() {
        eprintln!("  first error: {e}");
    }
    Measured {
        ops_per_sec: workload.attempts as f64 / seconds.max(1e-9),
        won: won.get(),
        errors: errors.get(),
        seconds,
    }
}

/// The slot an attempt fights over: a fixed pseudo-random sequence, the same for every method.
fn slot_of(i: u64, slots: usize) -> usize {
    (Rng::new(i).next_u64() % slots.max(1) as u64) as usize
}

/// (a) Hold through the staff actor (the engine's booking path takes the same hold), release
/// when won.
pub async fn actors(engine: &Engine, slots: &[SlotRef], workload: Workload) -> Measured {
    let engine = engine.clone();
    let slots: Rc<Vec<SlotRef>> = Rc::new(slots.to_vec());
    drive(workload, move |i| {
        let (engine, slots) = (engine.clone(), slots.clone());
        async move {
            let slot = &slots[slot_of(i, slots.len())];
            let owner = CallId::parse(&format!("cmp_actor_{i}")).map_err(|e| e.to_string())?;
            match engine.hold(&owner, slot, chrono::Utc::now()).await {
                Ok(Ok(hold)) => {
                    let staff = engine
                        .staff_actor(slot.staff_id)
                        .ok_or_else(|| "staff actor gone".to_owned())?;
                    staff
                        .send(ReleaseHold {
                            hold: hold.id,
                            owner,
                        })
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    Ok(true)
                }
                Ok(Err(_refused)) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

const ACQUIRE_LUA: &str = r"return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])";
const RELEASE_LUA: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0";

/// (b) The classic: a Lua `SET key owner NX PX ttl`, released by an owner-only compare-and-delete
/// script. Keys live under `callflow-bench:<pid>:` and are deleted afterwards.
pub async fn redis(url: &str, workload: Workload) -> Result<Measured, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let connection = redis::aio::ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| format!("Redis at {url} unreachable: {e}"))?;
    let prefix = format!("callflow-bench:{}:", std::process::id());
    let acquire = Rc::new(Script::new(ACQUIRE_LUA));
    let release = Rc::new(Script::new(RELEASE_LUA));
    let key_prefix = prefix.clone();
    let conn = connection.clone();
    let measured = drive(workload, move |i| {
        let (mut conn, acquire, release) = (conn.clone(), acquire.clone(), release.clone());
        let key = format!("{key_prefix}slot:{}", slot_of(i, workload.slots));
        async move {
            let owner = format!("cmp_redis_{i}");
            let set: Option<String> = acquire
                .key(&key)
                .arg(&owner)
                .arg(300_000)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if set.is_none() {
                return Ok(false);
            }
            let _: i64 = release
                .key(&key)
                .arg(&owner)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(true)
        }
    })
    .await;
    let mut conn = connection;
    for slot in 0..workload.slots {
        let _: Result<i64, _> = redis::cmd("DEL")
            .arg(format!("{prefix}slot:{slot}"))
            .query_async(&mut conn)
            .await;
    }
    Ok(measured)
}

/// (c) A Postgres transaction: lock the slot's row `FOR UPDATE`, take it when free or expired,
/// commit; release with an owner-only `UPDATE`. Runs in a scratch database of its own.
pub async fn postgres(admin_url: &str, workload: Workload) -> Result<Measured, String> {
    let name = format!("callflow_bench_cmp_{}", uuid::Uuid::new_v4().simple());
    crate::server::create_database(admin_url, &name)
        .await
        .map_err(|e| e.to_string())?;
    let url = crate::server::replace_database(admin_url, &name);
    let result = postgres_in(&url, workload).await;
    if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
        admin.close().await;
    }
    result
}

async fn postgres_in(url: &str, workload: Workload) -> Result<Measured, String> {
    // One connection per attempt in flight, up to 32 (the server's own pool also needs some).
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(workload.concurrency.clamp(1, 32) as u32)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "CREATE TABLE bench_slots (id integer PRIMARY KEY, holder text, expires_at timestamptz)",
    )
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    for slot in 0..workload.slots {
        sqlx::query("INSERT INTO bench_slots (id) VALUES ($1)")
            .bind(slot as i32)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    let shared = pool.clone();
    let measured = drive(workload, move |i| {
        let pool = shared.clone();
        async move {
            let slot = slot_of(i, workload.slots) as i32;
            let owner = format!("cmp_pg_{i}");
            let won = reserve_pg(&pool, slot, &owner)
                .await
                .map_err(|e| e.to_string())?;
            if won {
                sqlx::query("UPDATE bench_slots SET holder = NULL, expires_at = NULL WHERE id = $1 AND holder = $2")
                    .bind(slot)
                    .bind(&owner)
                    .execute(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(won)
        }
    })
    .await;
    pool.close().await;
    Ok(measured)
}

async fn reserve_pg(pool: &sqlx::PgPool, slot: i32, owner: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (taken,): (bool,) = sqlx::query_as(
        "SELECT holder IS NOT NULL AND expires_at > now() FROM bench_slots WHERE id = $1 FOR UPDATE",
    )
    .bind(slot)
    .fetch_one(&mut *tx)
    .await?;
    if !taken {
        sqlx::query(
            "UPDATE bench_slots SET holder = $2, expires_at = now() + interval '5 minutes' WHERE id = $1",
        )
        .bind(slot)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(!taken)
}

/// The webhook path against the same server's static answer.
#[derive(Debug, Clone, Serialize)]
pub struct HttpCeiling {
    /// Requests in flight at once (closed loop).
    pub concurrency: usize,
    /// Seconds each side ran.
    pub seconds: f64,
    /// `GET /bench/static` answers per second.
    pub static_rps: f64,
    /// Signed `call_inbound` webhooks answered per second.
    pub webhook_rps: f64,
    /// webhook ÷ static.
    pub webhook_vs_static: f64,
    /// Failed requests (either side).
    pub errors: u64,
}

/// Closed loop, `concurrency` at a time, `seconds` each: the static endpoint, then the webhook.
pub async fn http_ceiling(
    target: Rc<Target>,
    concurrency: usize,
    seconds: f64,
    seed: u64,
) -> HttpCeiling {
    let run = |webhook: bool| {
        let target = target.clone();
        async move {
            let done = Rc::new(Cell::new(0u64));
            let errors = Rc::new(Cell::new(0u64));
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let workers: Vec<_> = (0..concurrency.max(1))
                .map(|w| {
                    let (target, done, errors) = (target.clone(), done.clone(), errors.clone());
                    actix_rt::spawn(async move {
                        let mut n = 0u64;
                        while Instant::now() < deadline {
                            let ok = if webhook {
                                let index = (w as u64) << 32 | n;
                                let facts = CallFacts::new(
                                    seed ^ 0xce11,
                                    index,
                                    callflow::seed::BERLIN_NUMBER,
                                    0,
                                );
                                target
                                    .post_signed("/retell/webhook", payloads::call_inbound(&facts))
                                    .await
                                    .is_ok()
                            } else {
                                target.get_text("/bench/static").await.is_ok()
                            };
                            n += 1;
                            if ok {
                                done.set(done.get() + 1);
                            } else {
                                errors.set(errors.get() + 1);
                            }
                        }
                    })
                })
                .collect();
            let started = Instant::now();
            for worker in workers {
                let _ = worker.await;
            }
            let elapsed = started.elapsed().as_secs_f64().max(seconds);
            (done.get() as f64 / elapsed, errors.get())
        }
    };
    let (static_rps, e1) = run(false).await;
    let (webhook_rps, e2) = run(true).await;
    HttpCeiling {
        concurrency,
        seconds,
        static_rps,
        webhook_rps,
        webhook_vs_static: if static_rps > 0.0 {
            webhook_rps / static_rps
        } else {
            0.0
        },
        errors: e1 + e2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_fights_over_the_same_slots_in_the_same_order() {
        let a: Vec<usize> = (0..100).map(|i| slot_of(i, 8)).collect();
        let b: Vec<usize> = (0..100).map(|i| slot_of(i, 8)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|s| *s < 8));
        // Spread over all of them, not stuck on one.
        for s in 0..8 {
            assert!(a.contains(&s), "slot {s} never tried");
        }
    }
}
