//! How many tasks run at once, adapted to the API the way TCP adapts its window (slow start, then
//! additive increase, multiplicative decrease). A sync starts with a few tasks, and each one that met
//! no trouble while mostly waiting for the API makes room for two more (tripling per round) until the
//! first sign of a queue, a limit or a 429; then it adds one per round. After each round (as many finished tasks as the limit when it began) it reads what the
//! installation's requests met in that round:
//! - any 429 or failure (5xx, no response): the limit halves, once per round of tasks in flight;
//! - requests held back by the rate limiter: the budget binds, so the limit holds;
//! - requests or tasks taking over twice the best round's time: the server, or this machine's CPU,
//!   is queueing, so the limit comes back down by one (not below where it started);
//! - otherwise one more task may run, up to the maximum (`--workers`), if one waited for a slot (a
//!   limit the work doesn't reach is not raised, as TCP doesn't grow a window the application leaves
//!   unused) and tasks spent most of their time waiting for the API (tasks busy on this machine's CPU
//!   gain nothing from company).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::Pressure;

/// What the pacing did over a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Tasks finished in this round, how many make it (the limit when it began), and the totals then.
    done: usize,
    round_size: usize,
    began: Pressure,
    began_waited: Duration,
    /// After a backoff, the tasks that were in flight (started under the old limit) must finish before
    /// another backoff.
    settle: usize,
    best_latency: Option<Duration>,
    /// Time the round's finished tasks took, and the best round's mean.
    task_time: Duration,
    best_task: Option<Duration>,
    /// Two more per untroubled task (tripling per round) until the first backoff or queue.
    slow_start: bool,
    /// A task waited for a slot this round: the limit, not the work, set the pace.
    bound: bool,
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
                round_size: start,
                began: now,
                began_waited: waited,
                settle: 0,
                best_latency: None,
                task_time: Duration::ZERO,
                best_task: None,
                slow_start: true,
                bound: false,
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
                state.bound = true;
            }
            freed.await;
        }
    }

    /// A task finished; `now` and `waited` are the installation's totals (requests, rate-limit wait).
    pub(super) fn finished(&self, took: Duration, now: Pressure, waited: Duration) {
        let mut state = self.lock();
        state.done += 1;
        state.task_time += took;
        if state.settle > 0 {
            // What the tasks in flight at the backoff met was met under the old limit: once they are
            // done, a fresh round starts.
            if state.done >= state.settle {
                state.settle = 0;
                self.new_round(&mut state, now, waited);
            }
            return;
        }
        let round = now.since(state.began);
        let held_back = waited.saturating_sub(state.began_waited);
        let troubled = round.throttled + round.failed > 0;
        let before = state.limit;
        let bound = state.bound;
        if state.slow_start && bound && !troubled && held_back.is_zero() && waiting_on_the_api(&state, round) {
            // Slow start: each task that met no trouble makes room for two more, which triples the
            // limit every round, until the first sign of a queue, a limit, or tasks busy on the CPU.
            state.limit = (state.limit + 2).min(self.max);
        }
        if troubled || state.done >= state.round_size {
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
                // Growing a limit no task waited for would only add idle instances.
                Verdict::Grow if !bound => limit,
                // Slow start grew it task by task.
                Verdict::Grow if state.slow_start => limit,
                Verdict::Grow => (limit + 1).min(self.max),
            };
            if matches!(verdict, Verdict::BackOff | Verdict::Ease) {
                state.slow_start = false;
            }
            self.new_round(&mut state, now, waited);
        }
        state.peak = state.peak.max(state.limit);
        if state.limit > before {
            self.freed.notify_waiters();
        }
    }

    fn new_round(&self, state: &mut State, now: Pressure, waited: Duration) {
        state.bound = state.running >= state.limit;
        state.done = 0;
        state.task_time = Duration::ZERO;
        state.round_size = state.limit;
        state.began = now;
        state.began_waited = waited;
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
    let queued = queueing(state, round);
    state.best_latency = Some(state.best_latency.map_or(latency, |best| best.min(latency)));
    let task = state.task_time / state.done.max(1) as u32;
    state.best_task = Some(state.best_task.map_or(task, |best| best.min(task)));
    if queued {
        Verdict::Ease
    } else if waiting_on_the_api(state, round) {
        Verdict::Grow
    } else {
        Verdict::Hold
    }
}

/// Whether the round's tasks spent most of their time waiting for the API (its mean latency is at
/// least three quarters of a task's time), so more at once would overlap more waiting; tasks busy on
/// this machine's CPU (parsing, storing, or a server on the same machine) would only queue for it, and
/// each more at once holds another instance's memory. False when the round shows a queue.
fn waiting_on_the_api(state: &State, round: Pressure) -> bool {
    let Some(latency) = round.mean_latency() else { return false };
    let task = state.task_time / state.done.max(1) as u32;
    latency * 4 >= task * 3 && !queueing(state, round)
}

