//! `max connector keygen|sign|verify`, and the signature check of `max connector install
//! --require-signed` (see `max_host::signing`).

use std::path::{Path, PathBuf};

use clap::Args;
use max_host::signing;

use crate::failure::Failure;
use crate::output::Printer;

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the pair: `<OUT>.key` (secret, readable by you only) and `<OUT>.pub` (to publish).
    #[arg(long, value_name = "OUT")]
    out: PathBuf,
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The component file to sign (writes `<file>.sig`), or a connector published to a registry
    /// (`oci://…:tag` or `…@sha256:…`), whose signature is attached there beside any others.
    source: String,
    /// Your secret key (`.key` from `max connector keygen`).
    #[arg(long)]
    key: PathBuf,
    /// Replace an existing signature file made with another key.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    login: super::marketplace::RegistryLogin,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The component.
    file: PathBuf,
    /// A publisher key you trust (`.pub`); repeat for several.
    #[arg(long, required = true)]
    trust: Vec<PathBuf>,
    /// The signature file (default: the component's path with `.sig` added).
    #[arg(long)]
    signature: Option<PathBuf>,
}

/// What `install` takes to demand a signature.
#[derive(Debug, Args)]
pub struct RequireSigned {
    /// Refuse the component unless a key given with --trust signed it.
    #[arg(long, requires = "trust")]
    require_signed: bool,
    /// A publisher key you trust (`.pub`); repeat for several.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// The signature file (default: the component's path with `.sig` added).
    #[arg(long)]
    signature: Option<PathBuf>,
}

/// Writes a new key pair.
pub fn keygen(args: KeygenArgs, printer: &Printer) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (secret, public) = signing::generate()?;
    let with = |ext: &str| {
        let mut name = args.out.as_os_str().to_os_string();
        name.push(ext);
        PathBuf::from(name)
    };
    let (secret_path, public_path) = (with(".key"), with(".pub"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret_path)
        .map_err(|e| anyhow::anyhow!("{}: {e} (an existing key is never overwritten)", secret_path.display()))?;
    file.write_all(secret.as_bytes())?;
    std::fs::write(&public_path, public.as_bytes())?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({ "secret_key": secret_path, "public_key": public_path }));
    }
    printer.text(&format!(
        "Wrote {} (secret: keep it private) and {} (publish it)",
        secret_path.display(),
        public_path.display()
    ))
}

/// Signs a component, writing `<file>.sig`, or a published connector in its registry.
pub async fn sign(args: SignArgs, printer: &Printer) -> anyhow::Result<()> {
    if max_host::registry::OciReference::is_reference(&args.source) {
        return super::marketplace::sign_reference(&args.source, &args.key, &args.login, printer).await;
    }
    let file = PathBuf::from(&args.source);
    let component = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let key = std::fs::read_to_string(&args.key).map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let signature = signing::sign(&component, &key, &args.key)?;
    let path = signing::signature_path(&file);
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !args.force
    {
        let ours = signing::public_key_of(&key, &args.key)?;
        if signing::signer_of(&existing).is_none_or(|signer| signer != ours) {
            return Err(Failure::new(
                "signature_exists",
                format!("{} holds a signature by another key (or something else)", path.display()),
                "nothing was changed: pass --force to replace it",
            )
            .into());
        }
    }
    std::fs::write(&path, signature)?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({ "signature": path }));
    }
    printer.text(&format!("Signed {}: {}", file.display(), path.display()))
}

/// Checks a component's signature against trusted keys.
pub fn verify(args: VerifyArgs, printer: &Printer) -> anyhow::Result<()> {
    let signer = check(&args.file, args.signature.as_deref(), &args.trust)?;
    if printer.is_json() {
        return printer.json(&serde_json::json!({ "file": args.file, "signer": signer }));
    }
    printer.text(&format!("{}: signed by {signer}, a key you trust", args.file.display()))
}

impl RequireSigned {
    /// Refuses the file-signature flags for a registry artifact, whose signature is checked against
    /// the project's trust policy instead.
    pub fn refuse_for_registry(&self) -> anyhow::Result<()> {
        if self.require_signed || !self.trust.is_empty() || self.signature.is_some() {
            return Err(crate::failure::Failure::new(
                "usage",
                "--require-signed, --trust and --signature are for component files",
                "a registry artifact is always checked against the keys of `max trust list`: add one with `max trust add publisher.pub`",
            )
            .into());
        }
        Ok(())
    }

    /// When a signature is required, checks it; returns the signer.
    pub fn check(&self, file: &Path) -> anyhow::Result<Option<String>> {
        if !self.require_signed {
            return Ok(None);
        }
        Ok(Some(check(file, self.signature.as_deref(), &self.trust)?))
    }
}

fn check(file: &Path, signature: Option<&Path>, trust: &[PathBuf]) -> anyhow::Result<String> {
    let trusted = trust.iter().map(|p| signing::read_public_key(p)).collect::<Result<Vec<_>, _>>()?;
    let component = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let signature_path = signature.map_or_else(|| signing::signature_path(file), Path::to_path_buf);
    let text = match std::fs::read_to_string(&signature_path) {
        Ok(text) => text,
        Err(_) => {
            return Err(max_host::Error::BadSignature {
                path: signature_path,
                reason: "there is none: the component is not signed".to_string(),
            }
            .into());
        }
    };
    Ok(signing::verify(&component, &text, &signature_path, &trusted)?)
}
