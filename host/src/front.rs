//! The host's front door: [`Host`], what every front end (the CLI, a daemon, an agent interface, a
//! worker) calls to sync, search, inspect and onboard installations of a project. It owns what a sync
//! needs beyond the executor: the installation's lock, the live connector built with the installation's
//! limits, the storage opened with its size limit; and it picks the storage backend.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits::InstallLimits;
use crate::live::live_connector;
use crate::project::{Installation, InstalledConnector, PendingInstall, Project, StorageSetting};
use crate::query::{SearchPage, SearchRequest};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::storage::{Freshness, LastSyncs, PgStorage, ReadStore, SqliteStorage, Storage, TaskStore};
use crate::sync::{Start, SyncContext, SyncObserver, SyncOptions, SyncReport, run_sync};
use crate::task::{SyncRecord, SyncStatus};
use crate::warm::{Opener, Reader, Warm, WarmStats};
use crate::{Error, Result};

/// How a front end asks for a sync; the installation's own limits are added by the host.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Reload everything, and rebuild tables whose field types changed.
    pub full: bool,
    /// Tasks run at once (one connector instance each).
    pub workers: usize,
    /// Attempts of a task that fails transiently (rate limits, 5xx, timeouts, dropped connections).
    pub max_attempts: u32,
    /// New, resumed, or failed tasks retried.
    pub start: Start,
    /// Fields a plan loads per entity (not lists) are loaded again only when older than this, unless
    /// `full`; zero loads them every time.
    pub max_age: Duration,
    /// Set to stop: no new task starts, tasks in flight finish, and the sync is left resumable.
    pub stop: Arc<AtomicBool>,
}

impl Default for SyncRequest {
    fn default() -> Self {
        let defaults = SyncOptions::default();
        SyncRequest {
            full: defaults.full,
            workers: defaults.workers,
            max_attempts: defaults.max_attempts,
            start: defaults.start,
            max_age: defaults.max_age,
            stop: defaults.stop,
        }
    }
}

/// A search's answer: the entity as the schema spells it, and the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// The entity searched (its name in the schema, whatever case the request used).
    pub entity: String,
    /// The rows.
    pub page: SearchPage,
}

/// A schema as `max schema` shows it: a connector's declared one, or an installation's as its last sync
/// applied it (discovered fields marked, retired ones listed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaView {
    /// The connector.
    pub connector: String,
    /// Its version.
    pub version: String,
    /// The installation whose schema this is (none: the connector's declared schema).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installation: Option<String>,
    /// Entity types and roots; discovered fields have `discovered` set.
    pub schema: crate::manifest::Schema,
    /// Fields the installation's tables keep though the schema no longer has them: `(entity, field,
    /// type)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredField>,
}

/// A field retired from an installation's schema, its column kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetiredField {
    /// The entity type.
    pub entity: String,
    /// The field.
    pub field: String,
    /// Its type when it was retired.
    #[serde(rename = "type")]
    pub field_type: String,
}

/// Rows and last sync of an installation, for a listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Overview {
    /// Rows per entity type.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// The newest sync, if any.
    pub last_sync: Option<SyncRecord>,
}

/// How an installation's syncs went and how current its data is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The most recent syncs, newest first.
    pub syncs: Vec<SyncRecord>,
    /// The newest sync's tasks (finished, known) when it has not ended: running, or stopped.
    pub unfinished: Option<Progress>,
    /// When the last completed full and incremental syncs started.
    pub last_completed: LastSyncs,
    /// Per entity type: live, deleted and stale rows, when last written.
    pub entities: Vec<Freshness>,
}

/// What moving a project to another storage did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageChange {
    /// Where the data was stored until now, for people.
    pub from: String,
    /// Where it is stored from now on, for people.
    pub to: String,
    /// Whether anything changed (not when the project already stored its data there).
    pub changed: bool,
    /// The installations with nothing stored there yet: their next sync loads everything afresh.
    pub afresh: Vec<String>,
    /// The installations with data stored there already (from before an earlier move): their next
    /// sync goes on from it.
    pub resumed: Vec<String>,
}

