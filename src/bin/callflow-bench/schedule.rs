//! What the load looks like, decided before the first request: open-loop arrival times and what
//! each simulated call does. Pure and seeded, so the same `--seed` replays the same run.

use std::time::Duration;

/// SplitMix64: a tiny, well-mixed generator whose output never changes between crate versions,
/// so a seed printed in a report reproduces the run years later.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` (53 bits).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Poisson arrivals at `rate` per second for `duration`: offsets from the run's start, rising.
///
/// Open loop: these are the moments calls *should* start whatever the server does, so a stall
/// shows up as latency instead of silently slowing the offered load (coordinated omission).
pub fn arrivals(rate: f64, duration: Duration, rng: &mut Rng) -> Vec<Duration> {
    if rate.is_nan() || rate <= 0.0 || duration.is_zero() {
        return Vec::new();
    }
    let end = duration.as_secs_f64();
    let mut out = Vec::with_capacity((rate * end * 1.1) as usize + 16);
    let mut t = 0.0;
    loop {
        // Exponential gaps; `1 - unit` is in (0, 1], so the logarithm is finite.
        t += -(1.0 - rng.unit()).ln() / rate;
        if t >= end {
            return out;
        }
        out.push(Duration::from_secs_f64(t));
    }
}

/// Shares of the call kinds and of deliberate duplicates, each in `[0, 1]`.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Calls that all want the first free slot of the same popular morning.
    pub contended: f64,
    /// Calls that ask for a callback instead of booking.
    pub callback: f64,
    /// Calls that hang up after being offered slots (holding one when the harness can).
    pub hangup: f64,
    /// Calls whose booking and `call_ended` are each sent twice (Retell's retries).
    pub duplicate: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            contended: 0.2,
            callback: 0.1,
            hangup: 0.1,
            duplicate: 0.05,
        }
    }
}

/// What a simulated call does after `check_availability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Books one of the offered slots (at random).
    Book,
    /// Books the first offered slot of the popular day, like everyone else in this share.
    Contended,
    /// Asks for a callback.
    Callback,
    /// Hangs up mid-booking: takes a hold (when in-process) and never books.
    Hangup,
}

/// One simulated call, fully decided in advance.
#[derive(Debug, Clone)]
pub struct PlannedCall {
    /// Position in the run (names the call and the caller's number).
    pub index: u64,
    /// When it should start, from the run's start.
    pub offset: Duration,
    /// What it does.
    pub kind: Kind,
    /// Whether its booking and `call_ended` are sent twice.
    pub duplicate: bool,
    /// Which of the dialled numbers it calls.
    pub number: usize,
    /// Which service it asks for.
    pub service: usize,
    /// How many days ahead it wants (ignored by contended calls).
    pub days_ahead: u32,
    /// Which offered slot it takes (modulo the number offered).
    pub pick: u32,
}

/// Plans a call for each arrival.
pub fn plan(
    arrivals: &[Duration],
    mix: Mix,
    numbers: usize,
    services: usize,
    horizon_days: u32,
    rng: &mut Rng,
) -> Vec<PlannedCall> {
    arrivals
        .iter()
        .enumerate()
        .map(|(i, offset)| {
            let roll = rng.unit();
            let kind = if roll < mix.contended {
                Kind::Contended
            } else if roll < mix.contended + mix.callback {
                Kind::Callback
            } else if roll < mix.contended + mix.callback + mix.hangup {
                Kind::Hangup
            } else {
                Kind::Book
            };
            PlannedCall {
                index: i as u64,
                offset: *offset,
                kind,
                duplicate: rng.unit() < mix.duplicate,
                number: rng.below(numbers as u64) as usize,
                service: rng.below(services as u64) as usize,
                // Not today or tomorrow (minimum notice), within the booking horizon.
                days_ahead: 2 + rng.below(u64::from(horizon_days.saturating_sub(3)).max(1)) as u32,
                pick: rng.below(3) as u32,
            }
        })
        .collect()
}

/// The arrival rate that keeps `concurrency` calls active when each lasts `call_length`
/// (Little's law: active = rate × length).
pub fn rate_for(concurrency: usize, call_length: Duration) -> f64 {
    concurrency as f64 / call_length.as_secs_f64().max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let a = arrivals(100.0, Duration::from_secs(5), &mut Rng::new(7));
        let b = arrivals(100.0, Duration::from_secs(5), &mut Rng::new(7));
        let c = arrivals(100.0, Duration::from_secs(5), &mut Rng::new(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn arrivals_rise_stay_inside_the_run_and_average_the_rate() {
        let run = Duration::from_secs(100);
        let a = arrivals(200.0, run, &mut Rng::new(1));
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.iter().all(|t| *t < run));
        // 20,000 expected; a Poisson count's standard deviation is ~141, so 3% is > 4 sigma.
        let n = a.len() as f64;
        assert!((n - 20_000.0).abs() < 600.0, "{n} arrivals");
    }

    #[test]
    fn no_rate_or_no_time_means_no_calls() {
        assert!(arrivals(0.0, Duration::from_secs(10), &mut Rng::new(1)).is_empty());
        assert!(arrivals(f64::NAN, Duration::from_secs(10), &mut Rng::new(1)).is_empty());
        assert!(arrivals(10.0, Duration::ZERO, &mut Rng::new(1)).is_empty());
    }

    #[test]
    fn the_mix_gives_each_kind_about_its_share() {
        let offsets = vec![Duration::ZERO; 10_000];
        let mix = Mix {
            contended: 0.25,
            callback: 0.25,
            hangup: 0.25,
            duplicate: 0.5,
        };
        let calls = plan(&offsets, mix, 3, 4, 60, &mut Rng::new(3));
        let share = |k: Kind| calls.iter().filter(|c| c.kind == k).count() as f64 / 10_000.0;
        for kind in [Kind::Book, Kind::Contended, Kind::Callback, Kind::Hangup] {
            assert!(
                (share(kind) - 0.25).abs() < 0.03,
                "{kind:?}: {}",
                share(kind)
            );
        }
        let dup = calls.iter().filter(|c| c.duplicate).count() as f64 / 10_000.0;
        assert!((dup - 0.5).abs() < 0.03);
        assert!(calls.iter().all(|c| c.number < 3 && c.service < 4));
        assert!(calls.iter().all(|c| (2..59).contains(&c.days_ahead)));
    }

    #[test]
    fn littles_law_sets_the_rate() {
        assert_eq!(rate_for(1000, Duration::from_secs(5)), 200.0);
    }
}
