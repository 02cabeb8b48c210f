//! Fault injection shared by every fake: latency, throttling (429 + `Retry-After`) and server errors.

use std::sync::Mutex;
use std::time::Duration;

use crate::Rng;

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every response.
    pub latency: Duration,
    /// Share of requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// Share of requests answered 500 or 503.
    pub error_rate: f64,
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer 429.
    Throttle,
    /// Answer this 5xx status.
    ServerError(u16),
}

/// Draws faults from a seeded generator, so a run is reproducible.
#[derive(Debug)]
pub struct FaultDice {
    faults: Faults,
    rng: Mutex<Rng>,
}

impl FaultDice {
    /// Dice for `faults`, seeded.
    pub fn new(faults: Faults, seed: u64) -> Self {
        FaultDice { faults, rng: Mutex::new(Rng::new(seed.wrapping_add(7))) }
    }

    /// The configured latency.
    pub fn latency(&self) -> Duration {
        self.faults.latency
    }

    /// Rolls for one request.
    pub fn roll(&self) -> Fault {
        if self.faults.throttle_rate <= 0.0 && self.faults.error_rate <= 0.0 {
            return Fault::None;
        }
        let mut rng = self.rng.lock().expect("fault dice lock");
        let draw = rng.unit();
        if draw < self.faults.throttle_rate {
            Fault::Throttle
        } else if draw < self.faults.throttle_rate + self.faults.error_rate {
            Fault::ServerError(if rng.below(2) == 0 { 500 } else { 503 })
        } else {
            Fault::None
        }
    }
}
