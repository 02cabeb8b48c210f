//! One installation's rate limiter, shared by every worker that sends through its HTTP capability.
//!
//! It learns budgets from response headers, whatever the API calls them: each `<prefix>remaining`
//! header with its `<prefix>reset` sibling is one budget (`X-RateLimit-Requests-*` and
//! `X-RateLimit-Complexity-*` on Linear, `X-RateLimit-*` on GitHub, `RateLimit-*` in the IETF draft).
//! A reset is read as epoch milliseconds, epoch seconds or seconds from now, by its size. Requests are
//! held back while a budget can't pay for one more (its cost is the largest drop seen between two
//! responses), until its reset; a `Retry-After` on an error response, or a rate-limited error a
//! connector reports, pauses every request until then. Requests in flight are counted against a
//! budget before the server has seen them, so concurrent workers don't overspend it.
//!
//! A budget announced as a rolling window rather than with a reset (`<prefix>max` requests per
//! `<prefix>interval-milliseconds`, as HubSpot's `X-HubSpot-RateLimit-*` headers say) is kept by counting:
//! each request counts from when it is sent until one interval after its response was read (the
//! server saw it in between, so it has left the server's window by then), and a request goes out only
//! while fewer than `max` count. What the server counted beyond ours is taken for other clients'
//! requests until an interval after that response.
//!
//! Until its first response has been read, a limiter lets one request out at a time: a new process learns
//! from that response what the server counted already (another process's requests, a window nearly
//! full) before it sends a burst.
//!
//! Limits a connector declares (contract 0.2.0's `pacing`: groups of requests an API limits without
//! saying so, like HubSpot's search) are kept the same way, each counting only the requests it matches.
//!
//! A request held back looks again whenever a response or a finished request changes what the limiter
//! knows: an estimate a later response corrects holds nothing for longer.
//!
//! Processes that call one account at once (workers sharing a database) pool their header budgets
//! through [`SharedBudgets`]: a request goes out only when the shared budget, which every process
//! takes from before it sends and lowers to what each response reports, can pay for it too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::manifest::RequestLimit;

/// The longest a limiter waits on its own for one announced reset (a malformed header can't stall a
/// sync for days; the request then goes out and the server decides).
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

/// Header budgets kept for several processes at once (see the module documentation). Calls may
/// block (a database round trip); the limiter makes them on blocking threads.
pub trait SharedBudgets: Send + Sync {
    /// Takes from every shared budget what one request costs (`costs`: what this process has seen
    /// a request cost, by budget): `None` when taken, or when the earliest of the budgets that can't
    /// pay will reset. Once a reset time has passed, one request goes out to learn the new window.
    fn take(&self, costs: &[(String, u64)]) -> Result<Option<SystemTime>, String>;
    /// Records what a response said of budget `key`: `remaining` after it, resetting at `reset`, a
    /// request costing `cost`.
    fn observed(&self, key: &str, remaining: u64, reset: Option<SystemTime>, cost: u64);
    /// Records that the account answered this process (said once per process, on its first
    /// response): the first request, which goes out alone, has its answer.
    fn answered(&self);
}

/// See the module documentation.
#[derive(Default)]
pub struct RateLimiter {
    /// The limits the connector declared; `State::declared` counts each one's requests.
    declared: Vec<RequestLimit>,
    state: Mutex<State>,
    /// Told when a response or a finished request changes what the limiter knows, so a request held
    /// back on an estimate a later response corrects goes out then.
    changed: tokio::sync::Notify,
    /// The budgets shared with other processes, once attached.
    shared: std::sync::OnceLock<std::sync::Arc<dyn SharedBudgets>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("declared", &self.declared).finish_non_exhaustive()
    }
}

/// How many finished requests a limiter remembers for rolling windows (the largest window it keeps).
const REMEMBERED: usize = 10_000;

/// How many budgets (and, apart, rolling windows) a limiter keeps: a server naming more header
/// prefixes than any real API uses can't grow its memory or the work of every request.
const MOST_BUDGETS: usize = 16;

/// How long a request waits for one in flight to finish when a rolling window is full of them.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(10);

