//! Installed connectors: `.max/connectors/<name>-<version>-<sha12>.wasm`, beside it `….json` with
//! everything `describe` returned, and `manifest.json`, the small index recording each one's hash,
//! contract version and grants. The hash is checked again before every load, so a file changed after
//! install is refused. Commands read the index and only the descriptions they need, and one damaged
//! entry never stops commands that don't use it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::limits::InstallLimits;
use crate::manifest::{ConnectorInfo, Permissions};
use crate::runtime::{LoadedConnector, Runtime};
use crate::{Error, Result};

/// `.max/connectors/manifest.json`. Each entry is read on its own, so one that can't be read leaves
/// the others usable.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    connectors: Vec<serde_json::Value>,
}

/// One entry of the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    name: String,
    version: String,
    description: String,
    sha256: String,
    contract: String,
    file: String,
    size_bytes: u64,
    installed_at: chrono::DateTime<chrono::Utc>,
    granted: Permissions,
    /// Projects made before descriptions had files of their own kept the description here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info: Option<ConnectorInfo>,
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

impl InstalledConnector {
    /// The key and value of the base URL in an installation's `config`, when the connector has one
    /// and the config holds it.
    pub fn base_url<'c>(&self, config: &'c std::collections::BTreeMap<String, String>) -> Option<(&str, &'c str)> {
        let key = self.granted.base_url_key.as_deref()?;
        config.get(key).map(|url| (key, url.as_str()))
    }

    fn entry(&self) -> IndexEntry {
        IndexEntry {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            sha256: self.sha256.clone(),
            contract: self.contract.clone(),
            file: self.file.clone(),
            size_bytes: self.size_bytes,
            installed_at: self.installed_at,
            granted: self.granted.clone(),
            info: None,
        }
    }
}

/// An index entry that can't be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedEntry {
    /// The connector's name, as far as it could be read (`?` when not even that).
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

/// The installed connectors of a project.
#[derive(Debug, Clone)]
pub struct ConnectorStore {
    dir: PathBuf,
    installations_dir: PathBuf,
}

/// A file name the index may name: one file inside `.max/connectors/`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

