//! The limit of this machine: the same task rows inserted into the same schema (the tables and
//! reference indexes the storage layer creates for acme) by the storage layer alone (no HTTP, no wasm),
//! and by a minimal hand-written rusqlite loop (a prepared INSERT, one transaction per batch of 500).
//! End-to-end ÷ raw is the headline ratio.

use std::time::Instant;

use max_fake_saas::acme::{Dataset, Kind, Size};
use max_host::data::{EntityBatch, FieldValue, Row as DataRow};
use max_host::runtime::{Runtime, RuntimeConfig};
use max_host::storage::{DataStore, SqliteStorage, Storage, TaskStore};
use max_host::task::{Claim, NewTask, TaskOutcome, TaskSpec};
use serde_json::Value;

use super::Env;
use crate::report::Row;

/// Rows per transaction, as a page of the acme connector.
const BATCH: usize = 500;

/// Task columns as the acme connector sends them: (field, JSON key, kind).
const COLUMNS: [(&str, &str, char); 13] = [
    ("project", "projectId", 'r'),
    ("title", "title", 's'),
    ("description", "description", 's'),
    ("status", "status", 's'),
    ("priority", "priority", 's'),
    ("assignee", "assigneeId", 'r'),
    ("createdBy", "createdById", 'r'),
    ("lastModifiedBy", "lastModifiedById", 'r'),
    ("dueDate", "dueDate", 'd'),
    ("tags", "tags", 'j'),
    ("completedAt", "completedAt", 'd'),
    ("createdAt", "createdAt", 'd'),
    ("updatedAt", "updatedAt", 'd'),
];

fn value(kind: char, json: &Value) -> FieldValue {
    match (kind, json) {
        (_, Value::Null) => FieldValue::Null,
        ('j', v) => FieldValue::Json(v.to_string()),
        ('r', v) => FieldValue::Reference(v.as_str().unwrap_or_default().to_string()),
        ('d', v) => FieldValue::Datetime(v.as_str().unwrap_or_default().to_string()),
        (_, v) => FieldValue::Text(v.as_str().unwrap_or_default().to_string()),
    }
}

fn batches(tasks: &[Value]) -> Vec<EntityBatch> {
    tasks
        .chunks(BATCH)
        .map(|chunk| EntityBatch {
            entity: "Task".into(),
            columns: COLUMNS.iter().map(|(f, _, _)| f.to_string()).collect(),
            rows: chunk
                .iter()
                .map(|t| DataRow {
                    id: t["id"].as_str().unwrap_or_default().to_string(),
                    values: COLUMNS.iter().map(|(_, key, kind)| value(*kind, &t[*key])).collect(),
                })
                .collect(),
        })
        .collect()
}

/// Inserts `tasks` both ways; `end_to_end_rate` (entities/s of the end-to-end sync of the same data)
/// gives the ratios.
pub async fn run(env: &Env, tasks_per_project: usize, end_to_end_rate: Option<f64>) -> anyhow::Result<Vec<Row>> {
    let size = Size { workspaces: 10, users: 50, projects: 25, tasks_per_project, files_per_project: 0 };
    let tasks = Dataset::generate(1, &size).list(Kind::Task, None, None, None).0;
    let n = tasks.len() as u64;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let info = runtime.load("acme", &std::fs::read(&env.acme)?)?.describe().await?;
    let prepared = batches(&tasks);

    let dir = tempfile::tempdir_in(&env.work)?;
    let mut storage = SqliteStorage::open(&dir.path().join("storage.db"))?;
    storage.apply_schema(&info, false)?;
    // One task per batch, as the connector's pages arrive.
    let spec = TaskSpec::Load { loader: "bench".into(), entity: "Task".into(), ids: Vec::new() };
    let new_tasks: Vec<NewTask> =
        prepared.iter().map(|_| NewTask { group: 0, parent: None, spec: spec.clone() }).collect();
    let sync = storage.begin_sync(true, &new_tasks)?;
    let started = Instant::now();
    for batch in prepared {
        let Claim::Task(task) = storage.claim_task(sync)? else {
            anyhow::bail!("a task added at the start was not claimable")
        };
        storage.complete_task(sync, &task, TaskOutcome { batches: vec![batch], ..TaskOutcome::default() })?;
    }
    let layer = started.elapsed().as_secs_f64();

    // The raw loop writes into the very tables and indexes the storage layer creates.
    let raw_path = dir.path().join("raw.db");
    SqliteStorage::open(&raw_path)?.apply_schema(&info, false)?;
    let raw = raw_loop(&raw_path, &tasks)?;
    let ratio =
        |rate: f64| end_to_end_rate.map(|e| format!("end-to-end is {:.1}× slower", rate / e)).unwrap_or_default();
    let row = |name: &str, seconds: f64, note: String| Row::throughput("limit", name, n, seconds, note);
    let raw_rate = n as f64 / raw;
    let verdict =
        end_to_end_rate.map(|e| if raw_rate / e <= 3.0 { "; target ≤ 3×: holds" } else { "; target ≤ 3×: misses" });
    Ok(vec![
        row("storage layer alone", layer, ratio(n as f64 / layer)),
        row("raw rusqlite loop", raw, format!("{}{}", ratio(raw_rate), verdict.unwrap_or_default())),
    ])
}

fn raw_loop(path: &std::path::Path, tasks: &[Value]) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    let names: Vec<String> = COLUMNS.iter().map(|(f, _, _)| format!("\"{f}\"")).collect();
    let params: Vec<String> = (2..=COLUMNS.len() + 1).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO Task (id, {}) VALUES (?1, {})", names.join(", "), params.join(", "));
    let started = Instant::now();
    for chunk in tasks.chunks(BATCH) {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(&sql)?;
            for task in chunk {
                let mut values: Vec<rusqlite::types::Value> =
                    vec![task["id"].as_str().unwrap_or_default().to_string().into()];
                for (_, key, kind) in COLUMNS {
                    values.push(match &task[key] {
                        Value::Null => rusqlite::types::Value::Null,
                        v if kind == 'j' => v.to_string().into(),
                        v => v.as_str().unwrap_or_default().to_string().into(),
                    });
                }
                stmt.execute(rusqlite::params_from_iter(values))?;
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}
