//! Reading and atomically writing the project's JSON files.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Reads a JSON file into `T`; a parse failure names the damaged file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::DamagedFile { path: path.to_path_buf(), source })
}

/// Writes `value` as pretty JSON through a temporary file and a rename, so a crash never leaves a
/// half-written file.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).expect("project files always serialize");
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Writes bytes through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("project files live in a folder");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, bytes).map_err(Error::io("write", &temp))?;
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        Error::Io { action: "write", path: path.to_path_buf(), source }
    })
}
