//! `max`: parses the command line, runs the command, and renders any error once, with a hint and a
//! non-zero exit code.

mod args;
mod commands;
mod daemon;
mod export;
mod failure;
mod hints;
mod layout;
mod mcp;
mod output;
mod progress;
mod prompt;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    cli.check();
    // The daemon logs to its own file (`max daemon run` sets that up).
    if !cli.runs_the_daemon() {
        init_tracing(cli.global.verbose);
    }
    prompt::set_quiet(cli.global.quiet);
    let printer = output::Printer::new(cli.global.output_format());
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(commands::run(cli, &printer)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`max search … | head -1`): what it wanted was written.
        Err(error) if closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            let status = error.downcast_ref::<failure::Failure>().map_or(failure::exit::FAILURE, |f| f.exit_status());
            ExitCode::from(status)
        }
    }
}

/// Whether `error` is a write into a pipe whose reader has gone.
fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(|e| e.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr: warnings by default, more with `-v`/`-vv`, or as `MAX_LOG` says.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,max=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}
