//! `max sync`: syncs an installation and reports what it stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use max_host::project::Installation;
use max_host::task::SyncStatus;
use max_host::{Continuation, Start, SyncReport};
use max_host::{Host, SyncRequest};

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::failure::Failure;
use crate::output::{Printer, printable};
use crate::progress::SyncProgress;
use max_host::format::thousands;

/// Sync installations into the project's storage (local SQLite, or PostgreSQL).
///
/// Each installation has its own database, `.max/installations/<connector>/<name>/data.db`, or its
/// own schema in the project's PostgreSQL database (`max storage`), where workers on other
/// machines can share the work (`max worker`). Name one
/// installation or several (they sync one after another; a failure of one doesn't stop the rest), or
/// pass `--all`.
///
/// After a completed sync, only what changed is loaded (where the connector can tell). A sync that
/// was interrupted (Ctrl-C, a crash, a killed process) is resumed where it stopped: finished work is
/// kept and not fetched again. Ctrl-C stops after the tasks in flight; a second Ctrl-C quits at once, and
/// the sync still resumes next time. One sync runs per installation at a time.
///
/// Shows live progress on a terminal and a summary at the end. Exits with 3 when it finished but tasks
/// (or some of several installations) failed, listing the failures; `--retry-failed` runs just those
/// again. Exits with 130 when stopped by Ctrl-C.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  max sync linear\n  max sync linear/work acme\n  max sync --all\n  max sync linear --full\n  max sync linear --retry-failed\n  max sync linear --workers 8 --max-age 0"
)]
pub struct SyncCommand {
    /// The installations: `connector` (its only or default installation) or `connector/name`.
    #[arg(value_name = "TARGET", required_unless_present = "all")]
    targets: Vec<String>,
    /// Sync every installation of the project, one after another.
    #[arg(long, conflicts_with_all = ["targets", "resume"])]
    all: bool,
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
    #[arg(long, default_value = "1h", value_name = "AGE", value_parser = crate::args::parse_duration)]
    max_age: std::time::Duration,
    /// The most tasks that run at once. A sync starts with 4 and adapts: more while the API and this
    /// machine keep up, half after 429s or errors, fewer when requests or tasks slow down.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
}

