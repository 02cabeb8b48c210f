//! Runs the parsed command. Each command is a struct in `commands/` with a `run` method.

pub mod connect;
pub mod connector;
pub mod init;
pub mod inventory;
pub mod limits;
pub mod search;
pub mod signatures;
pub mod sync;

use std::path::Path;

use max_host::project::Project;
use max_host::runtime::{Runtime, RuntimeConfig};

use crate::args::{Cli, Command, GlobalArgs};
use crate::output::Printer;

/// Runs the command `cli` names.
pub async fn run(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(command) => command.run(&cli.global, printer),
        Command::Connector(command) => command.run(&cli.global, printer).await,
        Command::Connect(command) => command.run(&cli.global, printer).await,
        Command::Sync(command) => command.run(&cli.global, printer).await,
        Command::Search(command) => command.run(&cli.global, printer),
        Command::Schema(command) => command.run(&cli.global, printer),
        Command::Ls(command) => command.run(&cli.global, printer),
        Command::Status(command) => command.run(&cli.global, printer),
        Command::Limits(command) => command.run(&cli.global, printer),
    }
}

/// The project the command works on: `-C DIR`, or the nearest one above the current directory.
pub fn project(global: &GlobalArgs) -> anyhow::Result<Project> {
    let start = match &global.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    Ok(Project::find(Path::new(&start))?)
}

/// The WebAssembly runtime, with the compile cache in Max's home.
pub fn runtime() -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig { cache_dir: Some(max_host::project::cache_dir()) })?)
}

/// Says on stderr which installations can't be read (the others are listed as usual).
pub fn warn_damaged(store: &max_host::project::InstallationStore) {
    for (label, error) in store.damaged() {
        crate::prompt::say(&format!(
            "warning: installation {} is left out: {}",
            crate::output::printable(&label),
            crate::output::printable(&error.to_string())
        ));
    }
}
