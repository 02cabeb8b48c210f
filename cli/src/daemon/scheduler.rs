//! The daemon's scheduler: runs each scheduled installation's sync when it is due, each in a task of
//! its own so one that traps, hangs until its limits end it, or fails never holds up the others.
//! A run that didn't complete leaves nothing warm, so the next builds the connector afresh (a
//! trapped instance is never reused); a failing
//! installation backs off (its period doubled per failure in a row, up to a day); the schedules file
//! is read again when it changes, so `max schedule` takes effect at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use max_host::project::{Cadence, Schedule};
use max_host::task::SyncStatus;
use max_host::{Host, SyncRequest};
use serde::Serialize;

/// How often due schedules are looked for.
const TICK: Duration = Duration::from_millis(250);
/// The longest a failing installation waits between runs.
const MOST_BACKOFF: Duration = Duration::from_secs(86_400);

/// One scheduled installation and how its runs went.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// `connector/name`.
    pub installation: String,
    /// When it runs.
    pub cadence: Cadence,
    /// The cadence, for people.
    pub every: String,
    /// When it runs next (while a run is under way: when that one started).
    pub next_run: DateTime<Utc>,
    /// When the last run started.
    pub last_run: Option<DateTime<Utc>>,
    /// How the last run ended: `completed`, `failed`, or the error that stopped it.
    pub last_outcome: Option<String>,
    /// Runs in a row that did not complete.
    pub failures: u32,
    /// Whether a run is under way.
    pub running: bool,
}

/// The schedules of one project, run by its daemon.
pub struct Scheduler {
    host: Arc<Host>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// The schedules file's modification time when it was last read.
    read_at: Mutex<Option<SystemTime>>,
}

impl Scheduler {
    /// The scheduler of `host`'s project, its schedules read.
    pub fn new(host: Arc<Host>) -> Arc<Scheduler> {
        let scheduler = Arc::new(Scheduler { host, entries: Mutex::default(), read_at: Mutex::default() });
        scheduler.reload();
        scheduler
    }

    /// Whether nothing is scheduled (the daemon may then exit when idle).
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The schedules and how their runs went.
    pub fn snapshot(&self) -> Vec<Entry> {
        self.entries().values().cloned().collect()
    }

    /// Runs due schedules until the daemon stops.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.reload();
            let now = Utc::now();
            let due: Vec<String> = self
                .entries()
                .values_mut()
                .filter(|e| !e.running && e.next_run <= now)
                .map(|e| {
                    e.running = true;
                    e.last_run = Some(now);
                    e.installation.clone()
                })
                .collect();
            for installation in due {
                tokio::spawn(self.clone().run_one(installation));
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Syncs `installation` once and plans its next run.
    async fn run_one(self: Arc<Self>, installation: String) {
        tracing::info!(%installation, "scheduled sync starts");
        let outcome = match self.host.installation(&installation) {
            Ok(found) => self.host.sync(&found, &SyncRequest::default(), &max_host::Unobserved).await,
            Err(error) => Err(error),
        };
        // Another sync of it (a `max sync --no-daemon`) running is no failure of its own: the run
        // is skipped, its failures in a row left as they were.
        let (completed, said) = match &outcome {
            Ok(report) if report.record.status == SyncStatus::Completed => (Some(true), "completed".to_string()),
            Err(max_host::Error::SyncBusy { .. }) => (None, "skipped: another sync of it was running".to_string()),
            Ok(report) => (
                Some(false),
                format!("{:?}: {} task(s) failed", report.record.status, report.failures.len()).to_lowercase(),
            ),
            Err(error) => (Some(false), max_host::text::one_line(&error.to_string())),
        };
        let now = Utc::now();
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(&installation) else { return };
        entry.running = false;
        entry.last_outcome = Some(said.clone());
        if completed != Some(false) {
            if completed.is_some() {
                entry.failures = 0;
            }
            entry.next_run = entry.cadence.next(entry.last_run, now).max(now);
            tracing::info!(%installation, next = %entry.next_run, outcome = %said, "scheduled sync ended");
        } else {
            entry.failures += 1;
            let backoff = entry.cadence.period(now).saturating_mul(1 << entry.failures.min(16)).min(MOST_BACKOFF);
            entry.next_run = now + chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::days(1));
            tracing::warn!(%installation, failures = entry.failures, next = %entry.next_run, outcome = %said, "scheduled sync did not complete; backing off");
        }
    }

    /// Reads the schedules file again when it changed (its time stamp), or at once when `max
    /// schedule` asks: new schedules start (due at once, or a period after the installation's last
    /// sync), removed ones stop, changed ones take their new cadence.
    pub fn reload_now(&self) {
        *self.read_at.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.reload();
    }

    fn reload(&self) {
        let path = self.host.project().schedules().path().to_path_buf();
        let stamp = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        {
            let mut read_at = self.read_at.lock().unwrap_or_else(PoisonError::into_inner);
            if *read_at == stamp && stamp.is_some() {
                return;
            }
            *read_at = stamp;
        }
        let schedules: Vec<Schedule> = match self.host.project().schedules().list() {
            Ok(schedules) => schedules,
            Err(error) => {
                tracing::warn!(%error, "the schedules can't be read; keeping the ones read before");
                return;
            }
        };
        let now = Utc::now();
        let mut entries = self.entries();
        entries.retain(|name, _| schedules.iter().any(|s| &s.installation == name));
        for schedule in schedules {
            let every = schedule.cadence.to_string();
            if let Some(entry) = entries.get_mut(&schedule.installation) {
                if entry.cadence != schedule.cadence {
                    entry.next_run = schedule.cadence.next(entry.last_run, now).max(now);
                    (entry.cadence, entry.every) = (schedule.cadence, every);
                }
                continue;
            }
            let last = self.last_sync(&schedule.installation);
            let next_run = schedule.cadence.next(last, now).max(now);
            tracing::info!(installation = %schedule.installation, %every, %next_run, "scheduled");
            let entry = Entry {
                installation: schedule.installation.clone(),
                cadence: schedule.cadence,
                every,
                next_run,
                last_run: last,
                last_outcome: None,
                failures: 0,
                running: false,
            };
            entries.insert(schedule.installation, entry);
        }
    }

    /// When `installation`'s last sync started, if it has synced.
    fn last_sync(&self, installation: &str) -> Option<DateTime<Utc>> {
        let found = self.host.installation(installation).ok()?;
        self.host.status(&found, 1).ok()?.syncs.first().map(|s| s.started_at)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
