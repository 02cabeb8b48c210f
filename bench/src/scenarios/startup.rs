//! Startup: `max --help`, and loading the acme component cold (compiling) and warm (from the cache).

use std::time::Instant;

use max_host::runtime::{Runtime, RuntimeConfig};

use super::Env;
use crate::measure;
use crate::report::Row;

/// Measures startup costs.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let dir = env.project("startup")?;
    let help = measure::median(env.repeats(), || measure::max(&env.bin, &dir, &["--help"]))?.as_secs_f64();
    let mut rows = vec![Row::timed("startup", "max --help", help, verdict("target < 10 ms", help < 0.010))];
    let bytes = std::fs::read(&env.acme)?;
    let cold = measure::median_of(env.repeats(), || time_load(tempfile::tempdir()?.path(), &bytes))?.as_secs_f64();
    rows.push(Row::timed("startup", "load acme.wasm cold (compile)", cold, ""));
    let cache = tempfile::tempdir()?;
    time_load(cache.path(), &bytes)?;
    let warm = measure::median_of(env.repeats(), || time_load(cache.path(), &bytes))?.as_secs_f64();
    rows.push(Row::timed(
        "startup",
        "load acme.wasm warm (cache)",
        warm,
        verdict(&format!("target < 10 ms; cold/warm {:.0}×", cold / warm), warm < 0.010),
    ));
    Ok(rows)
}

/// The time a new runtime with its compile cache in `cache` takes to load `bytes`.
pub(super) fn time_load(cache: &std::path::Path, bytes: &[u8]) -> anyhow::Result<(std::time::Duration, ())> {
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(cache.to_path_buf()) })?;
    let started = Instant::now();
    runtime.load("acme", bytes)?;
    Ok((started.elapsed(), ()))
}

/// `target …: holds|misses`.
pub fn verdict(target: &str, holds: bool) -> String {
    format!("{target}: {}", if holds { "holds" } else { "misses" })
}
