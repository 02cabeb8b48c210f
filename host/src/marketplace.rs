//! The front door's marketplace: publishing a component to an OCI registry, and fetching one from a
//! registry to install, checked end to end (the tag resolved to a digest, the manifest's shape, the
//! publisher's signature against the project's trust policy, the component's size and digest) before
//! anything is installed; then the lock file records exactly what was installed.

use std::path::Path;

use crate::front::Host;
use crate::limits::InstallLimits;
use crate::project::{InstalledConnector, LockedConnector, PendingInstall};
use crate::registry::{
    Annotations, Credentials, Fetched, MAX_COMPONENT_BYTES, OciReference, Registry, artifact, signature,
};
use crate::{Error, Result};

/// The largest signature payload read (cosign's are a few hundred bytes).
const MAX_PAYLOAD_BYTES: u64 = 64 << 10;

/// What publishing pushed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// The reference pushed to, pinned to the manifest's digest.
    pub reference: String,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The component's digest.
    pub component_digest: String,
    /// The tag the signature was pushed under, when it was signed.
    pub signature_tag: Option<String>,
    /// The public key that signed it (hex).
    pub signer: Option<String>,
    /// What the artifact's annotations say.
    pub annotations: Annotations,
}

/// Publishes the component at `path` to `reference` (`oci://registry/ns/name:tag`) as a Wasm OCI
/// artifact, signed with the secret key at `key` when given. The component is checked as an install
/// checks it first: a registry only ever holds what Max would install.
pub async fn publish_component(
    path: &Path,
    reference: &str,
    key: Option<&Path>,
    credentials: Option<Credentials>,
) -> Result<Published> {
    let reference = OciReference::parse(reference)?;
    if reference.digest().is_some() {
        return Err(Error::BadReference {
            reference: reference.to_string(),
            reason: "publish to a tag (`:0.3.0`); the digest is the registry's to give".to_string(),
        });
    }
    // The signing key, read before anything is pushed: a missing key fails the publish early.
    let signing = match key {
        Some(key) => Some((key, std::fs::read_to_string(key).map_err(Error::io("read", key))?)),
        None => None,
    };
    let connector = crate::front::inspect_component(path, &InstallLimits::default()).await?;
    let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (layer, config, manifest) = artifact::build(&bytes, &connector, &now)?;
    let annotations = Annotations::read(manifest.annotations.as_ref());
    let component_digest = layer.sha256_digest();
    let registry = Registry::of(&reference, credentials);
    let manifest_digest = registry.push(&reference, layer, config, manifest).await?;
    let (signature_tag, signer) = match signing {
        Some((key, text)) => {
            let (tag, signer) = attach_signature(&registry, &reference, &manifest_digest, key, &text).await?;
            (Some(tag), Some(signer))
        }
        None => (None, None),
    };
    Ok(Published {
        reference: reference.at_digest(&manifest_digest).to_string(),
        manifest_digest,
        component_digest,
        signature_tag,
        signer,
        annotations,
    })
}

/// Signs the connector already published at `reference` with the secret key at `key`: a publisher
/// countersigns what another pushed, or signs what was pushed unsigned. The signatures already
/// attached by other keys stay.
pub async fn sign_published(reference: &str, key: &Path, credentials: Option<Credentials>) -> Result<Published> {
    let reference = OciReference::parse(reference)?;
    let text = std::fs::read_to_string(key).map_err(Error::io("read", key))?;
    let registry = Registry::of(&reference, credentials);
    let (manifest, manifest_digest) = registry.manifest(&reference).await?;
    let (layer, annotations) = artifact::component_layer(&reference, &manifest, u64::MAX)?;
    let (tag, signer) = attach_signature(&registry, &reference, &manifest_digest, key, &text).await?;
    Ok(Published {
        reference: reference.at_digest(&manifest_digest).to_string(),
        manifest_digest,
        component_digest: layer.digest,
        signature_tag: Some(tag),
        signer: Some(signer),
        annotations,
    })
}