impl SyncCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let installations = self.installations(host.project())?;
        let stop = Arc::new(AtomicBool::new(false));
        stop_on_ctrl_c(stop.clone());
        let mut daemon = crate::daemon::client::serving(host.project().root(), global.no_daemon);
        if let Some((_, identity)) = &daemon {
            crate::prompt::note(&printer.on_stderr().dim(&format!(
                "Syncing through the project's daemon (pid {}); --no-daemon syncs in this process.",
                identity.pid
            )));
        }
        let mut daemon = daemon.as_mut().map(|(client, _)| client);
        if let [(target, installation)] = installations.as_slice() {
            let report = self.sync(&host, installation, printer, stop, daemon.as_deref_mut()).await?;
            print(printer, installation, &report)?;
            return conclude(target, &installation.label(), &report);
        }
        // Several: each is reported as it ends, and one failing doesn't stop the others.
        let (mut documents, mut failed, mut attempted) = (Vec::new(), Vec::new(), 0);
        for (target, installation) in &installations {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            attempted += 1;
            let label = installation.label();
            let outcome = match self.sync(&host, installation, printer, stop.clone(), daemon.as_deref_mut()).await {
                Ok(report) => {
                    if printer.is_json() {
                        documents.push(serde_json::json!({ "installation": label, "sync": report }));
                    } else if report.record.status != SyncStatus::Interrupted {
                        print_text(printer, &label, &report, if attempted > 1 { "\n" } else { "" })?;
                    }
                    conclude(target, &label, &report)
                }
                Err(error) => {
                    // Among several, each error says whose it is.
                    let error = error.context(label.clone());
                    if printer.is_json() {
                        let mut document = crate::output::error_json(&error);
                        document["installation"] = label.clone().into();
                        documents.push(document);
                    }
                    Err(error)
                }
            };
            match outcome {
                // `--retry-failed` over several: one whose last sync didn't fail has nothing to do.
                Err(error) if matches!(error.downcast_ref(), Some(max_host::Error::NothingToRetry { .. })) => {
                    if !printer.is_json() {
                        printer.text(&printer.dim(&format!("{label}: nothing to retry")))?;
                    }
                }
                Err(error) => {
                    if !printer.is_json() {
                        printer.error(&error);
                    }
                    failed.push(label);
                }
                Ok(()) => {}
            }
        }
        if printer.is_json() {
            printer.json(&serde_json::json!({ "syncs": documents }))?;
        }
        let skipped = installations.len() - attempted;
        if failed.is_empty() && skipped == 0 {
            return Ok(());
        }
        let mut message = format!("{} of {} installations did not sync completely", failed.len(), installations.len());
        if !failed.is_empty() {
            message.push_str(&format!(": {}", failed.join(", ")));
        }
        if skipped > 0 {
            message.push_str(&format!("; {skipped} not started (stopped)"));
        }
        let code = if stop.load(Ordering::Relaxed) { "interrupted" } else { "sync_failed" };
        Err(Failure::new(code, message, "see the errors above; `max sync <connector/name>` syncs one again").into())
    }

    /// The installations named (each with the name the user gave it), or every one with `--all`.
    fn installations(&self, project: &max_host::project::Project) -> anyhow::Result<Vec<(String, Installation)>> {
        let store = project.installations();
        let mut found: Vec<(String, Installation)> = Vec::new();
        if self.all {
            super::warn_damaged(&store);
            let all = store.list()?;
            if all.is_empty() {
                return Err(Failure::new(
                    "no_installations",
                    "this project has no installations to sync",
                    "connect one first: `max connect <connector>`",
                )
                .into());
            }
            return Ok(all.into_iter().map(|i| (i.label(), i)).collect());
        }
        for target in &self.targets {
            let installation = store.find(target)?;
            if !found.iter().any(|(_, seen)| seen.label() == installation.label()) {
                found.push((target.clone(), installation));
            }
        }
        if self.resume.is_some() && found.len() > 1 {
            return Err(Failure::new(
                "ambiguous_resume",
                "--resume names a sync of one installation, but several were given",
                "name just the installation whose sync you want to resume",
            )
            .into());
        }
        Ok(found)
    }

    /// Syncs one installation through the host (in this process, or in the project's daemon),
    /// drawing its progress, and returns the report.
    async fn sync(
        &self,
        host: &Host,
        installation: &Installation,
        printer: &Printer,
        stop: Arc<AtomicBool>,
        daemon: Option<&mut crate::daemon::client::Client>,
    ) -> anyhow::Result<SyncReport> {
        let start = match (self.resume, self.retry_failed) {
            (Some(id), _) => Start::Resume(id),
            (None, true) => Start::RetryFailed,
            (None, false) => Start::Auto,
        };
        let request = SyncRequest {
            full: self.full,
            workers: usize::from(self.workers),
            start,
            max_attempts: self.max_attempts,
            max_age: self.max_age,
            stop,
        };
        let visible = printer.stderr_is_terminal() && !printer.is_json() && !crate::prompt::quiet();
        let progress = SyncProgress::new(visible, &installation.label());
        if let Some(daemon) = daemon {
            let params = crate::daemon::protocol::SyncParams {
                installation: installation.label(),
                full: request.full,
                workers: request.workers,
                start: request.start,
                max_attempts: request.max_attempts,
                max_age_s: request.max_age.as_secs(),
            };
            let report = tokio::task::block_in_place(|| daemon.sync(&params, &progress, &request.stop));
            progress.finish();
            return report;
        }
        let report = host.sync(installation, &request, &progress).await;
        progress.finish();
        Ok(report?)
    }
}

/// Prints the report of one installation's sync.
fn print(printer: &Printer, installation: &Installation, report: &SyncReport) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json(&serde_json::json!({ "installation": installation.label(), "sync": report }))
    } else if report.record.status == SyncStatus::Interrupted {
        Ok(())
    } else {
        print_text(printer, &installation.label(), report, "")
    }
}

