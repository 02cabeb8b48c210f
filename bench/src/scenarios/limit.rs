//! The limit of this machine for a first full sync: the same task rows, in the same pages, turned into
//! the same final database (typed rows, `Project.tasks` links, per-row sync metadata, every index) two
//! ways. The storage layer alone (no HTTP, no wasm) completes one task per page as a sync does, in a
//! bulk load. The fastest hand-written way is plain INSERTs into tables that have only their primary
//! keys, the metadata sorted by key and inserted once, then `CREATE INDEX`: what a bulk loader does.
//! End-to-end ÷ that is the headline ratio.

use std::time::Instant;

use max_fake_saas::acme::{Dataset, Kind, Size};
use max_host::data::{EntityBatch, EntityRef, FieldValue, Row as DataRow};
use max_host::manifest::ConnectorInfo;
use max_host::runtime::{Runtime, RuntimeConfig};
use max_host::storage::{DataStore, SqliteStorage, Storage, TaskStore};
use max_host::task::{Claim, Links, NewTask, TaskOutcome, TaskSpec};
use serde_json::Value;

use super::Env;
use crate::report::Row;

/// Tasks per page, as the acme connector asks for them.
const PAGE: usize = 1000;

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

/// One page of a project's tasks: the rows and where they sit in `Project.tasks`.
struct TaskPage {
    project: String,
    position: u64,
    batch: EntityBatch,
}

/// The tasks as the connector's pages bring them: per project, `PAGE` at a time.
fn pages(tasks: &[Value]) -> Vec<TaskPage> {
    let mut pages: Vec<TaskPage> = Vec::new();
    let mut by_project: std::collections::BTreeMap<&str, Vec<&Value>> = std::collections::BTreeMap::new();
    for task in tasks {
        by_project.entry(task["projectId"].as_str().unwrap_or_default()).or_default().push(task);
    }
    for (project, list) in by_project {
        for (n, chunk) in list.chunks(PAGE).enumerate() {
            pages.push(TaskPage {
                project: project.to_string(),
                position: (n * PAGE) as u64,
                batch: EntityBatch {
                    entity: "Task".into(),
                    columns: COLUMNS.iter().map(|(f, _, _)| f.to_string()).collect(),
                    rows: chunk
                        .iter()
                        .map(|t| DataRow {
                            id: t["id"].as_str().unwrap_or_default().to_string(),
                            values: COLUMNS.iter().map(|(_, key, kind)| value(*kind, &t[*key])).collect(),
                        })
                        .collect(),
                },
            });
        }
    }
    pages
}

/// Loads `projects` × `tasks_per_project` tasks both ways; `end_to_end_rate` (entities/s of the
/// end-to-end sync of the same size) gives the ratios.
pub async fn run(
    env: &Env,
    label: &str,
    projects: usize,
    tasks_per_project: usize,
    end_to_end_rate: Option<f64>,
) -> anyhow::Result<Vec<Row>> {
    let size = Size { workspaces: 1, users: 50, projects, tasks_per_project, files_per_project: 0, history: false };
    let tasks = Dataset::generate(1, &size).list(Kind::Task, None, None, None).0;
    let n = tasks.len() as u64;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let info = runtime.load("acme", &std::fs::read(&env.acme)?)?.describe().await?;
    let dir = tempfile::tempdir_in(&env.work)?;

    let layer = storage_layer(&dir.path().join("storage.db"), &info, pages(&tasks))?;
    let fastest = fastest_way(&dir.path().join("fastest.db"), &info, &pages(&tasks))?;

    let fastest_rate = n as f64 / fastest;
    let ratio =
        |rate: f64| end_to_end_rate.map(|e| format!("end-to-end is {:.2}× slower", rate / e)).unwrap_or_default();
    let verdict = end_to_end_rate
        .map(|e| if fastest_rate / e <= 1.5 { "; target ≤ 1.5×: holds" } else { "; target ≤ 1.5×: misses" });
    let row = |name: &str, seconds: f64, note: String| {
        Row::throughput("limit", &format!("{name}, {label}"), n, seconds, note)
    };
    Ok(vec![
        row("storage layer alone", layer, ratio(n as f64 / layer)),
        row(
            "fastest way to the same database",
            fastest,
            format!("{}{}", ratio(fastest_rate), verdict.unwrap_or_default()),
        ),
    ])
}

