//! The PostgreSQL implementation of [`Storage`]: one schema per installation in the project's
//! database (named as the installation: `linear`, `"linear/work"`), with the same tables as an
//! installation's SQLite file, typed for PostgreSQL. Every call is one round trip or one
//! transaction on a pooled connection ([`connection`]); completing a task checks that this process
//! still holds its claim.

mod budget;
pub(crate) mod published;
mod connection;
mod fulltext;
mod names;
mod passfile;
mod quota;
mod read;
mod schema;
mod tls;
mod search;
pub(crate) mod sql;
mod tasks;
pub mod workers;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet};

use tokio_postgres::GenericClient;

pub use budget::PgBudgets;
pub use connection::Listener;
pub(crate) use connection::{check, listen, shown, url_problem};
pub(crate) use tls::with_absolute_files;
use connection::{failed, wait};

use super::{DataStore, SchemaReport, Storage, TaskStore};
use crate::data::{EntityRef, SeedState};
use crate::manifest::ConnectorInfo;
use crate::query::SearchQuery;
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskId, TaskOutcome, TaskSpec};
use crate::{Error, Result};

/// One installation's schema in a PostgreSQL database.
pub struct PgStorage {
    client: deadpool_postgres::Object,
    /// The schema's name.
    schema: String,
    /// The database (without its password) and schema, for messages.
    place: String,
    /// The schema the tables were last brought in line with.
    info: Option<ConnectorInfo>,
    /// Who this process is in the claims it makes.
    owner: String,
    /// The database's URL (workers are listed per database).
    url: String,
    /// How long a claim of this process's holds unless renewed, in seconds.
    lease: f64,
    /// Whether this connection holds the right to run the installation's syncs.
    sync_right: bool,
    /// The bytes the schema may grow to (the installation's `database-mib`), if limited.
    max_bytes: Option<u64>,
}

/// How long a claim holds unless renewed, by default.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage").field("place", &self.place).finish_non_exhaustive()
    }
}

/// The name of an installation's schema: its connector's for the `default` installation, else
/// `connector/name` (a long one fitted to PostgreSQL's 63 bytes, so that no two installations share one).
pub fn schema_name(connector: &str, name: &str) -> String {
    let whole = if name == crate::project::DEFAULT_NAME { connector.to_string() } else { format!("{connector}/{name}") };
    names::fit(&whole).into_owned()
}

/// This process, as the owner of the claims it makes and as a worker: host name, process id and a
/// random part (a restarted process with a reused pid is another owner).
pub fn owner() -> String {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER
        .get_or_init(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let mut random = [0u8; 4];
            let _ = getrandom::getrandom(&mut random);
            format!("{}:{}:{}", host.trim(), std::process::id(), crate::format::hex(&random))
        })
        .clone()
}

impl PgStorage {
    /// Opens (creating if needed) the schema `schema` of the database at `url` for syncing.
    pub fn open(url: &str, schema: &str) -> Result<Self> {
        let schema = &*names::fit(schema);
        let place = format!("{} (schema {schema})", shown(url));
        let client = connection::connect(url)?;
        wait(schema::create(&**client, schema, &place))?;
        let info = wait(schema::stored_info(&**client, &place))?;
        Ok(PgStorage::new(client, url, schema, place, info))
    }

    fn new(client: deadpool_postgres::Object, url: &str, schema: &str, place: String, info: Option<ConnectorInfo>) -> Self {
        let (lease, url) = (DEFAULT_LEASE.as_secs_f64(), url.to_string());
        PgStorage { client, schema: schema.to_string(), place, info, owner: owner(), url, lease, sync_right: false, max_bytes: None }
    }

    /// Claims from now on hold for `lease` unless renewed (a worker renews them while it runs a task).
    pub fn set_lease(&mut self, lease: std::time::Duration) {
        self.lease = lease.as_secs_f64().max(1.0);
    }

