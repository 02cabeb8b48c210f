//! Where a project's synced data lives: a SQLite file beside each installation (the default), or a
//! PostgreSQL database, one schema per installation, named in `.max/storage.json`. That file is
//! written 0600: its URL may carry a password.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files;
use crate::{Error, Result};

/// A project's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case", deny_unknown_fields)]
pub enum StorageSetting {
    /// `data.db` in each installation's folder.
    #[default]
    Sqlite,
    /// One PostgreSQL database shared by the installations (and by workers on other machines).
    Postgres {
        /// `postgres://user:password@host:port/database`.
        url: String,
    },
}

impl StorageSetting {
    /// The setting a `--storage` argument names: `sqlite`, or a `postgres://` (or `postgresql://`) URL
    /// (the certificate files it names made absolute from the current folder).
    pub fn parse(text: &str) -> Result<StorageSetting> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("sqlite") {
            return Ok(StorageSetting::Sqlite);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            if let Some(reason) = crate::storage::pg_url_problem(text) {
                return Err(Error::InvalidStorage { given: crate::storage::shown_url(text), reason });
            }
            return Ok(StorageSetting::Postgres { url: crate::storage::with_absolute_files(text) });
        }
        Err(Error::InvalidStorage {
            given: crate::storage::shown_url(text),
            reason: "neither `sqlite` nor a postgres:// URL".to_string(),
        })
    }

    /// What it is, for people (a URL without its password).
    pub fn describe(&self) -> String {
        match self {
            StorageSetting::Sqlite => "SQLite (a data.db per installation)".to_string(),
            StorageSetting::Postgres { url } => format!("PostgreSQL at {}", crate::storage::shown_url(url)),
        }
    }
}

/// The project's setting, from `.max/storage.json` (SQLite when there is none).
pub(super) fn read(max_dir: &Path) -> Result<StorageSetting> {
    let path = max_dir.join("storage.json");
    if !path.exists() {
        return Ok(StorageSetting::Sqlite);
    }
    files::read_json(&path)
}

/// Records `setting` in `.max/storage.json` (0600); SQLite, the default, leaves no file.
pub(super) fn write(max_dir: &Path, setting: &StorageSetting) -> Result<()> {
    let path = max_dir.join("storage.json");
    match setting {
        StorageSetting::Sqlite => match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &path)(error)),
            _ => Ok(()),
        },
        StorageSetting::Postgres { .. } => files::write_private(&path, &files::to_checked_json(&path, setting)?),
    }
}
