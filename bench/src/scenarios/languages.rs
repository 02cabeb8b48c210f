//! Connectors in other languages: the acme connector in Rust, Python (componentize-py) and JavaScript
//! (componentize-js) side by side in one run: component size, build time, cold (compile) and warm
//! (cache) load, and a full sync's entities per second, each against the Rust connector's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::end_to_end::sync_row;
use super::startup::time_load;
use super::{Env, connected_project_with};
use crate::fake::{Api, Size};
use crate::measure;
use crate::report::Row;

/// 10 projects × 1,000 tasks: large enough that the sync, not the start, dominates.
const SIZE: Size = Size { workspaces: 2, users: 10, projects: 5, tasks: 1000, files: 5 };

/// Measures each language's acme.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let components = env.acme.parent().map(Path::to_path_buf).unwrap_or_default();
    let builds: [(&str, PathBuf, Option<PathBuf>); 3] = [
        ("Rust", env.acme.clone(), None),
        ("Python", components.join("acme-python.wasm"), Some(root.join("connectors/acme-python"))),
        ("JavaScript", components.join("acme-js.wasm"), Some(root.join("connectors/acme-js"))),
    ];
    let api = Api::start(&env.bin, SIZE)?;
    let mut rows = Vec::new();
    let (mut rust_rate, mut rust_cold) = (None, None);
    for (language, component, project) in builds {
        let bytes = std::fs::read(&component)?;
        let mib = bytes.len() as f64 / f64::from(1 << 20);
        if let Some(project) = project {
            let out = env.work.join(format!("built-{language}.wasm"));
            let started = Instant::now();
            measure::run(
                std::process::Command::new(env.bin.join("max"))
                    .args(["connector", "build"])
                    .arg(&project)
                    .arg("--out")
                    .arg(&out),
            )?;
            rows.push(Row::timed(
                "languages",
                &format!("{language}: max connector build"),
                started.elapsed().as_secs_f64(),
                "",
            ));
        }
        let cold =
            measure::median_of(env.repeats().min(5), || time_load(tempfile::tempdir()?.path(), &bytes))?.as_secs_f64();
        let ratio =
            |rust: Option<f64>, value: f64| rust.map_or(String::new(), |r: f64| format!("{:.1}× Rust's", value / r));
        rows.push(Row::timed(
            "languages",
            &format!("{language}: load cold (compile), {mib:.1} MiB component"),
            cold,
            ratio(rust_cold, cold),
        ));
        let cache = tempfile::tempdir()?;
        time_load(cache.path(), &bytes)?;
        let warm = measure::median_of(env.repeats(), || time_load(cache.path(), &bytes))?.as_secs_f64();
        rows.push(Row::timed("languages", &format!("{language}: load warm (cache)"), warm, ""));
        let project = connected_project_with(env, &format!("language-{language}"), &api, &component)?;
        let mut row = sync_row(env, &project, &format!("{language}: sync 5 × 1,000 tasks"), "")?;
        row.scenario = "languages".into();
        let rate = row.per_second.unwrap_or(0.0);
        if let Some(rust) = rust_rate {
            row.note = format!("{:.2}× Rust's entities/s", rate / rust);
        }
        rows.push(row);
        if language == "Rust" {
            (rust_rate, rust_cold) = (Some(rate), Some(cold));
        }
    }
    Ok(rows)
}
