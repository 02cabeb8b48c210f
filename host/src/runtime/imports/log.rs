//! `max:connector/log`: guest messages become tracing events naming the connector, cut to a bounded
//! length, stripped of control characters so a connector can't forge terminal output, and rate
//! limited per instance so a flood can't drown the host's own output (what is dropped is counted and
//! said once the flood ends).

use std::time::Instant;

use crate::runtime::bindings::v0_1::max::connector::log::{Host, Level};
use crate::runtime::state::StoreState;

/// A token bucket of log messages: `per_second`, in bursts of twice as many.
#[derive(Debug)]
pub(crate) struct LogBudget {
    per_second: f64,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
}

impl LogBudget {
    /// A full bucket for `per_second` messages a second (0: none at all).
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        LogBudget { per_second, tokens: 2.0 * per_second, refilled: Instant::now(), dropped: 0 }
    }

    /// Whether one more message may be logged now; if so, how many were dropped before it.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(2.0 * self.per_second);
        self.refilled = now;
        if self.tokens < 1.0 {
            self.dropped += 1;
            return None;
        }
        self.tokens -= 1.0;
        Some(std::mem::take(&mut self.dropped))
    }
}

impl LogBudget {
    /// The messages dropped since the last report (reported at the end of every call).
    pub(crate) fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

/// Reports messages of `connector` that were dropped for going over `per_second`.
pub(crate) fn report_dropped(connector: &str, dropped: u64, per_second: u32) {
    if dropped > 0 {
        tracing::warn!(
            target: "max::connector",
            connector,
            "{dropped} log messages dropped (more than {per_second} a second)"
        );
    }
}

/// The message as it may be shown: control characters blanked, at most `max_chars` characters.
fn clean(message: &str, max_chars: usize) -> String {
    let kept: String = message.chars().take(max_chars).collect();
    let mut clean = crate::text::one_line(&kept);
    if message.chars().nth(max_chars).is_some() {
        clean.push('…');
    }
    clean
}

impl Host for StoreState {
    async fn log(&mut self, level: Level, message: String) {
        let connector = self.connector.as_str();
        let Some(dropped) = self.log_budget.admit(Instant::now()) else { return };
        report_dropped(connector, dropped, self.call_limits.log_per_second);
        let clean = clean(&self.http.redact(&message), self.call_limits.log_message_chars);
        match level {
            Level::Trace => tracing::trace!(target: "max::connector", connector, "{clean}"),
            Level::Debug => tracing::debug!(target: "max::connector", connector, "{clean}"),
            Level::Info => tracing::info!(target: "max::connector", connector, "{clean}"),
            Level::Warn => tracing::warn!(target: "max::connector", connector, "{clean}"),
            Level::Error => tracing::error!(target: "max::connector", connector, "{clean}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_rate_and_the_dropped_are_counted() {
        let mut budget = LogBudget::new(50);
        let start = Instant::now();
        let admitted = (0..10_000).filter(|_| budget.admit(start).is_some()).count();
        assert_eq!(admitted, 100, "one burst");
        // A second later, fifty more, and the first says how many were dropped.
        let later = start + Duration::from_secs(1);
        assert_eq!(budget.admit(later), Some(9_900));
        assert_eq!((1..60).filter(|_| budget.admit(later).is_some()).count(), 49);
    }

    #[test]
    fn escapes_and_length_are_neutralised() {
        let forged = "\u{1b}[2J\u{1b}[31mSynced acme in 0.1 s\r\nerror: fake";
        let shown = clean(forged, 2000);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        let long = "x".repeat(10_000);
        assert_eq!(clean(&long, 2000).chars().count(), 2001);
    }

    #[test]
    fn a_rate_of_zero_admits_nothing() {
        let mut budget = LogBudget::new(0);
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(budget.admit(later), None);
        assert_eq!(budget.take_dropped(), 1);
    }
}
