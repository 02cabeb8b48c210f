//! Installed connectors: `.max/connectors/<name>-<version>-<sha12>.wasm` plus `manifest.json`, the
//! index recording each one's hash, contract version, description and grants. The hash is checked
//! again before every load, so a file changed after install is refused.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::manifest::{ConnectorInfo, Permissions};
use crate::runtime::{LoadedConnector, Runtime};
use crate::{Error, Result};

/// `.max/connectors/manifest.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    connectors: Vec<InstalledConnector>,
}

/// One installed connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstalledConnector {
    /// Its name (from `describe`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// One line.
    pub description: String,
    /// sha256 of the component file, hex.
    pub sha256: String,
    /// The contract version it was built against.
    pub contract: String,
    /// File name inside `.max/connectors/`.
    pub file: String,
    /// Size of the component in bytes.
    pub size_bytes: u64,
    /// When it was installed.
    pub installed_at: chrono::DateTime<chrono::Utc>,
    /// What the user granted at install (what it asked for).
    pub granted: Permissions,
    /// Everything `describe` returned.
    pub info: ConnectorInfo,
}

/// The installed connectors of a project.
#[derive(Debug, Clone)]
pub struct ConnectorStore {
    dir: PathBuf,
    installations_dir: PathBuf,
}

impl ConnectorStore {
    pub(super) fn new(dir: PathBuf, installations_dir: PathBuf) -> Self {
        ConnectorStore { dir, installations_dir }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    fn manifest(&self) -> Result<Manifest> {
        let path = self.manifest_path();
        if !path.exists() {
            return Ok(Manifest::default());
        }
        files::read_json(&path)
    }

    /// Every installed connector, by name.
    pub fn list(&self) -> Result<Vec<InstalledConnector>> {
        let mut connectors = self.manifest()?.connectors;
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(connectors)
    }

    /// The installed connector named `name`.
    pub fn get(&self, name: &str) -> Result<InstalledConnector> {
        let connectors = self.list()?;
        match connectors.iter().find(|c| c.name == name) {
            Some(found) => Ok(found.clone()),
            None => Err(Error::ConnectorNotInstalled {
                name: name.to_string(),
                installed: connectors.into_iter().map(|c| c.name).collect(),
            }),
        }
    }

    /// The component file of an installed connector.
    pub fn path(&self, connector: &InstalledConnector) -> PathBuf {
        self.dir.join(&connector.file)
    }

    /// Reads an installed component, refusing it if its bytes no longer match the recorded hash.
    fn read_verified(&self, connector: &InstalledConnector) -> Result<Vec<u8>> {
        let path = self.path(connector);
        let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
        let found = crate::format::sha256_hex(&bytes);
        if found != connector.sha256 {
            return Err(Error::Tampered {
                name: connector.name.clone(),
                path,
                expected: connector.sha256.clone(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Loads an installed connector after checking its hash, for instances with `stack_bytes` of stack.
    pub fn load(
        &self,
        runtime: &Runtime,
        connector: &InstalledConnector,
        stack_bytes: usize,
    ) -> Result<LoadedConnector> {
        let bytes = self.read_verified(connector)?;
        // The hash was just checked against the recorded one: the runtime needn't compute it again.
        runtime.load_hashed(&connector.name, &bytes, connector.sha256.clone(), stack_bytes)
    }

    /// Checks the component in `path` (a component, a supported contract, a consistent description)
    /// without changing the project; [`PendingInstall::commit`] then installs it.
    pub async fn prepare(&self, runtime: &Runtime, path: &Path) -> Result<PendingInstall> {
        let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
        let loaded = runtime.load(&path.display().to_string(), &bytes)?;
        let info = loaded.describe().await?;
        let previous = self.list()?.into_iter().find(|c| c.name == info.name);
        let sha256 = loaded.sha256().to_string();
        let connector = InstalledConnector {
            name: info.name.clone(),
            version: info.version.clone(),
            description: info.description.clone(),
            file: format!("{}-{}-{}.wasm", info.name, info.version, &sha256[..12]),
            sha256,
            contract: loaded.contract().to_string(),
            size_bytes: bytes.len() as u64,
            installed_at: chrono::Utc::now(),
            granted: info.permissions.clone(),
            info,
        };
        Ok(PendingInstall { store: self.clone(), connector, previous, bytes })
    }

    /// The installation folders (`.max/installations/<name>/<slug>`) of a connector.
    pub fn installations_of(&self, name: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.installations_dir.join(name)) else { return Vec::new() };
        let mut slugs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        slugs.sort();
        slugs
    }

    /// Uninstalls a connector; refuses while installations of it exist.
    pub fn remove(&self, name: &str) -> Result<InstalledConnector> {
        let connector = self.get(name)?;
        let installations = self.installations_of(name);
        if !installations.is_empty() {
            return Err(Error::ConnectorInUse { name: name.to_string(), installations });
        }
        let mut manifest = self.manifest()?;
        manifest.connectors.retain(|c| c.name != name);
        files::write_json(&self.manifest_path(), &manifest)?;
        let path = self.path(&connector);
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::Io { action: "remove", path, source: error });
        }
        Ok(connector)
    }
}

/// A checked component waiting for the user's confirmation.
#[derive(Debug)]
pub struct PendingInstall {
    store: ConnectorStore,
    /// What will be recorded.
    pub connector: InstalledConnector,
    /// The installed connector of the same name it replaces.
    pub previous: Option<InstalledConnector>,
    bytes: Vec<u8>,
}

impl PendingInstall {
    /// What this version asks for that the installed one was not granted (empty for a first install).
    pub fn added_permissions(&self) -> Vec<String> {
        let Some(previous) = &self.previous else { return Vec::new() };
        permission_lines(&self.connector.granted)
            .into_iter()
            .filter(|line| !permission_lines(&previous.granted).contains(line))
            .collect()
    }

    /// Copies the component into the project and records it (replacing an older version).
    pub fn commit(self) -> Result<InstalledConnector> {
        std::fs::create_dir_all(&self.store.dir).map_err(Error::io("create", &self.store.dir))?;
        let path = self.store.path(&self.connector);
        files::write_atomic(&path, &self.bytes)?;
        let mut manifest = self.store.manifest()?;
        manifest.connectors.retain(|c| c.name != self.connector.name);
        manifest.connectors.push(self.connector.clone());
        if let Err(error) = files::write_json(&self.store.manifest_path(), &manifest) {
            let _ = std::fs::remove_file(&path);
            return Err(error);
        }
        if let Some(previous) = self.previous.filter(|p| p.file != self.connector.file) {
            let _ = std::fs::remove_file(self.store.path(&previous));
        }
        Ok(self.connector)
    }
}

/// One line per grant, for showing and comparing permissions.
pub fn permission_lines(permissions: &Permissions) -> Vec<String> {
    let mut lines: Vec<String> = permissions.hosts.iter().map(|h| format!("HTTPS to {h}")).collect();
    if let Some(key) = &permissions.base_url_key {
        lines.push(format!("HTTP(S) to the base URL you configure (`{key}`)"));
    }
    for credential in &permissions.credentials {
        let scope = if credential.hosts.is_empty() {
            String::new()
        } else {
            format!(", only to {}", credential.hosts.join(", "))
        };
        lines.push(format!("secret `{}` sent as {}{scope}", credential.name, credential.injection));
    }
    if let Some(mib) = permissions.resources.memory_mib {
        lines.push(format!("{mib} MiB of memory"));
    }
    if let Some(ms) = permissions.resources.call_timeout_ms {
        lines.push(format!("{ms} ms per call"));
    }
    lines
}
