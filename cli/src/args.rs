//! The command line: global options and one subcommand per verb.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::completions::CompletionsCommand;
use crate::commands::connect::{ConnectCommand, DisconnectCommand};
use crate::commands::connector::ConnectorCommand;
use crate::commands::daemon::DaemonCommand;
use crate::commands::init::InitCommand;
use crate::commands::inventory::{LsCommand, SchemaCommand, StatusCommand};
use crate::commands::limits::LimitsCommand;
use crate::commands::marketplace::TrustCommand;
use crate::commands::mcp::McpCommand;
use crate::commands::schedule::ScheduleCommand;
use crate::commands::search::SearchCommand;
use crate::commands::sql::SqlCommand;
use crate::commands::storage::StorageCommand;
use crate::commands::sync::SyncCommand;
use crate::commands::worker::WorkerCommand;

/// Sync SaaS data into local SQLite through sandboxed WebAssembly connectors.
///
/// Start with `max init`, add a connector with `max connector install <file.wasm>`, connect an account
/// with `max connect <connector>`, then `max sync <connector>` and `max search <connector> <Entity>`.
#[derive(Debug, Parser)]
#[command(name = "max", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Exit status: 0 success · 1 failure · 2 usage error · 3 finished, but part of the work \
                        failed (tasks of a sync, some of several installations) · 130 stopped by Ctrl-C")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The heading the options every command takes are listed under, after the command's own.
const GLOBAL: &str = "Global options";

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Output format (ndjson and csv: `max search` and `max sql` only).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    #[arg(help_heading = GLOBAL, hide_possible_values = true, hide_default_value = true, value_name = "text|json|ndjson|csv")]
    pub output: OutputFormat,
    /// Shorthand for `-o json`.
    #[arg(long, global = true, conflicts_with = "output", help_heading = GLOBAL)]
    pub json: bool,
    /// Use the project in DIR, not the nearest one upward.
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR", value_parser = existing_dir)]
    #[arg(help_heading = GLOBAL)]
    pub project: Option<PathBuf>,
    /// Log more to stderr (-v info, -vv debug; `MAX_LOG` takes a filter).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub verbose: u8,
    /// Results and errors only: no progress, notes or next steps.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Do the work in this process even when the project's daemon runs (always so when `CI` is set).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_daemon: bool,
}

impl GlobalArgs {
    /// The output format asked for, `--json` included.
    pub fn output_format(&self) -> OutputFormat {
        if self.json { OutputFormat::Json } else { self.output }
    }
}

/// `-C DIR`: a directory that exists.
fn existing_dir(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Ok(path),
        Ok(_) => Err(format!("{text} is not a directory")),
        Err(_) => Err(format!("the directory {text} does not exist")),
    }
}

/// A list option's value: not empty.
pub fn non_empty(text: &str) -> Result<String, String> {
    if text.split(',').all(|part| part.trim().is_empty()) {
        return Err("it is empty: name at least one".to_string());
    }
    Ok(text.to_string())
}

impl Cli {
    /// Whether this is the daemon itself (`max daemon run`), which logs to its own file.
    pub fn runs_the_daemon(&self) -> bool {
        matches!(self.command, Command::Daemon(crate::commands::daemon::DaemonCommand::Run(_)))
    }

    /// Refuses what clap can't see: a format only `max search` and `max sql` write, asked of another command. Exits
    /// with a usage error (2), as clap does.
    pub fn check(&self) {
        use clap::CommandFactory;
        let tabular = matches!(self.global.output_format(), OutputFormat::Ndjson | OutputFormat::Csv);
        if tabular && !matches!(self.command, Command::Search(_) | Command::Sql(_)) {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "`-o ndjson` and `-o csv` are written by `max search` and `max sql` only; use `-o json`",
                )
                .exit();
        }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line (search results).
    Ndjson,
    /// Comma-separated values with a header row (search results).
    Csv,
}

/// The commands; each one's help is the doc comment of its struct in `commands/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(InitCommand),
    #[command(subcommand)]
    Connector(ConnectorCommand),
    Connect(ConnectCommand),
    Disconnect(DisconnectCommand),
    Sync(SyncCommand),
    Search(SearchCommand),
    Sql(SqlCommand),
    Schema(SchemaCommand),
    Ls(LsCommand),
    Status(StatusCommand),
    Limits(LimitsCommand),
    Schedule(ScheduleCommand),
    Mcp(McpCommand),
    Storage(StorageCommand),
    Worker(WorkerCommand),
    #[command(subcommand)]
    Daemon(DaemonCommand),
    #[command(subcommand)]
    Trust(TrustCommand),
    Completions(CompletionsCommand),
}

/// `90s`, `15m`, `1h`, `2d` or `0`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
