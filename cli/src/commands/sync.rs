//! `max sync`: syncs an installation and reports what it stored.

use std::sync::{Arc, Mutex};

use clap::Args;
use max_host::live::live_connector;
use max_host::storage::SqliteStorage;
use max_host::sync::{SyncContext, SyncOptions, SyncReport, run_sync};

use crate::args::GlobalArgs;
use crate::commands::{project, runtime};
use crate::failure::Failure;
use crate::output::Printer;
use crate::progress::SyncProgress;
use max_host::format::thousands;

/// Sync an installation into its SQLite database (`.max/installations/<connector>/<name>/data.db`).
///
/// Shows live progress on a terminal and a summary at the end. Exits non-zero when any task failed,
/// listing the failures.
#[derive(Debug, Args)]
pub struct SyncCommand {
    /// The installation: `connector` (its only or default installation) or `connector/name`.
    target: String,
    /// Reload everything, and rebuild tables whose field types changed.
    #[arg(long)]
    full: bool,
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
        let secrets = Arc::new(installation.secrets()?);
        let live = live_connector(&runtime()?, &project, &connector, &installation.file.config, secrets, workers)?;
        let storage = SqliteStorage::open(&installation.data_db())?;
        let context =
            SyncContext { info: live.info, pool: live.pool, http: live.http, storage: Arc::new(Mutex::new(storage)) };
        let options = SyncOptions { full: self.full, workers, ..SyncOptions::default() };
        let progress = SyncProgress::new(printer.stderr_is_terminal() && !printer.is_json(), &installation.label());
        let report = run_sync(&context, &options, &progress).await;
        progress.finish();
        let report = report?;
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

fn summary(printer: &Printer, label: &str, report: &SyncReport) -> String {
    let seconds = report.duration_ms as f64 / 1000.0;
    let record = &report.record;
    let mut out = vec![format!("Synced {label} in {seconds:.1} s (sync #{}, {})", record.id, record.status)];
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
