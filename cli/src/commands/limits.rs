//! `max limits`: the limits an installation's connector runs under, and changing them.

use std::collections::BTreeMap;

use clap::Args;
use max_host::limits::{self, INSTALL_SETTINGS, InstallLimits, InstallationLimits, SETTINGS, Setting};
use max_host::project::InstalledConnector;

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::output::Printer;

/// Show or change the limits an installation's connector runs under
///
/// Every connector runs in a sandbox with limits: memory, CPU and wall-clock time per call, stack
/// depth, WebAssembly instances and tables, the size of results (as held in memory), of ids, values,
/// JSON nesting and cursors, log volume, HTTP (request time, body and header sizes, requests in flight,
/// redirects), and per sync the waits it may ask for and the pages of a collection or change feed. The
/// defaults are safe for any connector; a connector may ask for more memory or time when it is
/// installed. Install limits (entity types, fields, loaders, the size of the description) are checked
/// when a connector is installed and raised with `max connector install --limit KEY=VALUE`.
///
/// Give one installation other limits with `--set KEY=VALUE` (values are whole numbers in the unit the
/// key names) and go back to the default with `--reset KEY`. They apply from the next sync. Without an
/// installation, lists every limit with its default and range.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  max limits                        every limit, its default and range\n  max limits linear                 what linear/default runs under\n  max limits linear/work --set memory-mib=128 --set concurrent-requests=2\n  max limits linear --reset memory-mib"
)]
pub struct LimitsCommand {
    /// The installation: `connector` (its only or default installation) or `connector/name`.
    target: Option<String>,
    /// Set a limit for this installation (repeatable): `--set memory-mib=128`.
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "target")]
    set: Vec<String>,
    /// Go back to the default for a limit (repeatable): `--reset memory-mib`.
    #[arg(long = "reset", value_name = "KEY", requires = "target")]
    reset: Vec<String>,
}

/// Where a limit's value comes from: set for the installation, asked for by the connector, or the default.
fn source(setting: &Setting, set: &BTreeMap<String, u64>, granted: &InstallationLimits) -> &'static str {
    if set.contains_key(setting.key) {
        "set"
    } else if setting.value(granted) != setting.value(&InstallationLimits::default()) {
        "connector"
    } else {
        "default"
    }
}

fn range<L>(setting: &Setting<L>) -> String {
    format!("{}–{}", setting.min, setting.max)
}

impl LimitsCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let Some(target) = &self.target else { return list(printer) };
        let host = host(global)?;
        let mut installation = host.installation(target)?;
        let connector = host.connector_of(&installation)?;
        let mut changes = Vec::new();
        for assignment in &self.set {
            let (setting, value) = limits::parse_assignment(assignment)?;
            changes.push(format!("{}={value}", setting.key));
            installation.file.sandbox.limits.insert(setting.key.to_string(), value);
        }
        for key in &self.reset {
            let setting = limits::setting(key)?;
            installation.file.sandbox.limits.remove(setting.key);
            changes.push(format!("{} back to its default", setting.key));
        }
        if !changes.is_empty() {
            installation.save()?;
        }
        let label = installation.label();
        show(printer, &label, &connector, &installation.file.sandbox, &changes)
    }
}

/// Every limit with its default and range: an installation's, then those checked at install.
fn list(printer: &Printer) -> anyhow::Result<()> {
    fn items<L>(table: &[Setting<L>], defaults: &L) -> Vec<serde_json::Value> {
        table
            .iter()
            .map(|s| {
                serde_json::json!({
                    "key": s.key, "default": s.value(defaults), "min": s.min, "max": s.max, "about": s.about,
                })
            })
            .collect()
    }
    fn rows<L>(table: &[Setting<L>], defaults: &L) -> Vec<Vec<String>> {
        table
            .iter()
            .map(|s| vec![s.key.to_string(), s.value(defaults).to_string(), range(s), s.about.to_string()])
            .collect()
    }
    let (defaults, install_defaults) = (InstallationLimits::default(), InstallLimits::default());
    if printer.is_json() {
        return printer.json(&serde_json::json!({
            "limits": items(SETTINGS, &defaults), "install_limits": items(INSTALL_SETTINGS, &install_defaults),
        }));
    }
    let headers = ["LIMIT", "DEFAULT", "RANGE", "WHAT IT BOUNDS"];
    printer.text(&format!(
        "{}\n\n{}\n\n{}\n{}\n\n{}",
        printer.table(&headers, &rows(SETTINGS, &defaults)),
        printer.dim("Set one for an installation: max limits <connector/name> --set KEY=VALUE"),
        printer.bold("Checked when a connector is installed"),
        printer.table(&headers, &rows(INSTALL_SETTINGS, &install_defaults)),
        printer.dim("Raise one for an install: max connector install <file.wasm> --limit KEY=VALUE")
    ))
}

/// What `label` runs under, after `changes`.
fn show(
    printer: &Printer,
    label: &str,
    connector: &InstalledConnector,
    sandbox: &max_host::project::SandboxSettings,
    changes: &[String],
) -> anyhow::Result<()> {
    let granted = limits::granted(connector);
    let effective = limits::effective(connector, &sandbox.limits)?;
    if printer.is_json() {
        let items: Vec<_> = SETTINGS
            .iter()
            .map(|s| {
                serde_json::json!({
                    "key": s.key,
                    "value": s.value(&effective),
                    "default": s.value(&granted),
                    "source": source(s, &sandbox.limits, &granted),
                    "min": s.min,
                    "max": s.max,
                    "about": s.about,
                })
            })
            .collect();
        return printer.json(&serde_json::json!({
            "installation": label, "changed": changes, "hosts": sandbox.hosts, "limits": items,
        }));
    }
    let mut out = Vec::new();
    if !changes.is_empty() {
        out.push(format!("Changed {label}: {} (applies from the next sync)", changes.join(", ")));
        out.push(String::new());
    }
    let rows: Vec<Vec<String>> = SETTINGS
        .iter()
        .map(|s| {
            let value = s.value(&effective).to_string();
            let value = if sandbox.limits.contains_key(s.key) { printer.bold(&value) } else { value };
            vec![
                s.key.to_string(),
                value,
                s.value(&granted).to_string(),
                source(s, &sandbox.limits, &granted).to_string(),
                range(s),
            ]
        })
        .collect();
    out.push(printer.table(&["LIMIT", "VALUE", "DEFAULT", "FROM", "RANGE"], &rows));
    if let Some(hosts) = &sandbox.hosts {
        out.push(String::new());
        out.push(format!("Hosts: only {} (and the configured base URL)", hosts.join(", ")));
    }
    printer.text(&out.join("\n"))
}