#[derive(Debug, Default)]
struct State {
    paused_until: Option<Instant>,
    budgets: HashMap<String, Budget>,
    /// Rolling windows by header prefix.
    windows: HashMap<String, Window>,
    /// When recent requests were sent and when they finished, in the order they finished (for rolling
    /// windows).
    finished: std::collections::VecDeque<(Instant, Instant)>,
    /// When the requests in flight were sent (one entry each).
    sent_in_flight: Vec<Instant>,
    /// Per declared limit, its requests in flight and when its finished ones were read.
    declared: Vec<DeclaredCount>,
    /// Whether a response has been read (or a request has ended without one): until then one request
    /// goes out at a time, so the first response can tell what the server counted already (another
    /// process's requests) before a burst follows.
    first_finished: bool,
    /// Whether the shared budgets were told of this process's first answer.
    told_shared: bool,
    waited: Duration,
}

/// The requests counting against one declared limit.
#[derive(Debug, Default)]
struct DeclaredCount {
    in_flight: u64,
    /// When each finished request's response was read, oldest first (only those still counting).
    finished: std::collections::VecDeque<Instant>,
}

impl DeclaredCount {
    /// When the limit has room for one more request (`None`: now), forgetting requests that left it.
    fn room(&mut self, limit: &RequestLimit, now: Instant) -> Option<Instant> {
        let interval = Duration::from_millis(u64::from(limit.interval_ms));
        while self.finished.front().is_some_and(|at| *at + interval <= now) {
            self.finished.pop_front();
        }
        let used = self.in_flight + self.finished.len() as u64;
        if used < u64::from(limit.max) {
            return None;
        }
        // Room comes when enough of the oldest have left, or when one in flight ends (which notifies).
        let leaving = (used + 1 - u64::from(limit.max)) as usize;
        Some(self.finished.get(leaving - 1).map_or(now + IN_FLIGHT_POLL, |at| *at + interval))
    }
}

impl State {
    /// When every rolling window has room for one more request (`None`: now), forgetting requests that
    /// left them all.
    fn window_room(&mut self, now: Instant) -> Option<Instant> {
        let longest = self.windows.values().map(|w| w.interval).max()?;
        while self.finished.front().is_some_and(|(_, at)| *at + longest <= now) {
            self.finished.pop_front();
        }
        let in_flight = self.sent_in_flight.len() as u64;
        let mut until = None;
        for window in self.windows.values() {
            // Finished requests still in this window, newest last.
            let counted: Vec<Instant> =
                self.finished.iter().map(|(_, at)| *at).filter(|at| *at + window.interval > now).collect();
            let others = if now < window.until { window.others } else { 0 };
            let unsure = if now < window.unsure_until { window.unsure } else { 0 };
            let used = in_flight + counted.len() as u64 + others + unsure;
            if used < window.max {
                continue;
            }
            // Room may come when enough of the oldest of ours leave, or others' or the unsure ones
            // (each group together); looking again then tells. If requests in flight fill it, when
            // one ends.
            let leaving = (used + 1 - window.max) as usize;
            let room = [
                counted.get(leaving - 1).map(|at| *at + window.interval),
                (others > 0).then_some(window.until),
                (unsure > 0).then_some(window.unsure_until),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + IN_FLIGHT_POLL);
            until = until.max(Some(room));
        }
        until
    }
}

/// At most `max` requests in any `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    max: u64,
    interval: Duration,
    /// Requests in the server's window that aren't ours (another client of the same app, or ours
    /// from before this limiter), as the last response counted them; they have left it by `until`.
    others: u64,
    until: Instant,
    /// Requests in the server's window that may be others' or ours (sent near the interval's start,
    /// or answered late); they have left it by `unsure_until`.
    unsure: u64,
    unsure_until: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u64,
    reset: Option<Instant>,
    /// What one request has been seen to cost, at least 1.
    cost: u64,
    last_reported: u64,
}

/// A request admitted by the limiter; dropping it marks the request finished.
#[derive(Debug)]
pub struct Admission<'a> {
    limiter: &'a RateLimiter,
    sent: Instant,
    /// The declared limits it counts against.
    declared: Vec<usize>,
}

