//! Sync execution state: `_max_syncs` (one row per sync) and `_max_tasks` (the task graph). A sync's
//! first tasks expand its plan steps (they alone have no parent) and run in plan-group order; every
//! other task was spawned from stored data and runs as soon as a worker is free, whatever its group. A
//! task that spawned others waits in `awaiting_children` until they have finished. Task state changes
//! only here.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::db_error;
use crate::data::SeedState;
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskId, TaskSpec};
use crate::{Error, Result};

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// States of a task that has not finished.
const UNFINISHED: &str = "('pending', 'running', 'awaiting_children')";

pub(super) fn seed_state(conn: &Connection, full: bool) -> Result<SeedState> {
    let last: Option<String> = conn
        .query_row("SELECT started_at FROM _max_syncs WHERE status = 'completed' ORDER BY id DESC LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_error(conn))?;
    let mut stmt = conn.prepare("SELECT loader, cursor FROM _max_cursors ORDER BY loader").map_err(db_error(conn))?;
    let cursors = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()
        .map_err(db_error(conn))?;
    Ok(SeedState { last_completed_sync: last, cursors, full })
}

pub(super) fn scoped_cursors(conn: &Connection, loader: &str) -> Result<std::collections::HashMap<String, String>> {
    let mut stmt = conn
        .prepare_cached("SELECT parent_id, cursor FROM _max_scoped_cursors WHERE loader = ?1")
        .map_err(db_error(conn))?;
    let cursors = stmt
        .query_map([loader], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))?;
    Ok(cursors)
}

/// Drops the scoped change-feed cursors of a deleted entity (listed again, it is read from the start).
pub(super) fn forget_feeds(conn: &Connection, entity: &str, id: &str) -> Result<()> {
    conn.execute("DELETE FROM _max_scoped_cursors WHERE entity = ?1 AND parent_id = ?2", params![entity, id])
        .map_err(db_error(conn))?;
    Ok(())
}

pub(super) fn begin_sync(conn: &Connection, full: bool) -> Result<SyncId> {
    conn.execute("INSERT INTO _max_syncs (started_at, status, full) VALUES (?1, 'running', ?2)", params![now(), full])
        .map_err(db_error(conn))?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn resume(conn: &Connection, sync: SyncId) -> Result<u64> {
    let running = conn
        .execute(
            "UPDATE _max_tasks SET state = 'pending', attempts = MAX(attempts - 1, 0), updated_at = ?2
             WHERE sync_id = ?1 AND state = 'running'",
            params![sync, now()],
        )
        .map_err(db_error(conn))?;
    // What failed before the interruption gets another chance too (the outage may have been the cause).
    let failed = retry_failed(conn, sync)?;
    set_status(conn, sync, SyncStatus::Running)?;
    Ok(running as u64 + failed)
}

pub(super) fn retry_failed(conn: &Connection, sync: SyncId) -> Result<u64> {
    // Steps of later groups expanded without what the failed tasks would have found: expand them
    // again (their existing tasks are not repeated; see `child_specs`).
    conn.execute(
        "UPDATE _max_tasks SET state = 'pending', updated_at = ?2
         WHERE sync_id = ?1 AND state = 'completed' AND json_extract(spec, '$.kind') = 'expand'
           AND grp > (SELECT MIN(grp) FROM _max_tasks WHERE sync_id = ?1 AND state = 'failed')",
        params![sync, now()],
    )
    .map_err(db_error(conn))?;
    let reset = conn
        .execute(
            "UPDATE _max_tasks SET state = 'pending', attempts = 0, error = NULL, updated_at = ?2
             WHERE sync_id = ?1 AND state = 'failed'",
            params![sync, now()],
        )
        .map_err(db_error(conn))?;
    conn.execute("UPDATE _max_syncs SET status = 'running', finished_at = NULL WHERE id = ?1", [sync])
        .map_err(db_error(conn))?;
    Ok(reset as u64)
}

pub(super) fn child_specs(conn: &Connection, task: TaskId) -> Result<Vec<TaskSpec>> {
    let mut stmt = conn.prepare_cached("SELECT spec FROM _max_tasks WHERE parent_id = ?1").map_err(db_error(conn))?;
    let specs = stmt
        .query_map([task], |r| r.get::<_, String>(0))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(db_error(conn))?;
    Ok(specs.iter().filter_map(|s| serde_json::from_str(s).ok()).collect())
}

pub(super) fn pending_expansions(conn: &Connection, sync: SyncId) -> Result<Vec<Task>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, grp, spec, attempts FROM _max_tasks
             WHERE sync_id = ?1 AND parent_id IS NULL AND state = 'pending' ORDER BY grp, id",
        )
        .map_err(db_error(conn))?;
    let rows = stmt
        .query_map([sync], |r| Ok((r.get::<_, TaskId>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?, r.get(3)?)))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<Vec<(TaskId, u32, String, u32)>>>()
        .map_err(db_error(conn))?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, group, spec, attempts)| {
            let spec = serde_json::from_str(&spec).ok()?;
            Some(Task { id, group, parent: None, spec, attempts })
        })
        .collect())
}