    /// Completing a task that grows the schema past `max_bytes` fails from now on (with
    /// [`Error::DatabaseFull`], nothing of it stored). A schema already larger keeps its size but
    /// grows no more. Checked per task: workers storing at once may pass it by a task's rows each.
    pub fn limit_size(&mut self, max_bytes: u64) {
        self.max_bytes = Some(max_bytes);
    }

    /// Who this process is in its claims.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Opens the schema `schema` for reading; none when it holds no synced data yet.
    pub fn open_existing(url: &str, schema: &str) -> Result<Option<Self>> {
        let schema = &*names::fit(schema);
        let place = format!("{} (schema {schema})", shown(url));
        let client = connection::connect(url)?;
        if !wait(schema::exists(&**client, schema, &place))? {
            return Ok(None);
        }
        let quoted = crate::storage::schema::quote(schema);
        wait(client.batch_execute(&format!("SET search_path TO {quoted}"))).map_err(failed(&place))?;
        let info = wait(schema::stored_info(&**client, &place))?;
        Ok(Some(PgStorage::new(client, url, schema, place, info)))
    }

    /// Drops the schema `schema` of the database at `url` with everything in it (an installation
    /// disconnected); nothing to do when there is none.
    pub fn drop_schema(url: &str, schema: &str) -> Result<()> {
        let schema = &*names::fit(schema);
        let place = format!("{} (schema {schema})", shown(url));
        let client = connection::connect(url)?;
        let quoted = crate::storage::schema::quote(schema);
        wait(client.batch_execute(&format!("DROP SCHEMA IF EXISTS {quoted} CASCADE"))).map_err(failed(&place))
    }

    /// The schema stored with the data (none before the first sync).
    pub fn info(&self) -> Option<&ConnectorInfo> {
        self.info.as_ref()
    }

    /// Reads the stored schema again (a connection kept while a sync changed it).
    pub(crate) fn reread_info(&mut self) -> Result<()> {
        self.info = wait(schema::stored_info(&**self.client, &self.place))?;
        Ok(())
    }

    /// Runs `work` (a future on [`PgStorage::client`]) in a transaction: committed when it
    /// succeeds, rolled back when it fails.
    fn in_transaction<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let client = self.client();
        wait(async {
            client.batch_execute("BEGIN").await.map_err(failed(&self.place))?;
            match work.await {
                Ok(value) => {
                    client.batch_execute("COMMIT").await.map_err(failed(&self.place))?;
                    Ok(value)
                }
                Err(error) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(error)
                }
            }
        })
    }

    fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }
}

/// Whether a bulk load is in progress.
async fn bulk_active(client: &impl GenericClient, place: &str) -> Result<bool> {
    let found = client.query_opt("SELECT 1 FROM _max_info WHERE key = 'bulk_load'", &[]).await.map_err(failed(place))?;
    Ok(found.is_some())
}

impl TaskStore for PgStorage {
    fn seed_state(&self, full: bool) -> Result<SeedState> {
        wait(tasks::seed_state(self.client(), full, &self.place))
    }

    fn scoped_cursors(&self, loader: &str) -> Result<HashMap<String, String>> {
        wait(tasks::scoped_cursors(self.client(), loader, &self.place))
    }

