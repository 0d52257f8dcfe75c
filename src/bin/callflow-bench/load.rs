//! The open-loop driver: starts each planned call at its arrival time, plays its steps on a
//! fixed timetable (arrival + n × think time) and records each step's latency from the moment
//! it *should* have been sent. A call that waits for a free slot under `--concurrency`, or a
//! step sent late because the previous one was slow, shows that wait as latency.

use crate::client::{outcome, Target};
use crate::payloads::{self, CallFacts};
use crate::schedule::{Kind, PlannedCall};
use crate::stats::Recorder;
use callflow_actors::domain::CallId;
use callflow_actors::Engine;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Scheduled steps per call (inbound, started, availability, book/callback/hang-up, ended,
/// analyzed): a call lasts `(STEPS_PER_CALL - 1) × think` plus the answers' latency.
pub const STEPS_PER_CALL: u32 = 6;

/// How the calls of a run are played.
pub struct LoadSettings {
    /// Seed of the run (names the calls).
    pub seed: u64,
    /// Pause between a call's steps.
    pub think: Duration,
    /// Most calls active at once.
    pub concurrency: usize,
    /// The practice numbers calls dial.
    pub numbers: Vec<String>,
    /// Service names calls ask for.
    pub services: Vec<String>,
    /// The day every contended call wants (`YYYY-MM-DD`).
    pub popular_day: String,
    /// Today in the practice's zone, for `days_ahead`.
    pub today: chrono::NaiveDate,
    /// The in-process engine, so hang-up calls can take a hold the way booking does;
    /// `None` against a remote server (hang-ups then only abandon an offer).
    pub engine: Option<Engine>,
}

/// What the server acknowledged, for the correctness checks after the run.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (call id, appointment id) of every `book_appointment` answered `ok` with an id.
    pub bookings: Vec<(String, String)>,
    /// Callback ids of every `request_callback` answered `ok`.
    pub callbacks: Vec<String>,
    /// Calls whose booking was sent twice: (call id, first answer's id, second answer's id).
    pub duplicate_bookings: Vec<(String, Option<String>, Option<String>)>,
    /// Calls whose `call_ended` was sent twice.
    pub duplicate_events: Vec<String>,
    /// Holds taken by hang-up calls (in-process only).
    pub holds_taken: u64,
    /// Calls that played every step.
    pub calls_completed: u64,
    /// Most calls in flight at once, as the harness saw it.
    pub peak_in_flight: usize,
}

/// A finished run.
pub struct Outcome {
    /// Latencies and outcomes per step.
    pub recorder: Recorder,
    /// What was acknowledged.
    pub ledger: Ledger,
    /// Wall time from the first arrival to the last answer.
    pub elapsed: Duration,
}

struct Shared {
    target: Rc<Target>,
    settings: Rc<LoadSettings>,
    recorder: RefCell<Recorder>,
    ledger: RefCell<Ledger>,
    in_flight: RefCell<usize>,
}

/// Plays `calls` against `target`; returns once every call has finished.
pub async fn run(
    target: Rc<Target>,
    settings: Rc<LoadSettings>,
    calls: Vec<PlannedCall>,
) -> Outcome {
    let permits = settings.concurrency.max(1);
    let shared = Rc::new(Shared {
        target,
        settings,
        recorder: RefCell::new(Recorder::default()),
        ledger: RefCell::new(Ledger::default()),
        in_flight: RefCell::new(0),
    });
    let gate = Arc::new(Semaphore::new(permits));
    let start = Instant::now();
    for call in calls {
        let arrival = start + call.offset;
        tokio::time::sleep_until(arrival.into()).await;
        // At the cap, later arrivals queue here; their clock already runs (from `arrival`).
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        // The wait for a place under the cap, apart: it is in the first step's latency too.
        shared
            .recorder
            .borrow_mut()
            .record(ADMISSION, arrival.elapsed(), Ok("admitted"));
        let shared = shared.clone();
        actix_rt::spawn(async move {
            {
                let mut n = shared.in_flight.borrow_mut();
                *n += 1;
                let mut ledger = shared.ledger.borrow_mut();
                ledger.peak_in_flight = ledger.peak_in_flight.max(*n);
            }
            play(&shared, &call, arrival).await;
            *shared.in_flight.borrow_mut() -= 1;
            shared.ledger.borrow_mut().calls_completed += 1;
            drop(permit);
        });
    }
    // Every permit back means every call finished.
    let all = u32::try_from(permits).unwrap_or(u32::MAX);
    let _all_done = gate.acquire_many(all).await;
    let elapsed = start.elapsed();
    let recorder = shared.recorder.replace(Recorder::default());
    let ledger = std::mem::take(&mut *shared.ledger.borrow_mut());
    Outcome {
        recorder,
        ledger,
        elapsed,
    }
}

const WEBHOOK: &str = "/retell/webhook";

/// The series of waits for a place under `--concurrency` (not a request).
pub const ADMISSION: &str = "admission";

impl Shared {
    /// Waits for `due`, sends, records; the answer when there is one.
    async fn step(
        &self,
        step: &'static str,
        due: Instant,
        path: &str,
        body: impl FnOnce() -> Vec<u8>,
    ) -> Option<Value> {
        tokio::time::sleep_until(due.into()).await;
        let result = self.target.post_signed(path, body()).await;
        let latency = due.elapsed();
        let mut recorder = self.recorder.borrow_mut();
        match &result {
            Ok(answer) => recorder.record(step, latency, Ok(step_outcome(step, answer))),
            Err(kind) => recorder.record(step, latency, Err(*kind)),
        }
        result.ok()
    }
}

