//! End to end: `fake-saas acme` → acme.wasm → SQLite through the real `max sync`, at the demo size and
//! at over a million entities; plus a second sync with nothing changed, and the demo size on a server
//! whose change log holds an event per object.

use std::path::PathBuf;

use super::startup::verdict;
use super::{Env, connected_project};
use crate::fake::{Api, Size};
use crate::measure;
use crate::report::Row;

/// What the end-to-end scenario leaves for the others.
pub struct Outcome {
    /// Report rows.
    pub rows: Vec<Row>,
    /// The synced project of the largest size (for the query scenario).
    pub largest: Option<PathBuf>,
    /// Entities per second of the demo-size sync.
    pub demo_rate: Option<f64>,
    /// Entities per second of the largest sync.
    pub largest_rate: Option<f64>,
}

/// Runs `max sync acme -o json` in `project`: a row of its rows, requests and memory.
pub(super) fn sync_row(env: &Env, project: &std::path::Path, name: &str, note: &str) -> anyhow::Result<Row> {
    let run = measure::run(&mut measure::max(&env.bin, project, &["sync", "acme", "-o", "json"]))?;
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout)?;
    let record = &summary["sync"]["record"];
    let rows: u64 = record["entities"].as_object().map_or(0, |e| e.values().filter_map(|v| v.as_u64()).sum());
    let requests = record["requests"].as_u64().unwrap_or(0);
    let seconds = run.wall.as_secs_f64();
    Ok(Row {
        scenario: "end-to-end".into(),
        name: name.into(),
        size: Some(rows),
        seconds: Some(seconds),
        per_second: Some(rows as f64 / seconds),
        requests_per_second: Some(requests as f64 / seconds),
        peak_rss_mib: Some(run.peak_rss as f64 / (1 << 20) as f64),
        note: note.into(),
    })
}

/// Syncs each size from a fresh fake (or the one `against` names).
pub fn run(env: &Env, against: Option<&Api>) -> anyhow::Result<Outcome> {
    if let Some(api) = against {
        let project = connected_project(env, "against", api)?;
        let row = sync_row(
            env,
            &project,
            &format!("sync {}", api.base_url),
            "same server, other tools can be measured on it",
        )?;
        return Ok(Outcome { rows: vec![row], largest: None, demo_rate: None, largest_rate: None });
    }
    let mut rows = Vec::new();
    let api = Api::start(&env.bin, Size::DEMO)?;
    let project = connected_project(env, "demo", &api)?;
    let demo = sync_row(env, &project, "sync 50 projects × 1,000 tasks", "")?;
    let demo_rate = demo.per_second;
    let fast = demo_rate.is_some_and(|r| r >= 150_000.0);
    rows.push(Row { note: verdict("target ≥ 150,000/s on a quiet machine", fast), ..demo });
    // Incremental: only the change feed is read, and it has nothing.
    let again = sync_row(env, &project, "re-sync, nothing changed", "")?;
    let holds = again.seconds.is_some_and(|s| s < 0.2);
    rows.push(Row { per_second: None, note: verdict("target < 200 ms", holds), ..again });
    drop(api);
    // The same data on a server whose change log holds an event per object, as real audit logs do.
    let api = Api::start_with(&env.bin, Size::DEMO, &["--history"])?;
    let project = connected_project(env, "history", &api)?;
    let history = sync_row(env, &project, "sync 50 × 1,000, a change event per object", "")?;
    let ratio = history.seconds.unwrap_or_default() / rows[0].seconds.unwrap_or(f64::MAX);
    let note = format!("× {ratio:.2} the sync without a log (target: no more)");
    rows.push(Row { note, ..history });
    drop(api);
    let api = Api::start(&env.bin, Size::MILLION)?;
    let project = connected_project(env, "million", &api)?;
    let million = sync_row(env, &project, "sync 1M+ entities", "")?;
    let rss = million.peak_rss_mib.unwrap_or_default();
    let rate = million.per_second;
    rows.push(Row { note: verdict("target RSS < 100 MiB", rss < 100.0), ..million });
    Ok(Outcome { rows, largest: Some(project), demo_rate, largest_rate: rate })
}