/// The error a sync of `label` ended with, if it didn't end complete: interrupted, or with failed
/// tasks. `target` is how the user named the installation.
fn conclude(target: &str, label: &str, report: &SyncReport) -> anyhow::Result<()> {
    if report.record.status == SyncStatus::Interrupted {
        return Err(Failure::new(
            "interrupted",
            format!("stopped sync #{} of {label}; what it fetched is stored", report.record.id),
            format!("run `max sync {target}` to continue where it stopped"),
        )
        .into());
    }
    let groups = grouped(&report.failures);
    let Some((most, tasks)) = groups.first() else { return Ok(()) };
    let cause = match groups.len() {
        1 => format!("{}: {most}", if tasks.len() == 1 { "it" } else { "all" }),
        2 => format!("{} of them: {most}; 1 other cause", tasks.len()),
        n => format!("{} of them: {most}; {} other causes", tasks.len(), n - 1),
    };
    Err(Failure::new(
        "sync_failed",
        format!(
            "{label}: {} of {} tasks failed ({cause}); the rest of the data was stored",
            report.failures.len(),
            report.record.tasks_total
        ),
        format!("fix the cause, then `max sync {target} --retry-failed` runs just the failed tasks again"),
    )
    .into())
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

/// One sync's summary on stdout (after `gap`), its failed tasks on stderr.
fn print_text(printer: &Printer, label: &str, report: &SyncReport, gap: &str) -> anyhow::Result<()> {
    printer.text(&format!("{gap}{}", summary(printer, label, report)))?;
    if !report.failures.is_empty() {
        crate::prompt::say(&failure_list(report));
    }
    Ok(())
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
        "{} rows · {} HTTP requests · {} rows/s · up to {} tasks at once",
        thousands(total),
        thousands(record.requests),
        thousands((total as f64 / seconds.max(0.001)) as u64),
        report.concurrency.peak
    ));
    if report.not_modified > 0 {
        out.push(format!(
            "{} of the requests were answered 304 Not Modified (unchanged since the last sync; APIs such as GitHub \
             don't count them against the rate limit)",
            thousands(report.not_modified)
        ));
    }
    if report.concurrency.backoffs > 0 {
        out.push(format!(
            "Tasks at once halved {} times after the API answered 429 or failed",
            report.concurrency.backoffs
        ));
    }
    if report.rate_limit_wait_ms > 0 {
        out.push(format!(
            "Requests waited {:.1} s in all for the API's rate limits (they resume on their own)",
            report.rate_limit_wait_ms as f64 / 1000.0
        ));
    }
    out.join("\n")
}

/// The failed tasks grouped by what went wrong, most frequent first, a few of each named: for stderr.
fn failure_list(report: &SyncReport) -> String {
    let groups = grouped(&report.failures);
    let mut out = vec![format!("Failed tasks ({}):", thousands(report.failures.len() as u64))];
    for (error, tasks) in &groups {
        let count =
            if tasks.len() == 1 { "1 task".to_string() } else { format!("{} tasks", thousands(tasks.len() as u64)) };
        out.push(format!("  {count}: {}", printable(error)));
        for task in tasks.iter().take(EXAMPLES) {
            out.push(format!("    - {}", printable(task)));
        }
        if tasks.len() > EXAMPLES {
            out.push(format!("    … and {} more like it", thousands((tasks.len() - EXAMPLES) as u64)));
        }
    }
    out.push("`-o json` lists every failed task.".to_string());
    out.join("\n")
}

/// Failed tasks named per group.
const EXAMPLES: usize = 3;

/// Failures by error message (what the task was doing, per message), most frequent first.
fn grouped(failures: &[max_host::task::TaskFailure]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for failure in failures {
        match groups.iter_mut().find(|(error, _)| *error == failure.error) {
            Some((_, tasks)) => tasks.push(failure.description.clone()),
            None => groups.push((failure.error.clone(), vec![failure.description.clone()])),
        }
    }
    groups.sort_by_key(|(_, tasks)| std::cmp::Reverse(tasks.len()));
    groups
}
