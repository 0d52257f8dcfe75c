//! The one time source of the application: the system clock in production, a clock tests set
//! and advance (so no test sleeps). The engine, the use cases and the SLA monitor all read it.

use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// Where the monitor reads the time and how it waits for a point in time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// How long a timer for `at` must wait; `None` when this clock does not move by itself
    /// (a test advances it and asks the monitor to fire what is due).
    fn wait_until(&self, at: DateTime<Utc>) -> Option<Duration>;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn wait_until(&self, at: DateTime<Utc>) -> Option<Duration> {
        Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
    }
}

/// A clock that stands still until told to move; its timers never fire on their own.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_until(&self, _at: DateTime<Utc>) -> Option<Duration> {
        None
    }
}
