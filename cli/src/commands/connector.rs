//! `max connector install|list|inspect|remove` (the signing commands are in `signatures.rs`, the
//! authors' commands in `authoring.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{authoring, marketplace, signatures};
use crate::args::GlobalArgs;
use crate::commands::host;
use crate::output::{Printer, printable};
use crate::prompt;
use crate::render;

/// Manage the project's connectors.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Install a connector from a WebAssembly component (.wasm), after showing what it asks for.
    ///
    /// The file is checked (a component built against a supported max:connector version, with a
    /// consistent description within the install limits), its sha256 recorded, and a copy kept under
    /// `.max/connectors/`. `max limits` lists the install limits; `--limit` raises one for this install.
    #[command(
        after_help = "Examples:\n  max connector install ./linear.wasm\n  max connector install ./linear.wasm --yes --require-signed --trust publisher.pub\n  max connector install oci://ghcr.io/acme/linear:0.3.0      (signed by a key of `max trust list`)\n  max connector install                                     (what .max/connectors.lock records)\n  max connector install ./big.wasm --limit entities=2000"
    )]
    Install(InstallArgs),
    /// Publish a component to an OCI registry (GHCR, Docker Hub, Harbor, `registry`), signed with your key.
    ///
    /// It is pushed as a Wasm OCI artifact (config `application/vnd.wasm.config.v0+json`, one
    /// `application/wasm` layer) with annotations naming it, its version, contract and permissions;
    /// `--key` attaches your signature the way cosign does (tag `sha256-<digest>.sig`). Registry
    /// credentials: your Docker credentials (`docker login`), or --username with --password-stdin.
    #[command(
        after_help = "Examples:\n  max connector publish ./linear.wasm oci://ghcr.io/acme/linear:0.3.0 --key acme.key\n  echo $TOKEN | max connector publish ./linear.wasm oci://registry.example.com/max/linear:0.3.0 --key acme.key --username ci --password-stdin"
    )]
    Publish(marketplace::PublishArgs),
    /// Upgrade a connector installed from a registry to the newest version there.
    ///
    /// The newest version tag of its repository is fetched and checked as an install checks it,
    /// what it asks for beyond the installed version is shown, and it replaces the installed one only
    /// once it has loaded (and you said yes).
    #[command(after_help = "Examples:\n  max connector upgrade linear\n  max connector upgrade linear --yes")]
    Upgrade(marketplace::UpgradeArgs),
    /// List the connectors in an OCI registry (its catalog, and each one's newest version).
    #[command(
        after_help = "Examples:\n  max connector search --registry registry.example.com\n  max connector search crm --registry registry.example.com/acme"
    )]
    Search(marketplace::SearchArgs),
    /// List the installed connectors.
    #[command(after_help = "Examples:\n  max connector list\n  max connector list -o json")]
    List,
    /// Show a connector: entities and fields, loaders, onboarding and permissions.
    ///
    /// Names an installed connector, or a component file (`./linear.wasm`) to look at before installing
    /// it: the file is checked as an install would check it, and nothing is written.
    #[command(after_help = "Examples:\n  max connector inspect linear\n  max connector inspect ./linear.wasm")]
    Inspect(InspectArgs),
    /// Uninstall a connector (refused while it has installations).
    #[command(after_help = "Examples:\n  max connector remove linear")]
    Remove(NameArgs),
    /// Make a publisher key pair for signing components (ed25519).
    #[command(after_help = "Examples:\n  max connector keygen --out publisher")]
    Keygen(signatures::KeygenArgs),
    /// Sign a component with your secret key: a file (writing `<file>.sig` beside it), or a connector
    /// published to a registry (its signature attached there, beside those of other keys).
    #[command(
        after_help = "Examples:\n  max connector sign ./linear.wasm --key publisher.key\n  max connector sign oci://ghcr.io/acme/linear:0.3.0 --key reviewer.key"
    )]
    Sign(signatures::SignArgs),
    /// Check a component's signature against publisher keys you trust.
    #[command(after_help = "Examples:\n  max connector verify ./linear.wasm --trust publisher.pub")]
    Verify(signatures::VerifyArgs),
    /// Start a connector project in Rust, Python or JavaScript that builds, tests and replays as it is.
    ///
    /// It syncs an example API's items: a connector, a unit test on a fake HTTP host, a README, the
    /// SDK of its language, and a cassette of the example API's answers for `max connector test
    /// --replay`.
    #[command(
        after_help = "Examples:\n  max connector new notes --lang python\n  max connector new notes --lang js --dir connectors/notes\n  max connector new notes --lang rust"
    )]
    New(authoring::NewArgs),
    /// Build a connector project (Rust, Python or JavaScript) into a component.
    ///
    /// The language follows from the project: a `Cargo.toml` is Rust (cargo, for wasm32-wasip2), an
    /// `app.py` Python (componentize-py), an `app.js` JavaScript (componentize-js, without wasi:http, so
    /// every request goes through Max). The contract and the Python SDK come with Max.
    #[command(
        after_help = "Examples:\n  max connector build\n  max connector build ./notes --out notes.wasm\n\nTools: MAX_COMPONENTIZE_PY and MAX_COMPONENTIZE_JS name componentize-py and componentize-js when\nthey are not in the project's .venv/ or node_modules/, or on PATH."
    )]
    Build(authoring::BuildArgs),
    /// Test a component before publishing it: lint, then record a sync against the API or replay one.
    ///
    /// Always: the component loads, `describe` is valid as an install checks it, every collection has a
    /// loader. With `--record DIR`: syncs against the real API with the `--set` answers and records every
    /// HTTP exchange (secrets never written). With `--replay DIR`: syncs twice from the recording with
    /// no network and checks the sync completes, both replays store identical tables, references
    /// resolve, no undeclared host was asked for; declared hosts never asked for are reported. Exits 1
    /// when a check fails; `-o json` or `--report FILE` give the report for CI.
    #[command(
        after_help = "Examples:\n  max connector test ./notes.wasm\n  max connector test ./notes.wasm --record cassettes/ --set base_url=https://api.notes.example --set api_key=…\n  max connector test ./notes.wasm --replay cassettes/ --report test-report.json"
    )]
    Test(authoring::TestArgs),
}

