//! Projects: the `.max/` folder holding installed connectors and installations, found from the current
//! directory upward like `.git/`; and Max's home (`~/.max`, or `$MAX_HOME`) holding the compile cache.

mod connectors;
pub(crate) mod files;
mod installations;
mod lock;
mod schedules;
mod storage;
mod trust;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use connectors::{
    ConnectorStore, DamagedEntry, InstalledConnector, PendingInstall, Removed, inspect_file, permission_lines,
};
pub use installations::{
    DEFAULT_NAME, FileSecrets, Installation, InstallationFile, InstallationStore, SandboxSettings, SyncLock, valid_name,
};

pub use lock::{LockStore, LockedConnector};
pub use schedules::{Cadence, Schedule, ScheduleStore};
pub use storage::StorageSetting;
pub use trust::{TrustStore, TrustedKey};

use crate::{Error, Result};

/// The project folder's name.
pub const PROJECT_DIR: &str = ".max";
/// The current layout version of `.max/project.json`.
const LAYOUT_VERSION: u32 = 1;

/// `.max/project.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    layout: u32,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// A Max project: a folder with a `.max/` inside.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// Creates `.max/` in `root`, its data in SQLite files; refuses when one exists.
    pub fn init(root: &Path) -> Result<Project> {
        Project::init_with(root, &StorageSetting::Sqlite)
    }

    /// Creates `.max/` in `root` with its data stored as `storage` says; refuses when one exists.
    pub fn init_with(root: &Path, storage: &StorageSetting) -> Result<Project> {
        let max_dir = root.join(PROJECT_DIR);
        if max_dir.exists() {
            return Err(Error::ProjectExists { root: root.to_path_buf() });
        }
        let project = Project { root: root.to_path_buf() };
        for dir in [project.connectors_dir(), project.installations_dir()] {
            std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        }
        let file = ProjectFile { layout: LAYOUT_VERSION, created_at: chrono::Utc::now() };
        storage::write(&max_dir, storage)?;
        files::write_json(&max_dir.join("project.json"), &file)?;
        Ok(project)
    }

    /// Where its synced data lives.
    pub fn storage(&self) -> Result<StorageSetting> {
        storage::read(&self.max_dir())
    }

    /// Stores its data as `setting` says from now on (the data already stored stays where it is).
    pub(crate) fn set_storage(&self, setting: &StorageSetting) -> Result<()> {
        storage::write(&self.max_dir(), setting)
    }

    /// Finds the project whose root is `start` or its nearest ancestor with a `.max/project.json`.
    pub fn find(start: &Path) -> Result<Project> {
        let start = std::path::absolute(start).map_err(Error::io("resolve", start))?;
        let root = start
            .ancestors()
            .find(|dir| dir.join(PROJECT_DIR).join("project.json").is_file())
            .ok_or_else(|| Error::ProjectNotFound { start: start.clone() })?;
        let project = Project { root: root.to_path_buf() };
        let file: ProjectFile = files::read_json(&project.max_dir().join("project.json"))?;
        if file.layout > LAYOUT_VERSION {
            return Err(Error::Runtime(format!(
                "{} was written by a newer max (layout {}); upgrade max to use it",
                project.max_dir().display(),
                file.layout
            )));
        }
        Ok(project)
    }

    /// The folder containing `.max/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.max/`.
    pub fn max_dir(&self) -> PathBuf {
        self.root.join(PROJECT_DIR)
    }

    /// `.max/connectors/`.
    pub fn connectors_dir(&self) -> PathBuf {
        self.max_dir().join("connectors")
    }

    /// `.max/installations/`.
    pub fn installations_dir(&self) -> PathBuf {
        self.max_dir().join("installations")
    }

    /// The installations.
    pub fn installations(&self) -> InstallationStore {
        InstallationStore::new(self.installations_dir())
    }

    /// The installed connectors.
    pub fn connectors(&self) -> ConnectorStore {
        ConnectorStore::new(self.connectors_dir(), self.installations_dir())
    }

    /// The publisher keys this project trusts (`.max/trust.json`).
    pub fn trust(&self) -> TrustStore {
        TrustStore::new(self.max_dir().join("trust.json"))
    }

    /// The installations the daemon syncs on a schedule (`.max/schedules.json`).
    pub fn schedules(&self) -> ScheduleStore {
        ScheduleStore::new(self.max_dir().join("schedules.json"))
    }

    /// What was installed from registries (`.max/connectors.lock`).
    pub fn lock(&self) -> LockStore {
        LockStore::new(self.max_dir().join("connectors.lock"))
    }
}

/// Max's per-user folder: `$MAX_HOME`, or `~/.max`.
pub fn max_home() -> PathBuf {
    if let Some(home) = std::env::var_os("MAX_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(".max-home"), |home| PathBuf::from(home).join(".max"))
}

/// The compile cache folder inside [`max_home`].
pub fn cache_dir() -> PathBuf {
    max_home().join("cache")
}