/// The tasks of a sync that has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The sync.
    pub sync: i64,
    /// Whether a process is running it now (else it was interrupted and resumes on the next sync).
    pub running: bool,
    /// Tasks finished.
    pub done: u64,
    /// Tasks known so far (more are added as pages and plan steps unfold).
    pub total: u64,
    /// The processes running its tasks now, on storage shared with workers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<crate::task::Claimed>,
}

/// One project, opened: the front door to everything the host does.
pub struct Host {
    project: Project,
    cache_dir: Option<std::path::PathBuf>,
    runtime: OnceLock<Runtime>,
    /// What a long-lived front end keeps between calls ([`Host::keep_warm`]).
    warm: Option<Arc<Warm>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("project", &self.project.root()).finish_non_exhaustive()
    }
}

impl Host {
    /// Opens the project at `start` or its nearest ancestor, with the compile cache in Max's home.
    pub fn open(start: &Path) -> Result<Host> {
        Ok(Host::new(Project::find(start)?))
    }

    /// The front door to `project`, with the compile cache in Max's home.
    pub fn new(project: Project) -> Host {
        Host { project, cache_dir: Some(crate::project::cache_dir()), runtime: OnceLock::new(), warm: None }
    }

    /// The same host keeping installations warm between calls, for a front end that lives long (the
    /// daemon, `max mcp`): a sync that completed leaves its live connector (component loaded,
    /// instances initialised, rate limits learnt) to the installation's next sync, and reads reuse
    /// open connections to its database. See [`Host::warm_stats`].
    pub fn keep_warm(mut self) -> Host {
        self.warm = Some(Arc::default());
        self
    }

    /// What this host keeps warm and how often that served (none unless [`Host::keep_warm`]).
    pub fn warm_stats(&self) -> Option<WarmStats> {
        self.warm.as_ref().map(|warm| warm.stats())
    }

    /// Lets go of live connectors and connections unused for a while (a long-lived front end calls
    /// this now and then).
    pub fn cool(&self) {
        if let Some(warm) = &self.warm {
            warm.cool();
        }
    }