pub(super) fn set_status(conn: &Connection, sync: SyncId, status: SyncStatus) -> Result<()> {
    conn.execute("UPDATE _max_syncs SET status = ?1 WHERE id = ?2", params![status.to_string(), sync])
        .map_err(db_error(conn))?;
    Ok(())
}

pub(super) fn sync_record(conn: &Connection, sync: SyncId) -> Result<Option<SyncRecord>> {
    Ok(syncs_where(conn, "WHERE id = ?1", params![sync])?.into_iter().next())
}

pub(super) fn insert_tasks(conn: &Connection, sync: SyncId, tasks: &[NewTask]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO _max_tasks (sync_id, grp, parent_id, spec, state, updated_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
        )
        .map_err(db_error(conn))?;
    let at = now();
    for task in tasks {
        let spec = serde_json::to_string(&task.spec).expect("task specs serialize");
        stmt.execute(params![sync, task.group, task.parent, spec, at]).map_err(db_error(conn))?;
    }
    Ok(())
}

pub(super) fn claim(conn: &Connection, sync: SyncId) -> Result<Claim> {
    let group: Option<u32> = conn
        .query_row(
            &format!("SELECT MIN(grp) FROM _max_tasks WHERE sync_id = ?1 AND state IN {UNFINISHED}"),
            [sync],
            |r| r.get(0),
        )
        .map_err(db_error(conn))?;
    let Some(group) = group else { return Ok(Claim::Done) };
    // Expansions (no parent) wait for their group; tasks spawned from stored data don't.
    let claimed = conn
        .prepare_cached(
            "UPDATE _max_tasks SET state = 'running', attempts = attempts + 1, updated_at = ?3
             WHERE id = (SELECT id FROM _max_tasks WHERE sync_id = ?1 AND state = 'pending'
                           AND (grp = ?2 OR parent_id IS NOT NULL) ORDER BY grp, id LIMIT 1)
             RETURNING id, grp, parent_id, spec, attempts",
        )
        .map_err(db_error(conn))?
        .query_row(params![sync, group, now()], |r| {
            Ok((r.get::<_, TaskId>(0)?, r.get::<_, u32>(1)?, r.get::<_, Option<TaskId>>(2)?, r.get::<_, String>(3)?, r.get::<_, u32>(4)?))
        })
        .optional()
        .map_err(db_error(conn))?;
    let Some((id, group, parent, spec, attempts)) = claimed else { return Ok(Claim::Wait) };
    let spec: TaskSpec = serde_json::from_str(&spec).map_err(|e| Error::Storage {
        path: conn.path().unwrap_or_default().to_string(),
        message: format!("damaged task {id}: {e}"),
    })?;
    Ok(Claim::Task(Task { id, group, parent, spec, attempts: attempts - 1 }))
}

/// Marks a task done: `awaiting_children` while tasks it spawned are unfinished, else `completed`; then
/// completes a waiting parent whose last child this was.
pub(super) fn finish(conn: &Connection, task: TaskId) -> Result<()> {
    let unfinished: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM _max_tasks WHERE parent_id = ?1 AND state IN {UNFINISHED}"),
            [task],
            |r| r.get(0),
        )
        .map_err(db_error(conn))?;
    let state = if unfinished > 0 { "awaiting_children" } else { "completed" };
    conn.execute("UPDATE _max_tasks SET state = ?1, updated_at = ?2 WHERE id = ?3", params![state, now(), task])
        .map_err(db_error(conn))?;
    if state == "completed" {
        release_parent(conn, task)?;
    }
    Ok(())
}