impl Admission<'_> {
    /// When the request was let go.
    pub fn sent(&self) -> Instant {
        self.sent
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let mut state = self.limiter.state.lock().expect("rate limiter lock");
        if !state.windows.is_empty() {
            if state.finished.len() >= REMEMBERED {
                state.finished.pop_front();
            }
            state.finished.push_back((self.sent, Instant::now()));
        }
        if let Some(index) = state.sent_in_flight.iter().position(|at| *at == self.sent) {
            state.sent_in_flight.swap_remove(index);
        }
        state.first_finished = true;
        let now = Instant::now();
        for &index in &self.declared {
            let count = &mut state.declared[index];
            count.in_flight = count.in_flight.saturating_sub(1);
            count.finished.push_back(now);
        }
        drop(state);
        self.limiter.changed.notify_waiters();
    }
}

impl RateLimiter {
    /// A limiter that also keeps the limits a connector declared.
    pub fn new(declared: &[RequestLimit]) -> Self {
        let state = State { declared: declared.iter().map(|_| DeclaredCount::default()).collect(), ..State::default() };
        RateLimiter {
            declared: declared.to_vec(),
            state: Mutex::new(state),
            changed: tokio::sync::Notify::new(),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Pools this limiter's header budgets with other processes' through `shared` (once; later calls
    /// keep the first).
    pub fn share(&self, shared: std::sync::Arc<dyn SharedBudgets>) {
        let _ = self.shared.set(shared);
    }

    /// Waits until the shared budgets can pay for one more request, and takes it from them; at once
    /// when there are none. A failing store lets the request go (the local limiter still holds it).
    async fn take_shared(&self) {
        let Some(shared) = self.shared.get().cloned() else { return };
        loop {
            let costs: Vec<(String, u64)> = {
                let state = self.state.lock().expect("rate limiter lock");
                state.budgets.iter().map(|(key, budget)| (key.clone(), budget.cost)).collect()
            };
            let asked = shared.clone();
            let taken = tokio::task::spawn_blocking(move || asked.take(&costs)).await;
            let until = match taken {
                Ok(Ok(None)) => return,
                Ok(Ok(Some(until))) => until,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the shared rate budget can't be read; going by this process's own");
                    return;
                }
                Err(_) => return,
            };
            let wait = until.duration_since(SystemTime::now()).unwrap_or_default().clamp(Duration::from_millis(20), LONGEST_WAIT);
            let started = Instant::now();
            tracing::debug!(?wait, "held back by a shared rate budget");
            tokio::time::sleep(wait).await;
            self.state.lock().expect("rate limiter lock").waited += started.elapsed();
        }
    }

    /// Waits until every known budget, and every declared limit a `method` request to `path` counts
    /// against, can pay for one more request, then reserves it.
    pub async fn admit(&self, method: &str, path: &str) -> Admission<'_> {
        let declared: Vec<usize> =
            self.declared.iter().enumerate().filter(|(_, l)| l.matches(method, path)).map(|(i, _)| i).collect();
        loop {
            // Listening before looking: a response read in between still wakes this request.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait_until = {
                let mut state = self.state.lock().expect("rate limiter lock");
                let now = Instant::now();
                let mut until = state.paused_until.filter(|t| *t > now);
                for budget in state.budgets.values_mut() {
                    if budget.reset.is_some_and(|reset| reset <= now) {
                        // The window has reset: what was left is no longer known.
                        budget.reset = None;
                        budget.remaining = u64::MAX;
                    }
                    if budget.remaining < budget.cost {
                        until = until.max(budget.reset);
                    }
                }
                until = until.max(state.window_room(now));
                if !state.first_finished && !state.sent_in_flight.is_empty() {
                    // Told when it finishes.
                    until = until.max(Some(now + LONGEST_WAIT));
                }
                for &index in &declared {
                    until = until.max(state.declared[index].room(&self.declared[index], now));
                }
                match until {
                    Some(until) => until.min(now + LONGEST_WAIT),
                    None if self.shared.get().is_some() => now,
                    None => return self.reserve(&mut state, declared),
                }
            };
            if wait_until <= Instant::now() {
                // Room here: the other processes' spending decides, then this one reserves.
                self.take_shared().await;
                return self.reserve(&mut self.state.lock().expect("rate limiter lock"), declared);
            }
            let started = Instant::now();
            tracing::debug!(wait = ?wait_until.saturating_duration_since(started), "held back by a rate limit");
            tokio::select! {
                () = tokio::time::sleep_until(wait_until) => {}
                () = changed => {}
            }
            let mut state = self.state.lock().expect("rate limiter lock");
            state.waited += started.elapsed();
            // A reset long past its announced time would otherwise hold forever.
            if Instant::now() >= wait_until {
                for budget in state.budgets.values_mut() {
                    if budget.reset.is_some_and(|reset| reset <= wait_until) {
                        budget.reset = None;
                        budget.remaining = u64::MAX;
                    }
                }
            }
        }
    }

