//! Reading and atomically writing the project's JSON files. A file is only ever replaced by one that
//! has been read back: what a connector declares can't leave a project file that fails to load.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Reads a JSON file into `T`; a parse failure names the damaged file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::DamagedFile { path: path.to_path_buf(), source })
}

/// `value` as the pretty JSON [`write_json`] writes, after checking that it reads back as itself.
pub(crate) fn to_checked_json<T: Serialize + DeserializeOwned>(path: &Path, value: &T) -> Result<Vec<u8>> {
    let unwritable = |reason: String| Error::UnwritableFile { path: path.to_path_buf(), reason };
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| unwritable(e.to_string()))?;
    // What would be read back must be what was meant: the same value, serialized the same way.
    let read_back: T = serde_json::from_slice(&text).map_err(|e| unwritable(format!("it would not read back: {e}")))?;
    let again = serde_json::to_vec_pretty(&read_back).map_err(|e| unwritable(e.to_string()))?;
    if again != text {
        return Err(unwritable("it would read back as something else".to_string()));
    }
    text.push(b'\n');
    Ok(text)
}

/// Writes `value` as pretty JSON through a temporary file and a rename, so a crash never leaves a
/// half-written file, and only after checking that it reads back as itself (the old file stays
/// otherwise).
pub(crate) fn write_json<T: Serialize + DeserializeOwned>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &to_checked_json(path, value)?)
}

/// Writes bytes through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_through_temp(path, bytes, 0o666)
}

/// Writes bytes as [`write_atomic`] does, readable and writable by the owner only (0600) from the
/// moment the file exists.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_through_temp(path, bytes, 0o600)
}

fn write_through_temp(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().expect("project files live in a folder");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let written =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::Io { action: "write", path: temp, source });
    }
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        Error::Io { action: "write", path: path.to_path_buf(), source }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::manifest::arbitrary;

    /// The shape of the bug that bricked projects: a flattened tag whose variant has a field named like
    /// one of its parent's.
    #[derive(Debug, Serialize, serde::Deserialize)]
    struct Colliding {
        name: String,
        #[serde(flatten)]
        inner: Inner,
    }

    #[derive(Debug, Serialize, serde::Deserialize)]
    #[serde(tag = "kind")]
    enum Inner {
        Named { name: String },
    }

    #[test]
    fn a_value_that_would_not_read_back_is_refused_and_the_old_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, "old").unwrap();
        let value = Colliding { name: "a".into(), inner: Inner::Named { name: "b".into() } };
        let error = write_json(&path, &value).unwrap_err();
        assert!(matches!(error, Error::UnwritableFile { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    /// `value` written to a file and read back.
    fn through_a_file<T: Serialize + DeserializeOwned>(value: &T) -> T {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file.json");
        write_json(&path, value).unwrap();
        read_json(&path).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever a connector declares, the files holding it read back as exactly what was written.
        #[test]
        fn every_description_round_trips_through_its_file(info in arbitrary::connector_info()) {
            prop_assert_eq!(through_a_file(&info), info);
        }

        #[test]
        fn every_grant_round_trips_through_its_file(granted in arbitrary::permissions()) {
            prop_assert_eq!(through_a_file(&granted), granted);
        }
    }
}
