//! Installations: one connector connected to one account, in
//! `.max/installations/<connector>/<name>/` with `installation.json` (config), `credentials.json`
//! (secrets, mode 0600) and `data.db`. Several installations of one connector coexist by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::http::SecretSource;
use crate::{Error, Result};

/// The name used when `--name` is not given.
pub const DEFAULT_NAME: &str = "default";

/// `installation.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallationFile {
    /// The connector's name.
    pub connector: String,
    /// The installation's name.
    pub name: String,
    /// The connector version it was connected with.
    pub connector_version: String,
    /// The non-secret config collected by onboarding.
    pub config: BTreeMap<String, String>,
    /// When it was connected.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// What this installation may do, where it differs from what its connector was granted.
    #[serde(default, skip_serializing_if = "SandboxSettings::is_empty")]
    pub sandbox: SandboxSettings,
}

/// A user's choices for one installation's sandbox: fewer hosts than granted, and limits of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Only these of the declared hosts (the configured base URL stays reachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Limits set for this installation, by setting name (see [`crate::limits::SETTINGS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, u64>,
}

impl SandboxSettings {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == SandboxSettings::default()
    }
}

impl InstallationFile {
    /// A new installation of `connector` named `name`, created now.
    pub fn new(connector: &str, name: &str, connector_version: &str, config: BTreeMap<String, String>) -> Self {
        InstallationFile {
            connector: connector.to_string(),
            name: name.to_string(),
            connector_version: connector_version.to_string(),
            config,
            created_at: chrono::Utc::now(),
            sandbox: SandboxSettings::default(),
        }
    }
}

/// `credentials.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    secrets: BTreeMap<String, String>,
}

/// One installation.
#[derive(Debug, Clone)]
pub struct Installation {
    dir: PathBuf,
    /// Its `installation.json`.
    pub file: InstallationFile,
}

impl Installation {
    /// `connector/name`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.file.connector, self.file.name)
    }

    /// Its schema in the project's database when the project stores its data in PostgreSQL.
    pub fn pg_schema(&self) -> String {
        crate::storage::pg_schema_name(&self.file.connector, &self.file.name)
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes its `installation.json` (after a change to [`Installation::file`]).
    pub fn save(&self) -> Result<()> {
        files::write_json(&self.dir.join("installation.json"), &self.file)
    }

    /// Its database.
    pub fn data_db(&self) -> PathBuf {
        self.dir.join("data.db")
    }

    /// The config as pairs, for `initialise`.
    pub fn config_pairs(&self) -> Vec<(String, String)> {
        self.file.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Takes the installation's sync lock (`sync.lock`, an OS file lock the kernel releases when the
    /// process dies, so a crashed sync never leaves a stale lock). Refused with who holds it when
    /// another process is syncing.
    pub fn lock_for_sync(&self) -> Result<SyncLock> {
        use std::io::{Read, Seek, Write};
        let path = self.dir.join("sync.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        // `sync_running` probes the lock for an instant: a sync starting then tries once more.
        let mut attempt = file.try_lock();
        if matches!(attempt, Err(std::fs::TryLockError::WouldBlock)) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            attempt = file.try_lock();
        }
        match attempt {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                return Err(Error::SyncBusy {
                    label: self.label(),
                    pid: holder["pid"].as_u64().unwrap_or(0) as u32,
                    since: holder["since"].as_str().unwrap_or("an unknown time").to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path)(e)),
        }
        let holder = serde_json::json!({
            "pid": std::process::id(),
            "since": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        file.set_len(0)
            .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
            .and_then(|_| file.write_all(holder.to_string().as_bytes()))
            .map_err(Error::io("write", &path))?;
        Ok(SyncLock { _file: file })
    }

    /// Whether a process holds the installation's sync lock now (a sync is running).
    pub fn sync_running(&self) -> bool {
        let Ok(file) = std::fs::File::open(self.dir.join("sync.lock")) else { return false };
        match file.try_lock_shared() {
            Ok(()) => false,
            Err(error) => matches!(error, std::fs::TryLockError::WouldBlock),
        }
    }

    /// Its secrets, read from the credential store.
    pub fn secrets(&self) -> Result<FileSecrets> {
        FileSecrets::load(&self.credentials_path())
    }

    /// Where its secrets are stored (0600).
    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    /// The credential store, when users other than its owner may read or write it (its mode bits).
    pub fn exposed_credentials(&self) -> Option<(PathBuf, u32)> {
        use std::os::unix::fs::MetadataExt;
        let path = self.credentials_path();
        let mode = std::fs::metadata(&path).ok()?.mode() & 0o777;
        (mode & 0o077 != 0).then_some((path, mode))
    }
}

/// Held while a sync runs; dropping it (or the process dying) releases the installation.
#[derive(Debug)]
pub struct SyncLock {
    _file: std::fs::File,
}

/// Secrets kept in a 0600 JSON file. Refreshed OAuth tokens are written back to it at once.
#[derive(Debug, Default)]
pub struct FileSecrets {
    secrets: std::sync::RwLock<BTreeMap<String, String>>,
    /// Where they live; `None` before `max connect` saves them.
    path: Option<PathBuf>,
}

impl FileSecrets {
    fn load(path: &Path) -> Result<Self> {
        let secrets = if path.exists() {
            let file: CredentialsFile = files::read_json(path)?;
            file.secrets
        } else {
            BTreeMap::new()
        };
        Ok(FileSecrets { secrets: std::sync::RwLock::new(secrets), path: Some(path.to_path_buf()) })
    }

    /// Secrets from pairs (before they are saved).
    pub fn from_pairs(pairs: BTreeMap<String, String>) -> Self {
        FileSecrets { secrets: std::sync::RwLock::new(pairs), path: None }
    }

    /// Every secret as it is now (refreshed tokens included).
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.secrets.read().expect("secrets lock").clone()
    }
}

impl SecretSource for FileSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.read().expect("secrets lock").get(name).cloned()
    }

    fn values(&self) -> Vec<String> {
        let secrets = self.secrets.read().expect("secrets lock");
        // Expiry times are bookkeeping, not secrets.
        secrets.iter().filter(|(name, _)| !name.ends_with(":expires_at")).map(|(_, value)| value.clone()).collect()
    }

    fn store(&self, changes: &[(String, String)]) -> std::result::Result<(), String> {
        let mut secrets = self.secrets.write().expect("secrets lock");
        let mut updated = secrets.clone();
        updated.extend(changes.iter().cloned());
        if let Some(path) = &self.path {
            write_secrets(path, &updated).map_err(|e| e.to_string())?;
        }
        *secrets = updated;
        Ok(())
    }
}