    /// Counts a request let go now against this process's budgets and declared limits.
    fn reserve(&self, state: &mut State, declared: Vec<usize>) -> Admission<'_> {
        let now = Instant::now();
        for budget in state.budgets.values_mut() {
            budget.remaining = budget.remaining.saturating_sub(budget.cost);
        }
        state.sent_in_flight.push(now);
        for &index in &declared {
            state.declared[index].in_flight += 1;
        }
        Admission { limiter: self, sent: now, declared }
    }

    /// How long until the installation's pause or a spent budget lets requests out again (zero when
    /// nothing holds them), at most [`LONGEST_WAIT`]: what a request held back is told to wait.
    pub fn until_room(&self) -> Duration {
        let state = self.state.lock().expect("rate limiter lock");
        let now = Instant::now();
        let mut until = state.paused_until.filter(|t| *t > now);
        for budget in state.budgets.values() {
            if budget.remaining < budget.cost {
                until = until.max(budget.reset.filter(|t| *t > now));
            }
        }
        until.map_or(Duration::ZERO, |until| until.saturating_duration_since(now).min(LONGEST_WAIT))
    }

    /// Learns from the response to a request let go at `sent`: its budget headers, and `Retry-After` on
    /// an error status.
    pub fn observe(&self, sent: Instant, status: u16, headers: &[(String, String)]) {
        let now = Instant::now();
        let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
        let mut state = self.state.lock().expect("rate limiter lock");
        state.first_finished = true;
        if !state.told_shared
            && let Some(shared) = self.shared.get().cloned()
        {
            state.told_shared = true;
            tokio::task::spawn_blocking(move || shared.answered());
        }
        let others_in_flight = state.sent_in_flight.len().saturating_sub(1) as u64;
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let Some(prefix) = name.strip_suffix("remaining") else { continue };
            let Ok(reported) = value.trim().parse::<u64>() else { continue };
            let reset = header(&format!("{prefix}reset")).and_then(|v| reset_instant(v, now));
            if !state.budgets.contains_key(prefix) && state.budgets.len() >= MOST_BUDGETS {
                continue;
            }
            let budget = state.budgets.entry(prefix.to_string()).or_insert(Budget {
                remaining: reported,
                reset,
                cost: 1,
                last_reported: reported,
            });
            if reported < budget.last_reported {
                budget.cost = budget.cost.max(budget.last_reported - reported);
            }
            budget.last_reported = reported;
            budget.remaining = reported.saturating_sub(budget.cost * others_in_flight);
            budget.reset = reset;
            if let Some(shared) = self.shared.get().cloned() {
                let (key, cost) = (prefix.to_string(), budget.cost);
                let reset = reset.map(|at| SystemTime::now() + at.saturating_duration_since(now));
                tokio::task::spawn_blocking(move || shared.observed(&key, reported, reset, cost));
            }
        }
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let Some(prefix) = name.strip_suffix("interval-milliseconds") else { continue };
            let interval = value.trim().parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis);
            let max = header(&format!("{prefix}max")).and_then(|v| v.parse::<u64>().ok()).filter(|m| *m > 0);
            let remaining = header(&format!("{prefix}remaining")).and_then(|v| v.parse::<u64>().ok());
            let room = state.windows.contains_key(prefix) || state.windows.len() < MOST_BUDGETS;
            if let (Some(interval), Some(max), true) = (interval, max, room) {
                let interval = interval.min(LONGEST_WAIT);
                // The server counted this request and what arrived in the interval before it. Of ours
                // sent before this one, it surely counted those answered before this one was sent (so
                // they arrived before it) and sent within the interval before `now` (so they arrived
                // after its start); it may have counted any other sent within the interval, any that
                // finished after the interval before this one was sent, and any in flight (sent before
                // it on another connection, one may still arrive after it). What it counted beyond the
                // first is other clients', until an interval from now; beyond the second, others' or
                // ours, until the last of ours that may be among them has left the server's window.
                let before: Vec<(Instant, Option<Instant>)> = state
                    .finished
                    .iter()
                    .map(|(then, at)| (*then, Some(*at)))
                    .chain(state.sent_in_flight.iter().map(|then| (*then, None)))
                    .filter(|(then, _)| *then < sent)
                    .collect();
                let surely = |then: Instant, at: Option<Instant>| then + interval > now && at.is_some_and(|at| at <= sent);
                let maybe = |then: Instant, at: Option<Instant>| {
                    then + interval > now || at.is_none_or(|at| at + interval > sent)
                };
                let counted = remaining.map_or(0, |left| max.saturating_sub(left));
                let sure = 1 + before.iter().filter(|(then, at)| surely(*then, *at)).count() as u64;
                let possible = 1 + before.iter().filter(|(then, at)| maybe(*then, *at)).count() as u64;
                let others = counted.saturating_sub(possible);
                let unsure = counted.saturating_sub(sure) - others;
                let unsure_until = before
                    .iter()
                    .filter(|(then, at)| !surely(*then, *at) && maybe(*then, *at))
                    .map(|(_, at)| at.map_or(now, |at| at) + interval)
                    .max()
                    .unwrap_or(now);
                tracing::debug!(window = prefix, max, remaining, sure, possible, others, unsure, "a response's rolling window");
                let window = Window {
                    max: max.min(REMEMBERED as u64),
                    interval,
                    others,
                    until: now + interval,
                    unsure,
                    unsure_until,
                };
                state.windows.insert(prefix.to_string(), window);
            }
        }
        if status >= 400
            && let Some(wait) = header("retry-after").and_then(retry_after)
        {
            self.pause_locked(&mut state, now + wait);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Holds every request back for `wait` (a connector reported it was rate limited).
    pub fn pause_for(&self, wait: Duration) {
        let mut state = self.state.lock().expect("rate limiter lock");
        self.pause_locked(&mut state, Instant::now() + wait.min(LONGEST_WAIT));
    }

    fn pause_locked(&self, state: &mut State, until: Instant) {
        state.paused_until = state.paused_until.max(Some(until));
    }

    /// How long requests have waited for budgets so far.
    pub fn waited(&self) -> Duration {
        self.state.lock().expect("rate limiter lock").waited
    }
}

