//! The workers of a database: each registers in `"_max".workers` when it starts, says it is alive
//! every second while it runs (whatever it is doing), and leaves when it stops. `max status` lists
//! them; `max sync` leaves a sync's tasks to them while some are alive, and drains it itself when
//! none is (or when they all stop answering).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::connection::{MAX_SCHEMA_LOCK, connect, failed, shown, wait};
use crate::Result;

/// A worker has not been heard from for this long: taken for gone.
pub const GONE_AFTER: Duration = Duration::from_secs(5);

const TABLE: &str = "CREATE SCHEMA IF NOT EXISTS \"_max\";
    CREATE TABLE IF NOT EXISTS \"_max\".workers (
        owner TEXT PRIMARY KEY, project TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        seen_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// A worker as the database last heard of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSeen {
    /// `host:pid:tag`, as in its claims.
    pub owner: String,
    /// The project folder it runs in.
    pub project: String,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it last said it was alive.
    pub seen_at: chrono::DateTime<chrono::Utc>,
}

/// Registers the worker `owner` (running in `project`), or says it is still alive.
pub fn alive(url: &str, owner: &str, project: &str) -> Result<()> {
    let mut client = connect(url)?;
    let place = shown(url);
    wait(async {
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("{MAX_SCHEMA_LOCK}; {TABLE}")).await?;
        tx.execute(
            "INSERT INTO \"_max\".workers (owner, project) VALUES ($1, $2)
             ON CONFLICT (owner) DO UPDATE SET seen_at = now()",
            &[&owner, &project],
        )
        .await?;
        tx.commit().await
    })
    .map_err(failed(&place))?;
    Ok(())
}

/// The worker `owner` stops.
pub fn gone(url: &str, owner: &str) -> Result<()> {
    let client = connect(url)?;
    let sql = "DELETE FROM \"_max\".workers WHERE owner = $1";
    wait(client.execute(sql, &[&owner])).map_err(failed(&shown(url)))?;
    Ok(())
}

/// The workers heard from within [`GONE_AFTER`] (none when no worker ever ran on the database).
pub fn live(url: &str) -> Result<Vec<WorkerSeen>> {
    let client = connect(url)?;
    let place = shown(url);
    let exists = wait(client.query_one("SELECT to_regclass('\"_max\".workers') IS NOT NULL", &[])).map_err(failed(&place))?;
    if !exists.get::<_, bool>(0) {
        return Ok(Vec::new());
    }
    let rows = wait(client.query(
        "SELECT owner, project, EXTRACT(EPOCH FROM started_at)::float8, EXTRACT(EPOCH FROM seen_at)::float8
         FROM \"_max\".workers WHERE seen_at > now() - make_interval(secs => $1) ORDER BY started_at, owner",
        &[&GONE_AFTER.as_secs_f64()],
    ))
    .map_err(failed(&place))?;
    let time = |seconds: f64| chrono::DateTime::from_timestamp_millis((seconds * 1000.0) as i64).unwrap_or_default();
    Ok(rows
        .iter()
        .map(|r| WorkerSeen { owner: r.get(0), project: r.get(1), started_at: time(r.get(2)), seen_at: time(r.get(3)) })
        .collect())
}
