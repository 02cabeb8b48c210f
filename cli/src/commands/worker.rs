//! `max worker`: helps run the syncs of a project whose data is in PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use max_host::format::thousands;
use max_host::project::StorageSetting;
use max_host::{Helped, Host, WorkObserver, WorkRequest};

use crate::args::{GlobalArgs, parse_duration};
use crate::commands::host;
use crate::failure::Failure;
use crate::output::{Printer, printable};

/// Help run the project's syncs, beside other workers on any machine.
///
/// For a project whose data is in PostgreSQL (`max init --storage postgres://…`). Run workers
/// anywhere with the database's URL (`--storage`): `max sync` in the project publishes its
/// connectors, installations and credentials to the database and starts the sync, and the workers
/// take what was published (into a folder of their own under ~/.max/workers) and drain its tasks
/// with it. Without `--storage`, a worker runs in the project folder it is started in (or a copy
/// of it). Whoever can read the database can read the credentials. Tasks are claimed from the database
/// (FOR UPDATE SKIP LOCKED) under leases renewed while they run: a worker that dies loses its tasks
/// to the others when its leases expire, and what it would still store is refused. Idle, a worker
/// waits for new tasks (LISTEN/NOTIFY) and polls as well. Ctrl-C stops it after its tasks in flight.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  max worker --storage postgres://max@db.internal/max\n  max worker --workers 16 --lease 2m\n  max -C /srv/max-project worker --exit-when-idle 10m"
)]
pub struct WorkerCommand {
    /// The project's database: work from what its projects publish there, with no project folder.
    /// Leave the password out (the command line is visible to every user of the machine): it is
    /// taken from `PGPASSWORD` or ~/.pgpass, as psql takes it.
    #[arg(long, value_name = "postgres://…")]
    storage: Option<String>,
    /// Tasks this worker runs at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// How long a claim holds unless renewed: a dead worker's tasks go to others after this.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    lease: Duration,
    /// How often to look for work when no notification came.
    #[arg(long, default_value = "1s", value_parser = parse_duration, hide = true)]
    poll: Duration,
    /// Stop after finding nothing to do for this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    exit_when_idle: Option<Duration>,
}

impl WorkerCommand {
    /// Runs it until stopped.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = match &self.storage {
            Some(storage) => match StorageSetting::parse(storage)? {
                StorageSetting::Postgres { url } => Host::worker_copy(&url)?,
                StorageSetting::Sqlite => return Err(max_host::Error::WorkersNeedPostgres.into()),
            },
            None => host(global)?,
        }
        .keep_warm();
        let stop = Arc::new(AtomicBool::new(false));
        stop_on_signals(stop.clone());
        let request = WorkRequest {
            workers: usize::from(self.workers),
            lease: self.lease.max(Duration::from_secs(1)),
            poll: self.poll.max(Duration::from_millis(100)),
            stop: stop.clone(),
            exit_when_idle: self.exit_when_idle,
            published: self.storage.is_some(),
        };
        let helped = host.work(&request, &Told { printer, root: host.project().root() }).await?;
        if printer.is_json() {
            printer.json(&helped)?;
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Failure::new("interrupted", "the worker stopped", "what it ran is stored; others go on").into());
        }
        Ok(())
    }
}

/// Ctrl-C or SIGTERM: stop after the tasks in flight.
fn stop_on_signals(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        stop.store(true, Ordering::Relaxed);
        crate::prompt::say("\nStopping after the tasks in flight…");
    });
}

/// Says what the worker does, on stderr (stdout keeps `-o json`'s answer).
struct Told<'a> {
    printer: &'a Printer,
    root: &'a std::path::Path,
}

impl WorkObserver for Told<'_> {
    fn ready(&self, database: &str) {
        crate::prompt::note(&self.printer.on_stderr().dim(&format!(
            "Working on the syncs of {} in {} (Ctrl-C stops after the tasks in flight)",
            self.root.display(),
            printable(database)
        )));
    }

    fn joined(&self, installation: &str, sync: max_host::task::SyncId) {
        crate::prompt::note(&format!("{}: helping with sync #{sync}", printable(installation)));
    }

    fn helped(&self, helped: &Helped) {
        let report = &helped.report;
        let rows: u64 = report.stored.values().sum();
        let closed = if report.finished { "; closed the sync" } else { "" };
        crate::prompt::note(&format!(
            "{}: sync #{}: stored {} rows with {} requests{closed}",
            printable(&helped.installation),
            report.sync,
            thousands(rows),
            thousands(report.requests)
        ));
    }

    fn refreshed(&self, version: &str, installations: &[String]) {
        let listed = if installations.is_empty() { "no installations".to_string() } else { installations.join(", ") };
        crate::prompt::note(&format!(
            "Took the project as published ({}): {}",
            &version[..version.len().min(12)],
            printable(&listed)
        ));
    }

    fn failed(&self, installation: &str, error: &max_host::Error) {
        let hint = crate::hints::hint(error).map(|h| format!(" ({})", printable(&h))).unwrap_or_default();
        let said = self.printer.on_stderr().dim(&format!(
            "{}: {}{hint}",
            printable(installation),
            printable(&error.to_string())
        ));
        crate::prompt::warn(&said);
    }
}
