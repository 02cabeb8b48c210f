//! The project's trust policy (`.max/trust.json`): the publishers' public keys whose signatures make a
//! connector from a registry installable (`max trust add publisher.pub`). A registry artifact that is
//! unsigned, or signed by a key not in it, is refused unless the user says `--allow-unsigned`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use crate::{Error, Result};

/// One trusted publisher key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// A name for people (`acme-publisher`), unique in the policy.
    pub name: String,
    /// The ed25519 public key, hex.
    pub key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrustFile {
    keys: Vec<TrustedKey>,
}

/// The trust policy of one project.
#[derive(Debug, Clone)]
pub struct TrustStore {
    path: PathBuf,
}

impl TrustStore {
    /// The policy kept at `path` (`.max/trust.json`).
    pub fn new(path: PathBuf) -> Self {
        TrustStore { path }
    }

    /// The trusted keys, in the order they were added (none when the file doesn't exist yet).
    pub fn keys(&self) -> Result<Vec<TrustedKey>> {
        if !self.path.is_file() {
            return Ok(Vec::new());
        }
        Ok(files::read_json::<TrustFile>(&self.path)?.keys)
    }

    /// Trusts the public key in the file at `key_file` under `name` (the file's stem by default).
    /// Adding a key already trusted changes nothing; a name already taken by another key is refused.
    pub fn add(&self, key_file: &Path, name: Option<&str>) -> Result<TrustedKey> {
        let key = crate::signing::read_public_key(key_file)?;
        let name = match name {
            Some(name) => name.to_string(),
            None => {
                key_file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| key[..12].to_string())
            }
        };
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(Error::TrustName { name, reason: "1 to 64 printable characters".to_string() });
        }
        let mut keys = self.keys()?;
        if let Some(same) = keys.iter().find(|k| k.key == key) {
            return Ok(same.clone());
        }
        if keys.iter().any(|k| k.name == name) {
            return Err(Error::TrustName {
                name,
                reason: "another key has this name: pick another with --name".into(),
            });
        }
        let trusted = TrustedKey { name, key };
        keys.push(trusted.clone());
        files::write_json(&self.path, &TrustFile { keys })?;
        Ok(trusted)
    }

    /// Stops trusting the key named `name` (or whose hex is `name`); returns it.
    pub fn remove(&self, name: &str) -> Result<TrustedKey> {
        let mut keys = self.keys()?;
        let position =
            keys.iter().position(|k| k.name == name || k.key == name.to_ascii_lowercase()).ok_or_else(|| {
                Error::TrustName { name: name.to_string(), reason: "no trusted key has this name".into() }
            })?;
        let removed = keys.remove(position);
        files::write_json(&self.path, &TrustFile { keys })?;
        Ok(removed)
    }
}
