//! Finding the knee: short open-loop phases at rising rates; the knee is the highest rate the
//! server still serves within bounds. Latency is counted from intended send times, so a server
//! that falls behind shows it at once as p99 growth.

use crate::report::SweepPoint;

/// Rate multipliers of a sweep, relative to the run's rate.
pub const FACTORS: [f64; 7] = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0];

/// Within bounds: under 1% failed requests, at least 95% of the offered rate completed, and the
/// worst p99 no more than 5× the first phase's (and at most 50 ms above it, so a tiny baseline
/// does not make noise a failure).
pub fn within_bounds(baseline_p99_ms: f64, point: &SweepPoint) -> bool {
    let error_rate = point.errors as f64 / point.requests.max(1) as f64;
    let p99_limit = (baseline_p99_ms * 5.0).max(baseline_p99_ms + 50.0);
    error_rate < 0.01
        && point.achieved_calls_per_second >= 0.95 * point.offered_calls_per_second
        && point.worst_p99_ms <= p99_limit
}

/// The highest nominal rate of the points before the first one out of bounds.
pub fn knee(points: &[SweepPoint]) -> Option<f64> {
    points
        .iter()
        .take_while(|p| p.within_bounds)
        .map(|p| p.nominal_calls_per_second)
        .last()
}

/// The sweep's criterion, for the report.
pub const CRITERION: &str =
    "errors < 1%, achieved >= 95% of offered, worst p99 <= max(5x, +50 ms) of the first phase";

#[cfg(test)]
mod tests {
    use super::*;

    fn point(offered: f64, achieved: f64, p99: f64, errors: u64) -> SweepPoint {
        SweepPoint {
            nominal_calls_per_second: offered,
            offered_calls_per_second: offered,
            achieved_calls_per_second: achieved,
            worst_p99_ms: p99,
            errors,
            requests: 1000,
            ..SweepPoint::default()
        }
    }

    #[test]
    fn a_phase_is_out_of_bounds_when_latency_errors_or_throughput_give() {
        assert!(within_bounds(2.0, &point(100.0, 99.0, 40.0, 0)));
        assert!(!within_bounds(20.0, &point(100.0, 99.0, 101.0, 0)));
        assert!(!within_bounds(2.0, &point(100.0, 90.0, 3.0, 0)));
        assert!(!within_bounds(2.0, &point(100.0, 100.0, 3.0, 10)));
    }

    #[test]
    fn the_knee_is_the_last_rate_before_the_first_failure() {
        let mut points = vec![
            point(10.0, 10.0, 1.0, 0),
            point(20.0, 20.0, 1.0, 0),
            point(40.0, 30.0, 900.0, 0),
            point(80.0, 80.0, 1.0, 0),
        ];
        for p in &mut points {
            p.within_bounds = within_bounds(1.0, p);
        }
        assert_eq!(knee(&points), Some(20.0));
        points[0].within_bounds = false;
        assert_eq!(knee(&points), None);
    }
}
