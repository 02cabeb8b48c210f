//! Sync execution state in PostgreSQL: the same records and task graph as SQLite's
//! (`storage/tasks.rs`), with claims made the way job queues make them on PostgreSQL: a `MATERIALIZED`
//! CTE picks the next task `FOR UPDATE SKIP LOCKED`, and `UPDATE … RETURNING` takes it, recording who
//! holds it (`owner`) and until when (`lease_until`), so processes draining one sync never take the
//! same task. A task is completed or failed only by the holder of its claim: its owner and attempt
//! are the fencing token every state change checks.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use super::connection::failed;
use crate::data::SeedState;
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskId, TaskSpec};
use crate::{Error, Result};

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// States of a task that has not finished.
const UNFINISHED: &str = "('pending', 'running', 'awaiting_children')";


pub(super) async fn seed_state(client: &impl GenericClient, full: bool, place: &str) -> Result<SeedState> {
    let last = client
        .query_opt("SELECT started_at FROM _max_syncs WHERE status = 'completed' ORDER BY id DESC LIMIT 1", &[])
        .await
        .map_err(failed(place))?
        .map(|r| r.get(0));
    let cursors = client
        .query("SELECT loader, cursor FROM _max_cursors ORDER BY loader COLLATE \"C\"", &[])
        .await
        .map_err(failed(place))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(SeedState { last_completed_sync: last, cursors, full })
}

