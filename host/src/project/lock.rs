//! The lock file (`.max/connectors.lock`): for every connector installed from a registry, where it
//! came from and the digests of exactly what was installed, so that another machine (or a later
//! `max connector install` with no argument) installs the same bytes or refuses.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::files;
use crate::Result;

/// What one installed connector was installed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedConnector {
    /// The connector's name.
    pub name: String,
    /// The reference it was installed by (`oci://registry/ns/name:tag`).
    pub reference: String,
    /// The artifact's manifest digest (`sha256:…`): what the tag pointed at.
    pub manifest: String,
    /// The component's digest (`sha256:…`): the bytes installed.
    pub component: String,
    /// The publisher key that signed it (hex), if it was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LockFile {
    version: u32,
    connectors: Vec<LockedConnector>,
}

/// The lock file of one project.
#[derive(Debug, Clone)]
pub struct LockStore {
    path: PathBuf,
}

impl LockStore {
    /// The lock file at `path`.
    pub fn new(path: PathBuf) -> Self {
        LockStore { path }
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The locked connectors, sorted by name (none without a lock file).
    pub fn entries(&self) -> Result<Vec<LockedConnector>> {
        if !self.path.is_file() {
            return Ok(Vec::new());
        }
        Ok(files::read_json::<LockFile>(&self.path)?.connectors)
    }

    /// The entry of connector `name`.
    pub fn entry(&self, name: &str) -> Result<Option<LockedConnector>> {
        Ok(self.entries()?.into_iter().find(|e| e.name == name))
    }

    /// Records `entry`, replacing the connector's earlier one.
    pub fn record(&self, entry: LockedConnector) -> Result<()> {
        let mut connectors = self.entries()?;
        connectors.retain(|e| e.name != entry.name);
        connectors.push(entry);
        connectors.sort_by(|a, b| a.name.cmp(&b.name));
        files::write_json(&self.path, &LockFile { version: 1, connectors })
    }

    /// Forgets connector `name` (removed from the project).
    pub fn forget(&self, name: &str) -> Result<()> {
        let mut connectors = self.entries()?;
        let before = connectors.len();
        connectors.retain(|e| e.name != name);
        if connectors.len() != before {
            files::write_json(&self.path, &LockFile { version: 1, connectors })?;
        }
        Ok(())
    }
}
