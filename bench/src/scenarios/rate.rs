//! Rate-bound: `fake-saas linear` allowing 10 requests a second (a bucket of 10 that refills
//! continuously, as Linear's budgets do), the Linear connector in pages of 4 (~95 requests: long enough
//! that the process's start is a small part). The bound is the budget-limited minimum: with N
//! requests, a full bucket of R and R more every P, the last request can't start before (N − R) ÷ R × P.
//! Wall ÷ that (target ≤ 1.2×; the wall includes the process's start and the last response's storing),
//! and the 429s the fake answered (target 0).

use std::time::Duration;

use max_fake_saas::linear::{Linear, LinearConfig, RateLimits};

use super::Env;
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

/// Syncs the Linear fake's default data under the budget.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let limits = RateLimits { requests: REQUESTS, complexity: 1_000_000, period: PERIOD, ..RateLimits::default() };
    let fake = Linear::new(LinearConfig { limits, ..LinearConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse()?)?;
    let dir = env.project("rate")?;
    let max = |args: &[&str]| measure::run(&mut measure::max(&env.bin, &dir, args));
    max(&["init"])?;
    max(&["connector", "install", "--yes", env.linear.to_str().unwrap_or_default()])?;
    let base_url = format!("base_url={}", server.base_url());
    let key = format!("api_key={}", max_fake_saas::linear::DEFAULT_API_KEY);
    max(&["connect", "linear", "--set", &base_url, "--set", "auth=api_key", "--set", &key, "--set", "page_size=4"])?;
    let before = fake.request_count();
    let run = max(&["sync", "linear", "-o", "json"])?;
    let requests = fake.request_count() - before;
    let throttled = fake.stats()["rate_limited"].as_u64().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout)?;
    let record = &summary["sync"]["record"];
    let rows: u64 = record["entities"].as_object().map_or(0, |e| e.values().filter_map(|v| v.as_u64()).sum());
    let wall = run.wall.as_secs_f64();
    let minimum = budget_minimum(requests);
    let note = format!(
        "× {:.2} the budget-limited minimum ({requests} requests at {REQUESTS}/s: {minimum:.1} s); {throttled} 429s; targets ≤ 1.2×, 0",
        wall / minimum.max(f64::MIN_POSITIVE)
    );
    Ok(vec![Row {
        requests_per_second: Some(requests as f64 / wall),
        peak_rss_mib: Some(run.peak_rss as f64 / (1 << 20) as f64),
        ..Row::throughput("rate", "linear sync at 10 requests/s", rows, wall, note)
    }])
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
}