/// Arguments of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A component file (`./linear.wasm`), or a registry reference (`oci://ghcr.io/acme/linear:0.3.0`,
    /// `oci://…@sha256:…`); none: every connector the lock file (`.max/connectors.lock`) records,
    /// exactly as recorded.
    source: Option<String>,
    /// Install without asking for confirmation (for scripts).
    #[arg(short, long)]
    yes: bool,
    /// Check the description against another install limit (repeatable): `--limit entities=5000`.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    limits: Vec<String>,
    #[command(flatten)]
    signed: signatures::RequireSigned,
    #[command(flatten)]
    registry: marketplace::RegistryInstall,
}

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// An installed connector's name, or the path of a component file (`./linear.wasm`).
    target: String,
    /// Check a file against another install limit (repeatable): `--limit entities=5000`.
    #[arg(long = "limit", value_name = "KEY=VALUE")]
    limits: Vec<String>,
}

/// A connector name.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The connector's name (see `max connector list`).
    name: String,
}

impl ConnectorCommand {
    /// Runs it.
    pub async fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        match self {
            ConnectorCommand::Install(args) => install(args, global, printer).await,
            ConnectorCommand::Publish(args) => marketplace::publish(args, printer).await,
            ConnectorCommand::Upgrade(args) => marketplace::upgrade(args, global, printer).await,
            ConnectorCommand::Search(args) => marketplace::search(args, printer).await,
            ConnectorCommand::List => list(global, printer),
            ConnectorCommand::Inspect(args) => inspect(args, global, printer).await,
            ConnectorCommand::Remove(args) => remove(args, global, printer),
            ConnectorCommand::Keygen(args) => signatures::keygen(args, printer),
            ConnectorCommand::Sign(args) => signatures::sign(args, printer).await,
            ConnectorCommand::Verify(args) => signatures::verify(args, printer),
            ConnectorCommand::New(args) => authoring::new(args, printer),
            ConnectorCommand::Build(args) => authoring::build(args, printer),
            ConnectorCommand::Test(args) => authoring::test(args, printer).await,
        }
    }
}

