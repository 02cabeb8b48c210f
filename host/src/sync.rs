//! Sync execution: seed → plan → task graph in `_max_tasks` → N workers draining it over the instance
//! pool. Each worker claims a task atomically, runs its loader in the component, and stores the results
//! together with the task's completion in one transaction. Plan groups run in order; a step is expanded
//! into tasks only when its group may run, so `all of <entity>` sees every entity found before it; a
//! collection of each entity already stored starts early (see `early`). The workers are futures of
//! the thread that drives the sync; guest calls run as tasks of their own (`run`) and storage calls on
//! blocking threads, so they use every core instead of taking turns on that thread.

mod discovery;
mod early;
mod expand;
mod pace;
mod run;
mod secrets;

pub use pace::PaceReport;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::data::EntityRef;
use crate::http::HttpCapability;
use crate::manifest::ConnectorInfo;
use crate::runtime::InstancePool;
use crate::storage::{SchemaReport, Storage};
use crate::task::{Claim, NewTask, SyncId, SyncRecord, SyncStatus, Task, TaskFailure, TaskOutcome, TaskSpec};
use crate::{ConnectorError, Error, Result};

/// Tasks a sync runs at once when it starts (fewer if `workers` says so).
pub const START_WORKERS: usize = 4;

/// How long a worker with nothing to claim waits before it looks again (and commits what is stored).
const IDLE: Duration = Duration::from_millis(50);
/// How often a sync whose tasks worker processes run looks at its progress.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// How often a running sync reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Which sync to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Resume the newest sync if it stopped before its end (unless `full`), else start a new one.
    Auto,
    /// Resume this stopped sync.
    Resume(SyncId),
    /// Run the failed tasks of the newest sync again.
    RetryFailed,
}

/// What one sync of an installation may cost: waits a connector can cause, pages it can return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncLimits {
    /// The longest wait before a retry a connector may ask for (a longer rate-limit hint is cut to it).
    pub retry_wait: Duration,
    /// The time one sync may spend in all waiting to retry; a task that would wait past it fails.
    pub wait_budget: Duration,
    /// Pages of one collection in one sync.
    pub collection_pages: u64,
    /// Pages of one change feed in one sync.
    pub feed_pages: u64,
    /// Pages in a row that add nothing new before a collection or change feed is stopped.
    pub idle_pages: u64,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            retry_wait: Duration::from_secs(300),
            wait_budget: Duration::from_secs(3600),
            collection_pages: 100_000,
            feed_pages: 100_000,
            idle_pages: 50,
        }
    }
}

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Reload everything, and rebuild tables whose field types changed.
    pub full: bool,
    /// The most tasks run at once (one connector instance each): a sync starts with [`START_WORKERS`]
    /// and adapts to how the API answers (see `pace`).
    pub workers: usize,
    /// Attempts of a task that fails transiently (rate limits, 5xx, timeouts, dropped connections).
    pub max_attempts: u32,
    /// New, resumed, or failed tasks retried.
    pub start: Start,
    /// Set to stop: no new task starts, tasks in flight finish, and the sync is left resumable.
    pub stop: Arc<AtomicBool>,
    /// Fields a plan loads per entity (not lists) are loaded again only when older than this, unless
    /// `full`; zero loads them every time.
    pub max_age: Duration,
    /// The installation's sync limits.
    pub limits: SyncLimits,
    /// How long a claim holds unless renewed, on storage that other processes drain too (renewed
    /// every third of it while its task runs).
    pub lease: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            workers: 64,
            max_attempts: 8,
            start: Start::Auto,
            stop: Arc::default(),
            max_age: Duration::from_secs(3600),
            limits: SyncLimits::default(),
            lease: Duration::from_secs(60),
        }
    }
}

/// What a worker did on a sync it helped drain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DrainReport {
    /// The sync.
    pub sync: SyncId,
    /// Rows stored per entity type by this process.
    pub stored: BTreeMap<String, u64>,
    /// Requests this process made.
    pub requests: u64,
    /// Whether this process closed the sync (its coordinator had gone).
    pub finished: bool,
}

