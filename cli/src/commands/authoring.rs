//! The connector authors' commands: `max connector build` and `max connector test` (see
//! `max_host::authoring`).

use std::path::PathBuf;

use clap::Args;
use max_host::authoring::{self, KitMode, KitOptions, KitReport, Verdict};

use crate::failure::Failure;
use crate::output::{Printer, printable};

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The connector's name: lowercase letters, digits and `-` (`my-api`).
    name: String,
    /// Its language.
    #[arg(long = "lang", value_name = "LANG", value_parser = ["rust", "python", "js"])]
    language: String,
    /// The project's folder (default: `./NAME`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Writes a new connector project.
pub fn new(args: NewArgs, printer: &Printer) -> anyhow::Result<()> {
    let language: authoring::Language =
        args.language.parse().map_err(|e: String| Failure::new("usage", e, "--lang rust, python or js"))?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let made = authoring::new(&args.name, language, &dir)?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({
            "dir": made.dir,
            "language": made.language.name(),
            "files": made.files,
        }));
    }
    let dir = made.dir.display();
    let setup = match made.language {
        authoring::Language::JavaScript => "  npm install            # componentize-js, for the build\n".to_string(),
        authoring::Language::Python => {
            format!("  pip install componentize-py=={}   # for the build, once\n", authoring::COMPONENTIZE_PY)
        }
        authoring::Language::Rust => "  rustup target add wasm32-wasip2   # for the build, once\n".to_string(),
    };
    printer.text(&format!(
        "Created {dir} ({} connector `{}`, {} files)\nNext:\n  cd {dir}\n{setup}  {:<22} # its unit tests\n  max connector build    # → {}.wasm\n  max connector test {}.wasm --replay cassettes",
        made.language,
        args.name,
        made.files.len(),
        made.test_command,
        args.name,
        args.name,
    ))
}

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
    // A project made by `max connector new` carries its cassette.
    let cassettes = built.component.parent().map(|dir| dir.join("cassettes")).filter(|dir| dir.is_dir());
    let replay = match &cassettes {
        Some(dir) => dir.display().to_string(),
        None => "DIR (recorded with --record DIR)".to_string(),
    };
    printer.text(&format!(
        "Built {} ({}, {:.1} MiB) in {:.1} s\nNext: max connector test {} --replay {replay}\n      max connector install {}",
        built.component.display(),
        built.language,
        built.bytes as f64 / (1024.0 * 1024.0),
        built.elapsed.as_secs_f64(),
        built.component.display(),
        built.component.display(),
    ))
}

/// Arguments of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The component to test.
    file: PathBuf,
    /// Sync against the real API once and record every exchange into DIR/cassette.json (secrets
    /// are never recorded; responses are recorded with them redacted).
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Sync twice from the cassette in DIR with no network, and check the tables.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// An onboarding answer, `KEY=VALUE` (repeatable): the config and secrets to record with, or
    /// config values that override the recorded ones on replay.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    settings: Vec<(String, String)>,
    /// Also write the JSON report to FILE (for CI).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// `KEY=VALUE` as a pair (a usage error otherwise).
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Tests a component: lint, and record or replay.
pub async fn test(args: TestArgs, printer: &Printer) -> anyhow::Result<()> {
    let mode = match (args.record, args.replay) {
        (Some(dir), _) => KitMode::Record(dir),
        (None, Some(dir)) => KitMode::Replay(dir),
        (None, None) => KitMode::Lint,
    };
    let options = KitOptions {
        component: args.file,
        mode,
        settings: args.settings,
        cache_dir: Some(max_host::project::cache_dir()),
    };
    let report = authoring::test(&options).await?;
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("could not write the report {}: {e}", path.display()))?;
    }
    if printer.is_json() {
        printer.json(&report)?;
    } else {
        printer.text(&render(&report, printer))?;
    }
    if report.passed {
        return Ok(());
    }
    let failed = report.checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    Err(Failure::new(
        "test_failed",
        format!("{failed} of {} checks failed", report.checks.len()),
        "fix what the failed checks say, then test again",
    )
    .into())
}

/// The report as a checklist.
fn render(report: &KitReport, printer: &Printer) -> String {
    let mut out = format!(
        "Testing {} ({}, {})\n",
        report.component.display(),
        report.connector.as_deref().map(printable).unwrap_or_else(|| "not loaded".into()),
        report.mode
    );
    for check in &report.checks {
        let mark = match check.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        out.push_str(&format!("  {} {:<17} {}\n", printer.bold(mark), check.name, printable(&check.detail)));
    }
    if !report.tables.is_empty() {
        let rows: Vec<String> = report.tables.iter().map(|(t, d)| format!("{t} {}", d.rows)).collect();
        out.push_str(&format!("  rows: {} · {} requests\n", rows.join(", "), report.requests));
    }
    out.push_str(if report.passed { "Passed" } else { "Failed" });
    out
}
