//! `max sync`: syncs an installation and reports what it stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use clap::Args;
use max_host::live::live_connector;
use max_host::storage::SqliteStorage;
use max_host::storage::SyncStatus;
use max_host::sync::{Continuation, Start, SyncContext, SyncOptions, SyncReport, run_sync};

use crate::args::GlobalArgs;
use crate::commands::{project, runtime};
use crate::failure::Failure;
use crate::output::Printer;
use crate::progress::SyncProgress;
use max_host::format::thousands;

/// Sync an installation into its local SQLite database.
///
/// The database is `.max/installations/<connector>/<name>/data.db`. After a completed sync, only what changed is loaded (where the connector can tell). A sync that was
/// interrupted (Ctrl-C, a crash, a killed process) is resumed where it stopped: finished work is kept
/// and not fetched again. Ctrl-C stops after the tasks in flight; a second Ctrl-C quits at once, and
/// the sync still resumes next time. One sync runs per installation at a time.
///
/// Shows live progress on a terminal and a summary at the end. Exits non-zero when any task failed,
/// listing the failures; `--retry-failed` runs just those again.
#[derive(Debug, Args)]
pub struct SyncCommand {
    /// The installation: `connector` (its only or default installation) or `connector/name`.
    target: String,
    /// Reload everything, and rebuild tables whose field types changed (an interrupted sync is dropped).
    #[arg(long, conflicts_with_all = ["resume", "retry_failed"])]
    full: bool,
    /// Resume this interrupted sync (plain `max sync` resumes the newest one by itself).
    #[arg(long, value_name = "SYNC_ID", conflicts_with = "retry_failed")]
    resume: Option<i64>,
    /// Run the failed tasks of the last sync again.
    #[arg(long)]
    retry_failed: bool,
    /// Attempts per task when it fails transiently (429, 5xx, timeouts, dropped connections), with
    /// exponential backoff between them; permanent failures are never retried.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    max_attempts: u32,
    /// Fields the connector loads per entity (not lists, not change feeds) are loaded again only when
    /// older than this: `90s`, `15m`, `1h`, `2d`; `0` loads them every time.
    #[arg(long, default_value = "1h", value_name = "AGE", value_parser = parse_age)]
    max_age: std::time::Duration,
    /// How many tasks run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
}

impl SyncCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let project = project(global)?;
        let installation = project.installations().find(&self.target)?;
        let connector = project.connectors().get(&installation.file.connector)?;
        let workers = usize::from(self.workers);
        let _lock = installation.lock_for_sync()?;
        let secrets = Arc::new(installation.secrets()?);
        let file = &installation.file;
        let live = live_connector(&runtime()?, &project, &connector, &file.config, secrets, &file.sandbox, workers)?;
        let storage = SqliteStorage::open(&installation.data_db())?;
        let context =
            SyncContext { info: live.info, pool: live.pool, http: live.http, storage: Arc::new(Mutex::new(storage)) };
        let start = match (self.resume, self.retry_failed) {
            (Some(id), _) => Start::Resume(id),
            (None, true) => Start::RetryFailed,
            (None, false) => Start::Auto,
        };
        let options = SyncOptions {
            full: self.full,
            workers,
            start,
            max_attempts: self.max_attempts,
            max_age: self.max_age,
            ..SyncOptions::default()
        };
        stop_on_ctrl_c(options.stop.clone());
        let progress = SyncProgress::new(printer.stderr_is_terminal() && !printer.is_json(), &installation.label());
        let report = run_sync(&context, &options, &progress).await;
        progress.finish();
        let report = report?;
        let target = &self.target;
        if report.record.status == SyncStatus::Interrupted {
            if printer.is_json() {
                printer.json(&serde_json::json!({ "installation": installation.label(), "sync": report }))?;
            }
            return Err(Failure::new(
                "interrupted",
                format!("stopped sync #{} of {}; what it fetched is stored", report.record.id, installation.label()),
                format!("run `max sync {target}` to continue where it stopped"),
            )
            .into());
        }
        if printer.is_json() {
            printer.json(&serde_json::json!({ "installation": installation.label(), "sync": report }))?;
        } else {
            printer.text(&summary(printer, &installation.label(), &report))?;
        }
        if report.failures.is_empty() {
            return Ok(());
        }
        let first = &report.failures[0].error;
        Err(Failure::new(
            "sync_failed",
            format!(
                "{} of {} tasks failed (first: {first}); the rest of the data was stored",
                report.failures.len(),
                report.record.tasks_total
            ),
            format!("fix the cause and run `max sync {}` again", self.target),
        )
        .into())
    }
}

/// `90s`, `15m`, `1h`, `2d` or `0`.
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}`: expected a number with s, m, h or d"))?;
    let seconds = match unit {
        "" if number == 0 => 0,
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => return Err(format!("`{text}`: expected a number with s, m, h or d (like 15m)")),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// First Ctrl-C: stop after the tasks in flight. Second: quit at once (the sync stays resumable).
fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    // One registration for both presses, so a quick second press is never missed.
    let Ok(mut interrupts) = signal(SignalKind::interrupt()) else { return };
    tokio::spawn(async move {
        if interrupts.recv().await.is_none() {
            return;
        }
        stop.store(true, Ordering::Relaxed);
        crate::prompt::say(
            "\nStopping after the tasks in flight… (Ctrl-C again to quit at once; the sync resumes next time)",
        );
        if interrupts.recv().await.is_some() {
            std::process::exit(130);
        }
    });
}

fn summary(printer: &Printer, label: &str, report: &SyncReport) -> String {
    let seconds = report.duration_ms as f64 / 1000.0;
    let record = &report.record;
    let how = match report.continuation {
        Continuation::New => String::new(),
        Continuation::Resumed { .. } => ", resumed".to_string(),
        Continuation::RetriedFailed { tasks } => format!(", {tasks} failed tasks retried"),
    };
    let mut out = vec![format!("Synced {label} in {seconds:.1} s (sync #{}{how}, {})", record.id, record.status)];
    for change in &report.schema.added {
        out.push(format!("  new column {change}"));
    }
    for change in &report.schema.rebuilt {
        out.push(format!("  rebuilt table {change} (a field changed type)"));
    }
    let rows: Vec<Vec<String>> =
        record.entities.iter().map(|(entity, n)| vec![entity.clone(), thousands(*n)]).collect();
    if rows.is_empty() {
        out.push("  nothing to store".to_string());
    } else {
        out.push(printer.table(&["ENTITY", "ROWS"], &rows));
    }
    let total: u64 = record.entities.values().sum();
    out.push(format!(
        "{} rows · {} HTTP requests · {} rows/s",
        thousands(total),
        thousands(record.requests),
        thousands((total as f64 / seconds.max(0.001)) as u64)
    ));
    if report.rate_limit_wait_ms > 0 {
        out.push(format!(
            "Requests waited {:.1} s in all for the API's rate limits (they resume on their own)",
            report.rate_limit_wait_ms as f64 / 1000.0
        ));
    }
    if !report.failures.is_empty() {
        out.push(String::new());
        out.push(format!("Failed tasks ({}):", report.failures.len()));
        for failure in report.failures.iter().take(20) {
            out.push(format!("  - {}: {}", failure.description, failure.error));
        }
        if report.failures.len() > 20 {
            out.push(format!("  … and {} more (max status -o json lists them all)", report.failures.len() - 20));
        }
    }
    out.join("\n")
}