/// What the run did with the sync it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Continuation {
    /// A new sync.
    New,
    /// A stopped sync continued; `reset` tasks its dead process left running were started again.
    Resumed {
        /// Tasks that were running when it stopped.
        reset: u64,
    },
    /// The failed tasks of a sync run again.
    RetriedFailed {
        /// How many.
        tasks: u64,
    },
}

/// Receives a sync's events: the CLI draws them, a daemon may forward them, tests count them.
pub trait SyncObserver: Send + Sync {
    /// Rows stored for an entity type by one task.
    fn stored(&self, entity: &str, rows: u64);
    /// Tasks finished and known so far.
    fn progress(&self, done: u64, total: u64);
    /// A task failed transiently and will run again after `delay`.
    fn retrying(&self, task: &str, error: &str, delay: Duration);
    /// The run starts work on `sync`: a new one, a resumed one, or its failed tasks again.
    fn started(&self, sync: SyncId, continuation: Continuation);
    /// The installation's credential store at `path` can be read by other users (its `mode`); the sync
    /// goes on.
    fn credentials_exposed(&self, path: &std::path::Path, mode: u32) {
        let _ = (path, mode);
    }
}

/// An observer that shows nothing: a sync run for an agent, a schedule or a check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl SyncObserver for Unobserved {
    fn stored(&self, _entity: &str, _rows: u64) {}
    fn progress(&self, _done: u64, _total: u64) {}
    fn retrying(&self, _task: &str, _error: &str, _delay: Duration) {}
    fn started(&self, _sync: SyncId, _continuation: Continuation) {}
}

/// What a sync did (sent whole from a daemon to the client that asked for the sync).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncReport {
    /// The `_max_syncs` row.
    pub record: SyncRecord,
    /// Tasks that failed, with why.
    pub failures: Vec<TaskFailure>,
    /// Tables created or changed before syncing.
    pub schema: SchemaReport,
    /// Wall-clock time.
    pub duration_ms: u64,
    /// Time requests spent held back by the API's rate limits.
    pub rate_limit_wait_ms: u64,
    /// Requests answered `304 Not Modified`: conditional requests for what had not changed.
    pub not_modified: u64,
    /// Whether this run started, resumed or retried the sync.
    pub continuation: Continuation,
    /// How many tasks ran at once, as it adapted to the API.
    pub concurrency: PaceReport,
}

/// Everything a sync works with.
pub struct SyncContext<S: Storage> {
    /// The connector's description.
    pub info: ConnectorInfo,
    /// Initialised instances of the installation.
    pub pool: InstancePool,
    /// The installation's HTTP capability (for the request count).
    pub http: Arc<HttpCapability>,
    /// The installation's storage.
    pub storage: Arc<Mutex<S>>,
}