/// Signs the manifest `manifest_digest` in `reference`'s repository with the secret key `text` (read
/// from `key`), beside the signatures other keys attached: the tag it is under and the signer.
async fn attach_signature(
    registry: &Registry,
    reference: &OciReference,
    manifest_digest: &str,
    key: &Path,
    text: &str,
) -> Result<(String, String)> {
    let tag = signature::tag_for(manifest_digest);
    let at = reference.at_tag(&tag);
    let existing = match registry.manifest(&at).await {
        Ok((manifest, _)) => Some(manifest),
        Err(Error::ArtifactNotFound { .. }) => None,
        Err(other) => return Err(other),
    };
    let (layer, config, manifest) = signature::build(reference, manifest_digest, text, key, existing.as_ref())?;
    registry.push(&at, layer, config, manifest).await?;
    Ok((tag, crate::signing::public_key_of(text, key)?))
}

/// A connector a registry lists (`max connector search`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// Its reference at its newest version's tag.
    pub reference: String,
    /// Its tags that are versions, newest first.
    pub versions: Vec<String>,
    /// What the newest version's annotations say.
    pub annotations: Annotations,
}

/// The most repositories a search reads from a registry's catalog.
const MOST_LISTED: usize = 1000;

/// The connectors in the registry `registry` (`host:port`, optionally `/namespace` to look only
/// there) whose name or description contains `query` (case-insensitive; empty: every one): each
/// repository's newest version tag, read as a connector artifact.
pub async fn search_registry(registry: &str, query: &str, credentials: Option<Credentials>) -> Result<Vec<Listed>> {
    let (host, namespace) = registry
        .trim_start_matches(crate::registry::reference::SCHEME)
        .split_once('/')
        .map_or((registry.trim_start_matches(crate::registry::reference::SCHEME), ""), |(host, namespace)| {
            (host, namespace.trim_end_matches('/'))
        });
    let probe = OciReference::parse(&format!("{}{host}/probe", crate::registry::reference::SCHEME))?;
    let client = Registry::of(&probe, credentials);
    let query = query.to_lowercase();
    let mut listed = Vec::new();
    for repository in client.catalog(&probe, MOST_LISTED).await? {
        if !namespace.is_empty() && !repository.starts_with(&format!("{namespace}/")) {
            continue;
        }
        let base = OciReference::parse(&format!("{}{host}/{repository}", crate::registry::reference::SCHEME))?;
        let versions = newest_first(client.tags(&base).await.unwrap_or_default());
        let Some(newest) = versions.first() else { continue };
        let at = base.at_tag(newest);
        let Ok((manifest, _)) = client.manifest(&at).await else { continue };
        let Ok((_, annotations)) = artifact::component_layer(&at, &manifest, u64::MAX) else { continue };
        let text = format!(
            "{} {} {}",
            repository,
            annotations.name.as_deref().unwrap_or_default(),
            annotations.description.as_deref().unwrap_or_default()
        )
        .to_lowercase();
        if text.contains(&query) {
            listed.push(Listed { reference: at.to_string(), versions: versions.clone(), annotations });
        }
    }
    Ok(listed)
}

/// The tags that are semantic versions (`1.2.0`, `v1.2.0`), newest first; others left out.
fn newest_first(tags: Vec<String>) -> Vec<String> {
    let mut versions: Vec<(semver::Version, String)> = tags
        .into_iter()
        .filter_map(|tag| semver::Version::parse(tag.trim_start_matches('v')).ok().map(|v| (v, tag)))
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, tag)| tag).collect()
}

/// How to fetch a connector from a registry.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Install an unsigned artifact, or one signed by a key the project doesn't trust.
    pub allow_unsigned: bool,
    /// Registry credentials (else the user's Docker credentials, else anonymous).
    pub credentials: Option<Credentials>,
    /// The install limits the description is checked against.
    pub limits: InstallLimits,
    /// The largest component downloaded (default [`MAX_COMPONENT_BYTES`]).
    pub max_bytes: Option<u64>,
}

/// A connector fetched from a registry and checked, waiting for the user's confirmation.
pub struct FetchedConnector {
    /// Where it came from and what pins it.
    pub fetched: Fetched,
    /// What installing it would do.
    pub pending: PendingInstall,
    /// The tag-form reference the lock file records.
    locked_reference: String,
}

