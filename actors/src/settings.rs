//! The engine's tunables, filled from the server's configuration.

use crate::domain::availability::SchedulingRules;
use crate::domain::scoring::ScoringWeights;
use std::time::Duration;

/// Everything the actors need to know from configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Slot grid, minimum notice, booking horizon.
    pub rules: SchedulingRules,
    /// Lifetime of an unconfirmed hold.
    pub hold_ttl: Duration,
    /// Inactivity after which a call actor ends itself and releases its holds.
    pub call_idle_timeout: Duration,
    /// Most slots offered in one answer.
    pub max_slots_offered: usize,
    /// Staff-selection weights.
    pub weights: ScoringWeights,
    /// Secret the opaque slot ids are sealed with (shared by every node).
    pub slot_secret: Vec<u8>,
    /// Mailbox size of hot actors (staff, branch); `send` waits when full.
    pub mailbox_capacity: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            rules: SchedulingRules {
                slot_interval_minutes: 15,
                minimum_notice: chrono::Duration::minutes(60),
                booking_horizon_days: 60,
            },
            hold_ttl: Duration::from_secs(300),
            call_idle_timeout: Duration::from_secs(900),
            max_slots_offered: 3,
            weights: ScoringWeights::default(),
            slot_secret: b"callflow-default-slot-secret".to_vec(),
            mailbox_capacity: 1024,
        }
    }
}