impl ConnectorStore {
    pub(super) fn new(dir: PathBuf, installations_dir: PathBuf) -> Self {
        ConnectorStore { dir, installations_dir }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    fn index(&self) -> Result<Index> {
        let path = self.index_path();
        if !path.exists() {
            return Ok(Index::default());
        }
        files::read_json(&path)
    }

    /// The file holding a connector's description: its component's name with `.json`.
    fn info_path(&self, component_file: &str) -> PathBuf {
        self.dir.join(Path::new(component_file).with_extension("json"))
    }

    /// Reads one index entry and its description.
    fn read_entry(&self, raw: &serde_json::Value) -> std::result::Result<InstalledConnector, DamagedEntry> {
        let name = raw.get("name").and_then(|n| n.as_str()).unwrap_or("?").to_string();
        let damaged = |reason: String| DamagedEntry { name: name.clone(), reason };
        let entry: IndexEntry =
            serde_json::from_value(raw.clone()).map_err(|e| damaged(format!("its entry in manifest.json: {e}")))?;
        if !is_plain_file_name(&entry.file) {
            return Err(damaged(format!("its entry names the file `{}`", entry.file)));
        }
        let info = match entry.info {
            Some(info) => info,
            None => files::read_json(&self.info_path(&entry.file)).map_err(|e| damaged(e.to_string()))?,
        };
        Ok(InstalledConnector {
            name: entry.name,
            version: entry.version,
            description: entry.description,
            sha256: entry.sha256,
            contract: entry.contract,
            file: entry.file,
            size_bytes: entry.size_bytes,
            installed_at: entry.installed_at,
            granted: entry.granted,
            info,
        })
    }

    /// Every installed connector that can be read, by name (see [`ConnectorStore::damaged`]).
    pub fn list(&self) -> Result<Vec<InstalledConnector>> {
        let mut connectors: Vec<InstalledConnector> =
            self.index()?.connectors.iter().filter_map(|raw| self.read_entry(raw).ok()).collect();
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(connectors)
    }

    /// The installed connectors whose records can't be read, and why.
    pub fn damaged(&self) -> Result<Vec<DamagedEntry>> {
        Ok(self.index()?.connectors.iter().filter_map(|raw| self.read_entry(raw).err()).collect())
    }

    /// The names in the index, intact or not.
    fn names(index: &Index) -> Vec<String> {
        let mut names: Vec<String> =
            index.connectors.iter().filter_map(|raw| Some(raw.get("name")?.as_str()?.to_string())).collect();
        names.sort();
        names
    }

    /// The installed connector named `name` (reading only its own description).
    pub fn get(&self, name: &str) -> Result<InstalledConnector> {
        let index = self.index()?;
        let raw = index.connectors.iter().find(|raw| raw.get("name").and_then(|n| n.as_str()) == Some(name));
        match raw {
            Some(raw) => self
                .read_entry(raw)
                .map_err(|damaged| Error::DamagedConnector { name: name.to_string(), reason: damaged.reason }),
            None => Err(Error::ConnectorNotInstalled { name: name.to_string(), installed: Self::names(&index) }),
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
    pub async fn prepare(&self, runtime: &Runtime, path: &Path, limits: &InstallLimits) -> Result<PendingInstall> {
        let (connector, bytes) = checked_file(runtime, path, limits).await?;
        // A damaged record of the same name is replaced like an older version.
        let previous = self.get(&connector.name).ok();
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

    /// Uninstalls a connector (a damaged record too); refuses while installations of it exist.
    pub fn remove(&self, name: &str) -> Result<Removed> {
        let mut index = self.index()?;
        let position = index.connectors.iter().position(|raw| raw.get("name").and_then(|n| n.as_str()) == Some(name));
        let Some(position) = position else {
            return Err(Error::ConnectorNotInstalled { name: name.to_string(), installed: Self::names(&index) });
        };
        let installations = self.installations_of(name);
        if !installations.is_empty() {
            return Err(Error::ConnectorInUse { name: name.to_string(), installations });
        }
        let raw = index.connectors.remove(position);
        let version = raw.get("version").and_then(|v| v.as_str()).map(str::to_string);
        let removed = Removed { name: name.to_string(), version, damaged: self.read_entry(&raw).is_err() };
        files::write_json(&self.index_path(), &index)?;
        let file = raw.get("file").and_then(|f| f.as_str()).filter(|f| is_plain_file_name(f));
        if let Some(file) = file {
            for path in [self.dir.join(file), self.info_path(file)] {
                if let Err(error) = std::fs::remove_file(&path)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(Error::Io { action: "remove", path, source: error });
                }
            }
        }
        Ok(removed)
    }
}

/// What [`ConnectorStore::remove`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The connector.
    pub name: String,
    /// Its version, when its record said.
    pub version: Option<String>,
    /// Whether its record was damaged.
    pub damaged: bool,
}

/// Checks the component in `path` as an install would (a component, a supported contract, a
/// description within `limits` and consistent) and returns what installing it would record, without a
/// project: for looking at a connector before installing it.
pub async fn inspect_file(runtime: &Runtime, path: &Path, limits: &InstallLimits) -> Result<InstalledConnector> {
    Ok(checked_file(runtime, path, limits).await?.0)
}

/// The record installing `path` would write, and the component's bytes.
async fn checked_file(runtime: &Runtime, path: &Path, limits: &InstallLimits) -> Result<(InstalledConnector, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
    let loaded = runtime.load(&path.display().to_string(), &bytes)?;
    let info = loaded.describe_within(limits).await?;
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
    Ok((connector, bytes))
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

    /// Copies the component and its description into the project and records it (replacing an older
    /// version). Every file is checked to read back before the index names it.
    pub fn commit(self) -> Result<InstalledConnector> {
        let store = &self.store;
        std::fs::create_dir_all(&store.dir).map_err(Error::io("create", &store.dir))?;
        let mut index = store.index()?;
        index.connectors.retain(|raw| raw.get("name").and_then(|n| n.as_str()) != Some(&self.connector.name));
        let entry = serde_json::to_value(self.connector.entry())
            .map_err(|e| Error::UnwritableFile { path: store.index_path(), reason: e.to_string() })?;
        index.connectors.push(entry);
        let info_path = store.info_path(&self.connector.file);
        let info = files::to_checked_json(&info_path, &self.connector.info)?;
        let index_text = files::to_checked_json(&store.index_path(), &index)?;
        let path = store.path(&self.connector);
        files::write_atomic(&path, &self.bytes)?;
        let written =
            files::write_atomic(&info_path, &info).and_then(|()| files::write_atomic(&store.index_path(), &index_text));
        if let Err(error) = written {
            if self.previous.as_ref().is_none_or(|p| p.file != self.connector.file) {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(&info_path);
            }
            return Err(error);
        }
        if let Some(previous) = self.previous.filter(|p| p.file != self.connector.file) {
            let _ = std::fs::remove_file(store.path(&previous));
            let _ = std::fs::remove_file(store.info_path(&previous.file));
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
    for limit in &permissions.request_limits {
        lines.push(format!("requests paced ({limit})"));
    }
    lines
}