/// Whether `name` is a valid installation name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
        && name.len() <= 64
}

/// The installations of a project.
#[derive(Debug, Clone)]
pub struct InstallationStore {
    dir: PathBuf,
}

impl InstallationStore {
    pub(super) fn new(dir: PathBuf) -> Self {
        InstallationStore { dir }
    }

    /// Every installation whose `installation.json` can be read, by connector then name (one that
    /// can't is left out here, and reported by [`InstallationStore::find`] when asked for by name).
    pub fn list(&self) -> Result<Vec<Installation>> {
        Ok(self.read_all().0)
    }

    /// The installations whose `installation.json` can't be read: each folder's label, and why.
    pub fn damaged(&self) -> Vec<(String, Error)> {
        self.read_all().1
    }

    /// The installations that can be read, and the errors of those that can't (by their folder's label).
    fn read_all(&self) -> (Vec<Installation>, Vec<(String, Error)>) {
        let mut found = Vec::new();
        let mut damaged = Vec::new();
        for connector in read_dirs(&self.dir) {
            for name in read_dirs(&connector) {
                let path = name.join("installation.json");
                if !path.is_file() {
                    continue;
                }
                match files::read_json(&path) {
                    Ok(file) => found.push(Installation { file, dir: name }),
                    Err(error) => {
                        let label =
                            |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        damaged.push((format!("{}/{}", label(&connector), label(&name)), error));
                    }
                }
            }
        }
        found.sort_by_key(Installation::label);
        (found, damaged)
    }

    /// Finds `connector` (its only or `default` installation) or `connector/name`.
    pub fn find(&self, spec: &str) -> Result<Installation> {
        let (connector, name) = match spec.split_once('/') {
            Some((connector, name)) => (connector, Some(name)),
            None => (spec, None),
        };
        let (all, damaged) = self.read_all();
        let asked_for = |label: &str| label == spec || label.split_once('/').is_some_and(|(c, _)| c == spec);
        if let Some((_, error)) = damaged.into_iter().find(|(label, _)| asked_for(label))
            && !all.iter().any(|i| asked_for(&i.label()))
        {
            return Err(error);
        }
        let of_connector: Vec<&Installation> = all.iter().filter(|i| i.file.connector == connector).collect();
        let found = match name {
            Some(name) => of_connector.iter().find(|i| i.file.name == name),
            None if of_connector.len() == 1 => of_connector.first(),
            None => of_connector.iter().find(|i| i.file.name == DEFAULT_NAME),
        };
        match found {
            Some(installation) => Ok((*installation).clone()),
            None => Err(Error::InstallationNotFound {
                spec: spec.to_string(),
                available: all.iter().map(Installation::label).collect(),
                ambiguous: name.is_none() && of_connector.len() > 1,
            }),
        }
    }

    /// Whether `connector/name` exists.
    pub fn exists(&self, connector: &str, name: &str) -> bool {
        self.dir.join(connector).join(name).join("installation.json").is_file()
    }

    /// Creates (or with `replace`, overwrites the config and secrets of) an installation.
    pub fn create(
        &self,
        file: InstallationFile,
        secrets: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<Installation> {
        if !valid_name(&file.name) {
            return Err(Error::InvalidName { name: file.name.clone() });
        }
        if self.exists(&file.connector, &file.name) && !replace {
            return Err(Error::InstallationExists { label: format!("{}/{}", file.connector, file.name) });
        }
        let dir = self.dir.join(&file.connector).join(&file.name);
        std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        write_secrets(&dir.join("credentials.json"), secrets)?;
        files::write_json(&dir.join("installation.json"), &file)?;
        Ok(Installation { dir, file })
    }
}

fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// Writes `credentials.json` readable by the owner only, atomically.
fn write_secrets(path: &Path, secrets: &BTreeMap<String, String>) -> Result<()> {
    let text = serde_json::to_vec_pretty(&CredentialsFile { secrets: secrets.clone() }).expect("secrets serialize");
    files::write_private(path, &text)
}
