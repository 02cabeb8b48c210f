//! Storage of one installation, behind two traits along its two jobs: the [`TaskStore`] keeps the
//! execution state of syncs (syncs, tasks, cursors), the [`DataStore`] keeps what they synced (schema,
//! rows, links, freshness, search). [`Storage`] is both, plus the one operation that needs both in one
//! transaction: completing a task with everything it stores. No SQLite type appears in any signature, so
//! another database implements these traits rather than rewriting their callers.
//!
//! The SQLite implementation keeps one `data.db` per installation: a typed table per entity, a link table
//! per collection field, and the execution tables `_max_syncs`, `_max_tasks`, `_max_sync_meta`,
//! `_max_cursors` in the same file, so that data, task state and metadata change in one transaction.

mod audit;
mod bulk;
mod checkpoint;
mod freshness;
mod fulltext;
mod membership;
mod ownership;
mod postgres;
mod schema;
mod search;
pub(crate) mod sql;
mod sqlite;
mod tasks;
mod values;
mod versions;
mod write;

pub use audit::{Dangling, TableDigest};
pub use freshness::{Freshness, LastSyncs, Timestamp};

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub(crate) use postgres::{
    check as check_pg, listen as listen_pg, shown as shown_url, url_problem as pg_url_problem, with_absolute_files,
};
pub use postgres::workers::WorkerSeen;
pub use postgres::{Listener, PgBudgets};
pub(crate) use postgres::{owner as process_owner, published as pg_published, workers as pg_workers};
pub(crate) use postgres::sql as pg_sql;
pub(crate) use schema::quote as quote_name;
pub use postgres::{PgStorage, schema_name as pg_schema_name};
pub use sqlite::SqliteStorage;

use crate::Result;
use crate::data::{EntityRef, SeedState};
use crate::manifest::ConnectorInfo;
use crate::query::{SearchPage, SearchQuery};
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskId, TaskOutcome, TaskSpec};

/// What applying a connector's schema changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaReport {
    /// Tables created.
    pub created: Vec<String>,
    /// Columns added to existing tables (`Entity.field`).
    pub added: Vec<String>,
    /// Columns kept although the connector no longer declares them.
    pub retired: Vec<String>,
    /// Tables rebuilt because a field changed type (with `rebuild`).
    pub rebuilt: Vec<String>,
    /// Entity types whose full-text index was built (new searchable fields), from the rows stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexed: Vec<String>,
}

impl SchemaReport {
    /// Whether tables or columns were added or rebuilt: their rows hold nothing yet for data stored
    /// before. Added columns `fills_itself` names (`Entity.field`) don't count: change feeds fill them.
    pub fn widens(&self, fills_itself: impl Fn(&str) -> bool) -> bool {
        !self.created.is_empty() || !self.rebuilt.is_empty() || self.added.iter().any(|added| !fills_itself(added))
    }
}

/// The execution state of an installation's syncs: sync records, their tasks, change-feed cursors.
pub trait TaskStore: Send {
    /// What the seeder needs: the last completed sync and the stored cursors.
    fn seed_state(&self, full: bool) -> Result<SeedState>;
    /// The stored cursors of the scoped change feed `loader`, by the id of the entity each belongs to.
    fn scoped_cursors(&self, loader: &str) -> Result<HashMap<String, String>>;
    /// Starts a sync record with its first tasks, in one transaction (a sync is never without its plan).
    fn begin_sync(&mut self, full: bool, tasks: &[NewTask]) -> Result<SyncId>;
    /// The newest sync that stopped before its end (crashed or interrupted), if the newest sync did.
    fn resumable_sync(&self) -> Result<Option<SyncRecord>>;
    /// Makes a stopped sync runnable again: tasks left `running` by a dead process go back to pending
    /// (the interrupted attempt not counted), and failed tasks get fresh attempts; returns how many.
    fn resume_sync(&mut self, sync: SyncId) -> Result<u64>;
    /// Makes the failed tasks of a sync pending again with fresh attempts; returns how many.
    fn retry_failed(&mut self, sync: SyncId) -> Result<u64>;
    /// The specs of the tasks `task` spawned (so a step expanded again adds only what is new).
    fn child_specs(&self, task: TaskId) -> Result<Vec<TaskSpec>>;
    /// Sets a sync's status without finishing it (`interrupted`, `abandoned`).
    fn set_sync_status(&mut self, sync: SyncId, status: SyncStatus) -> Result<()>;
    /// One sync's record.
    fn sync_record(&self, sync: SyncId) -> Result<Option<SyncRecord>>;
    /// The plan-step expansions of a sync that have not run yet, in group order.
    fn pending_expansions(&self, sync: SyncId) -> Result<Vec<Task>>;
    /// Atomically claims the next runnable task: an expansion of the lowest unfinished group, or any
    /// task spawned from stored data (lowest group first).
    fn claim_task(&mut self, sync: SyncId) -> Result<Claim>;
    /// Makes what was stored so far durable (completions are committed in groups; see the
    /// implementation). Cheap when nothing is pending.
    fn flush(&mut self) -> Result<()>;
    /// Records a task's permanent failure.
    fn fail_task(&mut self, task: &Task, error: &str) -> Result<()>;
    /// Finished and total tasks of a sync.
    fn task_progress(&self, sync: SyncId) -> Result<(u64, u64)>;
    /// Closes a sync record.
    fn finish_sync(&mut self, sync: SyncId, entities: &BTreeMap<String, u64>, requests: u64) -> Result<SyncRecord>;
    /// The failed tasks of a sync.
    fn failures(&self, sync: SyncId) -> Result<Vec<TaskFailure>>;
    /// The most recent syncs, newest first.
    fn syncs(&self, limit: usize) -> Result<Vec<SyncRecord>>;