    fn begin_sync(&mut self, full: bool, new: &[NewTask]) -> Result<SyncId> {
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            let sync = tasks::begin_sync(tx, full, place).await?;
            tasks::insert_tasks(tx, sync, new, place).await?;
            tasks::wake_workers(tx, &self.schema, place).await?;
            Ok(sync)
        })
    }

    fn resumable_sync(&self) -> Result<Option<SyncRecord>> {
        let newest = wait(tasks::syncs(self.client(), 1, &self.place))?.into_iter().next();
        Ok(newest.filter(|s| s.status.resumable()))
    }

    fn resume_sync(&mut self, sync: SyncId) -> Result<u64> {
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            let reset = tasks::resume(tx, sync, place).await?;
            tasks::wake_workers(tx, &self.schema, place).await?;
            Ok(reset)
        })
    }

    fn retry_failed(&mut self, sync: SyncId) -> Result<u64> {
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            let reset = tasks::retry_failed(tx, sync, place).await?;
            tasks::wake_workers(tx, &self.schema, place).await?;
            Ok(reset)
        })
    }

    fn child_specs(&self, task: TaskId) -> Result<Vec<TaskSpec>> {
        wait(tasks::child_specs(self.client(), task, &self.place))
    }

    fn set_sync_status(&mut self, sync: SyncId, status: SyncStatus) -> Result<()> {
        wait(tasks::set_status(self.client(), sync, status, &self.place))
    }

    fn sync_record(&self, sync: SyncId) -> Result<Option<SyncRecord>> {
        wait(tasks::sync_record(self.client(), sync, &self.place))
    }

    fn pending_expansions(&self, sync: SyncId) -> Result<Vec<Task>> {
        wait(tasks::pending_expansions(self.client(), sync, &self.place))
    }

    fn claim_task(&mut self, sync: SyncId) -> Result<Claim> {
        wait(tasks::claim(self.client(), sync, (&self.owner, self.lease), &self.place))
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn fail_task(&mut self, task: &Task, error: &str) -> Result<()> {
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            tasks::fence(tx, task, &self.owner, place).await?;
            tasks::fail(tx, task, error, place).await
        })
    }

    fn task_progress(&self, sync: SyncId) -> Result<(u64, u64)> {
        wait(tasks::progress(self.client(), sync, &self.place))
    }

    /// The rows counted are every process's (`entities`, this one's, are among them).
    fn finish_sync(&mut self, sync: SyncId, entities: &BTreeMap<String, u64>, requests: u64) -> Result<SyncRecord> {
        let _ = entities;
        self.in_transaction(tasks::finish_sync(self.client(), sync, requests, &self.place))
    }

    fn failures(&self, sync: SyncId) -> Result<Vec<TaskFailure>> {
        wait(tasks::failures(self.client(), sync, &self.place))
    }

    fn syncs(&self, limit: usize) -> Result<Vec<SyncRecord>> {
        wait(tasks::syncs(self.client(), limit, &self.place))
    }

    fn shared(&self) -> bool {
        true
    }

    fn renew_claim(&self, task: &Task) -> Result<bool> {
        wait(tasks::renew(self.client(), task, (&self.owner, self.lease), &self.place))
    }

    fn hold_sync_right(&mut self) -> Result<bool> {
        if !self.sync_right {
            let row = wait(self.client().query_one("SELECT pg_try_advisory_lock(hashtext('max-sync:' || $1))", &[&self.schema]))
                .map_err(failed(&self.place))?;
            self.sync_right = row.get(0);
        }
        Ok(self.sync_right)
    }

    fn runnable_sync(&self) -> Result<Option<SyncId>> {
        wait(tasks::runnable_sync(self.client(), &self.place))
    }

    fn live_workers(&self) -> Result<usize> {
        Ok(workers::live(&self.url)?.len())
    }

    fn claims(&self, sync: SyncId) -> Result<Vec<crate::task::Claimed>> {
        wait(tasks::claims(self.client(), sync, &self.place))
    }

    fn add_requests(&mut self, sync: SyncId, requests: u64) -> Result<()> {
        let requests = requests as i64;
        let sql = "UPDATE _max_syncs SET requests = requests + $2 WHERE id = $1";
        wait(self.client().execute(sql, &[&sync, &requests])).map_err(failed(&self.place))?;
        Ok(())
    }
}

impl Drop for PgStorage {
    /// Gives back the right to run syncs before the connection returns to its pool.
    fn drop(&mut self) {
        if self.sync_right {
            let sql = "SELECT pg_advisory_unlock(hashtext('max-sync:' || $1))";
            if let Err(error) = wait(self.client.execute(sql, &[&self.schema])) {
                tracing::warn!(%error, "giving back the right to sync failed; the server releases it when the connection closes");
            }
        }
    }
}

