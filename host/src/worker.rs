//! Workers: processes, on any number of machines, that help run the syncs of a project whose data
//! is in PostgreSQL. A worker runs in the project folder or in its own copy of what the project
//! publishes to the database ([`Host::worker_copy`]; the database coordinates), finds the
//! installations with a sync under way and tasks to run, and
//! drains them beside whoever started the sync: tasks claimed `FOR UPDATE SKIP LOCKED` under leases
//! it renews while they run, every completion fenced by its claim. Idle, it waits for `NOTIFY
//! max_tasks` and polls as well. A sync whose starter went away is closed by the worker that finds
//! nothing left to run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::front::Host;
use crate::project::{Installation, StorageSetting};
use crate::storage::{PgStorage, TaskStore};
use crate::sync::{DrainReport, SyncContext, SyncOptions, Unobserved, drain_sync};
use crate::task::SyncId;
use crate::{Error, Result};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkRequest {
    /// Tasks it runs at once.
    pub workers: usize,
    /// How long its claims hold unless renewed (a dead worker's tasks go to others after this).
    pub lease: Duration,
    /// How often it looks for work when no notification came.
    pub poll: Duration,
    /// Set to stop: no new task starts, tasks in flight finish.
    pub stop: Arc<AtomicBool>,
    /// Stop after finding nothing to do for this long.
    pub exit_when_idle: Option<Duration>,
    /// The project is the worker's copy of what the project publishes to its database (see
    /// [`Host::worker_copy`]), refreshed between syncs.
    pub published: bool,
}

impl Default for WorkRequest {
    fn default() -> Self {
        WorkRequest {
            workers: 8,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            stop: Arc::default(),
            exit_when_idle: None,
            published: false,
        }
    }
}

/// What a worker did on one sync.
#[derive(Debug, Clone, Serialize)]
pub struct Helped {
    /// `connector/name`.
    pub installation: String,
    /// What it did.
    #[serde(flatten)]
    pub report: DrainReport,
}

/// What a worker tells as it goes.
pub trait WorkObserver: Send + Sync {
    /// It is ready and looks for work in the database at `database` (a URL without its password).
    fn ready(&self, database: &str);
    /// It started on `installation`'s sync `sync`.
    fn joined(&self, installation: &str, sync: SyncId);
    /// It ran out of tasks of that sync.
    fn helped(&self, helped: &Helped);
    /// Its work on `installation` failed (the worker goes on with the others).
    fn failed(&self, installation: &str, error: &Error);
    /// Its copy of the published project is now `version`, with `installations`.
    fn refreshed(&self, version: &str, installations: &[String]);
}