pub(super) async fn scoped_cursors(
    client: &impl GenericClient,
    loader: &str,
    place: &str,
) -> Result<std::collections::HashMap<String, String>> {
    let rows = client
        .query("SELECT parent_id, cursor FROM _max_scoped_cursors WHERE loader = $1", &[&loader])
        .await
        .map_err(failed(place))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Drops the scoped change-feed cursors of a deleted entity.
pub(super) async fn forget_feeds(client: &impl GenericClient, entity: &str, id: &str, place: &str) -> Result<()> {
    client
        .execute("DELETE FROM _max_scoped_cursors WHERE entity = $1 AND parent_id = $2", &[&entity, &id])
        .await
        .map_err(failed(place))?;
    Ok(())
}

pub(super) async fn begin_sync(client: &impl GenericClient, full: bool, place: &str) -> Result<SyncId> {
    let row = client
        .query_one(
            "INSERT INTO _max_syncs (started_at, status, \"full\") VALUES ($1, 'running', $2) RETURNING id",
            &[&now(), &full],
        )
        .await
        .map_err(failed(place))?;
    Ok(row.get(0))
}

pub(super) async fn insert_tasks(client: &impl GenericClient, sync: SyncId, tasks: &[NewTask], place: &str) -> Result<()> {
    if tasks.is_empty() {
        return Ok(());
    }
    let groups: Vec<i32> = tasks.iter().map(|t| t.group as i32).collect();
    let parents: Vec<Option<TaskId>> = tasks.iter().map(|t| t.parent).collect();
    let specs: Vec<String> = tasks.iter().map(|t| serde_json::to_string(&t.spec).expect("task specs serialize")).collect();
    client
        .execute(
            "INSERT INTO _max_tasks (sync_id, grp, parent_id, spec, state, updated_at)
             SELECT $1, g, p, s, 'pending', $2 FROM UNNEST($3::int[], $4::bigint[], $5::text[]) WITH ORDINALITY AS u(g, p, s, n)
             ORDER BY n",
            &[&sync, &now(), &groups, &parents, &specs],
        )
        .await
        .map_err(failed(place))?;
    Ok(())
}

pub(super) async fn resume(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<u64> {
    let running = client
        .execute(
            "UPDATE _max_tasks SET state = 'pending', attempts = GREATEST(attempts - 1, 0), updated_at = $2,
                 owner = NULL, lease_until = NULL
             WHERE sync_id = $1 AND state = 'running'",
            &[&sync, &now()],
        )
        .await
        .map_err(failed(place))?;
    let failed_again = retry_failed(client, sync, place).await?;
    set_status(client, sync, SyncStatus::Running, place).await?;
    Ok(running + failed_again)
}

pub(super) async fn retry_failed(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<u64> {
    client
        .execute(
            "UPDATE _max_tasks SET state = 'pending', updated_at = $2
             WHERE sync_id = $1 AND state = 'completed' AND spec::jsonb ->> 'kind' = 'expand'
               AND grp > (SELECT MIN(grp) FROM _max_tasks WHERE sync_id = $1 AND state = 'failed')",
            &[&sync, &now()],
        )
        .await
        .map_err(failed(place))?;
    let reset = client
        .execute(
            "UPDATE _max_tasks SET state = 'pending', attempts = 0, error = NULL, updated_at = $2
             WHERE sync_id = $1 AND state = 'failed'",
            &[&sync, &now()],
        )
        .await
        .map_err(failed(place))?;
    client
        .execute("UPDATE _max_syncs SET status = 'running', finished_at = NULL WHERE id = $1", &[&sync])
        .await
        .map_err(failed(place))?;
    Ok(reset)
}

pub(super) async fn child_specs(client: &impl GenericClient, task: TaskId, place: &str) -> Result<Vec<TaskSpec>> {
    let rows = client.query("SELECT spec FROM _max_tasks WHERE parent_id = $1", &[&task]).await.map_err(failed(place))?;
    Ok(rows.iter().filter_map(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()).collect())
}

pub(super) async fn pending_expansions(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<Vec<Task>> {
    let rows = client
        .query(
            "SELECT id, grp, spec, attempts FROM _max_tasks
             WHERE sync_id = $1 AND parent_id IS NULL AND state = 'pending' ORDER BY grp, id",
            &[&sync],
        )
        .await
        .map_err(failed(place))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let spec = serde_json::from_str(r.get::<_, &str>(2)).ok()?;
            Some(Task { id: r.get(0), group: r.get::<_, i32>(1) as u32, parent: None, spec, attempts: r.get::<_, i32>(3) as u32 })
        })
        .collect())
}

pub(super) async fn set_status(client: &impl GenericClient, sync: SyncId, status: SyncStatus, place: &str) -> Result<()> {
    client
        .execute("UPDATE _max_syncs SET status = $1 WHERE id = $2", &[&status.to_string(), &sync])
        .await
        .map_err(failed(place))?;
    Ok(())
}

pub(super) async fn sync_record(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<Option<SyncRecord>> {
    Ok(syncs_where(client, "WHERE id = $1", &[&sync], place).await?.into_iter().next())
}

/// Claims the next runnable task for `owner`: an expansion of the lowest unfinished group, or any task
/// spawned from stored data. Another process's claim is skipped, not waited for.
/// A claim whose lease expired (its holder died or lost touch) is taken like a pending task: its
/// attempt goes up, so the old holder's fencing token no longer matches.
pub(super) async fn claim(
    client: &impl GenericClient,
    sync: SyncId,
    (owner, lease): (&str, f64),
    place: &str,
) -> Result<Claim> {
    let claimed = client
        .query_opt(
            &format!(
                "WITH lowest AS (SELECT MIN(grp) AS grp FROM _max_tasks WHERE sync_id = $1 AND state IN {UNFINISHED}),
                 next AS MATERIALIZED (
                     SELECT t.id FROM _max_tasks t, lowest
                     WHERE t.sync_id = $1 AND (t.grp = lowest.grp OR t.parent_id IS NOT NULL)
                       AND (t.state = 'pending' OR (t.state = 'running' AND t.lease_until < now()))
                     ORDER BY t.grp, t.id LIMIT 1 FOR UPDATE OF t SKIP LOCKED)
                 UPDATE _max_tasks t SET state = 'running', attempts = t.attempts + 1, updated_at = $2, owner = $3,
                     lease_until = now() + make_interval(secs => $4)
                 FROM next WHERE t.id = next.id
                 RETURNING t.id, t.grp, t.parent_id, t.spec, t.attempts"
            ),
            &[&sync, &now(), &owner, &lease],
        )
        .await
        .map_err(failed(place))?;
    let Some(row) = claimed else {
        let unfinished = client
            .query_opt(&format!("SELECT 1 FROM _max_tasks WHERE sync_id = $1 AND state IN {UNFINISHED} LIMIT 1"), &[&sync])
            .await
            .map_err(failed(place))?;
        return Ok(if unfinished.is_some() { Claim::Wait } else { Claim::Done });
    };
    let id: TaskId = row.get(0);
    let spec: TaskSpec = serde_json::from_str(row.get::<_, &str>(3))
        .map_err(|e| Error::Storage { path: place.to_string(), message: format!("damaged task {id}: {e}") })?;
    let attempts = row.get::<_, i32>(4) as u32;
    Ok(Claim::Task(Task { id, group: row.get::<_, i32>(1) as u32, parent: row.get(2), spec, attempts: attempts - 1 }))
}

/// Checks, in the transaction about to change it, that `task` is still held by `owner` under the
/// claim it was given (its attempt): a process whose lease expired and whose task another took can
/// never store or fail it.
pub(super) async fn fence(client: &impl GenericClient, task: &Task, owner: &str, place: &str) -> Result<()> {
    let held = client
        .query_opt(
            "SELECT 1 FROM _max_tasks WHERE id = $1 AND state = 'running' AND owner = $2 AND attempts = $3 FOR UPDATE",
            &[&task.id, &owner, &(task.attempts as i32 + 1)],
        )
        .await
        .map_err(failed(place))?;
    match held {
        Some(_) => Ok(()),
        None => Err(Error::LeaseLost { task: task.id }),
    }
}

/// Extends the lease of `task` while `owner` still holds it under the claim it was given.
pub(super) async fn renew(client: &impl GenericClient, task: &Task, (owner, lease): (&str, f64), place: &str) -> Result<bool> {
    let renewed = client
        .execute(
            "UPDATE _max_tasks SET lease_until = now() + make_interval(secs => $4)
             WHERE id = $1 AND state = 'running' AND owner = $2 AND attempts = $3",
            &[&task.id, &owner, &(task.attempts as i32 + 1), &lease],
        )
        .await
        .map_err(failed(place))?;
    Ok(renewed == 1)
}

/// The newest sync under way with a task to run (pending, or claimed under an expired lease).
pub(super) async fn runnable_sync(client: &impl GenericClient, place: &str) -> Result<Option<SyncId>> {
    let row = client
        .query_opt(
            "SELECT s.id FROM _max_syncs s WHERE s.status = 'running' AND EXISTS (
                 SELECT 1 FROM _max_tasks t WHERE t.sync_id = s.id
                   AND (t.state = 'pending' OR (t.state = 'running' AND t.lease_until < now())))
             ORDER BY s.id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(failed(place))?;
    Ok(row.map(|r| r.get(0)))
}

/// Who holds claims on `sync`'s tasks now, and until when.
pub(super) async fn claims(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<Vec<crate::task::Claimed>> {
    let rows = client
        .query(
            "SELECT owner, COUNT(*), EXTRACT(EPOCH FROM MAX(lease_until))::float8 FROM _max_tasks
             WHERE sync_id = $1 AND state = 'running' AND owner IS NOT NULL GROUP BY owner ORDER BY owner",
            &[&sync],
        )
        .await
        .map_err(failed(place))?;
    Ok(rows
        .iter()
        .map(|r| crate::task::Claimed {
            owner: r.get(0),
            tasks: r.get::<_, i64>(1) as u64,
            lease_until: chrono::DateTime::from_timestamp_millis((r.get::<_, f64>(2) * 1000.0) as i64).unwrap_or_default(),
        })
        .collect())
}

/// Records the rows a completed task stored.
pub(super) async fn record_stored(
    client: &impl GenericClient,
    task: TaskId,
    stored: &BTreeMap<String, u64>,
    place: &str,
) -> Result<()> {
    let counts = serde_json::to_string(stored).expect("counts serialize");
    client.execute("UPDATE _max_tasks SET stored = $2 WHERE id = $1", &[&task, &counts]).await.map_err(failed(place))?;
    Ok(())
}

/// Tells idle workers that `schema` has tasks to run (delivered when the transaction commits).
pub(super) async fn wake_workers(client: &impl GenericClient, schema: &str, place: &str) -> Result<()> {
    client.execute("SELECT pg_notify('max_tasks', $1)", &[&schema]).await.map_err(failed(place))?;
    Ok(())
}

/// Marks a task done: `awaiting_children` while tasks it spawned are unfinished, else `completed`;
/// then completes a waiting parent whose last child this was.
pub(super) async fn finish(client: &impl GenericClient, task: TaskId, place: &str) -> Result<()> {
    let mut next = Some(task);
    while let Some(task) = next.take() {
        let unfinished = client
            .query_opt(
                &format!("SELECT 1 FROM _max_tasks WHERE parent_id = $1 AND state IN {UNFINISHED} LIMIT 1"),
                &[&task],
            )
            .await
            .map_err(failed(place))?;
        let state = if unfinished.is_some() { "awaiting_children" } else { "completed" };
        client
            .execute(
                "UPDATE _max_tasks SET state = $1, updated_at = $2, owner = NULL, lease_until = NULL WHERE id = $3",
                &[&state, &now(), &task],
            )
            .await
            .map_err(failed(place))?;
        if state == "completed" {
            next = waiting_parent(client, task, place).await?;
        }
    }
    Ok(())
}

/// The parent of `task` when it waits for its children, locked until the transaction ends. The lock
/// orders the completions of its last children in different processes: without it, each could
/// see the other still running (neither committed yet) and leave the parent waiting forever; with
/// it, the second to take it counts after the first committed.
async fn waiting_parent(client: &impl GenericClient, task: TaskId, place: &str) -> Result<Option<TaskId>> {
    let row = client
        .query_opt(
            "SELECT p.id FROM _max_tasks p
             WHERE p.id = (SELECT parent_id FROM _max_tasks WHERE id = $1) AND p.state = 'awaiting_children'
             FOR UPDATE",
            &[&task],
        )
        .await
        .map_err(failed(place))?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) async fn fail(client: &impl GenericClient, task: &Task, error: &str, place: &str) -> Result<()> {
    client
        .execute(
            "UPDATE _max_tasks SET state = 'failed', error = $1, updated_at = $2, owner = NULL, lease_until = NULL
             WHERE id = $3",
            &[&error, &now(), &task.id],
        )
        .await
        .map_err(failed(place))?;
    if let Some(parent) = waiting_parent(client, task.id, place).await? {
        finish(client, parent, place).await?;
    }
    Ok(())
}

pub(super) async fn progress(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<(u64, u64)> {
    let row = client
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE state IN ('completed', 'failed')), COUNT(*) FROM _max_tasks WHERE sync_id = $1",
            &[&sync],
        )
        .await
        .map_err(failed(place))?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

/// Closes a sync record: its rows counted over every task (whichever process stored them), its
/// requests added to what workers recorded.
pub(super) async fn finish_sync(client: &impl GenericClient, sync: SyncId, requests: u64, place: &str) -> Result<SyncRecord> {
    let entities: BTreeMap<String, u64> = client
        .query(
            "SELECT c.key, SUM(c.value::bigint)::bigint FROM _max_tasks t, jsonb_each_text(t.stored::jsonb) c
             WHERE t.sync_id = $1 AND t.stored IS NOT NULL GROUP BY c.key",
            &[&sync],
        )
        .await
        .map_err(failed(place))?
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect();
    let row = client
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE state = 'failed'), COUNT(*) FROM _max_tasks WHERE sync_id = $1",
            &[&sync],
        )
        .await
        .map_err(failed(place))?;
    let (failed_tasks, total): (i64, i64) = (row.get(0), row.get(1));
    let status = if failed_tasks > 0 { SyncStatus::Failed } else { SyncStatus::Completed };
    client
        .execute(
            "UPDATE _max_syncs SET finished_at = $1, status = $2, tasks_total = $3, tasks_failed = $4, entities = $5,
                 requests = requests + $6
             WHERE id = $7",
            &[
                &now(),
                &status.to_string(),
                &total,
                &failed_tasks,
                &serde_json::to_string(&entities).expect("counts serialize"),
                &(requests as i64),
                &sync,
            ],
        )
        .await
        .map_err(failed(place))?;
    Ok(syncs_where(client, "WHERE id = $1", &[&sync], place).await?.remove(0))
}

pub(super) async fn failures(client: &impl GenericClient, sync: SyncId, place: &str) -> Result<Vec<TaskFailure>> {
    let rows = client
        .query(
            "SELECT id, spec, COALESCE(error, '') FROM _max_tasks WHERE sync_id = $1 AND state = 'failed' ORDER BY id",
            &[&sync],
        )
        .await
        .map_err(failed(place))?;
    Ok(rows
        .iter()
        .map(|r| {
            let spec: String = r.get(1);
            TaskFailure {
                task: r.get(0),
                description: serde_json::from_str::<TaskSpec>(&spec).map_or(spec, |s| s.to_string()),
                error: r.get(2),
            }
        })
        .collect())
}

pub(super) async fn syncs(client: &impl GenericClient, limit: usize, place: &str) -> Result<Vec<SyncRecord>> {
    syncs_where(client, "ORDER BY id DESC LIMIT $1", &[&(limit as i64)], place).await
}

async fn syncs_where(
    client: &impl GenericClient,
    clause: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    place: &str,
) -> Result<Vec<SyncRecord>> {
    let sql = format!(
        "SELECT id, started_at, finished_at, status, \"full\", tasks_total, tasks_failed, entities, requests
         FROM _max_syncs {clause}"
    );
    let rows = client.query(&sql, args).await.map_err(failed(place))?;
    let parse = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&chrono::Utc)).unwrap_or_default()
    };
    Ok(rows
        .iter()
        .map(|r| SyncRecord {
            id: r.get(0),
            started_at: parse(r.get(1)),
            finished_at: r.get::<_, Option<&str>>(2).map(parse),
            status: SyncStatus::from_stored(r.get(3)),
            full: r.get(4),
            tasks_total: r.get::<_, i64>(5) as u64,
            tasks_failed: r.get::<_, i64>(6) as u64,
            entities: serde_json::from_str(r.get(7)).unwrap_or_default(),
            requests: r.get::<_, i64>(8) as u64,
        })
        .collect())
}
