//! How many tasks run at once, adapted to the API the way TCP adapts its window (additive increase,
//! multiplicative decrease). A sync starts with a few tasks. After each round (as many finished tasks as
//! the current limit) it reads what the installation's requests met in that round:
//! - any 429 or failure (5xx, no response): the limit halves, once per round of tasks in flight;
//! - requests held back by the rate limiter: the budget binds, so the limit holds;
//! - latency above twice the best round's: the server is queueing, so the limit comes back down by
//!   one (not below where it started: latency alone never throttles below the start);
//! - otherwise one more task may run, up to the maximum (`--workers`, capped by the installation's
//!   `concurrent-requests`).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::http::Pressure;

/// What the pacing did over a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PaceReport {
    /// Tasks at once at the start.
    pub start: usize,
    /// The most at once.
    pub peak: usize,
    /// At the end.
    pub last: usize,
    /// The most allowed.
    pub max: usize,
    /// Times it halved after 429s or failures.
    pub backoffs: u32,
}

/// The pacing of one sync run.
pub(super) struct Pace {
    state: Mutex<State>,
    freed: tokio::sync::Notify,
    start: usize,
    max: usize,
}

struct State {
    limit: usize,
    running: usize,
    /// Tasks finished in this round, and the totals when it began.
    done: usize,
    began: Pressure,
    began_waited: Duration,
    /// After a backoff, the tasks that were in flight (started under the old limit) must finish before
    /// another backoff.
    settle: usize,
    best_latency: Option<Duration>,
    peak: usize,
    backoffs: u32,
}

/// What a round of tasks met, for deciding the next limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    BackOff,
    Hold,
    Ease,
    Grow,
}

impl Pace {
    /// Starts at `start` tasks at once (at most `max`), with the installation's totals `now`.
    pub(super) fn new(start: usize, max: usize, now: Pressure, waited: Duration) -> Self {
        let max = max.max(1);
        let start = start.clamp(1, max);
        Pace {
            state: Mutex::new(State {
                limit: start,
                running: 0,
                done: 0,
                began: now,
                began_waited: waited,
                settle: 0,
                best_latency: None,
                peak: start,
                backoffs: 0,
            }),
            freed: tokio::sync::Notify::new(),
            start,
            max,
        }
    }