/// Whether the round so far shows a queue: its requests took over twice the best round's latency (the
/// server queues them), or its tasks took over twice the best round's time (this machine's CPU or
/// disk is saturated: more tasks at once would only wait for it). Below a millisecond, doubling is
/// noise, not a queue.
fn queueing(state: &State, round: Pressure) -> bool {
    let slower = |now: Duration, best: Duration| now > best * 2 + Duration::from_millis(1);
    let server = matches!((state.best_latency, round.mean_latency()), (Some(best), Some(now)) if slower(now, best));
    let task = state.task_time / state.done.max(1) as u32;
    server || state.best_task.is_some_and(|best| slower(task, best))
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

    /// Runs `rounds` full rounds where tasks wait for every slot and each made one request of
    /// `latency_ms`, having waited `held_ms` more for the rate limiter than the one before.
    async fn rounds_held(pace: &Pace, totals: &mut Pressure, rounds: usize, latency_ms: u64, held_ms: u64) {
        let mut held = Duration::ZERO;
        for _ in 0..rounds {
            let limit = pace.report().last;
            let slots: Vec<Slot<'_>> = futures::future::join_all((0..limit).map(|_| pace.slot())).await;
            {
                let waiting = pace.slot();
                tokio::pin!(waiting);
                assert!(futures::poll!(waiting.as_mut()).is_pending(), "every slot is taken");
            }
            for slot in slots {
                drop(slot);
                *totals = after(*totals, 1, latency_ms, 0);
                held += Duration::from_millis(held_ms);
                pace.finished(Duration::from_millis(latency_ms), *totals, held);
            }
        }
    }

    async fn rounds(pace: &Pace, totals: &mut Pressure, rounds: usize, latency_ms: u64) {
        rounds_held(pace, totals, rounds, latency_ms, 0).await;
    }

    #[tokio::test]
    async fn it_triples_per_round_until_429s_halve_it_then_grows_by_one() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 32, totals, Duration::ZERO);
        rounds(&pace, &mut totals, 1, 100).await;
        assert_eq!(pace.report().last, 12, "slow start: two more per task that met no trouble");
        rounds(&pace, &mut totals, 2, 100).await;
        assert_eq!(pace.report().last, 32, "tripled each round, up to the maximum");
        totals = after(totals, 1, 100, 1);
        pace.finished(Duration::from_millis(100), totals, Duration::ZERO);
        assert_eq!((pace.report().last, pace.report().backoffs), (16, 1));
        rounds(&pace, &mut totals, 3, 100).await;
        assert_eq!(pace.report().last, 19, "after a backoff: one more per round of steady latency");
        rounds(&pace, &mut totals, 40, 100).await;
        assert_eq!((pace.report().last, pace.report().peak), (32, 32), "never past the maximum");
    }

    #[tokio::test]
    async fn one_burst_of_429s_halves_once_until_the_tasks_in_flight_finish() {
        let mut totals = Pressure::default();
        let pace = Pace::new(8, 8, totals, Duration::ZERO);
        let slots: Vec<Slot<'_>> = futures::future::join_all((0..8).map(|_| pace.slot())).await;
        for slot in slots {
            drop(slot);
            totals = after(totals, 1, 100, 1);
            pace.finished(Duration::from_millis(100), totals, Duration::ZERO);
        }
        let report = pace.report();
        assert_eq!((report.last, report.backoffs), (4, 1), "eight 429s from one round: halved once");
    }

    #[tokio::test]
    async fn growing_latency_brings_it_back_but_not_below_the_start_and_a_binding_budget_holds_it() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 64, totals, Duration::ZERO);
        rounds(&pace, &mut totals, 1, 100).await;
        assert_eq!(pace.report().last, 12);
        rounds(&pace, &mut totals, 10, 500).await;
        assert_eq!(pace.report().last, 4, "latency above twice the best: down one per round, to the start");
        let limit = pace.report().last;
        rounds_held(&pace, &mut totals, 3, 100, 10).await;
        assert_eq!(pace.report().last, limit, "requests waited for the rate limit: no growth");
    }

    #[tokio::test]
    async fn tasks_slowing_down_while_the_api_does_not_stop_the_growth() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 64, totals, Duration::ZERO);
        rounds(&pace, &mut totals, 1, 10).await;
        let grown = pace.report().last;
        // The API still answers in 10 ms, but each task now takes 50 ms: the CPU is the queue.
        for _ in 0..grown {
            let _slot = pace.slot().await;
            totals = after(totals, 1, 10, 0);
            pace.finished(Duration::from_millis(50), totals, Duration::ZERO);
        }
        assert!(pace.report().last < grown, "{:?}", pace.report());
    }

    #[tokio::test]
    async fn tasks_busy_on_the_cpu_rather_than_waiting_for_the_api_get_no_company() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 64, totals, Duration::ZERO);
        for _ in 0..10 {
            let slots: Vec<Slot<'_>> = futures::future::join_all((0..4).map(|_| pace.slot())).await;
            for slot in slots {
                drop(slot);
                totals = after(totals, 1, 2, 0);
                pace.finished(Duration::from_millis(20), totals, Duration::ZERO);
            }
        }
        assert_eq!(pace.report().peak, 4, "2 ms of API in 20 ms tasks: more at once would queue for the CPU");
    }

    #[tokio::test]
    async fn a_limit_no_task_waits_for_is_not_raised() {
        let mut totals = Pressure::default();
        let pace = Pace::new(4, 64, totals, Duration::ZERO);
        for _ in 0..20 {
            let _slot = pace.slot().await;
            totals = after(totals, 1, 100, 0);
            pace.finished(Duration::from_millis(100), totals, Duration::ZERO);
        }
        assert_eq!(pace.report().last, 4, "one task at a time never needed more");
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