async fn install(args: InstallArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
    let limits = max_host::limits::install_limits(&args.limits)?;
    let file = match &args.source {
        None => return marketplace::install_locked(&args.registry, limits, args.yes, global, printer).await,
        Some(source) if max_host::registry::OciReference::is_reference(source) => {
            args.signed.refuse_for_registry()?;
            return marketplace::install_reference(source, &args.registry, limits, args.yes, global, printer).await;
        }
        Some(file) => PathBuf::from(file),
    };
    let host = host(global)?;
    let signer = args.signed.check(&file)?;
    let pending = host.prepare_install(&file, &limits).await?;
    if (!printer.is_json() && !prompt::quiet()) || !args.yes {
        let provenance: Vec<String> = signer.iter().map(|s| format!("Signed by {s}, a key you trust.")).collect();
        show_pending(&pending, &provenance, printer);
    }
    if !args.yes {
        crate::commands::confirm(
            &format!("Install {} {} with these permissions?", pending.connector.name, pending.connector.version),
            "not installing",
        )?;
    }
    let installed = host.install_pending(pending)?;
    if printer.is_json() {
        return printer.json(&installed);
    }
    printer.text(&format!(
        "Installed {} {} into {}",
        installed.name,
        installed.version,
        host.project().connectors_dir().display()
    ))?;
    prompt::note(&printer.on_stderr().dim(&format!("Next: max connector inspect {}", installed.name)));
    Ok(())
}

/// Shows what installing `pending` does: the connector and what it asks for, where it comes from
/// (`provenance`), and what it asks for beyond the version it replaces.
pub(super) fn show_pending(pending: &max_host::project::PendingInstall, provenance: &[String], printer: &Printer) {
    prompt::say(&render::summary(&printer.on_stderr(), &pending.connector));
    for line in provenance {
        prompt::say(&format!("  {line}"));
    }
    if let Some(previous) = &pending.previous {
        prompt::say(&format!("\n  Replaces the installed {} {}.", previous.name, previous.version));
        let added = pending.added_permissions();
        if !added.is_empty() {
            prompt::say("  It asks for more than the installed version was granted:");
            for line in &added {
                prompt::say(&format!("    + {line}"));
            }
        }
    }
}

fn list(global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
    let store = host(global)?.project().connectors();
    let connectors = store.list()?;
    let damaged = store.damaged()?;
    for entry in &damaged {
        prompt::warn(&format!(
            "the installed connector `{}` is damaged ({}); remove it with `max connector remove {}`",
            printable(&entry.name),
            printable(&entry.reason),
            printable(&entry.name)
        ));
    }
    if printer.is_json() {
        let rows: Vec<_> = connectors
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name, "version": c.version, "description": c.description, "contract": c.contract,
                    "sha256": c.sha256, "installed_at": c.installed_at,
                    "entities": c.info.schema.entities.iter().map(|e| &e.name).collect::<Vec<_>>(),
                })
            })
            .collect();
        return printer.json(&rows);
    }
    if connectors.is_empty() && damaged.is_empty() {
        return printer.text("No connectors installed. Add one with `max connector install <file.wasm>`.");
    }
    let rows: Vec<Vec<String>> = connectors
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.version.clone(),
                c.info.schema.entities.len().to_string(),
                c.installed_at.format("%Y-%m-%d %H:%M").to_string(),
                c.description.clone(),
            ]
        })
        .collect();
    printer.text(&printer.table(&["NAME", "VERSION", "ENTITIES", "INSTALLED", "DESCRIPTION"], &rows))
}

async fn inspect(args: InspectArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
    let path = std::path::Path::new(&args.target);
    let is_file = args.target.contains('/') || args.target.ends_with(".wasm") || path.is_file();
    let connector = if is_file {
        let limits = max_host::limits::install_limits(&args.limits)?;
        max_host::inspect_component(path, &limits).await?
    } else {
        host(global)?.project().connectors().get(&args.target)?
    };
    if printer.is_json() {
        return printer.json(&connector);
    }
    printer.text(&render::details(printer, &connector))
}

fn remove(args: NameArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
    let removed = host(global)?.remove_connector(&args.name)?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({
            "removed": removed.name, "version": removed.version, "damaged": removed.damaged,
        }));
    }
    let version = removed.version.as_deref().map(|v| format!(" {}", printable(v))).unwrap_or_default();
    let damaged = if removed.damaged { " (its record was damaged)" } else { "" };
    printer.text(&format!("Removed {}{version}{damaged}", removed.name))
}
