//! `max schedule`: the installations the project's daemon syncs on its own.

use std::time::Duration;

use clap::Args;
use max_host::Host;
use max_host::project::Cadence;
use serde_json::{Value, json};

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::daemon::client;
use crate::output::Printer;
use crate::prompt;

/// Sync an installation on a schedule (run by the project's daemon, which this starts).
///
/// `--every 15m` counts from the start of the last run; `--cron` takes five fields (minute hour
/// day month weekday) in UTC. A run that fails backs off (its period doubled per failure in a row, up
/// to a day) without holding up the others. With no installation: every schedule and its next run.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  max schedule linear --every 15m
  max schedule hubspot --cron \"0 */2 * * 1-5\"
  max schedule linear --off
  max schedule")]
pub struct ScheduleCommand {
    /// The installation (`linear`, `linear/work`); none lists the schedules.
    target: Option<String>,
    /// Sync it this often (`90s`, `15m`, `1h`).
    #[arg(long, value_name = "TIME", value_parser = crate::args::parse_duration, conflicts_with_all = ["cron", "off"], requires = "target")]
    every: Option<Duration>,
    /// Sync it at the times a cron expression names (UTC).
    #[arg(long, value_name = "EXPR", conflicts_with = "off", requires = "target")]
    cron: Option<String>,
    /// Stop syncing it on a schedule.
    #[arg(long, requires = "target")]
    off: bool,
    /// Only save the schedule; don't start the daemon that runs it.
    #[arg(long)]
    no_daemon: bool,
}

impl ScheduleCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let Some(target) = &self.target else { return list(&host, printer) };
        let installation = host.installation(target)?;
        let label = installation.label();
        let store = host.project().schedules();
        if self.off {
            let removed = store.remove(&label)?;
            reload(&host);
            if printer.is_json() {
                return printer.json(&json!({ "installation": label, "removed": removed }));
            }
            return match removed {
                Some(_) => printer.text(&format!("{label} is no longer synced on a schedule.")),
                None => printer.text(&format!("{label} had no schedule.")),
            };
        }
        let cadence = match (&self.every, &self.cron) {
            (Some(every), _) => Cadence::every(*every)?,
            (None, Some(cron)) => Cadence::cron(cron)?,
            (None, None) => {
                return Err(crate::failure::Failure::new(
                    "usage",
                    "say when: --every TIME or --cron EXPR (or --off)",
                    format!("max schedule {target} --every 15m"),
                )
                .into());
            }
        };
        let schedule = store.set(&label, cadence)?;
        let started =
            if self.no_daemon { None } else { Some(client::ensure_running(host.project().root(), default_idle())?) };
        reload(&host);
        let entry = schedule_of(&host, &label)?;
        if printer.is_json() {
            return printer.json(
                &json!({ "schedule": schedule, "state": entry, "daemon": started.map(|(_, identity, _)| identity) }),
            );
        }
        printer.text(&format!("{label} syncs {}.", schedule.cadence))?;
        match started {
            Some((_, identity, _)) => prompt::note(&format!(
                "The project's daemon (pid {}) runs it{}; `max status {label}` shows the next run.",
                identity.pid,
                entry.as_ref().and_then(next_run_text).map(|t| format!(", next {t}")).unwrap_or_default()
            )),
            None => prompt::note("It runs once the daemon does: `max daemon start`."),
        }
        Ok(())
    }
}

/// Has a running daemon read the schedules again, so a change (a schedule set or removed, an
/// installation disconnected) counts at once.
pub fn reload(host: &Host) {
    if let Some((mut client, _)) = client::running(host.project().root()) {
        let _ = client.call("reload_schedules", Value::Null);
    }
}

/// The idle time a daemon started for a schedule gets (schedules keep it alive anyway).
fn default_idle() -> Duration {
    Duration::from_secs(1800)
}

/// Every schedule: as the running daemon keeps it (next run, last outcome), or as saved with
/// `daemon: false` when no daemon runs.
pub fn schedules(host: &Host) -> anyhow::Result<Vec<Value>> {
    if let Some((mut client, _)) = client::running(host.project().root())
        && let Ok(Value::Array(entries)) = client.call("schedules", Value::Null)
    {
        return Ok(entries
            .into_iter()
            .map(|mut e| {
                e["daemon"] = Value::Bool(true);
                e
            })
            .collect());
    }
    Ok(host
        .project()
        .schedules()
        .list()?
        .into_iter()
        .map(|s| json!({ "installation": s.installation, "every": s.cadence.to_string(), "cadence": s.cadence, "daemon": false }))
        .collect())
}

/// `label`'s schedule, if it has one.
pub fn schedule_of(host: &Host, label: &str) -> anyhow::Result<Option<Value>> {
    Ok(schedules(host)?.into_iter().find(|s| s["installation"] == label))
}

/// One line about a schedule, for `max status`.
pub fn describe(entry: &Value) -> String {
    let every = entry["every"].as_str().unwrap_or("?");
    if entry["daemon"] != true {
        return format!("Scheduled {every} · not running: the daemon isn't (`max daemon start`)");
    }
    let mut line = format!("Scheduled {every}");
    if entry["running"] == true {
        line.push_str(" · running now");
    } else if let Some(next) = next_run_text(entry) {
        line.push_str(&format!(" · next {next}"));
    }
    if let Some(outcome) = entry["last_outcome"].as_str() {
        line.push_str(&format!(" · last: {}", crate::output::printable(outcome)));
    }
    if let Some(failures) = entry["failures"].as_u64().filter(|f| *f > 0) {
        line.push_str(&format!(" ({failures} in a row, backing off)"));
    }
    line
}

/// `2026-12-07 10:15:00 UTC (in 4m)`.
fn next_run_text(entry: &Value) -> Option<String> {
    let next = chrono::DateTime::parse_from_rfc3339(entry["next_run"].as_str()?).ok()?.with_timezone(&chrono::Utc);
    let wait = (next - chrono::Utc::now()).num_seconds().max(0) as u64;
    Some(format!("{} UTC (in {})", next.format("%Y-%m-%d %H:%M:%S"), max_host::format::duration(wait)))
}

fn list(host: &Host, printer: &Printer) -> anyhow::Result<()> {
    let entries = schedules(host)?;
    if printer.is_json() {
        return printer.json(&entries);
    }
    if entries.is_empty() {
        prompt::note("Nothing is scheduled. `max schedule linear --every 15m` syncs linear every 15 minutes.");
        return Ok(());
    }
    let lines: Vec<String> =
        entries.iter().map(|e| format!("{}  {}", e["installation"].as_str().unwrap_or("?"), describe(e))).collect();
    printer.text(&lines.join("\n"))
}
