//! Connectors through OCI registries: `max connector publish`, `max connector install oci://…` (and
//! with no argument, from the lock file), and `max trust`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use max_host::registry::Credentials;
use max_host::{FetchOptions, FetchedConnector, Host};

use super::host;
use crate::args::GlobalArgs;
use crate::output::{Printer, printable};
use crate::prompt;

/// How to reach a registry.
#[derive(Debug, Args)]
pub struct RegistryLogin {
    /// The registry user name (with --password-stdin); by default your Docker credentials (`docker
    /// login`) for the registry are used, else none.
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the registry password or token from standard input (never stored by Max).
    #[arg(long, requires = "username")]
    password_stdin: bool,
}

impl RegistryLogin {
    fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(username) = &self.username else { return Ok(None) };
        let mut password = String::new();
        std::io::stdin().read_line(&mut password)?;
        Ok(Some(Credentials {
            username: username.clone(),
            password: password.trim_end_matches(['\r', '\n']).to_string(),
        }))
    }
}

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The component file.
    file: PathBuf,
    /// Where to publish it: `oci://REGISTRY/NAMESPACE/NAME:TAG`.
    reference: String,
    /// Sign it with this secret key (`max connector keygen`); users who trust the key can install it.
    #[arg(long)]
    key: Option<PathBuf>,
    #[command(flatten)]
    login: RegistryLogin,
}

/// Publishes a component.
pub async fn publish(args: PublishArgs, printer: &Printer) -> anyhow::Result<()> {
    let credentials = args.login.credentials()?;
    let published = max_host::publish_component(&args.file, &args.reference, args.key.as_deref(), credentials).await?;
    if printer.is_json() {
        return printer.json(&published);
    }
    let name = published.annotations.name.as_deref().unwrap_or("?");
    let version = published.annotations.version.as_deref().unwrap_or("?");
    printer.text(&format!("Published {name} {version} to {}", published.reference))?;
    match &published.signer {
        Some(_) => say_signed(&published, printer)?,
        None => prompt::warn(&format!(
            "not signed: users must pass --allow-unsigned to install it (sign it: max connector sign {} --key KEY)",
            published.reference
        )),
    }
    prompt::note(&printer.on_stderr().dim(&format!("Next: max connector install {}", args.reference)));
    Ok(())
}

/// Signs a connector already in a registry (`max connector sign oci://… --key KEY`).
pub async fn sign_reference(
    reference: &str,
    key: &Path,
    login: &RegistryLogin,
    printer: &Printer,
) -> anyhow::Result<()> {
    let signed = max_host::sign_published(reference, key, login.credentials()?).await?;
    if printer.is_json() {
        return printer.json(&signed);
    }
    say_signed(&signed, printer)
}

fn say_signed(published: &max_host::Published, printer: &Printer) -> anyhow::Result<()> {
    printer.text(&format!(
        "Signed {} by {} (tag {})",
        published.reference,
        published.signer.as_deref().unwrap_or_default(),
        published.signature_tag.as_deref().unwrap_or_default()
    ))
}

/// What registry installs take besides the source.
#[derive(Debug, Args)]
pub struct RegistryInstall {
    /// Install a registry artifact that is unsigned, or signed by a key `max trust list` doesn't show.
    #[arg(long)]
    allow_unsigned: bool,
    /// The largest component downloaded, in MiB (default 128): a larger one is refused before or
    /// while it downloads.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_mib: Option<u64>,
    #[command(flatten)]
    login: RegistryLogin,
}

impl RegistryInstall {
    fn options(&self, limits: max_host::limits::InstallLimits) -> anyhow::Result<FetchOptions> {
        Ok(FetchOptions {
            allow_unsigned: self.allow_unsigned,
            credentials: self.login.credentials()?,
            limits,
            max_bytes: self.max_mib.map(|mib| mib << 20),
        })
    }
}

/// Installs the connector at a registry reference, after showing what it asks for.
pub async fn install_reference(
    reference: &str,
    options: &RegistryInstall,
    limits: max_host::limits::InstallLimits,
    yes: bool,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    let host = host(global)?;
    let fetched = host.fetch_connector(reference, &options.options(limits)?).await?;
    confirm_and_install(&host, fetched, yes, printer)
}

/// Arguments of `upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The installed connector (installed from a registry).
    name: String,
    /// Upgrade without asking for confirmation (for scripts).
    #[arg(short, long)]
    yes: bool,
    #[command(flatten)]
    registry: RegistryInstall,
}

/// Upgrades a connector to the newest version its registry has.
pub async fn upgrade(args: UpgradeArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
    let host = host(global)?;
    let options = args.registry.options(max_host::limits::InstallLimits::default())?;
    match host.upgrade_candidate(&args.name, &options).await? {
        Some(fetched) => confirm_and_install(&host, fetched, args.yes, printer),
        None => {
            let installed = host.project().connectors().get(&args.name)?;
            if printer.is_json() {
                return printer.json(
                    &serde_json::json!({ "name": installed.name, "version": installed.version, "upgraded": false }),
                );
            }
            printer.text(&format!("{} {} is the newest version its registry has", installed.name, installed.version))
        }
    }
}

/// Arguments of `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words in a connector's name or description (empty: every connector).
    #[arg(default_value = "")]
    query: String,
    /// The registry (`registry.example.com`, or with a namespace: `registry.example.com/acme`).
    #[arg(long)]
    registry: String,
    #[command(flatten)]
    login: RegistryLogin,
}