/// A reset header: epoch milliseconds (Linear), epoch seconds (GitHub) or seconds from now.
fn reset_instant(value: &str, now: Instant) -> Option<Instant> {
    let number: f64 = value.parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let epoch_now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    let from_now = if number > 1e11 {
        number / 1000.0 - epoch_now
    } else if number > 1e9 {
        number - epoch_now
    } else {
        number
    };
    Some(now + Duration::from_secs_f64(from_now.clamp(0.0, LONGEST_WAIT.as_secs_f64())))
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO).min(LONGEST_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter that has read a response without rate-limit headers (past its first request).
    fn warmed() -> RateLimiter {
        let limiter = RateLimiter::default();
        limiter.observe(Instant::now(), 200, &[]);
        limiter
    }

    fn headers(pairs: &[(&str, String)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
    }

    /// HubSpot's headers for a rolling window of `max` requests per 10 s with `remaining` left.
    fn hubspot_window(max: u64, remaining: u64) -> Vec<(String, String)> {
        headers(&[
            ("X-HubSpot-RateLimit-Max", max.to_string()),
            ("X-HubSpot-RateLimit-Remaining", remaining.to_string()),
            ("X-HubSpot-RateLimit-Interval-Milliseconds", "10000".into()),
        ])
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_budget_holds_requests_until_its_reset() {
        let limiter = warmed();
        let reset_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 2_000;
        assert!(reset_ms > 100_000_000_000, "read as epoch milliseconds");
        drop(limiter.admit("GET", "/").await);
        limiter.observe(
            Instant::now(),
            200,
            &headers(&[
                ("X-RateLimit-Requests-Remaining", "0".into()),
                ("X-RateLimit-Requests-Reset", reset_ms.to_string()),
            ]),
        );
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(1_900) && waited <= Duration::from_millis(2_100), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_count_against_the_budget() {
        let limiter = warmed();
        let first = limiter.admit("GET", "/").await;
        limiter.observe(Instant::now(), 200, &headers(&[("ratelimit-remaining", "2".into()), ("ratelimit-reset", "5".into())]));
        // Two more fit; the third waits for the reset five seconds out.
        let (_a, _b) = (limiter.admit("GET", "/").await, limiter.admit("GET", "/").await);
        drop(first);
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        assert!(started.elapsed() >= Duration::from_millis(4_900), "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rolling_window_lets_max_requests_through_per_interval_counted_from_their_responses() {
        let limiter = warmed();
        let window = |remaining: u64| hubspot_window(3, remaining);
        let first = limiter.admit("GET", "/").await;
        limiter.observe(first.sent(), 200, &window(2));
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(first);
        let started = Instant::now();
        let (second, third) = (limiter.admit("GET", "/").await, limiter.admit("GET", "/").await);
        assert!(started.elapsed().is_zero(), "three fit in the window");
        drop((second, third));
        // The fourth waits until the first has been out of the server's window: 10 s after its response.
        let fourth = limiter.admit("GET", "/").await;
        assert_eq!(started.elapsed(), Duration::from_secs(10), "{:?}", started.elapsed());
        // Three in flight fill the window: another waits for one to finish, then for its interval.
        let (fifth, sixth) = (limiter.admit("GET", "/").await, limiter.admit("GET", "/").await);
        let waiting = limiter.admit("GET", "/");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "a full window of requests in flight holds it");
        drop((fourth, fifth, sixth));
        let started = Instant::now();
        drop(waiting.await);
        assert!(started.elapsed() >= Duration::from_secs(9), "{:?}", started.elapsed());
        assert!(limiter.waited() >= Duration::from_secs(19), "waiting is counted: {:?}", limiter.waited());
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_counts_as_ours_every_request_of_ours_the_server_may_have_counted() {
        let limiter = warmed();
        let window = |remaining: u64| hubspot_window(2, remaining);
        // A is sent at 0 s and answered at 0.1 s; B, sent at 9.95 s, is answered at 10.2 s with the
        // server counting both (A arrived less than 10 s before B), after A left this limiter's count.
        let a = limiter.admit("GET", "/").await;
        limiter.observe(a.sent(), 200, &window(1));
        tokio::time::advance(Duration::from_millis(100)).await;
        drop(a);
        tokio::time::advance(Duration::from_millis(9_850)).await;
        let b = limiter.admit("GET", "/").await;
        tokio::time::advance(Duration::from_millis(250)).await;
        limiter.observe(b.sent(), 200, &window(0));
        drop(b);
        // Only B is in the server's window now: no other client's request to wait out.
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        assert!(started.elapsed() < Duration::from_secs(1), "waited {:?} for a window only ours filled", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_together_count_as_ours_whichever_the_server_saw_first() {
        let limiter = warmed();
        let window = |remaining: u64| hubspot_window(3, remaining);
        // A is let go just before B, but B reached the server first: A's response counts both, and
        // B looks like another client's request.
        let a = limiter.admit("GET", "/").await;
        tokio::time::advance(Duration::from_millis(1)).await;
        let b = limiter.admit("GET", "/").await;
        tokio::time::advance(Duration::from_millis(50)).await;
        limiter.observe(a.sent(), 200, &window(1));
        drop(a);
        let waiting = limiter.admit("GET", "/");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "A, B and the other client's fill the window");
        // B's response counted only B: the third goes out as soon as it is read.
        tokio::time::advance(Duration::from_millis(5)).await;
        let started = Instant::now();
        limiter.observe(b.sent(), 200, &window(2));
        drop(b);
        drop(waiting.await);
        assert!(started.elapsed() < Duration::from_secs(1), "held {:?} for a window only ours filled", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_held_back_goes_out_when_a_later_response_shows_room() {
        let limiter = warmed();
        let window = |remaining: u64| hubspot_window(2, remaining);
        // Another client's request fills the window with ours.
        let first = limiter.admit("GET", "/").await;
        limiter.observe(first.sent(), 200, &window(0));
        drop(first);
        let waiting = limiter.admit("GET", "/");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "the window is full");
        // A second later a response says the other client's request has left it.
        tokio::time::advance(Duration::from_secs(1)).await;
        let started = Instant::now();
        limiter.observe(started, 200, &window(1));
        drop(waiting.await);
        assert!(started.elapsed() < Duration::from_secs(1), "held {:?} after the window had room", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_naming_endless_budgets_gets_a_few_kept() {
        let limiter = warmed();
        for n in 0..1_000 {
            let (remaining, interval) = (format!("x-{n}-remaining"), format!("x-{n}-interval-milliseconds"));
            let max = format!("x-{n}-max");
            let named = [(remaining.as_str(), "5".to_string()), (interval.as_str(), "10".into()), (max.as_str(), "5".into())];
            limiter.observe(Instant::now(), 200, &headers(&named));
        }
        let state = limiter.state.lock().unwrap();
        assert_eq!((state.budgets.len(), state.windows.len()), (MOST_BUDGETS, MOST_BUDGETS));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_on_an_error_and_a_reported_limit_pause_everyone() {
        let limiter = warmed();
        limiter.observe(Instant::now(), 400, &headers(&[("Retry-After", "3".into())]));
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        assert!(started.elapsed() >= Duration::from_secs(3));
        limiter.observe(Instant::now(), 200, &headers(&[("Retry-After", "30".into())]));
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        assert!(started.elapsed() < Duration::from_secs(1), "Retry-After on a success is not a pause");
        limiter.pause_for(Duration::from_secs(2));
        let started = Instant::now();
        drop(limiter.admit("GET", "/").await);
        assert!(started.elapsed() >= Duration::from_secs(2));
    }
    #[tokio::test(start_paused = true)]
    async fn a_declared_limit_paces_only_the_requests_it_matches_counted_from_their_responses() {
        let search = RequestLimit {
            name: "search".into(),
            method: Some("POST".into()),
            path: "/crm/v3/objects/*/search".into(),
            max: 2,
            interval_ms: 1000,
        };
        let limiter = RateLimiter::new(&[search]);
        limiter.observe(Instant::now(), 200, &[]);
        let path = "/crm/v3/objects/contacts/search";
        let started = Instant::now();
        let first = limiter.admit("POST", path).await;
        tokio::time::advance(Duration::from_millis(300)).await;
        drop(first);
        drop(limiter.admit("POST", "/crm/v3/objects/deals/search").await);
        // Both count; other requests don't, and aren't held back.
        for _ in 0..10 {
            drop(limiter.admit("GET", "/crm/v3/objects/contacts").await);
            drop(limiter.admit("GET", path).await);
        }
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        // The third waits until the first has been out of the window for an interval after its response.
        drop(limiter.admit("POST", path).await);
        assert_eq!(started.elapsed(), Duration::from_millis(1300));
        // Requests in flight hold the next back until one ends, and then for an interval.
        tokio::time::advance(Duration::from_secs(2)).await;
        let (a, b) = (limiter.admit("POST", path).await, limiter.admit("POST", path).await);
        let waiting = limiter.admit("POST", path);
        tokio::pin!(waiting);
        assert!(tokio::time::timeout(Duration::from_secs(5), &mut waiting).await.is_err(), "held while in flight");
        let ended = Instant::now();
        drop(a);
        drop(waiting.await);
        drop(b);
        assert!(ended.elapsed() >= Duration::from_secs(1), "{:?}", ended.elapsed());
    }
    #[tokio::test(start_paused = true)]
    async fn until_a_first_response_is_read_one_request_goes_out_at_a_time() {
        let limiter = RateLimiter::default();
        let first = limiter.admit("GET", "/").await;
        let second = limiter.admit("GET", "/");
        tokio::pin!(second);
        assert!(tokio::time::timeout(Duration::from_secs(60), &mut second).await.is_err(), "held while the first is out");
        // The response says another process used most of the window: the rest wait for it.
        limiter.observe(first.sent(), 200, &hubspot_window(3, 1));
        drop(first);
        let started = Instant::now();
        drop(second.await);
        assert!(started.elapsed() < Duration::from_millis(10), "the one place left is taken at once");
        let third = limiter.admit("GET", "/");
        tokio::pin!(third);
        assert!(tokio::time::timeout(Duration::from_secs(5), &mut third).await.is_err(), "the window is full");
    }
}