impl DataStore for PgStorage {
    fn apply_schema(&mut self, info: &ConnectorInfo, rebuild: bool) -> Result<SchemaReport> {
        let (tx, place) = (self.client(), &self.place);
        let report = self.in_transaction(async {
            tx.query_one("SELECT pg_advisory_xact_lock(hashtext('max:' || $1))", &[&self.schema])
                .await
                .map_err(failed(place))?;
            schema::apply(tx, &self.schema, info, rebuild, place).await
        })?;
        self.info = Some(info.clone());
        Ok(report)
    }

    fn applied_schema(&self) -> Option<&ConnectorInfo> {
        self.info.as_ref()
    }

    fn retired_fields(&self) -> Result<Vec<(String, String, String)>> {
        wait(schema::retired_fields(self.client(), &self.place))
    }

    fn start_bulk_load(&mut self) -> Result<()> {
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            if !bulk_active(tx, place).await? {
                schema::drop_indexes(tx, place).await?;
                tx.execute("INSERT INTO _max_info (key, value) VALUES ('bulk_load', '1')", &[])
                    .await
                    .map_err(failed(place))?;
            }
            Ok(())
        })
    }

    fn finish_bulk_load(&mut self) -> Result<()> {
        let Some(info) = &self.info else { return Ok(()) };
        let (tx, place) = (self.client(), &self.place);
        self.in_transaction(async {
            if bulk_active(tx, place).await? {
                schema::create_indexes(tx, info, place).await?;
                tx.execute("DELETE FROM _max_info WHERE key = 'bulk_load'", &[]).await.map_err(failed(place))?;
            }
            Ok(())
        })
    }

    fn ensure_rows(&mut self, refs: &[EntityRef]) -> Result<()> {
        self.in_transaction(write::ensure_rows(self.client(), refs, &self.place))
    }

    fn ids_of(&self, entity: &str) -> Result<Vec<String>> {
        wait(read::ids_of(self.client(), entity, &self.place))
    }

    fn collection_holds(&self, parent: &EntityRef, field: &str, ids: &[String]) -> Result<u64> {
        wait(read::collection_holds(self.client(), parent, field, ids, &self.place))
    }

    fn counts(&self) -> Result<BTreeMap<String, u64>> {
        wait(read::counts(self.client(), self.info.as_ref(), &self.place))
    }

    fn freshness(&self) -> Result<(super::LastSyncs, Vec<super::Freshness>)> {
        wait(read::freshness(self.client(), self.info.as_ref(), &self.place))
    }

    fn recently_synced(&self, entity: &str, fields: &[String], since: &str) -> Result<HashSet<String>> {
        wait(read::recently_synced(self.client(), entity, fields, since, &self.place))
    }

    fn versions_changed(&self, group: &crate::manifest::VersionedFields) -> Result<HashSet<String>> {
        wait(write::versions_changed(self.client(), group, &self.place))
    }

    fn search_rows(
        &self,
        query: &SearchQuery,
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<String>> {
        wait(search::stream(self.client(), query, visit, &self.place))
    }
}

impl Storage for PgStorage {
    fn complete_task(&mut self, sync: SyncId, task: &Task, outcome: TaskOutcome) -> Result<BTreeMap<String, u64>> {
        let info = self.info.as_ref().ok_or_else(|| Error::Runtime("the storage has no schema yet".into()))?;
        let (tx, place, schema) = (self.client(), &self.place, &self.schema);
        let completed = self.in_transaction(async {
            let before = match self.max_bytes {
                Some(max_bytes) => quota::room_for(tx, schema, max_bytes, &outcome, place).await?,
                None => 0,
            };
            let stored = write::complete_task(tx, info, sync, task, &outcome, &self.owner, place).await?;
            if let Some(max_bytes) = self.max_bytes {
                quota::check_growth(tx, schema, max_bytes, before, place).await?;
            }
            if !outcome.spawn.is_empty() {
                tasks::wake_workers(tx, &self.schema, place).await?;
            }
            Ok(stored)
        });
        if let Err(Error::DatabaseFull { .. }) = &completed {
            // Rows rolled back still take their space until it is given back.
            if let Err(error) = wait(quota::give_back_space(tx, schema, place)) {
                tracing::debug!(%error, "vacuuming after a full schema failed");
            }
        }
        completed
    }
}
