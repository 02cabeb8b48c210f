//! The SQLite implementation of [`Storage`]: one connection, WAL, prepared statements cached by SQL.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{DataStore, SchemaReport, Storage, TaskStore};
use crate::data::{EntityRef, SeedState};
use crate::manifest::ConnectorInfo;
use crate::query::SearchQuery;
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskId, TaskOutcome, TaskSpec};
use crate::{Error, Result};

/// One installation's `data.db`.
pub struct SqliteStorage {
    pub(super) conn: Connection,
    /// The schema the tables were last brought in line with (needed to convert values).
    pub(super) info: Option<ConnectorInfo>,
    /// The open group commit, if any.
    group: Option<Group>,
    /// Checkpoints the WAL from another thread (a writable database file).
    checkpointer: Option<super::checkpoint::Checkpointer>,
}

/// Group commit: a sync's claims, completed and failed tasks accumulate in one open transaction (every
/// other write commits it first, then commits itself), each task in
/// a savepoint of its own (so one that fails to store leaves the others), committed every
/// [`GROUP_TASKS`] tasks, [`GROUP_ROWS`] rows or [`GROUP_AGE`], when the executor waits, and when the
/// storage is dropped. One
/// commit per page would write the index pages a page of random ids touches (about one per row) to the
/// WAL again for every page; grouped, they are written once per group. A crash loses at most the open
/// group: its tasks read as unfinished, and resuming runs them again.
#[derive(Debug)]
struct Group {
    started: std::time::Instant,
    tasks: u32,
    rows: u64,
}

/// Tasks stored before an open group is committed: what a crash can make a resumed sync request again,
/// beside the requests in flight. Small pages arriving fast would otherwise put 100 ms of them (a
/// hundred requests and more) at risk.
const GROUP_TASKS: u32 = 8;
/// The writer's page cache in KiB: 32 MiB keeps the upper levels of the indexes in memory on large
/// syncs.
pub(super) const CACHE_KIB: u32 = 32768;

/// Rows stored before an open group is committed.
const GROUP_ROWS: u64 = 50_000;
/// How long a group stays open at most (when tasks keep completing).
const GROUP_AGE: std::time::Duration = std::time::Duration::from_millis(100);

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").field("path", &self.conn.path()).finish_non_exhaustive()
    }
}

/// Maps a SQLite error to the host's error, naming the database.
pub(super) fn db_error(conn: &Connection) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |error| sqlite_error(conn.path().unwrap_or("(memory)"), error)
}

/// A SQLite failure as a host error: a full database (its size limit or the disk) is one of its own.
pub(super) fn sqlite_error(path: &str, error: rusqlite::Error) -> Error {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::DiskFull => {
            Error::DatabaseFull { path: path.to_string() }
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(failure.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) =>
        {
            Error::CorruptDatabase { path: path.into(), reason: plain_message(&error) }
        }
        _ => {
            tracing::debug!(%error, "SQLite failed");
            Error::Storage { path: path.to_string(), message: plain_message(&error) }
        }
    }
}

