//! What an API's answers say about how loaded it is: how long it takes to answer, how often it says
//! "too many requests" (429) or fails (5xx, dropped connections, timeouts). The sync's pacing samples
//! these counters to choose how many tasks to run at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Running totals, updated by every request of an installation.
#[derive(Debug, Default)]
pub(crate) struct PressureGauge {
    answered: AtomicU64,
    latency_micros: AtomicU64,
    throttled: AtomicU64,
    failed: AtomicU64,
}

impl PressureGauge {
    /// A response's headers arrived `latency` after the request was sent.
    pub(crate) fn answered(&self, status: u16, latency: Duration) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(latency.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        match status {
            429 => self.throttled.fetch_add(1, Ordering::Relaxed),
            500..=599 => self.failed.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A request got no response (connection failed or dropped, or it timed out).
    pub(crate) fn unanswered(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The totals so far.
    pub(crate) fn read(&self) -> Pressure {
        Pressure {
            answered: self.answered.load(Ordering::Relaxed),
            latency: Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)),
            throttled: self.throttled.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Totals of an installation's requests (or, with [`Pressure::since`], of a stretch of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pressure {
    /// Responses received.
    pub answered: u64,
    /// Their latencies added up (request sent → headers received).
    pub latency: Duration,
    /// Responses 429 Too Many Requests.
    pub throttled: u64,
    /// Responses 5xx, and requests that got no response.
    pub failed: u64,
}

impl Pressure {
    /// What happened between `earlier` and these totals.
    pub fn since(self, earlier: Pressure) -> Pressure {
        Pressure {
            answered: self.answered.saturating_sub(earlier.answered),
            latency: self.latency.saturating_sub(earlier.latency),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            failed: self.failed.saturating_sub(earlier.failed),
        }
    }

    /// The mean latency of the answered requests, if there were any.
    pub fn mean_latency(&self) -> Option<Duration> {
        (self.answered > 0).then(|| self.latency / self.answered.min(u64::from(u32::MAX)) as u32)
    }
}
