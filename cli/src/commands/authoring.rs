//! The connector authors' commands: `max connector build` (see `max_host::authoring`).

use std::path::PathBuf;

use clap::Args;
use max_host::authoring;

use crate::output::Printer;

/// Arguments of `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project's folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where to write the component (default: `<dir>/<dir's name>.wasm`).
    #[arg(long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Builds a project into a component.
pub fn build(args: BuildArgs, printer: &Printer) -> anyhow::Result<()> {
    let built = authoring::build(&args.dir, args.out.as_deref())?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({
            "language": built.language.name(),
            "component": built.component,
            "bytes": built.bytes,
            "seconds": built.elapsed.as_secs_f64(),
        }));
    }
    printer.text(&format!(
        "Built {} ({}, {:.1} MiB) in {:.1} s\nNext: max connector test {} --replay <cassette> · max connector install {}",
        built.component.display(),
        built.language,
        built.bytes as f64 / (1024.0 * 1024.0),
        built.elapsed.as_secs_f64(),
        built.component.display(),
        built.component.display(),
    ))
}