/// Runs one sync to its end.
pub async fn run_sync<S: Storage + Send + 'static>(
    context: &SyncContext<S>,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
) -> Result<SyncReport> {
    let started = Instant::now();
    let requests_before = context.http.request_count();
    let not_modified_before = context.http.not_modified_count();
    let waited_before = context.http.rate_limit_wait();
    let settled = discovery::settle(context, options).await?;
    let context = &SyncContext {
        info: settled.info,
        pool: context.pool.clone(),
        http: context.http.clone(),
        storage: context.storage.clone(),
    };
    let synced_before = !lock(&context.storage).syncs(1)?.is_empty();
    let schema = lock(&context.storage).apply_schema(&context.info, options.full)?;
    // New tables or columns (a connector upgraded) are empty for every row already stored, and a change
    // feed brings only rows that change: fill them with a full sync. So for a newly discovered field,
    // unless the connector says its API marks every object that gains a value as changed.
    let fills_itself = |added: &str| {
        !settled.refill_on_new_fields
            && added.split_once('.').is_some_and(|(entity, field)| {
                context.info.entity(entity).and_then(|e| e.field(field)).is_some_and(|f| f.discovered)
            })
    };
    let widened;
    let options = if synced_before && schema.widens(fills_itself) && !options.full {
        widened = SyncOptions { full: true, ..options.clone() };
        &widened
    } else {
        options
    };
    let roots: Vec<EntityRef> =
        context.info.schema.roots.iter().map(|r| EntityRef { entity: r.entity.clone(), id: r.id.clone() }).collect();
    lock(&context.storage).ensure_rows(&roots)?;
    let fresh_since = (!options.full && !options.max_age.is_zero()).then(|| {
        let since = chrono::Utc::now() - chrono::Duration::from_std(options.max_age).unwrap_or_default();
        since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
    let (sync, continuation) = match choose(context, options)? {
        Some(chosen) => chosen,
        None => (begin(context, options, fresh_since.is_some()).await?, Continuation::New),
    };
    observer.started(sync, continuation);
    let drained = Drain::new(context, options, observer, sync, fresh_since)?;
    if let Err(error) = drained.run_or_follow().await {
        // Storage failed (a full database, a broken disk): what completed is kept (completions whose
        // commit fails are rolled back and done again), and the sync is marked stopped so the next one
        // resumes it (if even this write fails, it still reads as running, which resumes too).
        let mut storage = lock(&context.storage);
        let _ = storage.flush();
        let _ = storage.set_sync_status(sync, SyncStatus::Interrupted);
        let _ = storage.flush();
        return Err(error);
    }
    drained.report_progress(true).await?;
    let concurrency = drained.pace.report();
    let stored = drained.stored.into_inner().expect("counts lock");
    let requests = context.http.request_count() - requests_before;
    let not_modified = context.http.not_modified_count() - not_modified_before;
    let mut storage = lock(&context.storage);
    let (done, total) = storage.task_progress(sync)?;
    let record = if options.stop.load(Ordering::Relaxed) && done < total {
        storage.set_sync_status(sync, SyncStatus::Interrupted)?;
        storage.sync_record(sync)?.expect("the sync being run exists")
    } else {
        // Before the sync reads as finished: a crash in between resumes the load, never loses an index.
        storage.finish_bulk_load()?;
        storage.finish_sync(sync, &stored, requests)?
    };
    storage.flush()?;
    let failures = storage.failures(sync)?;
    let rate_limit_wait_ms = context.http.rate_limit_wait().saturating_sub(waited_before).as_millis() as u64;
    Ok(SyncReport {
        record,
        failures,
        schema,
        duration_ms: started.elapsed().as_millis() as u64,
        rate_limit_wait_ms,
        not_modified,
        continuation,
        concurrency,
    })
}

/// Helps drain `sync`, which another process (`max sync`) started on storage shared with others:
/// runs its tasks until none is left or `options.stop`, with the schema the sync was planned for.
/// When nothing is left and the process that started the sync has gone, closes it. A worker's
/// storage failing ends its part; the sync goes on in the others.
pub async fn drain_sync<S: Storage + Send + 'static>(
    context: &SyncContext<S>,
    options: &SyncOptions,
    observer: &dyn SyncObserver,
    sync: SyncId,
) -> Result<DrainReport> {
    let requests_before = context.http.request_count();
    let info = discovery::adopt(context);
    let context =
        &SyncContext { info, pool: context.pool.clone(), http: context.http.clone(), storage: context.storage.clone() };
    let drained = Drain::new(context, options, observer, sync, None)?;
    let outcome = drained.run().await;
    let stored = drained.stored.into_inner().expect("counts lock");
    let requests = context.http.request_count() - requests_before;
    let mut storage = lock(&context.storage);
    storage.add_requests(sync, requests)?;
    outcome?;
    let (done, total) = storage.task_progress(sync)?;
    let open = storage.sync_record(sync)?.is_some_and(|record| record.status == SyncStatus::Running);
    let finished = open && done == total && !options.stop.load(Ordering::Relaxed) && storage.hold_sync_right()?;
    if finished {
        storage.finish_bulk_load()?;
        storage.finish_sync(sync, &stored, 0)?;
    }
    Ok(DrainReport { sync, stored, requests, finished })
}

/// The existing sync this run continues, if any (marking one that a full sync replaces abandoned).
fn choose<S: Storage>(context: &SyncContext<S>, options: &SyncOptions) -> Result<Option<(SyncId, Continuation)>> {
    let mut storage = lock(&context.storage);
    match options.start {
        Start::Resume(id) => {
            let record = storage
                .sync_record(id)?
                .ok_or_else(|| Error::NotResumable { id, reason: "there is no such sync".to_string() })?;
            if !record.status.resumable() {
                return Err(Error::NotResumable { id, reason: format!("it is {}", record.status) });
            }
            let reset = storage.resume_sync(id)?;
            Ok(Some((id, Continuation::Resumed { reset })))
        }
        Start::RetryFailed => {
            let label = context.info.name.clone();
            let newest = storage.syncs(1)?.into_iter().next().ok_or_else(|| Error::NothingToRetry {
                label: label.clone(),
                reason: "it has never been synced".to_string(),
            })?;
            if newest.status != SyncStatus::Failed {
                let reason = format!("its last sync (#{}) is {}", newest.id, newest.status);
                return Err(Error::NothingToRetry { label, reason });
            }
            let tasks = storage.retry_failed(newest.id)?;
            Ok(Some((newest.id, Continuation::RetriedFailed { tasks })))
        }
        Start::Auto => match storage.resumable_sync()? {
            Some(stopped) if !options.full => {
                let reset = storage.resume_sync(stopped.id)?;
                Ok(Some((stopped.id, Continuation::Resumed { reset })))
            }
            Some(stopped) => {
                storage.set_sync_status(stopped.id, SyncStatus::Abandoned)?;
                Ok(None)
            }
            None => Ok(None),
        },
    }
}

/// Asks the connector for a plan and records a new sync with it (`aging`: fields loaded per entity
/// are skipped while young).
async fn begin<S: Storage>(context: &SyncContext<S>, options: &SyncOptions, aging: bool) -> Result<SyncId> {
    let state = lock(&context.storage).seed_state(options.full)?;
    let plan = context.pool.get().await?.seed(&state).await?;
    // A sync is incremental when its plan only follows change feeds, or skips fields that are still
    // young; otherwise it reloads everything (a full plan may follow the feeds too, to take cursors).
    let steps = || plan.groups.iter().flatten();
    let incremental = !options.full
        && (steps().all(|s| matches!(s.operation, crate::data::Operation::FollowChanges(_)))
            || (aging && steps().any(|s| matches!(s.operation, crate::data::Operation::LoadFields(_)))));
    let expansions: Vec<NewTask> = plan
        .groups
        .iter()
        .enumerate()
        .flat_map(|(group, steps)| {
            steps.iter().map(move |step| NewTask {
                group: group as u32,
                parent: None,
                spec: TaskSpec::Expand { step: step.clone() },
            })
        })
        .collect();
    let mut storage = lock(&context.storage);
    let sync = storage.begin_sync(!incremental, &expansions)?;
    if !incremental {
        // A full sync rewrites every row: it loads in bulk and builds the indexes when it ends.
        storage.start_bulk_load()?;
    }
    Ok(sync)
}

fn lock<S>(storage: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    storage.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The shared state of one sync's workers.
struct Drain<'a, S: Storage> {
    context: &'a SyncContext<S>,
    options: &'a SyncOptions,
    observer: &'a dyn SyncObserver,
    sync: i64,
    /// Collections that start before their group.
    early: Arc<early::EarlyStarts>,
    /// How many tasks may run at once.
    pace: pace::Pace,
    /// Fields written since then need not be loaded again.
    fresh_since: Option<String>,
    stored: Mutex<BTreeMap<String, u64>>,
    /// Time spent (or about to be) waiting to retry, against `limits.wait_budget`.
    waited: Mutex<Duration>,
    wake: tokio::sync::Notify,
    /// When progress was last reported.
    progress_at: Mutex<Option<Instant>>,
    /// Set when a worker ended with an error (storage failed): the others stop too, rather than wait
    /// for the task it left unfinished.
    aborted: std::sync::atomic::AtomicBool,
}

impl<'a, S: Storage + Send + 'static> Drain<'a, S> {
    /// The workers of `sync` (its early starts read, unless other processes share it).
    fn new(
        context: &'a SyncContext<S>,
        options: &'a SyncOptions,
        observer: &'a dyn SyncObserver,
        sync: SyncId,
        fresh_since: Option<String>,
    ) -> Result<Self> {
        let early = {
            let storage = lock(&context.storage);
            if storage.shared() {
                early::EarlyStarts::none()
            } else {
                early::EarlyStarts::load(&context.info, &*storage, sync)?
            }
        };
        let workers = options.workers.max(1);
        let pace = pace::Pace::new(START_WORKERS, workers, context.http.pressure(), context.http.rate_limit_wait());
        Ok(Drain {
            context,
            options,
            observer,
            sync,
            early: Arc::new(early),
            pace,
            fresh_since,
            stored: Mutex::new(BTreeMap::new()),
            waited: Mutex::new(Duration::ZERO),
            wake: tokio::sync::Notify::new(),
            progress_at: Mutex::new(None),
            aborted: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Runs the workers until no task is left (or stop); the first storage failure, if any.
    async fn run(&self) -> Result<()> {
        let workers = (0..self.options.workers.max(1)).map(|_| self.worker());
        match futures::future::join_all(workers).await.into_iter().find(Result::is_err) {
            Some(failed) => failed,
            None => Ok(()),
        }
    }

    /// Runs the workers; or, on storage shared with worker processes that are alive, leaves the
    /// sync's tasks to them and follows its progress until it is done, draining it here after all
    /// should they go.
    async fn run_or_follow(&self) -> Result<()> {
        if !lock(&self.context.storage).shared() {
            return self.run().await;
        }
        loop {
            if self.options.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let sync = self.sync;
            let (workers, (done, total)) =
                self.storage_call(move |storage| Ok((storage.live_workers()?, storage.task_progress(sync)?))).await?;
            if done == total {
                return Ok(());
            }
            if workers == 0 {
                return self.run().await;
            }
            self.observer.progress(done, total);
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }

    /// Runs `task`, renewing its claim's lease meanwhile on storage other processes share.
    async fn execute_leased(&self, task: &Task) -> Result<()> {
        if !lock(&self.context.storage).shared() {
            return self.execute(task).await;
        }
        let every = (self.options.lease / 3).max(Duration::from_millis(200));
        let executed = self.execute(task);
        tokio::pin!(executed);
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                result = &mut executed => return result,
                _ = beat.tick() => {
                    let claimed = task.clone();
                    match self.storage_call(move |storage| storage.renew_claim(&claimed)).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(task = task.id, "the task's lease was lost; another worker runs it"),
                        Err(error) => tracing::warn!(task = task.id, %error, "renewing the task's lease failed"),
                    }
                }
            }
        }
    }

    /// Claims and runs tasks until none are left. Storage failures end the sync (every worker stops
    /// after its task in flight; the sync stays resumable); task failures don't.
    async fn worker(&self) -> Result<()> {
        let outcome = self.work().await;
        if outcome.is_err() {
            self.aborted.store(true, Ordering::Relaxed);
            self.wake.notify_waiters();
        }
        outcome
    }

    async fn work(&self) -> Result<()> {
        loop {
            if self.options.stop.load(Ordering::Relaxed) || self.aborted.load(Ordering::Relaxed) {
                return Ok(());
            }
            let slot = self.pace.slot().await;
            if self.options.stop.load(Ordering::Relaxed) || self.aborted.load(Ordering::Relaxed) {
                return Ok(());
            }
            // Listening before claiming: a task finishing in between still wakes this worker.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let (early, sync) = (self.early.clone(), self.sync);
            let claim = self
                .storage_call(move |storage| {
                    let claim = storage.claim_task(sync)?;
                    if let Claim::Task(task) = &claim {
                        early.claimed(task);
                    }
                    Ok(claim)
                })
                .await?;
            match claim {
                Claim::Done => {
                    drop(slot);
                    self.storage_call(|storage| storage.flush()).await?;
                    self.wake.notify_waiters();
                    return Ok(());
                }
                Claim::Wait => {
                    drop(slot);
                    // Tasks in flight will add work or finish their group; poll as a fallback. Nothing
                    // finished for that long: a good moment to commit (not at every wake-up: each
                    // commit writes the pages the open group touched).
                    if tokio::time::timeout(IDLE, woken).await.is_err() {
                        self.storage_call(|storage| storage.flush()).await?;
                    }
                }
                Claim::Task(task) => {
                    let began = Instant::now();
                    let executed = self.execute_leased(&task).await;
                    let took = began.elapsed();
                    drop(slot);
                    if !matches!(task.spec, TaskSpec::Expand { .. }) {
                        // Expansions send no request: they say nothing about the API.
                        let http = &self.context.http;
                        self.pace.finished(took, http.pressure(), http.rate_limit_wait());
                    }
                    executed?;
                    self.wake.notify_waiters();
                    self.report_progress(false).await?;
                }
            }
        }
    }

    /// Tells the observer how many tasks are done, at most every [`PROGRESS_EVERY`] unless `now`
    /// (counting is a query over the sync's tasks: once per task would cost O(tasks²)).
    async fn report_progress(&self, now: bool) -> Result<()> {
        {
            let mut last = self.progress_at.lock().expect("progress lock");
            if !now && last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let sync = self.sync;
        let (done, total) = self.storage_call(move |storage| storage.task_progress(sync)).await?;
        self.observer.progress(done, total);
        Ok(())
    }

    /// Runs `call` on the storage on a thread where waiting for it blocks nothing else: while one
    /// task's rows are written, the thread driving the sync goes on starting and finishing others.
    async fn storage_call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut S) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let storage = self.context.storage.clone();
        tokio::task::spawn_blocking(move || call(&mut lock(&storage)))
            .await
            .map_err(|e| Error::Runtime(format!("a storage call stopped: {e}")))?
    }

    /// Runs one task, retrying transient failures, and records its outcome.
    async fn execute(&self, task: &Task) -> Result<()> {
        let mut attempt = task.attempts;
        loop {
            let result = match &task.spec {
                TaskSpec::Expand { step } => {
                    let storage = lock(&self.context.storage);
                    expand::expand(&self.context.info, &*storage, task, step, self.fresh_since.as_deref())
                        .map_err(|reason| Error::InvalidPlan { reason })
                }
                spec => {
                    let storage = &self.context.storage;
                    let holds = |parent: &EntityRef, field: &str, ids: &[String]| {
                        lock(storage).collection_holds(parent, field, ids)
                    };
                    let limits = &self.options.limits;
                    run::run(&self.context.info, &self.context.pool, task, spec, limits, &holds).await
                }
            };
            match result {
                Ok(outcome) => {
                    match self.store(task, outcome).await {
                        Ok(stored) => {
                            for (entity, rows) in stored {
                                self.observer.stored(&entity, rows);
                                *self.stored.lock().expect("counts lock").entry(entity).or_insert(0) += rows;
                            }
                            return Ok(());
                        }
                        Err(error @ Error::InvalidData { .. }) => return self.fail(task, &error),
                        Err(Error::LeaseLost { .. }) => return Ok(()),
                        Err(error) => return Err(error),
                    }
                }
                Err(error) => {
                    attempt += 1;
                    match after_failure(&self.context.http, &error, attempt, self.options) {
                        Some(delay) => {
                            if let Err(over) = self.spend_wait(delay) {
                                return self.fail(task, &over);
                            }
                            self.observer.retrying(&task.spec.to_string(), &error.to_string(), delay);
                            if !sleep_unless_stopped(&self.options.stop, delay).await {
                                // Left `running`: resuming the sync starts it again.
                                return Ok(());
                            }
                        }
                        None => return self.fail(task, &error),
                    }
                }
            }
        }
    }

    /// Stores what `task` brought (secrets taken out first) with its completion, on a thread of its own:
    /// that is SQLite's work and the redaction's, which shouldn't hold up the guest calls and requests
    /// of the other tasks.
    async fn store(&self, task: &Task, mut outcome: TaskOutcome) -> Result<BTreeMap<String, u64>> {
        let early = self.early.clone();
        let redactor = self.context.http.redactor();
        let (sync, task) = (self.sync, task.clone());
        // Redacted before the lock is taken: other tasks' rows can be written meanwhile.
        let outcome = tokio::task::spawn_blocking(move || {
            secrets::redact(&mut outcome, &redactor);
            outcome
        })
        .await
        .map_err(|e| Error::Runtime(format!("redacting a task's outcome stopped: {e}")))?;
        self.storage_call(move |storage| {
            let mut outcome = outcome;
            early.spawn_into(&task, &mut outcome);
            storage.complete_task(sync, &task, outcome)
        })
        .await
    }

    /// Counts `delay` against the sync's wait budget, or says the budget is spent.
    fn spend_wait(&self, delay: Duration) -> Result<()> {
        let budget = self.options.limits.wait_budget;
        let mut waited = self.waited.lock().expect("wait lock");
        if *waited + delay > budget {
            return Err(Error::LimitExceeded {
                connector: self.context.info.name.clone(),
                call: "retry".to_string(),
                limit: crate::LimitKind::WaitBudget,
                detail: format!(
                    "{:.1} s of waiting to retry this sync already, {:.1} s more asked for; at most {} s in all",
                    waited.as_secs_f64(),
                    delay.as_secs_f64(),
                    budget.as_secs()
                ),
            });
        }
        *waited += delay;
        Ok(())
    }

    /// Records `error` as the task's failure (with any secret the message quotes taken out).
    fn fail(&self, task: &Task, error: &Error) -> Result<()> {
        match lock(&self.context.storage).fail_task(task, &self.context.http.redact(&error.to_string())) {
            // Another process holds the task now and records how it ends.
            Err(Error::LeaseLost { .. }) => Ok(()),
            other => other,
        }
    }
}