impl Host {
    /// Helps run the project's syncs until `request.stop` (or idle for `request.exit_when_idle`);
    /// returns what it did. Only a project whose data is in PostgreSQL has syncs to share.
    pub async fn work(&self, request: &WorkRequest, observer: &dyn WorkObserver) -> Result<Vec<Helped>> {
        let StorageSetting::Postgres { url } = self.project().storage()? else {
            return Err(Error::WorkersNeedPostgres);
        };
        crate::storage::check_pg(&url)?;
        let mut listener = match crate::storage::listen_pg(&url) {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "can't listen for new tasks; polling only");
                None
            }
        };
        observer.ready(&crate::storage::shown_url(&url));
        let heartbeat = self.heartbeat(&url, request.stop.clone());
        let mut done = Vec::new();
        let mut idle_since = Instant::now();
        let mut held = None;
        while !request.stop.load(Ordering::Relaxed) {
            if request.published {
                self.refresh_copy(&url, &mut held, observer).await;
            }
            let mut worked = false;
            for installation in self.project().installations().list()? {
                if request.stop.load(Ordering::Relaxed) {
                    break;
                }
                match self.help(&url, &installation, request, observer).await {
                    Ok(Some(report)) => {
                        worked = true;
                        let helped = Helped { installation: installation.label(), report };
                        observer.helped(&helped);
                        done.push(helped);
                    }
                    Ok(None) => {}
                    Err(error) => observer.failed(&installation.label(), &error),
                }
            }
            if worked {
                idle_since = Instant::now();
                continue;
            }
            if request.exit_when_idle.is_some_and(|idle| idle_since.elapsed() >= idle) {
                break;
            }
            match &mut listener {
                Some(listener) => {
                    listener.next(request.poll).await;
                }
                None => tokio::time::sleep(request.poll).await,
            }
        }
        heartbeat.abort();
        let owner = crate::storage::process_owner();
        let url_gone = url.clone();
        let _ = tokio::task::spawn_blocking(move || crate::storage::pg_workers::gone(&url_gone, &owner)).await;
        Ok(done)
    }

    /// A host on a worker's own copy of the project published to the database at `url` (for `max
    /// worker --storage`): a folder under Max's home named for the database (`workers/<hash>`),
    /// made on first use, its storage pointing at `url` as this machine reaches it.
    pub fn worker_copy(url: &str) -> Result<Host> {
        let setting = StorageSetting::Postgres { url: url.to_string() };
        let name = crate::format::sha256_hex(crate::storage::shown_url(url).as_bytes());
        let root = crate::project::max_home().join("workers").join(&name[..16]);
        let root = std::path::absolute(&root).map_err(Error::io("resolve", &root))?;
        let project = match crate::project::Project::find(&root) {
            Ok(project) if project.root() == root => {
                project.set_storage(&setting)?;
                project
            }
            _ => {
                std::fs::create_dir_all(&root).map_err(Error::io("create", &root))?;
                crate::project::Project::init_with(&root, &setting)?
            }
        };
        Ok(Host::new(project))
    }

    /// Brings the worker's copy of the published project up to date when a new version was
    /// published (`held` is the version it holds); a failure is told, and the copy stays as it was.
    async fn refresh_copy(&self, url: &str, held: &mut Option<String>, observer: &dyn WorkObserver) {
        let (url, max_dir) = (url.to_string(), self.project().max_dir());
        let refreshed =
            tokio::task::spawn_blocking(move || crate::storage::pg_published::refresh(&url, &max_dir)).await;
        match refreshed {
            Ok(Ok(Some(version))) if held.as_ref() != Some(&version) => {
                let installations = self.project().installations().list().unwrap_or_default();
                let labels: Vec<String> = installations.iter().map(Installation::label).collect();
                observer.refreshed(&version, &labels);
                *held = Some(version);
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => observer.failed("the published project", &error),
            Err(error) => tracing::warn!(%error, "refreshing the published project stopped"),
        }
    }

    /// Says every second, until `stop`, that this worker is alive (whatever it is doing).
    fn heartbeat(&self, url: &str, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        let (url, project) = (url.to_string(), self.project().root().display().to_string());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (url, project) = (url.clone(), project.clone());
                let said = tokio::task::spawn_blocking(move || {
                    crate::storage::pg_workers::alive(&url, &crate::storage::process_owner(), &project)
                })
                .await;
                if let Ok(Err(error)) = said {
                    tracing::warn!(%error, "telling the database this worker is alive failed");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    /// The workers alive on the project's database (none on SQLite).
    pub fn workers(&self) -> Result<Vec<crate::WorkerSeen>> {
        match self.project().storage()? {
            StorageSetting::Postgres { url } => crate::storage::pg_workers::live(&url),
            StorageSetting::Sqlite => Ok(Vec::new()),
        }
    }

    /// Drains `installation`'s sync under way, if it has one with tasks to run.
    async fn help(
        &self,
        url: &str,
        installation: &Installation,
        request: &WorkRequest,
        observer: &dyn WorkObserver,
    ) -> Result<Option<DrainReport>> {
        let schema = installation.pg_schema();
        let Some(mut storage) = PgStorage::open_existing(url, &schema)? else { return Ok(None) };
        let Some(sync) = storage.runnable_sync()? else { return Ok(None) };
        storage.set_lease(request.lease);
        observer.joined(&installation.label(), sync);
        let connector = self.connector_of(installation)?;
        let workers = request.workers.max(1);
        let (live, made_for) = self.live(installation, &connector, workers)?;
        storage.limit_size(live.limits.database_bytes);
        live.http.share_budgets(Arc::new(crate::storage::PgBudgets::new(url, &schema)));
        let options = SyncOptions {
            workers,
            stop: request.stop.clone(),
            limits: live.limits.sync.clone(),
            lease: request.lease,
            ..SyncOptions::default()
        };
        let context = SyncContext {
            info: live.info.clone(),
            pool: live.pool.clone(),
            http: live.http.clone(),
            storage: Arc::new(Mutex::new(storage)),
        };
        let report = drain_sync(&context, &options, &Unobserved, sync).await;
        drop(context);
        self.keep_live(installation, &connector, workers, made_for, live, report.is_ok());
        report.map(Some)
    }
}