impl std::fmt::Debug for FetchedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedConnector").field("reference", &self.fetched.reference).finish_non_exhaustive()
    }
}

impl Host {
    /// Fetches the connector at `reference` (`oci://…:tag` or `…@sha256:…`) and checks it: the
    /// manifest is a Wasm component artifact, its publisher's signature holds for a key of the
    /// project's trust policy (unless `allow_unsigned`), the component is within the size limit and
    /// hashes to its digest, and its description passes the install checks. Nothing is installed:
    /// [`Host::install_fetched`] does that once the user has seen what it asks for.
    pub async fn fetch_connector(&self, reference: &str, options: &FetchOptions) -> Result<FetchedConnector> {
        let reference = OciReference::parse(reference)?;
        self.fetch(&reference, None, options).await
    }

    /// Fetches what the lock file records for `entry`: the reference's tag must still point at the
    /// recorded manifest (a tag re-pushed with other bytes is refused), and the component must be
    /// the recorded one.
    pub async fn fetch_locked(&self, entry: &LockedConnector, options: &FetchOptions) -> Result<FetchedConnector> {
        let reference = OciReference::parse(&entry.reference)?;
        self.fetch(&reference, Some(entry), options).await
    }

    /// The connectors the lock file records.
    pub fn locked_connectors(&self) -> Result<Vec<LockedConnector>> {
        self.project().lock().entries()
    }

    async fn fetch(
        &self,
        reference: &OciReference,
        locked: Option<&LockedConnector>,
        options: &FetchOptions,
    ) -> Result<FetchedConnector> {
        let registry = Registry::of(reference, options.credentials.clone());
        let (manifest, manifest_digest) = registry.manifest(reference).await?;
        if let Some(entry) = locked
            && entry.manifest != manifest_digest
        {
            return Err(Error::LockMismatch {
                name: entry.name.clone(),
                reference: entry.reference.clone(),
                locked: entry.manifest.clone(),
                found: manifest_digest,
            });
        }
        let limit = options.max_bytes.unwrap_or(MAX_COMPONENT_BYTES);
        let (layer, annotations) = artifact::component_layer(reference, &manifest, limit)?;
        let pinned = reference.at_digest(&manifest_digest);
        let signer = self.signer_of(&registry, reference, &manifest_digest, options.allow_unsigned).await?;
        let bytes = registry.blob(&pinned, &layer, "component", limit).await?;
        if let Some(entry) = locked
            && entry.component != layer.digest
        {
            return Err(Error::LockMismatch {
                name: entry.name.clone(),
                reference: entry.reference.clone(),
                locked: entry.component.clone(),
                found: layer.digest.clone(),
            });
        }
        // The install checks read a file: the component waits in `.max/` while they run.
        let scratch = self.project().max_dir().join(format!("download-{}.wasm", &layer.digest[7..19]));
        std::fs::write(&scratch, &bytes).map_err(Error::io("write", &scratch))?;
        let pending = self.prepare_install(&scratch, &options.limits).await;
        let _ = std::fs::remove_file(&scratch);
        let pending = pending?;
        let fetched = Fetched {
            reference: pinned,
            manifest_digest,
            component_digest: layer.digest.clone(),
            annotations,
            signer,
            bytes,
        };
        let locked_reference = locked.map_or_else(|| reference.to_string(), |e| e.reference.clone());
        Ok(FetchedConnector { fetched, pending, locked_reference })
    }

