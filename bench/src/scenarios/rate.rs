//! Rate-bound syncs, each against the budget-limited minimum (target ≤ 1.2×; the wall includes the
//! process's start and the last response's storing) and the 429s the fake answered (target 0):
//! - `fake-saas linear` allowing 10 requests a second (a bucket of 10 that refills continuously, as
//!   Linear's budgets do), the Linear connector in pages of 4 (~95 requests: long enough that the
//!   process's start is a small part). With N requests, a full bucket of R and R more every P, the last
//!   request can't start before (N − R) ÷ R × P.
//! - `fake-saas acme` with HubSpot's kind of limit: a rolling window of 15 requests in any 10 seconds,
//!   announced only by `X-HubSpot-RateLimit-Max`/`-Remaining`/`-Interval-Milliseconds` (no reset), and
//!   [`Size::LATENCY`]'s 44 requests. Request k (from 0) can't start before ⌊k ÷ 15⌋ × 10 s.

use std::time::Duration;

use max_fake_saas::acme::{Acme, AcmeConfig};
use max_fake_saas::linear::{Linear, LinearConfig, RateLimits};
use max_fake_saas::window::WindowLimit;

use super::{Env, connected_project, linear_project};
use crate::fake::{Api, Size};
use crate::measure;
use crate::report::Row;

/// The fake's bucket of requests, refilled over [`PERIOD`].
const REQUESTS: u64 = 10;
/// The time the bucket takes to refill.
const PERIOD: Duration = Duration::from_secs(1);

/// The earliest the last of `requests` requests can start under the budget, in seconds.
fn budget_minimum(requests: u64) -> f64 {
    requests.saturating_sub(REQUESTS) as f64 / REQUESTS as f64 * PERIOD.as_secs_f64()
}

/// HubSpot's kind of window, scaled down so that the scenario takes ~20 s.
const WINDOW: WindowLimit = WindowLimit { max: 15, interval: Duration::from_secs(10) };

/// The earliest the last of `requests` requests can start in a rolling window, in seconds.
fn window_minimum(requests: u64) -> f64 {
    (requests.saturating_sub(1) / WINDOW.max) as f64 * WINDOW.interval.as_secs_f64()
}

/// Both scenarios.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    Ok(vec![bucket(env)?, window(env)?])
}

/// Syncs [`Size::LATENCY`] from the Acme fake under a rolling window.
fn window(env: &Env) -> anyhow::Result<Row> {
    let size = Size::LATENCY;
    let data = max_fake_saas::acme::Size {
        workspaces: size.workspaces as usize,
        users: size.users as usize,
        projects: size.projects as usize,
        tasks_per_project: size.tasks as usize,
        files_per_project: size.files as usize,
        history: false,
    };
    let faults = max_fake_saas::Faults { window: Some(WINDOW), ..Default::default() };
    let fake = Acme::new(AcmeConfig { size: data, faults, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse()?)?;
    let api = Api::external(server.base_url(), max_fake_saas::acme::DEFAULT_API_KEY);
    let project = connected_project(env, "rate-window", &api)?;
    let before = (fake.request_count(), fake.rate_limited());
    let run = measure::run(&mut measure::max(&env.bin, &project, &["sync", "acme", "-o", "json"]))?;
    let (requests, throttled) = (fake.request_count() - before.0, fake.rate_limited() - before.1);
    let minimum = window_minimum(requests);
    let note = format!(
        "× {:.2} the window-limited minimum ({requests} requests, {} per {} s: {minimum:.1} s); {throttled} 429s; targets ≤ 1.2×, 0",
        run.wall.as_secs_f64() / minimum.max(f64::MIN_POSITIVE),
        WINDOW.max,
        WINDOW.interval.as_secs()
    );
    synced_row(&run, "rate", "acme sync, 15 requests per rolling 10 s", requests, note)
}

/// A report row of `scenario` for a sync whose summary `run` printed with `-o json`.
pub(super) fn synced_row(
    run: &measure::Run,
    scenario: &str,
    name: &str,
    requests: u64,
    note: String,
) -> anyhow::Result<Row> {
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout)?;
    let record = &summary["sync"]["record"];
    let rows: u64 = record["entities"].as_object().map_or(0, |e| e.values().filter_map(|v| v.as_u64()).sum());
    let wall = run.wall.as_secs_f64();
    Ok(Row {
        requests_per_second: Some(requests as f64 / wall),
        peak_rss_mib: Some(run.peak_rss as f64 / (1 << 20) as f64),
        ..Row::throughput(scenario, name, rows, wall, note)
    })
}

/// Syncs the Linear fake's default data under the budget.
fn bucket(env: &Env) -> anyhow::Result<Row> {
    let limits = RateLimits { requests: REQUESTS, complexity: 1_000_000, period: PERIOD, ..RateLimits::default() };
    let fake = Linear::new(LinearConfig { limits, ..LinearConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse()?)?;
    let dir = linear_project(env, "rate", server.base_url(), &["page_size=4"])?;
    let before = fake.request_count();
    let run = measure::run(&mut measure::max(&env.bin, &dir, &["sync", "linear", "-o", "json"]))?;
    let requests = fake.request_count() - before;
    let throttled = fake.stats()["rate_limited"].as_u64().unwrap_or_default();
    let minimum = budget_minimum(requests);
    let note = format!(
        "× {:.2} the budget-limited minimum ({requests} requests at {REQUESTS}/s: {minimum:.1} s); {throttled} 429s; targets ≤ 1.2×, 0",
        run.wall.as_secs_f64() / minimum.max(f64::MIN_POSITIVE)
    );
    synced_row(&run, "rate", "linear sync at 10 requests/s", requests, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_starts_at_once_and_the_rest_at_the_refill_rate() {
        assert_eq!(budget_minimum(10), 0.0);
        assert_eq!(budget_minimum(11), 0.1);
        assert_eq!(budget_minimum(55), 4.5);
    }

    #[test]
    fn a_rolling_window_lets_a_full_window_through_per_interval() {
        assert_eq!(window_minimum(15), 0.0);
        assert_eq!(window_minimum(16), 10.0);
        assert_eq!(window_minimum(44), 20.0);
    }
}