/// Lists the connectors in a registry.
pub async fn search(args: SearchArgs, printer: &Printer) -> anyhow::Result<()> {
    let listed = max_host::search_registry(&args.registry, &args.query, args.login.credentials()?).await?;
    if printer.is_json() {
        return printer.json(&listed);
    }
    if listed.is_empty() {
        prompt::note(&format!("No connector in {} matches `{}`.", args.registry, printable(&args.query)));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            let a = &l.annotations;
            vec![
                printable(a.name.as_deref().unwrap_or("?")),
                printable(a.version.as_deref().unwrap_or("?")),
                printable(a.description.as_deref().unwrap_or("")),
                l.reference.clone(),
            ]
        })
        .collect();
    printer.text(printer.table(&["NAME", "VERSION", "DESCRIPTION", "REFERENCE"], &rows).trim_end())
}

/// Installs every connector the lock file records, exactly as recorded.
pub async fn install_locked(
    options: &RegistryInstall,
    limits: max_host::limits::InstallLimits,
    yes: bool,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    let host = host(global)?;
    let locked = host.locked_connectors()?;
    if locked.is_empty() {
        return Err(crate::failure::Failure::new(
            "nothing_locked",
            "the lock file records no connector (.max/connectors.lock)",
            "install one from a registry: max connector install oci://REGISTRY/NAMESPACE/NAME:TAG",
        )
        .into());
    }
    let fetch_options = options.options(limits)?;
    let mut fetched = Vec::new();
    // Every one is fetched and checked before any is installed: a lock that doesn't hold installs nothing.
    for entry in &locked {
        fetched.push(host.fetch_locked(entry, &fetch_options).await?);
    }
    for one in fetched {
        confirm_and_install(&host, one, yes, printer)?;
    }
    Ok(())
}

fn confirm_and_install(host: &Host, fetched: FetchedConnector, yes: bool, printer: &Printer) -> anyhow::Result<()> {
    let pending = &fetched.pending;
    if (!printer.is_json() && !prompt::quiet()) || !yes {
        let signed = match &fetched.fetched.signer {
            Some(signer) => {
                let trust = host.project().trust().keys()?;
                let name = trust.iter().find(|k| &k.key == signer).map_or(signer.as_str(), |k| k.name.as_str());
                format!("Signed by {}, a key you trust.", printable(name))
            }
            None => "Not signed by a key you trust (installed because of --allow-unsigned).".to_string(),
        };
        let provenance = [format!("From {}", fetched.fetched.reference), signed];
        super::connector::show_pending(pending, &provenance, printer);
    }
    if !yes {
        crate::commands::confirm(
            &format!("Install {} {} with these permissions?", pending.connector.name, pending.connector.version),
            "not installing",
        )?;
    }
    let reference = fetched.fetched.reference.to_string();
    let installed = host.install_fetched(fetched)?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({
            "name": installed.name, "version": installed.version, "sha256": installed.sha256, "reference": reference,
        }));
    }
    printer.text(&format!("Installed {} {} from {reference}", installed.name, installed.version))?;
    prompt::note(&printer.on_stderr().dim("Recorded in .max/connectors.lock"));
    Ok(())
}

/// Manage the publisher keys that connectors from a registry must be signed by.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a publisher's public key (`.pub`, from `max connector keygen`).
    #[command(after_help = "Examples:\n  max trust add acme-publisher.pub\n  max trust add key.pub --name acme")]
    Add(TrustAddArgs),
    /// List the trusted publisher keys.
    #[command(after_help = "Examples:\n  max trust list\n  max trust list -o json")]
    List,
    /// Stop trusting a key (by its name or hex).
    #[command(after_help = "Examples:\n  max trust remove acme-publisher")]
    Remove(TrustRemoveArgs),
}

/// Arguments of `trust add`.
#[derive(Debug, Args)]
pub struct TrustAddArgs {
    /// The public key file.
    file: PathBuf,
    /// A name for it (default: the file's name without `.pub`).
    #[arg(long)]
    name: Option<String>,
}

/// Arguments of `trust remove`.
#[derive(Debug, Args)]
pub struct TrustRemoveArgs {
    /// The key's name (or hex).
    name: String,
}

impl TrustCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let trust = host.project().trust();
        match self {
            TrustCommand::Add(args) => {
                let added = trust.add(&args.file, args.name.as_deref())?;
                if printer.is_json() {
                    return printer.json(&added);
                }
                printer.text(&format!("Trusting {} ({})", printable(&added.name), added.key))
            }
            TrustCommand::List => {
                let keys = trust.keys()?;
                if printer.is_json() {
                    return printer.json(&keys);
                }
                if keys.is_empty() {
                    prompt::note("No trusted publisher keys. Add one with `max trust add publisher.pub`.");
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = keys.iter().map(|k| vec![printable(&k.name), k.key.clone()]).collect();
                printer.text(printer.table(&["NAME", "PUBLIC KEY"], &rows).trim_end())
            }
            TrustCommand::Remove(args) => {
                let removed = trust.remove(&args.name)?;
                if printer.is_json() {
                    return printer.json(&removed);
                }
                printer.text(&format!("No longer trusting {} ({})", printable(&removed.name), removed.key))
            }
        }
    }
}
