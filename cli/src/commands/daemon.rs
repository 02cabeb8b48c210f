//! `max daemon start|stop|status|logs|list` (and the hidden `run`, the daemon itself).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::daemon::{client, paths::DaemonDir, protocol::Identity};
use crate::output::Printer;
use crate::prompt;

/// Start, stop and inspect the project's daemon (one process per project).
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start this project's daemon (a running one of this build is kept; one of another build is
    /// replaced).
    #[command(after_help = "Examples:\n  max daemon start\n  max daemon start --idle 2h")]
    Start(StartArgs),
    /// Stop this project's daemon.
    #[command(after_help = "Examples:\n  max daemon stop")]
    Stop,
    /// Show whether this project's daemon runs: its process, build, uptime and clients.
    #[command(after_help = "Examples:\n  max daemon status\n  max daemon status -o json")]
    Status,
    /// Print this project's daemon log.
    #[command(after_help = "Examples:\n  max daemon logs\n  max daemon logs --lines 200\n  max daemon logs --follow")]
    Logs(LogsArgs),
    /// List every daemon of this user, for any project.
    #[command(after_help = "Examples:\n  max daemon list\n  max daemon list -o json")]
    List,
    /// Run the daemon in the foreground (what `start` runs, detached).
    #[command(hide = true)]
    Run(StartArgs),
}

/// Arguments of `start` and `run`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Exit after this long with no client connected (`30m`, `2h`).
    #[arg(long, default_value = "30m", value_name = "TIME", value_parser = crate::args::parse_duration)]
    idle: Duration,
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// How many of the last lines.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
    /// Keep printing lines as they are written (Ctrl-C ends it).
    #[arg(short, long)]
    follow: bool,
}

impl DaemonCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        if let DaemonCommand::List = self {
            return list(printer);
        }
        let root = host(global)?.project().root().to_path_buf();
        match self {
            DaemonCommand::Start(args) => start(&root, args.idle, printer),
            DaemonCommand::Stop => stop(&root, printer),
            DaemonCommand::Status => status(&root, printer),
            DaemonCommand::Logs(args) => logs(&root, &args, printer).await,
            DaemonCommand::Run(args) => {
                log_to_file(&root, global.verbose)?;
                crate::daemon::server::run(root, args.idle).await
            }
            DaemonCommand::List => unreachable!("handled above"),
        }
    }
}

fn start(root: &Path, idle: Duration, printer: &Printer) -> anyhow::Result<()> {
    let (_, identity, how) = client::ensure_running(root, idle)?;
    if printer.is_json() {
        return printer.json(&json!({ "daemon": identity, "how": how }));
    }
    let said = match how {
        client::Found::Running => "already runs",
        client::Found::Started => "started",
        client::Found::Replaced => "started, replacing the daemon of another build",
    };
    printer.text(&format!("The daemon of {} {said} (pid {}).", root.display(), identity.pid))
}

fn stop(root: &Path, printer: &Printer) -> anyhow::Result<()> {
    let stopped = client::stop(root)?;
    if printer.is_json() {
        return printer.json(&json!({ "stopped": stopped }));
    }
    match stopped {
        Some(identity) => printer.text(&format!("Stopped the daemon (pid {}).", identity.pid)),
        None => {
            prompt::note("No daemon runs for this project.");
            Ok(())
        }
    }
}

fn status(root: &Path, printer: &Printer) -> anyhow::Result<()> {
    let status = match client::running(root) {
        Some((mut client, _)) => client.call("daemon_status", Value::Null)?,
        None => Value::Null,
    };
    if printer.is_json() {
        return printer.json(&json!({ "running": !status.is_null(), "status": status }));
    }
    if status.is_null() {
        printer.text("No daemon runs for this project (`max daemon start` starts one).")?;
        return Ok(());
    }
    let identity: Identity = serde_json::from_value(status["identity"].clone())?;
    let warm: max_host::WarmStats = serde_json::from_value(status["warm"].clone()).unwrap_or_default();
    let kept = if warm.connectors.is_empty() { "none".to_string() } else { warm.connectors.join(", ") };
    printer.text(&format!(
        "The daemon runs: pid {}, max {}, up {} s, {} client(s) connected, {} request(s) served.\n  \
         warm connectors: {kept} (built {}, reused {}); open databases: {} (opened {}, reused {})\n  build {}\n  log {}",
        identity.pid,
        identity.version,
        status["uptime_s"],
        status["clients"],
        status["served"],
        warm.connectors_built,
        warm.connectors_reused,
        warm.readers,
        warm.readers_opened,
        warm.readers_reused,
        identity.build,
        DaemonDir::of(root).log().display()
    ))
}

async fn logs(root: &Path, args: &LogsArgs, printer: &Printer) -> anyhow::Result<()> {
    let path = DaemonDir::of(root).log();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(args.lines)..] {
        printer.text(line)?;
    }
    if !args.follow {
        if text.is_empty() {
            prompt::note(&format!("The daemon has logged nothing yet ({}).", path.display()));
        }
        return Ok(());
    }
    let mut offset = text.len() as u64;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let Ok(bytes) = std::fs::read(&path) else { continue };
        // Rotated: start over on the new file.
        if (bytes.len() as u64) < offset {
            offset = 0;
        }
        let new = String::from_utf8_lossy(&bytes[offset as usize..]).into_owned();
        if let Some(end) = new.rfind('\n') {
            for line in new[..end].lines() {
                printer.text(line)?;
            }
            offset += end as u64 + 1;
        }
    }
}

fn list(printer: &Printer) -> anyhow::Result<()> {
    let mut daemons = Vec::new();
    for entry in std::fs::read_dir(crate::daemon::paths::daemons_dir()).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read(entry.path().join("project.json")) else { continue };
        let Ok(identity) = serde_json::from_slice::<Identity>(&text) else { continue };
        let dirs = DaemonDir::of(&PathBuf::from(&identity.project));
        if !client::lock_held(&dirs).unwrap_or(false) {
            continue;
        }
        daemons.push(identity);
    }
    daemons.sort_by(|a, b| a.project.cmp(&b.project));
    if printer.is_json() {
        return printer.json(&daemons);
    }
    if daemons.is_empty() {
        prompt::note("No daemon runs.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = daemons
        .iter()
        .map(|d| vec![d.pid.to_string(), d.version.clone(), d.started.clone(), d.project.clone()])
        .collect();
    printer.text(printer.table(&["PID", "VERSION", "STARTED", "PROJECT"], &rows).trim_end())
}

/// The daemon's logs go to its rotating `daemon.log` (info by default, more with `-v`, or as
/// `MAX_LOG` says).
fn log_to_file(root: &Path, verbose: u8) -> anyhow::Result<()> {
    let dirs = DaemonDir::of(root);
    dirs.create()?;
    let log = crate::daemon::log::RotatingLog::open(&dirs.log(), crate::daemon::log::ROTATE_BYTES)?;
    let default = if verbose > 0 { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(log).with_ansi(false).with_target(false).init();
    Ok(())
}