fn release_parent(conn: &Connection, task: TaskId) -> Result<()> {
    let parent: Option<(TaskId, String)> = conn
        .query_row(
            "SELECT p.id, p.state FROM _max_tasks t JOIN _max_tasks p ON p.id = t.parent_id WHERE t.id = ?1",
            [task],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_error(conn))?;
    match parent {
        Some((parent, state)) if state == "awaiting_children" => finish(conn, parent),
        _ => Ok(()),
    }
}

pub(super) fn fail(conn: &mut Connection, task: &Task, error: &str) -> Result<()> {
    let tx = conn.savepoint().map_err(|e| super::sqlite::sqlite_error("", e))?;
    tx.execute(
        "UPDATE _max_tasks SET state = 'failed', error = ?1, updated_at = ?2 WHERE id = ?3",
        params![error, now(), task.id],
    )
    .map_err(db_error(&tx))?;
    release_parent(&tx, task.id)?;
    tx.commit().map_err(|e| super::sqlite::sqlite_error("", e))
}

pub(super) fn progress(conn: &Connection, sync: SyncId) -> Result<(u64, u64)> {
    conn.query_row(
        "SELECT COUNT(*) FILTER (WHERE state IN ('completed', 'failed')), COUNT(*) FROM _max_tasks WHERE sync_id = ?1",
        [sync],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .map_err(db_error(conn))
}

pub(super) fn finish_sync(
    conn: &Connection,
    sync: SyncId,
    entities: &BTreeMap<String, u64>,
    requests: u64,
) -> Result<SyncRecord> {
    let (failed, total): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE state = 'failed'), COUNT(*) FROM _max_tasks WHERE sync_id = ?1",
            [sync],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_error(conn))?;
    let status = if failed > 0 { SyncStatus::Failed } else { SyncStatus::Completed };
    conn.execute(
        "UPDATE _max_syncs SET finished_at = ?1, status = ?2, tasks_total = ?3, tasks_failed = ?4, entities = ?5, requests = ?6
         WHERE id = ?7",
        params![now(), status.to_string(), total, failed, serde_json::to_string(entities).expect("counts serialize"), requests as i64, sync],
    )
    .map_err(db_error(conn))?;
    Ok(syncs_where(conn, "WHERE id = ?1", params![sync])?.remove(0))
}

pub(super) fn failures(conn: &Connection, sync: SyncId) -> Result<Vec<TaskFailure>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, spec, COALESCE(error, '') FROM _max_tasks WHERE sync_id = ?1 AND state = 'failed' ORDER BY id",
        )
        .map_err(db_error(conn))?;
    let rows = stmt
        .query_map([sync], |r| Ok((r.get::<_, TaskId>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error(conn))?;
    Ok(rows
        .into_iter()
        .map(|(task, spec, error)| TaskFailure {
            task,
            description: serde_json::from_str::<TaskSpec>(&spec).map_or(spec, |s| s.to_string()),
            error,
        })
        .collect())
}

pub(super) fn syncs(conn: &Connection, limit: usize) -> Result<Vec<SyncRecord>> {
    syncs_where(conn, "ORDER BY id DESC LIMIT ?1", params![limit as i64])
}

fn syncs_where(conn: &Connection, clause: &str, args: impl rusqlite::Params) -> Result<Vec<SyncRecord>> {
    let sql = format!(
        "SELECT id, started_at, finished_at, status, full, tasks_total, tasks_failed, entities, requests FROM _max_syncs {clause}"
    );
    let mut stmt = conn.prepare(&sql).map_err(db_error(conn))?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, SyncId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, i64>(8)?,
            ))
        })
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error(conn))?;
    let parse = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).unwrap_or_default()
    };
    Ok(rows
        .into_iter()
        .map(|(id, started, finished, status, full, total, failed, entities, requests)| SyncRecord {
            id,
            started_at: parse(&started),
            finished_at: finished.as_deref().map(parse),
            status: SyncStatus::from_stored(&status),
            full,
            tasks_total: total as u64,
            tasks_failed: failed as u64,
            entities: serde_json::from_str(&entities).unwrap_or_default(),
            requests: requests as u64,
        })
        .collect())
}
