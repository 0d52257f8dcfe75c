//! When to try a failed delivery again: exponential backoff with "full jitter".
//!
//! After the n-th failed attempt the ceiling is `base · 2^(n-1)`, capped at `max`, and the wait
//! is drawn uniformly from `[0, ceiling]`. Full jitter spreads the retries of many deliveries
//! that failed together (a receiver that was down) instead of sending them back in waves.
//! The random draw is a parameter, so the rule is testable without a random source.

use std::time::Duration;

/// The retry policy of the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling after the first failed attempt.
    pub base: Duration,
    /// Largest ceiling.
    pub max: Duration,
    /// Attempts in all; the last failed one dead-letters the delivery.
    pub max_attempts: u32,
}

/// What happens to a delivery whose attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this wait.
    RetryAfter(Duration),
    /// Out of attempts: dead-letter it.
    Dead,
}

impl RetryPolicy {
    /// The backoff ceiling after `failed` attempts (1 for the first).
    pub fn ceiling(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << doublings.min(31))
            .map_or(self.max, |d| d.min(self.max))
    }

    /// What to do after attempt number `attempt` (1-based) failed; `unit` is a random number
    /// in `[0, 1)` (values outside are clamped).
    pub fn after_failure(&self, attempt: u32, unit: f64) -> AfterFailure {
        if attempt >= self.max_attempts {
            return AfterFailure::Dead;
        }
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        AfterFailure::RetryAfter(self.ceiling(attempt).mul_f64(unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 5,
        }
    }

    #[test]
    fn the_ceiling_doubles_per_failed_attempt_up_to_the_maximum() {
        let p = policy();
        let ceilings: Vec<u64> = (1..=8).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn the_wait_is_drawn_between_zero_and_the_ceiling() {
        let p = policy();
        assert_eq!(
            p.after_failure(3, 0.0),
            AfterFailure::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            p.after_failure(3, 0.5),
            AfterFailure::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            p.after_failure(3, 7.0),
            AfterFailure::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(
            p.after_failure(1, f64::NAN),
            AfterFailure::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn the_last_allowed_attempt_dead_letters() {
        let p = policy();
        assert!(matches!(
            p.after_failure(4, 0.9),
            AfterFailure::RetryAfter(_)
        ));
        assert_eq!(p.after_failure(5, 0.9), AfterFailure::Dead);
        assert_eq!(p.after_failure(6, 0.9), AfterFailure::Dead);
    }
}
