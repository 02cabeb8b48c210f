//! The GitHub connector (Python, componentize-py) beside the Rust connectors, in one run: its load cold
//! (compile) and warm (cache) against Linear's (Rust), a full sync's entities per second against a
//! Linear sync of the same fakes' kind (in the bench's process, no latency), and a re-sync with nothing
//! changed, which GitHub answers with 304s.

use std::time::Instant;

use max_fake_saas::github::{DEFAULT_TOKEN, GitHub, GitHubConfig, Size};
use max_fake_saas::linear::{Linear, LinearConfig};

use super::latency::LINEAR_SIZE;
use super::rate::synced_row;
use super::startup::time_load;
use super::{Env, linear_project};
use crate::measure;
use crate::report::Row;

/// Ten repositories of 300 issues and 100 pull requests, with their comments, reviews, labels and
/// milestones: about 13,000 entities, the order of Linear's.
const SIZE: Size = Size {
    users: 20,
    org_repos: 10,
    user_repos: 0,
    issues: 300,
    pulls: 100,
    labels: 10,
    milestones: 5,
    comments: 3,
    reviews: 2,
    review_comments: 2,
};

/// The project daemon against a process of its own, both measured here: a re-sync with nothing
/// changed on the connector the daemon's previous sync left warm (its Python instances initialised),
/// and a search on the connection the daemon keeps open.
fn daemon(env: &Env, dir: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let max = |args: &[&str]| {
        let mut command = measure::max(&env.bin, dir, args);
        command.env_remove("CI");
        command
    };
    let repeats = env.repeats().min(5);
    let alone = measure::median(repeats, || max(&["sync", "github", "--no-daemon"]))?.as_secs_f64();
    measure::run(&mut max(&["daemon", "start"]))?;
    measure::run(&mut max(&["sync", "github"]))?;
    let warm = measure::median(repeats, || max(&["sync", "github"]))?.as_secs_f64();
    let search = ["search", "github", "Issue", "--limit", "50", "-o", "json"];
    let search_alone = measure::median(env.repeats(), || max(&[&search[..], &["--no-daemon"]].concat()))?.as_secs_f64();
    let search_warm = measure::median(env.repeats(), || max(&search))?.as_secs_f64();
    measure::run(&mut max(&["daemon", "stop"]))?;
    let against =
        |warm: f64, alone: f64| format!("{:.2}× the time in a process of its own ({alone:.3} s)", warm / alone);
    Ok(vec![
        Row::timed("github", "GitHub (Python): re-sync, nothing changed, in a warm daemon", warm, against(warm, alone)),
        Row::timed(
            "github",
            "search 50 issues, JSON, through the daemon",
            search_warm,
            against(search_warm, search_alone),
        ),
    ])
}

/// Measures the GitHub connector and, for the ratios, Linear's.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let github = env.acme.parent().map(|dir| dir.join("github.wasm")).unwrap_or_default();
    // The syncs first: a `max` forked after this process compiled the Python component would report
    // this process's size as its peak RSS.
    let mut rows = Vec::new();
    let linear = Linear::new(LinearConfig { size: LINEAR_SIZE, ..LinearConfig::default() });
    let linear_server = linear.spawn("127.0.0.1:0".parse()?)?;
    let dir = linear_project(env, "github-linear", linear_server.base_url(), &[])?;
    let before = linear.request_count();
    let run = measure::run(&mut measure::max(&env.bin, &dir, &["sync", "linear", "-o", "json"]))?;
    let linear_row =
        synced_row(&run, "github", "Linear (Rust): full sync", linear.request_count() - before, String::new())?;
    let linear_rate = linear_row.per_second.unwrap_or(0.0);
    rows.push(linear_row);

    let fake = GitHub::new(GitHubConfig { size: SIZE, ..GitHubConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse()?)?;
    let dir = env.project("github")?;
    let max = |args: &[&str]| measure::run(&mut measure::max(&env.bin, &dir, args));
    max(&["init"])?;
    max(&["connector", "install", "--yes", github.to_str().unwrap_or_default()])?;
    let (base_url, token) = (format!("base_url={}", server.base_url()), format!("token={DEFAULT_TOKEN}"));
    max(&["connect", "github", "--set", &base_url, "--set", &token, "--set", "repositories="])?;
    let before = fake.request_count();
    let run = max(&["sync", "github", "-o", "json"])?;
    let mut row =
        synced_row(&run, "github", "GitHub (Python): full sync", fake.request_count() - before, String::new())?;
    row.note =
        format!("{:.2}× Linear's entities/s", row.per_second.unwrap_or(0.0) / linear_rate.max(f64::MIN_POSITIVE));
    rows.push(row);

    let stats = fake.stats();
    let (requests, counted) = (stats["requests"].as_u64().unwrap_or(0), stats["counted"].as_u64().unwrap_or(0));
    let started = Instant::now();
    max(&["sync", "github"])?;
    let wall = started.elapsed().as_secs_f64();
    let stats = fake.stats();
    let asked = stats["requests"].as_u64().unwrap_or(0) - requests;
    let charged = stats["counted"].as_u64().unwrap_or(0) - counted;
    rows.push(Row::timed(
        "github",
        "GitHub (Python): re-sync, nothing changed",
        wall,
        format!("{asked} requests, {} answered 304; {charged} counted against the rate limit", asked - charged),
    ));
    rows.extend(daemon(env, &dir)?);
    let mut loads = Vec::new();
    for (name, component) in [("Linear (Rust)", &env.linear), ("GitHub (Python)", &github)] {
        let bytes = std::fs::read(component)?;
        let mib = bytes.len() as f64 / f64::from(1 << 20);
        let cold =
            measure::median_of(env.repeats().min(5), || time_load(tempfile::tempdir()?.path(), &bytes))?.as_secs_f64();
        let cache = tempfile::tempdir()?;
        time_load(cache.path(), &bytes)?;
        let warm = measure::median_of(env.repeats(), || time_load(cache.path(), &bytes))?.as_secs_f64();
        loads.push((name, mib, cold, warm));
    }
    let (_, _, rust_cold, rust_warm) = loads[0];
    for (name, mib, cold, warm) in &loads {
        let ratio = |value: f64, rust: f64| {
            if *name == "Linear (Rust)" { String::new() } else { format!("{:.1}× Linear's", value / rust) }
        };
        rows.push(Row::timed(
            "github",
            &format!("{name}: load cold (compile), {mib:.1} MiB"),
            *cold,
            ratio(*cold, rust_cold),
        ));
        rows.push(Row::timed("github", &format!("{name}: load warm (cache)"), *warm, ratio(*warm, rust_warm)));
    }

    Ok(rows)
}
