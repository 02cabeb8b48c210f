//! Runs the parsed command. Each command is a struct in `commands/` with a `run` method.

pub mod authoring;
pub mod completions;
pub mod connect;
pub mod connector;
pub mod daemon;
pub mod init;
pub mod inventory;
pub mod limits;
pub mod marketplace;
pub mod mcp;
pub mod schedule;
pub mod search;
pub mod signatures;
pub mod sql;
pub mod storage;
pub mod sync;
pub mod worker;

use std::path::Path;

use max_host::Host;

use crate::args::{Cli, Command, GlobalArgs};
use crate::output::Printer;

/// Runs the command `cli` names.
pub async fn run(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(command) => command.run(&cli.global, printer),
        Command::Connector(command) => command.run(&cli.global, printer).await,
        Command::Connect(command) => command.run(&cli.global, printer).await,
        Command::Disconnect(command) => command.run(&cli.global, printer),
        Command::Sync(command) => command.run(&cli.global, printer).await,
        Command::Search(command) => command.run(&cli.global, printer),
        Command::Schema(command) => command.run(&cli.global, printer),
        Command::Sql(command) => command.run(&cli.global, printer),
        Command::Ls(command) => command.run(&cli.global, printer),
        Command::Status(command) => command.run(&cli.global, printer),
        Command::Limits(command) => command.run(&cli.global, printer),
        Command::Schedule(command) => command.run(&cli.global, printer),
        Command::Mcp(command) => command.run(&cli.global).await,
        Command::Storage(command) => command.run(&cli.global, printer),
        Command::Worker(command) => command.run(&cli.global, printer).await,
        Command::Daemon(command) => command.run(&cli.global, printer).await,
        Command::Trust(command) => command.run(&cli.global, printer),
        Command::Completions(command) => command.run(),
    }
}

/// The host of the project the command works on: `-C DIR`, or the nearest project above the current
/// directory.
pub fn host(global: &GlobalArgs) -> anyhow::Result<Host> {
    let start = match &global.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    Ok(Host::open(Path::new(&start))?)
}

/// Says on stderr which installations can't be read (the others are listed as usual).
pub fn warn_damaged(store: &max_host::project::InstallationStore) {
    for (label, error) in store.damaged() {
        warn_left_out(&label, &error.to_string());
    }
}

/// Says on stderr that the installation `label` can't be read, and why.
pub fn warn_left_out(label: &str, why: &str) {
    let (label, why) = (crate::output::printable(label), crate::output::printable(why));
    crate::prompt::warn(&format!("installation {label} is left out: {why}"));
}

/// Asks `question` on the terminal and goes on only on yes; without a terminal, refuses and says to pass
/// `--yes`. `refusal` starts the message (`not installing`).
pub fn confirm(question: &str, refusal: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(crate::failure::Failure::new(
            "confirmation_required",
            format!("{refusal}: confirmation is needed and stdin is not a terminal"),
            "review the above and re-run with --yes to confirm",
        )
        .into());
    }
    let answer = crate::prompt::ask(&format!("\n{question} [y/N] "))?;
    if matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(crate::failure::Failure::new("declined", format!("{refusal}: you declined"), "nothing was changed").into())
    }
}
