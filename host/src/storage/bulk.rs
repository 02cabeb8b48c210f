//! Bulk loads, the way bulk loaders do them (PostgreSQL's `COPY` then `CREATE INDEX`): a full sync
//! writes its rows without maintaining secondary indexes row by row, and builds them once when it ends.
//! While a load runs, the reference and link-child indexes are dropped and per-row sync metadata is
//! appended to `_max_sync_meta_staged`; ending it merges the staged metadata in key order and creates
//! the indexes. The state is a row of `_max_info`, written in the transactions that change it, so a
//! killed sync resumes its bulk load and a finished one always leaves every index in place.

use rusqlite::{Connection, OptionalExtension};

use super::schema;
use super::sqlite::db_error;
use crate::Result;
use crate::manifest::ConnectorInfo;

/// The page cache while a load ends, in KiB. SQLite's sorter, which orders the staged metadata and
/// every index's keys, holds as much as the page cache in memory before it spills to temporary files:
/// with the writer's usual cache, ending a load of a million rows held ~35 MiB more at its peak.
const FINISH_CACHE_KIB: u32 = 8192;

/// The `_max_info` key present while a bulk load runs.
const KEY: &str = "bulk_load";

/// Whether a bulk load is in progress.
pub(super) fn active(conn: &Connection) -> Result<bool> {
    let found = conn
        .query_row("SELECT 1 FROM _max_info WHERE key = ?1", [KEY], |_| Ok(()))
        .optional()
        .map_err(db_error(conn))?;
    Ok(found.is_some())
}

/// Starts a bulk load (drops the secondary indexes); nothing to do when one is in progress.
pub(super) fn start(conn: &mut Connection) -> Result<()> {
    let tx = conn.savepoint().map_err(|e| super::sqlite::sqlite_error("", e))?;
    if !active(&tx)? {
        schema::drop_indexes(&tx)?;
        tx.execute("INSERT INTO _max_info (key, value) VALUES (?1, '1')", [KEY]).map_err(db_error(&tx))?;
    }
    tx.commit().map_err(|e| super::sqlite::sqlite_error("", e))
}

/// Ends a bulk load: merges the staged metadata (a later write of the same row and field set wins) and
/// builds the indexes of `info`'s tables, in one transaction; nothing to do when none is in progress.
pub(super) fn finish(conn: &mut Connection, info: &ConnectorInfo) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{FINISH_CACHE_KIB}")).map_err(db_error(conn))?;
    let finished = merge_and_index(conn, info);
    conn.execute_batch(&format!("PRAGMA cache_size = -{}", super::sqlite::CACHE_KIB)).map_err(db_error(conn))?;
    finished
}

fn merge_and_index(conn: &mut Connection, info: &ConnectorInfo) -> Result<()> {
    let tx = conn.savepoint().map_err(|e| super::sqlite::sqlite_error("", e))?;
    if active(&tx)? {
        tx.execute_batch(
            "INSERT INTO _max_sync_meta (field_set, id, synced_at, sync_id)
                 SELECT field_set, id, synced_at, sync_id FROM _max_sync_meta_staged WHERE true
                 ORDER BY field_set, id, rowid
             ON CONFLICT (field_set, id) DO UPDATE SET synced_at = excluded.synced_at, sync_id = excluded.sync_id;
             DELETE FROM _max_sync_meta_staged;",
        )
        .map_err(db_error(&tx))?;
        schema::create_indexes(&tx, info)?;
        tx.execute("DELETE FROM _max_info WHERE key = ?1", [KEY]).map_err(db_error(&tx))?;
    }
    tx.commit().map_err(|e| super::sqlite::sqlite_error("", e))
}