    /// Waits until another task may run.
    pub(super) async fn slot(&self) -> Slot<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut state = self.lock();
                if state.running < state.limit {
                    state.running += 1;
                    return Slot { pace: self };
                }
            }
            freed.await;
        }
    }

    /// A task finished; `now` and `waited` are the installation's totals (requests, rate-limit wait).
    pub(super) fn finished(&self, now: Pressure, waited: Duration) {
        let mut state = self.lock();
        state.done += 1;
        if state.settle > 0 {
            // What the tasks in flight at the backoff met was met under the old limit: once they are
            // done, a fresh round starts.
            if state.done >= state.settle {
                state.settle = 0;
                state.done = 0;
                state.began = now;
                state.began_waited = waited;
            }
            return;
        }
        let round = now.since(state.began);
        let troubled = round.throttled + round.failed > 0;
        if !troubled && state.done < state.limit {
            return;
        }
        let held_back = waited.saturating_sub(state.began_waited);
        let verdict = judge(&mut state, round, held_back);
        let limit = state.limit;
        state.limit = match verdict {
            Verdict::BackOff => {
                state.backoffs += 1;
                state.settle = state.running;
                (limit / 2).max(1)
            }
            Verdict::Hold => limit,
            Verdict::Ease => limit.saturating_sub(1).max(self.start).min(limit),
            Verdict::Grow => (limit + 1).min(self.max),
        };
        state.peak = state.peak.max(state.limit);
        state.done = 0;
        state.began = now;
        state.began_waited = waited;
        if state.limit > limit {
            self.freed.notify_waiters();
        }
    }

    /// What it did.
    pub(super) fn report(&self) -> PaceReport {
        let state = self.lock();
        PaceReport { start: self.start, peak: state.peak, last: state.limit, max: self.max, backoffs: state.backoffs }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The next step for a round that met `round`, with `waited` spent held back by rate limits.
fn judge(state: &mut State, round: Pressure, waited: Duration) -> Verdict {
    if round.throttled + round.failed > 0 {
        return Verdict::BackOff;
    }
    let Some(latency) = round.mean_latency() else { return Verdict::Hold };
    if !waited.is_zero() {
        return Verdict::Hold;
    }
    let best = *state.best_latency.get_or_insert(latency);
    state.best_latency = Some(best.min(latency));
    // Below a millisecond, doubling is noise (a loopback server), not a queue.
    if latency > best * 2 + Duration::from_millis(1) { Verdict::Ease } else { Verdict::Grow }
}

/// A running task's place; dropping it lets another start.
pub(super) struct Slot<'a> {
    pace: &'a Pace,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.pace.lock().running -= 1;
        self.pace.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Totals after `answered` more requests of `latency_ms` each, `throttled` of them 429.
    fn after(earlier: Pressure, answered: u64, latency_ms: u64, throttled: u64) -> Pressure {
        Pressure {
            answered: earlier.answered + answered,
            latency: earlier.latency + Duration::from_millis(latency_ms * answered),
            throttled: earlier.throttled + throttled,
            failed: earlier.failed,
        }
    }

    /// Runs `rounds` full rounds where every task made one request of `latency_ms`.
    async fn rounds(pace: &Pace, totals: &mut Pressure, rounds: usize, latency_ms: u64) {
        for _ in 0..rounds {
            let limit = pace.report().last;
            for _ in 0..limit {
                let _slot = pace.slot().await;
                *totals = after(*totals, 1, latency_ms, 0);
                pace.finished(*totals, Duration::ZERO);
            }
        }
    }

    #[tokio::test]
    async fn it_grows_while_latency_holds_and_halves_after_429s() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 32, totals, Duration::ZERO);
        rounds(&pace, &mut totals, 10, 100).await;
        assert_eq!(pace.report().last, 14, "one more per round of steady latency");
        totals = after(totals, 1, 100, 1);
        pace.finished(totals, Duration::ZERO);
        assert_eq!((pace.report().last, pace.report().backoffs), (7, 1));
        rounds(&pace, &mut totals, 40, 100).await;
        assert_eq!(pace.report().last, 32, "never past the maximum");
        assert_eq!(pace.report().peak, 32);
    }

    #[tokio::test]
    async fn one_burst_of_429s_halves_once_until_the_tasks_in_flight_finish() {
        let mut totals = Pressure::default();
        let pace = Pace::new(8, 8, totals, Duration::ZERO);
        let slots: Vec<Slot<'_>> = futures::future::join_all((0..8).map(|_| pace.slot())).await;
        for slot in slots {
            drop(slot);
            totals = after(totals, 1, 100, 1);
            pace.finished(totals, Duration::ZERO);
        }
        let report = pace.report();
        assert_eq!((report.last, report.backoffs), (4, 1), "eight 429s from one round: halved once");
    }

    #[tokio::test]
    async fn growing_latency_brings_it_back_but_not_below_the_start_and_a_binding_budget_holds_it() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 64, totals, Duration::ZERO);
        rounds(&pace, &mut totals, 4, 100).await;
        assert_eq!(pace.report().last, 8);
        rounds(&pace, &mut totals, 10, 500).await;
        assert_eq!(pace.report().last, 4, "latency above twice the best: down one per round, to the start");
        let limit = pace.report().last;
        for task in 0..limit * 3 {
            let _slot = pace.slot().await;
            totals = after(totals, 1, 100, 0);
            pace.finished(totals, Duration::from_millis(10 * (task as u64 + 1)));
        }
        assert_eq!(pace.report().last, limit, "requests waited for the rate limit: no growth");
    }

    #[tokio::test]
    async fn no_more_tasks_run_than_the_limit() {
        let pace = Pace::new(2, 2, Pressure::default(), Duration::ZERO);
        let (first, second) = (pace.slot().await, pace.slot().await);
        let third = pace.slot();
        tokio::pin!(third);
        assert!(futures::poll!(third.as_mut()).is_pending(), "a third task waits");
        drop(first);
        let _third = third.await;
        drop(second);
    }
}
