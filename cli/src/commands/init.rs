//! `max init`: creates a project.

use std::path::PathBuf;

use clap::Args;
use max_host::project::Project;

use crate::args::GlobalArgs;
use crate::output::Printer;

/// Create a Max project: a `.max/` folder for connectors, installations and their data.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  max init\n  max -C ~/work-data init")]
pub struct InitCommand {
    /// The folder to create the project in (default: `-C DIR`, or the current directory).
    dir: Option<PathBuf>,
}

impl InitCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let dir = match self.dir.or_else(|| global.project.clone()) {
            Some(dir) => dir,
            None => std::env::current_dir()?,
        };
        let root = std::path::absolute(&dir)?;
        let project = Project::init(&root)?;
        if printer.is_json() {
            return printer.json(&serde_json::json!({ "root": project.root(), "max_dir": project.max_dir() }));
        }
        printer.text(&format!("Created a Max project in {}", project.max_dir().display()))?;
        crate::prompt::note(&printer.on_stderr().dim("Next: max connector install <connector.wasm>"));
        Ok(())
    }
}