    /// The trusted key that signed the manifest `digest`, or none for an unsigned artifact or an
    /// untrusted signer when `allow_unsigned`; refused otherwise. A signature that doesn't hold is
    /// refused whatever the flag.
    async fn signer_of(
        &self,
        registry: &Registry,
        reference: &OciReference,
        digest: &str,
        allow_unsigned: bool,
    ) -> Result<Option<String>> {
        let at = reference.at_tag(&signature::tag_for(digest));
        let manifest = match registry.manifest(&at).await {
            Ok((manifest, _)) => manifest,
            Err(Error::ArtifactNotFound { .. }) if allow_unsigned => return Ok(None),
            Err(Error::ArtifactNotFound { .. }) => {
                return Err(Error::UnsignedArtifact { reference: reference.to_string() });
            }
            Err(other) => return Err(other),
        };
        let trusted: Vec<String> = self.project().trust().keys()?.into_iter().map(|k| k.key).collect();
        // The first signature by a trusted key wins; else an untrusted signer is said before a
        // signature that doesn't hold (the artifact may carry both).
        let mut refusal: Option<Error> = None;
        for attached in signature::attached(&at, &manifest)? {
            let payload = registry.blob(&at, &attached.layer, "signature", MAX_PAYLOAD_BYTES).await?;
            match signature::verify(reference, digest, &payload, &attached, &trusted) {
                Ok(signer) => return Ok(Some(signer)),
                Err(error @ Error::UntrustedSigner { .. }) => {
                    if !matches!(refusal, Some(Error::UntrustedSigner { .. })) {
                        refusal = Some(error);
                    }
                }
                Err(error) => refusal = refusal.or(Some(error)),
            }
        }
        match refusal {
            Some(Error::UntrustedSigner { .. }) if allow_unsigned => Ok(None),
            Some(error) => Err(error),
            None => Err(Error::UnsignedArtifact { reference: reference.to_string() }),
        }
    }

    /// The newest version of connector `name` in the registry it was installed from, fetched and
    /// checked as an install checks it (its [`PendingInstall`] names what it asks for beyond the
    /// installed version), or none when the installed one is the newest. The installed version stays
    /// until [`Host::install_fetched`] replaces it, after the new one has loaded.
    pub async fn upgrade_candidate(&self, name: &str, options: &FetchOptions) -> Result<Option<FetchedConnector>> {
        let entry = self.project().lock().entry(name)?.ok_or_else(|| Error::NotUpgradable {
            name: name.to_string(),
            reason: "it was not installed from a registry (the lock file doesn't name it)".to_string(),
        })?;
        let installed = self.project().connectors().get(name)?;
        let reference = OciReference::parse(&entry.reference)?;
        // The version installed: the tag it was installed by, else what the connector says it is.
        let current = reference
            .tag()
            .and_then(|tag| semver::Version::parse(tag.trim_start_matches('v')).ok())
            .or_else(|| semver::Version::parse(installed.version.trim_start_matches('v')).ok());
        let registry = Registry::of(&reference, options.credentials.clone());
        let versions = newest_first(registry.tags(&reference).await?);
        let newer = versions.into_iter().find(|tag| {
            let version = semver::Version::parse(tag.trim_start_matches('v')).ok();
            match (&version, &current) {
                (Some(version), Some(current)) => version > current,
                _ => false,
            }
        });
        let Some(tag) = newer else { return Ok(None) };
        let mut fetched = self.fetch(&reference.at_tag(&tag), None, options).await?;
        fetched.locked_reference = reference.at_tag(&tag).to_string();
        Ok(Some(fetched))
    }

    /// Installs a connector from a file (checked by [`Host::prepare_install`]): one installed from a
    /// registry before is no longer what the lock file says, so its entry goes.
    pub fn install_pending(&self, pending: PendingInstall) -> Result<InstalledConnector> {
        let installed = pending.commit()?;
        self.project().lock().forget(&installed.name)?;
        Ok(installed)
    }

    /// Uninstalls connector `name` (refused while it has installations), and forgets its lock entry.
    pub fn remove_connector(&self, name: &str) -> Result<crate::project::Removed> {
        let removed = self.project().connectors().remove(name)?;
        self.project().lock().forget(&removed.name)?;
        Ok(removed)
    }

    /// Installs a fetched connector and records it in the lock file.
    pub fn install_fetched(&self, fetched: FetchedConnector) -> Result<InstalledConnector> {
        let FetchedConnector { fetched, pending, locked_reference } = fetched;
        let installed = pending.commit()?;
        self.project().lock().record(LockedConnector {
            name: installed.name.clone(),
            reference: locked_reference,
            manifest: fetched.manifest_digest,
            component: fetched.component_digest,
            signer: fetched.signer,
        })?;
        Ok(installed)
    }
}