/// What SQLite said, without the statement it said it about: generated SQL is no business of a user's.
fn plain_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::SqliteFailure(failure, Some(msg)) => format!("{msg} ({failure})"),
        other => other.to_string(),
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` for syncing.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| sqlite_error(&path.display().to_string(), e))?;
        let mut storage = Self::configure(conn, true)?;
        storage.checkpointer = super::checkpoint::Checkpointer::start(path);
        if storage.checkpointer.is_some() {
            storage.conn.execute_batch("PRAGMA wal_autocheckpoint = 0;").map_err(db_error(&storage.conn))?;
        }
        Ok(storage)
    }

    /// Opens an existing database for reading only (searches never block a running sync). One that
    /// SQLite can't read, or that holds none of Max's tables (an empty file, another program's
    /// database), is [`Error::CorruptDatabase`]; it is never written to.
    pub fn open_existing(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(&path.display().to_string(), e))?;
        if !super::schema::has_internal_tables(&conn)? {
            let reason = "it holds none of Max's tables (empty, or not written by max)".to_string();
            return Err(Error::CorruptDatabase { path: path.display().to_string(), reason });
        }
        Self::configure(conn, false)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()
            .map_err(|e| Error::Storage { path: "(memory)".into(), message: e.to_string() })?;
        Self::configure(conn, true)
    }

    fn configure(conn: Connection, writable: bool) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(db_error(&conn))?;
        if writable {
            conn.execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -{CACHE_KIB};"
            ))
            .map_err(db_error(&conn))?;
            super::schema::create_internal_tables(&conn)?;
        }
        conn.set_prepared_statement_cache_capacity(256);
        let info = super::schema::stored_info(&conn)?;
        Ok(SqliteStorage { conn, info, group: None, checkpointer: None })
    }

    /// Refuses to let the database grow past `max_bytes` (writes beyond fail as
    /// [`Error::DatabaseFull`]). A database already larger keeps its size but grows no more.
    pub fn limit_size(&self, max_bytes: u64) -> Result<()> {
        let page_size: i64 =
            self.conn.query_row("PRAGMA page_size", [], |row| row.get(0)).map_err(db_error(&self.conn))?;
        let pages = (max_bytes / page_size.max(1) as u64).max(1);
        self.conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(())).map_err(db_error(&self.conn))
    }

    /// Opens a group commit unless one is open (or another transaction is).
    fn join_group(&mut self) -> Result<()> {
        if self.group.is_none() && self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN").map_err(db_error(&self.conn))?;
            self.group = Some(Group { started: std::time::Instant::now(), tasks: 0, rows: 0 });
        }
        Ok(())
    }

    /// Counts a task of `rows` rows stored in the open group, committing it when it is big or old
    /// enough.
    fn grew(&mut self, rows: u64) -> Result<()> {
        let Some(group) = &mut self.group else { return Ok(()) };
        group.tasks += 1;
        group.rows += rows;
        if group.tasks >= GROUP_TASKS || group.rows >= GROUP_ROWS || group.started.elapsed() >= GROUP_AGE {
            self.commit_group()?;
        }
        Ok(())
    }

    fn commit_group(&mut self) -> Result<()> {
        if self.group.take().is_some() && !self.conn.is_autocommit() {
            let committed = self.conn.execute_batch("COMMIT").map_err(db_error(&self.conn));
            if committed.is_err() && !self.conn.is_autocommit() {
                // A commit that failed (a full database) leaves the transaction open: what it held is
                // rolled back, as a crash would lose it, and done again when the sync resumes.
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            committed?;
        }
        Ok(())
    }

    /// The schema stored with the data (none before the first sync).
    pub fn info(&self) -> Option<&ConnectorInfo> {
        self.info.as_ref()
    }

    /// Reads the stored schema again (a connection kept open while a sync changed it).
    pub(crate) fn reread_info(&mut self) -> Result<()> {
        self.info = super::schema::stored_info(&self.conn)?;
        Ok(())
    }
}

impl Drop for SqliteStorage {
    /// Commits the open group: every task in it was stored whole (its savepoint released).
    fn drop(&mut self) {
        if let Err(error) = self.commit_group() {
            tracing::warn!(%error, "the last group of completed tasks could not be committed; they will run again");
        }
    }
}

impl TaskStore for SqliteStorage {
    fn seed_state(&self, full: bool) -> Result<SeedState> {
        super::tasks::seed_state(&self.conn, full)
    }

    fn scoped_cursors(&self, loader: &str) -> Result<HashMap<String, String>> {
        super::tasks::scoped_cursors(&self.conn, loader)
    }

    fn begin_sync(&mut self, full: bool, tasks: &[NewTask]) -> Result<SyncId> {
        self.commit_group()?;
        let tx = self.conn.savepoint().map_err(|e| sqlite_error("", e))?;
        let sync = super::tasks::begin_sync(&tx, full)?;
        super::tasks::insert_tasks(&tx, sync, tasks)?;
        tx.commit().map_err(|e| sqlite_error("", e))?;
        Ok(sync)
    }

    fn resumable_sync(&self) -> Result<Option<SyncRecord>> {
        let newest = super::tasks::syncs(&self.conn, 1)?.into_iter().next();
        Ok(newest.filter(|s| s.status.resumable()))
    }

    fn resume_sync(&mut self, sync: SyncId) -> Result<u64> {
        self.commit_group()?;
        super::tasks::resume(&self.conn, sync)
    }

    fn retry_failed(&mut self, sync: SyncId) -> Result<u64> {
        self.commit_group()?;
        super::tasks::retry_failed(&self.conn, sync)
    }

    fn child_specs(&self, task: TaskId) -> Result<Vec<TaskSpec>> {
        super::tasks::child_specs(&self.conn, task)
    }

    fn set_sync_status(&mut self, sync: SyncId, status: SyncStatus) -> Result<()> {
        self.commit_group()?;
        super::tasks::set_status(&self.conn, sync, status)
    }

    fn sync_record(&self, sync: SyncId) -> Result<Option<SyncRecord>> {
        super::tasks::sync_record(&self.conn, sync)
    }

    fn pending_expansions(&self, sync: SyncId) -> Result<Vec<Task>> {
        super::tasks::pending_expansions(&self.conn, sync)
    }

    fn claim_task(&mut self, sync: SyncId) -> Result<Claim> {
        self.join_group()?;
        super::tasks::claim(&self.conn, sync)
    }

    fn fail_task(&mut self, task: &Task, error: &str) -> Result<()> {
        super::tasks::fail(&mut self.conn, task, error)
    }

    fn flush(&mut self) -> Result<()> {
        self.commit_group()
    }

    fn task_progress(&self, sync: SyncId) -> Result<(u64, u64)> {
        super::tasks::progress(&self.conn, sync)
    }

    fn finish_sync(&mut self, sync: SyncId, entities: &BTreeMap<String, u64>, requests: u64) -> Result<SyncRecord> {
        self.commit_group()?;
        super::tasks::finish_sync(&self.conn, sync, entities, requests)
    }

    fn failures(&self, sync: SyncId) -> Result<Vec<TaskFailure>> {
        super::tasks::failures(&self.conn, sync)
    }

    fn syncs(&self, limit: usize) -> Result<Vec<SyncRecord>> {
        super::tasks::syncs(&self.conn, limit)
    }
}

impl DataStore for SqliteStorage {
    fn apply_schema(&mut self, info: &ConnectorInfo, rebuild: bool) -> Result<SchemaReport> {
        self.commit_group()?;
        let report = super::schema::apply(&mut self.conn, info, rebuild)?;
        self.info = Some(info.clone());
        Ok(report)
    }

    fn applied_schema(&self) -> Option<&ConnectorInfo> {
        self.info.as_ref()
    }

    fn retired_fields(&self) -> Result<Vec<(String, String, String)>> {
        super::schema::retired_fields(&self.conn)
    }

    fn start_bulk_load(&mut self) -> Result<()> {
        self.commit_group()?;
        super::bulk::start(&mut self.conn)
    }

    fn finish_bulk_load(&mut self) -> Result<()> {
        self.commit_group()?;
        match &self.info {
            Some(info) => super::bulk::finish(&mut self.conn, info),
            None => Ok(()),
        }
    }

    fn ensure_rows(&mut self, refs: &[EntityRef]) -> Result<()> {
        self.commit_group()?;
        super::write::ensure_rows(self, refs)
    }

    fn ids_of(&self, entity: &str) -> Result<Vec<String>> {
        super::write::ids_of(self, entity)
    }

    fn collection_holds(&self, parent: &EntityRef, field: &str, ids: &[String]) -> Result<u64> {
        super::write::collection_holds(self, parent, field, ids)
    }

    fn freshness(&self) -> Result<(super::LastSyncs, Vec<super::Freshness>)> {
        super::freshness::freshness(self)
    }

    fn recently_synced(
        &self,
        entity: &str,
        fields: &[String],
        since: &str,
    ) -> Result<std::collections::HashSet<String>> {
        super::freshness::recently_synced(self, entity, fields, since)
    }

    fn versions_changed(
        &self,
        group: &crate::manifest::VersionedFields,
    ) -> Result<std::collections::HashSet<String>> {
        super::versions::changed(self, group)
    }

    fn counts(&self) -> Result<BTreeMap<String, u64>> {
        super::write::counts(self)
    }

    fn search_rows(
        &self,
        query: &SearchQuery,
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<String>> {
        super::search::stream(self, query, visit)
    }
}

impl Storage for SqliteStorage {
    fn complete_task(&mut self, sync: SyncId, task: &Task, outcome: TaskOutcome) -> Result<BTreeMap<String, u64>> {
        self.join_group()?;
        let stored = super::write::complete_task(self, sync, task, outcome)?;
        self.grew(stored.values().sum())?;
        Ok(stored)
    }
}