    /// The same host with its compile cache in `dir` (none: compile every component afresh).
    pub fn with_cache_dir(mut self, dir: Option<std::path::PathBuf>) -> Host {
        self.cache_dir = dir;
        self.runtime = OnceLock::new();
        self
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The WebAssembly runtime, made on first use and shared by everything this host runs.
    pub(crate) fn runtime(&self) -> Result<&Runtime> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = Runtime::new(RuntimeConfig { cache_dir: self.cache_dir.clone() })?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// Checks the component at `path` as an install checks it (within `limits`) and returns what
    /// installing it would do, to be confirmed ([`PendingInstall::commit`]) or dropped.
    pub async fn prepare_install(&self, path: &Path, limits: &InstallLimits) -> Result<PendingInstall> {
        self.project.connectors().prepare(self.runtime()?, path, limits).await
    }

    /// The installation `target` names: `connector` (its only or default installation) or
    /// `connector/name`.
    pub fn installation(&self, target: &str) -> Result<Installation> {
        self.project.installations().find(target)
    }

    /// The installed connector of `installation`.
    pub fn connector_of(&self, installation: &Installation) -> Result<InstalledConnector> {
        self.project.connectors().get(&installation.file.connector)
    }

    /// Syncs `installation` to its end (or until `request.stop`), reporting progress to `observer`.
    /// Holds the installation's sync lock throughout ([`Error::SyncBusy`] when another sync holds it);
    /// runs the connector under the installation's limits (on the live connector a warm host kept,
    /// when it was built from what the installation holds now); stores into a database that may not
    /// grow past its `database-mib`.
    pub async fn sync(
        &self,
        installation: &Installation,
        request: &SyncRequest,
        observer: &dyn SyncObserver,
    ) -> Result<SyncReport> {
        let connector = self.connector_of(installation)?;
        let _lock = installation.lock_for_sync()?;
        if let Some((path, mode)) = installation.exposed_credentials() {
            observer.credentials_exposed(&path, mode);
        }
        // A dead or mistyped server is said in seconds, not after every task's retries.
        if let Some((key, url)) = connector.base_url(&installation.file.config).filter(|(_, url)| !url.is_empty()) {
            crate::reach::check(url).await.map_err(|reason| Error::Unreachable {
                label: installation.label(),
                key: key.to_string(),
                url: url.to_string(),
                reason,
            })?;
        }
        let workers = request.workers.max(1);
        let (live, made_for) = self.live(installation, &connector, workers)?;
        let options = SyncOptions {
            full: request.full,
            workers,
            start: request.start,
            max_attempts: request.max_attempts,
            max_age: request.max_age,
            stop: request.stop.clone(),
            limits: live.limits.sync.clone(),
            lease: SyncOptions::default().lease,
        };
        let report = match self.project.storage()? {
            StorageSetting::Sqlite => {
                let storage = SqliteStorage::open(&installation.data_db())?;
                storage.limit_size(live.limits.database_bytes)?;
                run_on(storage, &live, &options, observer).await
            }
            StorageSetting::Postgres { url } => {
                let schema = installation.pg_schema();
                let mut storage = PgStorage::open(&url, &schema)?;
                storage.limit_size(live.limits.database_bytes);
                if !storage.hold_sync_right()? {
                    return Err(Error::SyncBusyElsewhere { label: installation.label() });
                }
                // Workers started with only the database's URL run the sync from what is published.
                let root = self.project.root().display().to_string();
                crate::storage::pg_published::publish(&url, &self.project.max_dir(), &root)?;
                live.http.share_budgets(Arc::new(crate::storage::PgBudgets::new(&url, &schema)));
                run_on(storage, &live, &options, observer).await
            }
        };
        let completed = report.as_ref().is_ok_and(|r| r.record.status == SyncStatus::Completed);
        self.keep_live(installation, &connector, workers, made_for, live, completed);
        report
    }

    /// The live connector of `installation` with `workers` instances: the one a warm host kept
    /// when it was built from what the installation holds now, else a new one; and what it was built
    /// from, on a warm host.
    pub(crate) fn live(
        &self,
        installation: &Installation,
        connector: &InstalledConnector,
        workers: usize,
    ) -> Result<(crate::live::LiveConnector, Option<[u8; 32]>)> {
        let made_for = self.warm.as_ref().map(|_| crate::warm::made_for(installation, connector, workers));
        let kept = self
            .warm
            .as_ref()
            .zip(made_for.as_ref())
            .and_then(|(warm, made_for)| warm.take_connector(installation, made_for));
        if let Some(live) = kept {
            return Ok((live, made_for));
        }
        let secrets = Arc::new(installation.secrets()?);
        let file = &installation.file;
        let live =
            live_connector(self.runtime()?, &self.project, connector, &file.config, secrets, &file.sandbox, workers)?;
        if let Some(warm) = &self.warm {
            warm.built_connector();
        }
        Ok((live, made_for))
    }

    /// Keeps `live` for the installation's next sync on a warm host: only after work that
    /// `succeeded`, and while the installation holds what it was built from (a token it refreshed, or
    /// a `max connect` meanwhile, makes the next sync build it afresh).
    pub(crate) fn keep_live(
        &self,
        installation: &Installation,
        connector: &InstalledConnector,
        workers: usize,
        made_for: Option<[u8; 32]>,
        live: crate::live::LiveConnector,
        succeeded: bool,
    ) {
        if let (Some(warm), Some(made_for), true) = (&self.warm, made_for, succeeded)
            && crate::warm::made_for(installation, connector, workers) == made_for
        {
            warm.keep_connector(installation, made_for, live);
        }
    }

    /// The schema of `target`: an installation (`connector` or `connector/name`) that has synced shows the
    /// schema its last sync applied, discovered fields included; otherwise the connector's declared one.
    pub fn schema(&self, target: &str) -> Result<SchemaView> {
        let connector_name = target.split_once('/').map_or(target, |(connector, _)| connector);
        let connector = self.project.connectors().get(connector_name)?;
        let installation = match self.installation(target) {
            Ok(installation) => Some(installation),
            Err(_) if !target.contains('/') => None,
            Err(error) => return Err(error),
        };
        let applied = match &installation {
            Some(installation) => self.read(installation)?.and_then(|storage| {
                let info = storage.applied_schema().cloned()?;
                Some(storage.retired_fields().map(|retired| (installation.label(), info, retired)))
            }),
            None => None,
        };
        let view = |installation, schema, retired| SchemaView {
            connector: connector.name.clone(),
            version: connector.version.clone(),
            installation,
            schema,
            retired,
        };
        Ok(match applied.transpose()? {
            Some((label, info, retired)) => {
                let retired = retired
                    .into_iter()
                    .map(|(entity, field, field_type)| RetiredField { entity, field, field_type })
                    .collect();
                view(Some(label), info.schema, retired)
            }
            None => view(None, connector.info.schema.clone(), Vec::new()),
        })
    }

    /// Where `installation`'s synced data lives: its `data.db`, or its schema in the project's
    /// PostgreSQL database (the URL without its password).
    pub fn data_location(&self, installation: &Installation) -> String {
        match self.project.storage() {
            Ok(StorageSetting::Postgres { url }) => {
                let schema = installation.pg_schema();
                format!("{} schema {}", crate::storage::shown_url(&url), crate::storage::quote_name(&schema))
            }
            _ => installation.data_db().display().to_string(),
        }
    }

    /// Stores the project's data as `to` says from now on: a PostgreSQL database is checked to
    /// answer first, and the move is refused while any installation syncs. Nothing is copied or
    /// deleted: what is stored stays where it is (each `data.db`, each schema), read again if the
    /// project moves back.
    pub fn change_storage(&self, to: &StorageSetting) -> Result<StorageChange> {
        let from = self.project.storage()?;
        check_storage(to)?;
        let installations = self.project.installations().list()?;
        let _locks = installations.iter().map(Installation::lock_for_sync).collect::<Result<Vec<_>>>()?;
        let (mut afresh, mut resumed) = (Vec::new(), Vec::new());
        for installation in &installations {
            let stored = match to {
                StorageSetting::Sqlite => installation.data_db().exists(),
                StorageSetting::Postgres { url } => {
                    let schema = installation.pg_schema();
                    PgStorage::open_existing(url, &schema)?.is_some()
                }
            };
            if stored { &mut resumed } else { &mut afresh }.push(installation.label());
        }
        let changed = &from != to;
        if changed {
            self.project.set_storage(to)?;
        }
        Ok(StorageChange { from: from.describe(), to: to.describe(), changed, afresh, resumed })
    }

    /// Removes `installation`: its settings, secrets, synced data and schedule. Refused while it
    /// syncs.
    pub fn disconnect(&self, installation: &Installation) -> Result<()> {
        let _lock = installation.lock_for_sync()?;
        if let StorageSetting::Postgres { url } = self.project.storage()? {
            let schema = installation.pg_schema();
            PgStorage::drop_schema(&url, &schema)?;
        }
        std::fs::remove_dir_all(installation.dir()).map_err(Error::io("remove", installation.dir()))?;
        self.project.schedules().remove(&installation.label())?;
        Ok(())
    }

    /// Searches what `installation` synced ([`Error::NotSynced`] before its first sync). Never writes:
    /// it reads while a sync writes.
    pub fn search(&self, installation: &Installation, request: &SearchRequest) -> Result<SearchResult> {
        let (storage, query) = self.search_query(installation, request)?;
        let page = storage.search(&query)?;
        Ok(SearchResult { entity: query.entity, page })
    }

    /// Searches as [`Host::search`] does, streaming: `start` gets the entity's name and the columns,
    /// then `visit` each row as it is read, until it breaks (memory stays flat however many rows
    /// match). Returns the next page's cursor when there is one.
    pub fn search_each(
        &self,
        installation: &Installation,
        request: &SearchRequest,
        start: &mut dyn FnMut(&str, &[String]),
        visit: &mut dyn FnMut(Vec<serde_json::Value>) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<String>> {
        let (storage, query) = self.search_query(installation, request)?;
        let columns: Vec<String> = query.fields.iter().map(|f| f.text.clone()).collect();
        start(&query.entity, &columns);
        storage.search_rows(&query, visit)
    }

    /// Rows per entity type and the last sync (empty before the first sync;
    /// [`Error::CorruptDatabase`] when `data.db` is not a readable Max database).
    pub fn overview(&self, installation: &Installation) -> Result<Overview> {
        let Some(storage) = self.read(installation)? else { return Ok(Overview::default()) };
        Ok(Overview { rows: storage.counts()?, last_sync: storage.syncs(1)?.pop() })
    }

    /// The `last` most recent syncs, the progress of one that has not ended, and how current each
    /// entity type is (empty before the first sync; [`Error::CorruptDatabase`] as for
    /// [`Host::overview`]).
    pub fn status(&self, installation: &Installation, last: usize) -> Result<Status> {
        let Some(storage) = self.read(installation)? else { return Ok(Status::default()) };
        let syncs = storage.syncs(last.max(1))?;
        let unfinished = match syncs.first() {
            Some(newest) if newest.status.resumable() => {
                let (done, total) = storage.task_progress(newest.id)?;
                let claims = storage.claims(newest.id)?;
                let running =
                    newest.status == SyncStatus::Running && (installation.sync_running() || !claims.is_empty());
                Some(Progress { sync: newest.id, running, done, total, claims })
            }
            _ => None,
        };
        let (last_completed, entities) = storage.freshness()?;
        Ok(Status { syncs, unfinished, last_completed, entities })
    }

    /// The installation's storage (read-only) and `request` checked against its schema (the entity
    /// named in any case).
    fn search_query(
        &self,
        installation: &Installation,
        request: &SearchRequest,
    ) -> Result<(Reader, crate::query::SearchQuery)> {
        let storage = self.read(installation)?.ok_or_else(|| not_synced(installation))?;
        let info = storage.info().ok_or_else(|| not_synced(installation))?;
        let mut request = request.clone();
        if let Some(entity) = info.schema.entities.iter().find(|e| e.name.eq_ignore_ascii_case(&request.entity)) {
            request.entity = entity.name.clone();
        }
        let query = crate::query::build(info, &request)?;
        Ok((storage, query))
    }

    /// The installation's database opened for reading (a kept connection on a warm host), or none
    /// before its first sync.
    fn read(&self, installation: &Installation) -> Result<Option<Reader>> {
        let (key, file, open): (String, Option<std::path::PathBuf>, Opener) = match self.project.storage()? {
            StorageSetting::Sqlite => {
                let path = installation.data_db();
                if !path.exists() {
                    return Ok(None);
                }
                let opened = path.clone();
                let open = Box::new(move || {
                    SqliteStorage::open_existing(&opened).map(|s| Some(Box::new(s) as Box<dyn ReadStore>))
                });
                (path.display().to_string(), Some(path), open)
            }
            StorageSetting::Postgres { url } => {
                let schema = installation.pg_schema();
                let key = format!("{url}#{schema}");
                let open = Box::new(move || {
                    Ok(PgStorage::open_existing(&url, &schema)?.map(|s| Box::new(s) as Box<dyn ReadStore>))
                });
                (key, None, open)
            }
        };
        match &self.warm {
            Some(warm) => warm.reader(&key, file.as_deref(), open),
            None => Ok(open()?.map(Reader::cold)),
        }
    }
}

/// Checks that `storage` can be reached: a PostgreSQL database answers (SQLite always can).
pub fn check_storage(storage: &StorageSetting) -> Result<()> {
    match storage {
        StorageSetting::Sqlite => Ok(()),
        StorageSetting::Postgres { url } => crate::storage::check_pg(url),
    }
}

/// Runs a sync of `live` on `storage`.
async fn run_on<S: Storage + Send + 'static>(
    storage: S,
    live: &crate::live::LiveConnector,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
) -> Result<SyncReport> {
    let context = SyncContext {
        info: live.info.clone(),
        pool: live.pool.clone(),
        http: live.http.clone(),
        storage: Arc::new(Mutex::new(storage)),
    };
    run_sync(&context, options, observer).await
}

/// Checks the component at `path` as an install would (within `limits`), outside any project, writing
/// nothing but the compile cache; returns the record installing it would write.
pub async fn inspect_component(path: &Path, limits: &InstallLimits) -> Result<InstalledConnector> {
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(crate::project::cache_dir()) })?;
    crate::project::inspect_file(&runtime, path, limits).await
}

fn not_synced(installation: &Installation) -> Error {
    Error::NotSynced { label: installation.label() }
}
