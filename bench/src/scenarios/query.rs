//! Queries on the largest synced installation through the real `max search`: an indexed filter, a
//! contains filter, and a filter through a reference.

use std::path::Path;

use super::Env;
use super::startup::verdict;
use crate::measure;
use crate::report::Row;

/// Measures searches in `project`, which holds `rows` tasks.
pub fn run(env: &Env, project: &Path, rows: u64) -> anyhow::Result<Vec<Row>> {
    let cases = [
        ("indexed: project = <id>", "project = prj_00000007", Some(0.050)),
        ("contains: title ~= \"sync zoom\"", "title ~= \"sync zoom\"", None),
        ("through a ref: project.name ~= \"Payments 3\"", "project.name ~= \"Payments 3\"", None),
    ];
    let mut out = Vec::new();
    for (name, filter, target) in cases {
        let seconds = measure::median(env.repeats(), || {
            measure::max(
                &env.bin,
                project,
                &["search", "acme", "Task", "--filter", filter, "--limit", "50", "--fields", "id,title"],
            )
        })?
        .as_secs_f64();
        let note = target.map(|t| verdict("target < 50 ms", seconds < t)).unwrap_or_default();
        out.push(Row { size: Some(rows), ..Row::timed("query", &format!("max search {name}"), seconds, note) });
    }
    Ok(out)
}