    /// Whether other processes may drain this store's syncs too (workers sharing a database): then a
    /// sync's tasks are claimed under leases, and nothing is started from what one process alone
    /// knows.
    fn shared(&self) -> bool {
        false
    }
    /// Extends the lease of a claimed task this process runs; false when the claim was lost (another
    /// process took the task after the lease expired).
    fn renew_claim(&self, task: &Task) -> Result<bool> {
        let _ = task;
        Ok(true)
    }
    /// Takes the right to run syncs of this installation (one at a time, whichever the process or
    /// machine): false when another holds it. Held until the store is dropped.
    fn hold_sync_right(&mut self) -> Result<bool> {
        Ok(true)
    }
    /// The sync with tasks to run, if one is under way (for a worker).
    fn runnable_sync(&self) -> Result<Option<SyncId>> {
        Ok(None)
    }
    /// How many worker processes are alive on this storage (none where no other process shares it).
    fn live_workers(&self) -> Result<usize> {
        Ok(0)
    }
    /// Who holds claims on `sync`'s tasks now (processes draining it; empty on storage no other
    /// process shares).
    fn claims(&self, sync: SyncId) -> Result<Vec<crate::task::Claimed>> {
        let _ = sync;
        Ok(Vec::new())
    }
    /// Adds requests a process made for `sync` to its record (workers' requests count too).
    fn add_requests(&mut self, sync: SyncId, requests: u64) -> Result<()> {
        let _ = (sync, requests);
        Ok(())
    }
}

/// What an installation's syncs stored: the tables of its schema, their rows and links, how current
/// they are, and searches over them.
pub trait DataStore: Send {
    /// Creates or evolves tables for `info`'s schema. A field whose type changed is refused unless
    /// `rebuild`, which drops and recreates that entity's table.
    fn apply_schema(&mut self, info: &ConnectorInfo, rebuild: bool) -> Result<SchemaReport>;
    /// The schema last applied (declared and discovered fields), if any.
    fn applied_schema(&self) -> Option<&ConnectorInfo>;
    /// Fields no longer in the schema whose columns are kept: `(entity, field, type)`.
    fn retired_fields(&self) -> Result<Vec<(String, String, String)>>;
    /// Starts a bulk load (a full sync): rows written until [`DataStore::finish_bulk_load`] don't
    /// maintain secondary indexes one by one. Reads stay correct meanwhile, searches on references
    /// slower. Persistent: a sync resumed after a crash goes on loading in bulk.
    fn start_bulk_load(&mut self) -> Result<()>;
    /// Ends a bulk load, if one is in progress: builds what it deferred, so every index exists again.
    fn finish_bulk_load(&mut self) -> Result<()>;
    /// Makes sure these rows exist (roots), without touching their fields.
    fn ensure_rows(&mut self, refs: &[EntityRef]) -> Result<()>;
    /// The ids of every (not deleted) entity of a type.
    fn ids_of(&self, entity: &str) -> Result<Vec<String>>;
    /// How many of `ids` the collection `field` of `parent` already holds.
    fn collection_holds(&self, parent: &EntityRef, field: &str, ids: &[String]) -> Result<u64>;
    /// Rows per entity type.
    fn counts(&self) -> Result<BTreeMap<String, u64>>;
    /// When the last completed full and incremental syncs started, and how current each entity
    /// type's rows are.
    fn freshness(&self) -> Result<(LastSyncs, Vec<Freshness>)>;
    /// The ids of `entity` whose `fields` were all written at or after `since` (RFC 3339).
    fn recently_synced(&self, entity: &str, fields: &[String], since: &str) -> Result<HashSet<String>>;
    /// The live ids of `group`'s entity whose version fields changed since its fields were stored, or
    /// whose fields never were.
    fn versions_changed(&self, group: &crate::manifest::VersionedFields) -> Result<HashSet<String>>;
    /// Runs a search, handing each matching row's values (in `query.fields` order) to `visit` as they
    /// are read, until it breaks; returns the next page's cursor when there is one.
    fn search_rows(
        &self,
        query: &SearchQuery,
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<String>>;

    /// Runs a search and collects its page.
    fn search(&self, query: &SearchQuery) -> Result<SearchPage> {
        let mut rows = Vec::new();
        let next = self.search_rows(query, &mut |row| {
            rows.push(row);
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(SearchPage { columns: query.fields.iter().map(|f| f.text.clone()).collect(), rows, next })
    }
}

/// An installation's stores opened for reading (status, search, the daemon's warm connections),
/// whichever the backend.
pub trait ReadStore: DataStore + TaskStore {
    /// The schema stored with the data (none before the first sync).
    fn info(&self) -> Option<&ConnectorInfo>;
    /// Reads the stored schema again (a connection kept open while a sync changed it).
    fn reread_info(&mut self) -> Result<()>;
}

impl ReadStore for SqliteStorage {
    fn info(&self) -> Option<&ConnectorInfo> {
        SqliteStorage::info(self)
    }
    fn reread_info(&mut self) -> Result<()> {
        SqliteStorage::reread_info(self)
    }
}

impl ReadStore for PgStorage {
    fn info(&self) -> Option<&ConnectorInfo> {
        PgStorage::info(self)
    }
    fn reread_info(&mut self) -> Result<()> {
        PgStorage::reread_info(self)
    }
}

/// Both stores of one installation, and what needs both at once.
pub trait Storage: TaskStore + DataStore {
    /// Stores a task's outcome (rows, links, deletions, cursor, spawned tasks) and completes the task,
    /// in one transaction; returns the rows stored per entity.
    fn complete_task(&mut self, sync: SyncId, task: &Task, outcome: TaskOutcome) -> Result<BTreeMap<String, u64>>;
}
