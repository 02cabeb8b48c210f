//! Read-only SQL over a PostgreSQL project's installations: the query runs in a `READ ONLY`
//! transaction (writes, DDL and sequences refused by the server), one statement (the extended
//! protocol takes no more), under `statement_timeout`, with the installations' schemas on the search
//! path; rows stream to the caller up to the row cap. The database role is the project's: give
//! `max` a role that may only read when agents run queries.

use std::ops::ControlFlow;
use std::time::Duration;

use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::error::SqlState;

use super::connection::{connect, wait};
use super::search::cell;
use crate::storage::schema::quote;
use crate::{Error, Result};

/// Runs `query` with `schemas` on the search path; returns the rows handed over and whether more
/// were left past `max_rows`.
pub fn run(
    url: &str,
    schemas: &[String],
    query: &str,
    max_rows: u64,
    timeout: Duration,
    start: &mut dyn FnMut(&[String]),
    visit: &mut dyn FnMut(Vec<serde_json::Value>) -> ControlFlow<()>,
) -> Result<(u64, bool)> {
    let client = connect(url)?;
    let path: Vec<String> = schemas.iter().map(|s| quote(s)).collect();
    let setup = format!(
        "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL search_path TO {}",
        timeout.as_millis().max(1),
        if path.is_empty() { "pg_catalog".to_string() } else { path.join(", ") }
    );
    let refused = |error: tokio_postgres::Error| match error.as_db_error() {
        Some(db) if *db.code() == SqlState::QUERY_CANCELED => Error::SqlTimeout { seconds: timeout.as_secs_f64() },
        Some(db) if *db.code() == SqlState::READ_ONLY_SQL_TRANSACTION => {
            Error::SqlRefused { reason: format!("only reading is allowed ({})", db.message()) }
        }
        Some(db) => Error::SqlFailed { message: db.message().to_string() },
        None => Error::SqlFailed { message: error.to_string() },
    };
    let outcome = wait(async {
        client.batch_execute(&setup).await.map_err(refused)?;
        let statement = client.prepare(query).await.map_err(refused)?;
        let columns: Vec<String> = statement.columns().iter().map(|c| c.name().to_string()).collect();
        start(&columns);
        let rows = client.query_raw(&statement, std::iter::empty::<&str>()).await.map_err(refused)?;
        pin_mut!(rows);
        let (mut seen, mut truncated) = (0u64, false);
        while let Some(row) = rows.try_next().await.map_err(refused)? {
            if seen == max_rows {
                truncated = true;
                break;
            }
            seen += 1;
            if visit((0..row.len()).map(|i| cell(&row, i)).collect()).is_break() {
                break;
            }
        }
        Ok::<_, Error>((seen, truncated))
    });
    let _ = wait(client.batch_execute("ROLLBACK"));
    outcome
}