/// The storage layer as a full sync drives it: a bulk load, one completed task per page.
fn storage_layer(path: &std::path::Path, info: &ConnectorInfo, pages: Vec<TaskPage>) -> anyhow::Result<f64> {
    let mut storage = SqliteStorage::open(path)?;
    storage.apply_schema(info, false)?;
    let spec = TaskSpec::Load { loader: "bench".into(), entity: "Task".into(), ids: Vec::new() };
    let new_tasks: Vec<NewTask> =
        pages.iter().map(|_| NewTask { group: 0, parent: None, spec: spec.clone() }).collect();
    let sync = storage.begin_sync(true, &new_tasks)?;
    let started = Instant::now();
    storage.start_bulk_load()?;
    for page in pages {
        let Claim::Task(task) = storage.claim_task(sync)? else {
            anyhow::bail!("a task added at the start was not claimable")
        };
        let links = Links {
            parent: EntityRef { entity: "Project".into(), id: page.project },
            field: "tasks".into(),
            position: page.position,
            child_ids: page.batch.rows.iter().map(|r| r.id.clone()).collect(),
            replace: page.position == 0,
            complete: false,
        };
        let outcome = TaskOutcome { batches: vec![page.batch], links: Some(links), ..TaskOutcome::default() };
        storage.complete_task(sync, &task, outcome)?;
    }
    storage.finish_bulk_load()?;
    Ok(started.elapsed().as_secs_f64())
}

/// The same database by hand: tables with only their primary keys (the storage layer's own schema, its
/// secondary indexes dropped), plain INSERTs in transactions of 50,000 rows, the metadata sorted and inserted once,
/// then the indexes.
fn fastest_way(path: &std::path::Path, info: &ConnectorInfo, pages: &[TaskPage]) -> anyhow::Result<f64> {
    let mut storage = SqliteStorage::open(path)?;
    storage.apply_schema(info, false)?;
    storage.start_bulk_load()?;
    drop(storage);
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;")?;
    let names: Vec<String> = COLUMNS.iter().map(|(f, _, _)| format!("\"{f}\"")).collect();
    let params: Vec<String> = (2..=COLUMNS.len() + 1).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO Task (id, {}, _synced_at, _sync_id) VALUES (?1, {}, ?{}, 1)",
        names.join(", "),
        params.join(", "),
        COLUMNS.len() + 2
    );
    let synced_at = "2026-01-01T00:00:00.000Z";
    let started = Instant::now();
    let mut meta: Vec<&str> = Vec::new();
    // Transactions of 50,000 rows: big enough that commits cost nothing, small enough that the WAL is
    // checkpointed as it goes (one transaction of a million rows was no faster here).
    let mut tx = conn.transaction()?;
    let mut uncommitted = 0;
    for page in pages {
        if uncommitted >= 50_000 {
            tx.commit()?;
            tx = conn.transaction()?;
            uncommitted = 0;
        }
        uncommitted += page.batch.rows.len();
        {
            let mut rows = tx.prepare_cached(&insert)?;
            let mut links =
                tx.prepare_cached("INSERT INTO \"Project.tasks\" (parent_id, position, child_id) VALUES (?1, ?2, ?3)")?;
            for (offset, row) in page.batch.rows.iter().enumerate() {
                let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(COLUMNS.len() + 2);
                values.push(row.id.clone().into());
                for value in &row.values {
                    values.push(match value {
                        FieldValue::Text(t)
                        | FieldValue::Reference(t)
                        | FieldValue::Datetime(t)
                        | FieldValue::Json(t) => t.clone().into(),
                        FieldValue::Integer(n) => (*n).into(),
                        FieldValue::Float(x) => (*x).into(),
                        FieldValue::Boolean(b) => i64::from(*b).into(),
                        FieldValue::Null | FieldValue::Collection(_) => rusqlite::types::Value::Null,
                    });
                }
                values.push(synced_at.to_string().into());
                rows.execute(rusqlite::params_from_iter(values))?;
                links.execute(rusqlite::params![page.project, (page.position as usize + offset) as i64, row.id])?;
                meta.push(&row.id);
            }
        }
    }
    meta.sort_unstable();
    {
        // The field set the storage layer records for these columns (their names, sorted, as JSON).
        let mut fields: Vec<&str> = COLUMNS.iter().map(|(f, _, _)| *f).collect();
        fields.sort_unstable();
        tx.execute(
            "INSERT INTO _max_field_sets (entity, fields) VALUES ('Task', ?1)",
            [serde_json::to_string(&fields)?],
        )?;
        let set = tx.last_insert_rowid();
        let mut stmt =
            tx.prepare("INSERT INTO _max_sync_meta (field_set, id, synced_at, sync_id) VALUES (?1, ?2, ?3, 1)")?;
        for id in meta {
            stmt.execute(rusqlite::params![set, id, synced_at])?;
        }
    }
    tx.commit()?;
    let mut storage = SqliteStorage::open(path)?;
    storage.apply_schema(info, false)?;
    storage.finish_bulk_load()?;
    Ok(started.elapsed().as_secs_f64())
}
