//! `max completions`: a shell completion script for `max`, generated from its command line.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script for max.
///
/// Completes commands, options and their values. Load it from your shell's startup file.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    max completions bash > ~/.local/share/bash-completion/completions/max\n  \
    max completions zsh > \"${fpath[1]}/_max\"\n  \
    max completions fish > ~/.config/fish/completions/max.fish")]
pub struct CompletionsCommand {
    /// The shell.
    shell: Shell,
}

impl CompletionsCommand {
    /// Runs it.
    pub fn run(self) -> anyhow::Result<()> {
        let mut command = crate::args::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, "max", &mut script);
        use std::io::Write;
        std::io::stdout().lock().write_all(&script)?;
        Ok(())
    }
}