fn step_outcome<'a>(step: &str, answer: &'a Value) -> &'a str {
    match step {
        "call_inbound" => {
            let routed = answer
                .pointer("/call_inbound/dynamic_variables")
                .and_then(Value::as_object)
                .is_some_and(|vars| !vars.is_empty());
            if routed {
                "routed"
            } else {
                "unrouted"
            }
        }
        "call_started" | "call_ended" | "call_analyzed" => "ok",
        _ => outcome(answer),
    }
}

async fn play(shared: &Shared, call: &PlannedCall, arrival: Instant) {
    let s = &shared.settings;
    let think = s.think;
    let due = |n: u32| arrival + think * n;
    let facts = CallFacts::new(
        s.seed,
        call.index,
        &s.numbers[call.number % s.numbers.len()],
        chrono::Utc::now().timestamp_millis(),
    );
    let function_path = |name: &str| format!("/retell/functions/{name}");

    shared
        .step("call_inbound", due(0), WEBHOOK, || {
            payloads::call_inbound(&facts)
        })
        .await;
    shared
        .step("call_started", due(1), WEBHOOK, || {
            payloads::call_started(&facts)
        })
        .await;

    let contended = call.kind == Kind::Contended;
    let service = if contended {
        &s.services[0]
    } else {
        &s.services[call.service % s.services.len()]
    };
    let day = if contended {
        s.popular_day.clone()
    } else {
        (s.today + chrono::Duration::days(i64::from(call.days_ahead)))
            .format("%Y-%m-%d")
            .to_string()
    };
    let period = match (contended, call.pick) {
        (true, _) | (false, 0) => Some("vormittags"),
        (false, 1) => Some("nachmittags"),
        _ => None,
    };
    let offered = shared
        .step(
            "check_availability",
            due(2),
            &function_path("check_availability"),
            || {
                let args = payloads::check_availability_args(service, &day, period);
                payloads::function(&facts, "check_availability", args)
            },
        )
        .await;
    let slot_ids: Vec<String> = offered
        .as_ref()
        .and_then(|a| a.get("slots"))
        .and_then(Value::as_array)
        .map(|slots| {
            slots
                .iter()
                .filter_map(|slot| slot.get("slot_id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Contended calls all take the first offer; the others pick among what they heard.
    let chosen = if contended {
        slot_ids.first()
    } else {
        slot_ids.get(call.pick as usize % slot_ids.len().max(1))
    };

    let mut successful = false;
    match (call.kind, chosen) {
        (Kind::Book | Kind::Contended, Some(slot_id)) => {
            let args = payloads::book_appointment_args(&facts, service, slot_id);
            let path = function_path("book_appointment");
            let body = payloads::function(&facts, "book_appointment", args);
            let first = shared
                .step("book_appointment", due(3), &path, || body.clone())
                .await;
            let first_id = appointment_id(first.as_ref());
            if let Some(id) = &first_id {
                successful = true;
                shared
                    .ledger
                    .borrow_mut()
                    .bookings
                    .push((facts.call_id.clone(), id.clone()));
            }
            if call.duplicate {
                // Retell's retry: same call, same arguments, sent again at once.
                let second = shared
                    .step("book_appointment", Instant::now(), &path, || body)
                    .await;
                let second_id = appointment_id(second.as_ref());
                shared.ledger.borrow_mut().duplicate_bookings.push((
                    facts.call_id.clone(),
                    first_id,
                    second_id,
                ));
            }
        }
        (Kind::Callback, _) => {
            let answer = shared
                .step(
                    "request_callback",
                    due(3),
                    &function_path("request_callback"),
                    || {
                        let args = payloads::request_callback_args(&facts);
                        payloads::function(&facts, "request_callback", args)
                    },
                )
                .await;
            if let Some(id) = answer
                .as_ref()
                .filter(|a| outcome(a) == "ok")
                .and_then(|a| a.get("callback_id"))
                .and_then(Value::as_str)
            {
                successful = true;
                shared.ledger.borrow_mut().callbacks.push(id.to_owned());
            }
        }
        (Kind::Hangup, Some(slot_id)) => {
            tokio::time::sleep_until(due(3).into()).await;
            if let Some(engine) = &s.engine {
                if hold(engine, &facts.call_id, slot_id).await {
                    shared.ledger.borrow_mut().holds_taken += 1;
                }
            }
        }
        _ => {}
    }

    let ended_ms = facts.started_ms + i64::try_from((think * 4).as_millis()).unwrap_or(0);
    let ended = payloads::call_ended(&facts, ended_ms);
    shared
        .step("call_ended", due(4), WEBHOOK, || ended.clone())
        .await;
    if call.duplicate {
        shared
            .step("call_ended", Instant::now(), WEBHOOK, || ended)
            .await;
        shared
            .ledger
            .borrow_mut()
            .duplicate_events
            .push(facts.call_id.clone());
    }
    shared
        .step("call_analyzed", due(5), WEBHOOK, || {
            payloads::call_analyzed(&facts, ended_ms, successful)
        })
        .await;
}

/// The appointment id of a successful booking answer.
fn appointment_id(answer: Option<&Value>) -> Option<String> {
    let answer = answer?;
    if outcome(answer) != "ok" {
        return None;
    }
    answer
        .get("appointment_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A hang-up mid-booking: the hold booking takes first, then nothing. Whether it was granted.
async fn hold(engine: &Engine, call_id: &str, slot_id: &str) -> bool {
    let (Ok(call), Ok(slot)) = (CallId::parse(call_id), engine.slot_ids().decode(slot_id)) else {
        return false;
    };
    matches!(
        engine.hold(&call, &slot, chrono::Utc::now()).await,
        Ok(Ok(_))
    )
}