/// After `error` on the `attempt`th try of a guest call: pauses every request of the installation when
/// the API said it was rate limited (never past the cap), and returns how long to wait before trying
/// again, or `None` when retrying can't help or the attempts are used up.
fn after_failure(http: &HttpCapability, error: &Error, attempt: u32, options: &SyncOptions) -> Option<Duration> {
    let longest = options.limits.retry_wait;
    if let Error::ConnectorFailed { error: ConnectorError::RateLimited(wait), .. } = error {
        let wait = wait.map_or(Duration::from_secs(1), Duration::from_millis);
        http.pause_for(wait.min(longest));
    }
    retry_delay(error, attempt, longest).filter(|_| attempt < options.max_attempts)
}

/// Sleeps for `delay`, looking at `stop` every 100 ms; whether it slept it all without being stopped.
async fn sleep_unless_stopped(stop: &AtomicBool, delay: Duration) -> bool {
    let until = tokio::time::Instant::now() + delay;
    while tokio::time::Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep_until(until.min(tokio::time::Instant::now() + Duration::from_millis(100))).await;
    }
    !stop.load(Ordering::Relaxed)
}

/// How long to wait before retrying after `error` (never longer than `longest`, whatever the connector
/// asked for), or `None` when retrying can't help.
pub(crate) fn retry_delay(error: &Error, attempt: u32, longest: Duration) -> Option<Duration> {
    let Error::ConnectorFailed { error, .. } = error else { return None };
    let backoff = Duration::from_millis(200 * 2u64.pow(attempt.min(6)));
    // Jitter spreads retries of concurrent workers apart.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = Duration::from_millis(u64::from(nanos % 100));
    let delay = match error {
        ConnectorError::RateLimited(Some(ms)) => Duration::from_millis(*ms).max(Duration::from_millis(50)) + jitter,
        ConnectorError::RateLimited(None) | ConnectorError::Transient(_) => backoff + jitter,
        _ => return None,
    };
    Some(delay.min(longest))
}
