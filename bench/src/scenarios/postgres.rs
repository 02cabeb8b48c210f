//! PostgreSQL: `fake-saas acme` → acme.wasm → PostgreSQL, a sync started by `max sync` and drained by
//! 1, 2 and 4 `max worker` processes, against the limit measured in the same run: a raw `COPY` of the
//! same entity rows into tables of the same shape (psql's `\copy`, one stream per table).

use std::process::{Child, Command, Stdio};
use std::time::Instant;

use max_host::format::thousands;
use max_tests::PgCluster;

use super::Env;
use crate::fake::{Api, Size};
use crate::measure;
use crate::report::Row;

/// Workers draining one sync (`max sync` follows it while they do).
const WORKERS: [usize; 3] = [1, 2, 4];

/// Measures syncs into PostgreSQL and a raw COPY of their rows.
pub fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let cluster = PgCluster::shared();
    let api = Api::start(&env.bin, Size::DEMO)?;
    let mut rows = Vec::new();
    let mut first: Option<(String, std::path::PathBuf)> = None;
    for workers in WORKERS {
        let url = cluster.database();
        let dir = env.project(&format!("postgres-{workers}"))?;
        let max = |args: &[&str]| {
            let mut command = measure::max(&env.bin, &dir, args);
            command.env_remove("CI");
            command
        };
        measure::run(&mut max(&["init", "--storage", &url]))?;
        measure::run(&mut max(&["connector", "install", "--yes", env.acme.to_str().unwrap_or_default()]))?;
        let (base, key) = (format!("base_url={}", api.base_url), format!("api_key={}", api.api_key));
        measure::run(&mut max(&["connect", "acme", "--set", &base, "--set", &key]))?;
        let running: Vec<Child> = (0..workers)
            .map(|_| max(&["worker"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn())
            .collect::<Result<_, _>>()?;
        let database = url.rsplit('/').next().unwrap_or_default().to_string();
        wait_for_workers(cluster, &database, workers)?;
        let run = measure::run(&mut max(&["sync", "acme", "-o", "json"]));
        for mut worker in running {
            let _ = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status();
            let _ = worker.wait();
        }
        let run = run?;
        let summary: serde_json::Value = serde_json::from_slice(&run.stdout)?;
        let stored: u64 = summary["sync"]["record"]["entities"]
            .as_object()
            .map_or(0, |e| e.values().filter_map(|v| v.as_u64()).sum());
        let seconds = run.wall.as_secs_f64();
        rows.push(Row {
            scenario: "postgres".into(),
            name: format!("sync into PostgreSQL, {workers} worker{}", if workers == 1 { "" } else { "s" }),
            size: Some(stored),
            seconds: Some(seconds),
            per_second: Some(stored as f64 / seconds),
            requests_per_second: None,
            peak_rss_mib: Some(run.peak_rss as f64 / f64::from(1 << 20)),
            note: String::new(),
        });
        if first.is_none() {
            first = Some((database, dir.clone()));
        }
    }
    let (database, dir) = first.ok_or_else(|| anyhow::anyhow!("no sync ran"))?;
    let (copied, seconds) = raw_copy(cluster, &database, &dir)?;
    let limit = copied as f64 / seconds;
    for row in &mut rows {
        let ratio = row.per_second.unwrap_or(0.0) / limit;
        row.note = format!("{ratio:.2}× a raw COPY of the same rows ({} rows/s)", thousands(limit as u64));
    }
    let note = format!("{} rows", thousands(copied));
    rows.push(Row::timed("postgres", "raw COPY of the same entity rows (the limit)", seconds, note));
    Ok(rows)
}

/// Waits (at most 60 s) until `count` workers say they are alive on `database`.
fn wait_for_workers(cluster: &PgCluster, database: &str, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while Instant::now() < deadline {
        let table = cluster.psql(database, "SELECT to_regclass('\"_max\".workers') IS NOT NULL");
        let alive = "SELECT COUNT(*) FROM \"_max\".workers WHERE seen_at > now() - interval '5 seconds'";
        if table == "t" && cluster.psql(database, alive).parse::<usize>().unwrap_or(0) >= count {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    anyhow::bail!("{count} workers never started")
}

/// Copies out every entity table of the synced schema, then times copying the rows back into fresh
/// tables of the same shape (primary keys included): the rows and the seconds.
fn raw_copy(cluster: &PgCluster, database: &str, dir: &std::path::Path) -> anyhow::Result<(u64, f64)> {
    let tables: Vec<String> = cluster
        .psql(database, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'acme' AND table_name NOT LIKE '\\_%' AND table_name NOT LIKE '%.%'")
        .lines()
        .map(str::to_string)
        .collect();
    let mut out = String::from("CREATE SCHEMA copied;\n");
    let mut back = String::new();
    for table in &tables {
        let file = dir.join(format!("{table}.copy"));
        out.push_str(&format!("CREATE TABLE copied.\"{table}\" (LIKE acme.\"{table}\" INCLUDING ALL);\n"));
        out.push_str(&format!("\\copy acme.\"{table}\" TO '{}'\n", file.display()));
        back.push_str(&format!("\\copy copied.\"{table}\" FROM '{}'\n", file.display()));
    }
    let (out_script, back_script) = (dir.join("copy-out.sql"), dir.join("copy-back.sql"));
    std::fs::write(&out_script, out)?;
    std::fs::write(&back_script, back)?;
    cluster.psql_file(database, &out_script);
    let started = Instant::now();
    cluster.psql_file(database, &back_script);
    let seconds = started.elapsed().as_secs_f64();
    let count: u64 = tables
        .iter()
        .map(|t| cluster.psql(database, &format!("SELECT COUNT(*) FROM copied.\"{t}\"")).parse::<u64>().unwrap_or(0))
        .sum();
    Ok((count, seconds))
}
