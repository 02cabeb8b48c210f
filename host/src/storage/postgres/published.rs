//! What a project whose data is in PostgreSQL publishes to its database so that workers on other
//! machines can run its syncs with nothing but the database's URL: its installed connectors
//! (components and descriptions), each installation's settings and credentials, and `project.json`,
//! as files under `.max/` in `"_max".published`, with a version (a hash of them all) in
//! `"_max".published_version`. `max sync` publishes before it starts a sync; a worker started with
//! `--storage` keeps a copy of the latest version in a folder of its own and refreshes it between
//! syncs. Whoever can read the database can read the credentials, as they can read the data.
//!
//! Each machine keeps its own URL: `.max/storage.json` is never published.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio_postgres::IsolationLevel;

use super::connection::{MAX_SCHEMA_LOCK, connect, failed, shown, wait};
use crate::project::files;
use crate::{Error, Result};

const TABLES: &str = "CREATE SCHEMA IF NOT EXISTS \"_max\";
    CREATE TABLE IF NOT EXISTS \"_max\".published (path TEXT PRIMARY KEY, private BOOLEAN NOT NULL, content BYTEA NOT NULL);
    CREATE TABLE IF NOT EXISTS \"_max\".published_version (
        only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row), version TEXT NOT NULL, project TEXT NOT NULL,
        published_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// The file, in a copy's `.max/`, naming the version it holds.
const COPY_VERSION: &str = "published-version";

/// One published file: its path under `.max/`, whether only its owner may read it, its bytes.
#[derive(Debug, Clone, PartialEq)]
struct Published {
    path: String,
    private: bool,
    content: Vec<u8>,
}

/// Whether `name` is one plain file or folder name (no separators, not hidden, not `..`).
fn plain(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Whether `path` (under `.max/`) is a file a project publishes: `project.json`, a file in
/// `connectors/`, or an installation's `installation.json` or `credentials.json`. Only these are
/// published, and only these are written from the database into a worker's copy.
fn publishable(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["project.json"] => true,
        ["connectors", file] => plain(file),
        ["installations", connector, name, file] => {
            plain(connector) && plain(name) && matches!(*file, "installation.json" | "credentials.json")
        }
        _ => false,
    }
}

/// The files of the project in `max_dir` that it publishes, sorted by path.
fn collect(max_dir: &Path) -> Result<Vec<Published>> {
    let mut paths = vec!["project.json".to_string()];
    for (folder, depth) in [("connectors", 1), ("installations", 3)] {
        walk(&max_dir.join(folder), folder, depth, &mut paths)?;
    }
    let mut published = Vec::new();
    for path in paths.into_iter().filter(|p| publishable(p)) {
        let file = max_dir.join(&path);
        match std::fs::read(&file) {
            Ok(content) => published.push(Published { private: path.ends_with("credentials.json"), path, content }),
            // Removed while we looked: not part of the project any more.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(Error::io("read", &file)(error)),
        }
    }
    published.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(published)
}

/// Adds the files `depth` folders down from `dir` (named `prefix` under `.max/`) to `paths`.
fn walk(dir: &Path, prefix: &str, depth: usize, paths: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::io("read", dir)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("read", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if !plain(&name) {
            continue;
        }
        let path = format!("{prefix}/{name}");
        let kind = entry.file_type().map_err(Error::io("read", &entry.path()))?;
        if depth > 1 && kind.is_dir() {
            walk(&entry.path(), &path, depth - 1, paths)?;
        } else if depth == 1 && kind.is_file() {
            paths.push(path);
        }
    }
    Ok(())
}

/// The version of `files`: a hash of every path, its privacy and its bytes.
fn version(files: &[Published]) -> String {
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.path.as_bytes());
        hash.update([0, u8::from(file.private)]);
        hash.update(Sha256::digest(&file.content));
    }
    crate::format::hex(&hash.finalize())
}

/// Publishes the project in `max_dir` (whose folder is `project`, as workers are told) to the
/// database at `url`, unless the database holds this version already. Returns whether it wrote.
pub fn publish(url: &str, max_dir: &Path, project: &str) -> Result<bool> {
    let files = collect(max_dir)?;
    let version = version(&files);
    let mut client = connect(url)?;
    let place = shown(url);
    wait(async {
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("{MAX_SCHEMA_LOCK}; {TABLES}")).await?;
        let current = tx.query_opt("SELECT version FROM \"_max\".published_version", &[]).await?;
        if current.is_some_and(|row| row.get::<_, String>(0) == version) {
            return Ok(false);
        }
        tx.execute("DELETE FROM \"_max\".published", &[]).await?;
        let insert = tx.prepare("INSERT INTO \"_max\".published (path, private, content) VALUES ($1, $2, $3)").await?;
        for file in &files {
            tx.execute(&insert, &[&file.path, &file.private, &file.content]).await?;
        }
        tx.execute(
            "INSERT INTO \"_max\".published_version (version, project) VALUES ($1, $2)
             ON CONFLICT (only_row) DO UPDATE SET version = $1, project = $2, published_at = now()",
            &[&version, &project],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    })
    .map_err(failed(&place))
}

/// Brings the copy of the published project in `max_dir` up to the latest version in the database at
/// `url`: the published files written (credentials 0600), the files no longer published removed.
/// Returns the version it now holds, `None` while nothing is published. A path outside what a
/// project publishes is refused, and the copy left as it was.
pub fn refresh(url: &str, max_dir: &Path) -> Result<Option<String>> {
    let client = connect(url)?;
    let place = shown(url);
    let held = std::fs::read_to_string(max_dir.join(COPY_VERSION)).ok();
    let latest: Option<String> = wait(async {
        let exists = client.query_one("SELECT to_regclass('\"_max\".published_version') IS NOT NULL", &[]).await?;
        if !exists.get::<_, bool>(0) {
            return Ok(None);
        }
        let row = client.query_opt("SELECT version FROM \"_max\".published_version", &[]).await?;
        Ok(row.map(|row| row.get(0)))
    })
    .map_err(failed(&place))?;
    let Some(latest) = latest else { return Ok(None) };
    if held.as_deref() == Some(latest.as_str()) {
        return Ok(Some(latest));
    }
    // The files and their version in one snapshot, so a publish under way is seen whole or not at all.
    let mut client = client;
    let (files, version) = wait(async {
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let rows = tx.query("SELECT path, private, content FROM \"_max\".published ORDER BY path", &[]).await?;
        let version: String = tx.query_one("SELECT version FROM \"_max\".published_version", &[]).await?.get(0);
        tx.commit().await?;
        let files: Vec<Published> =
            rows.iter().map(|r| Published { path: r.get(0), private: r.get(1), content: r.get(2) }).collect();
        Ok::<_, tokio_postgres::Error>((files, version))
    })
    .map_err(failed(&place))?;
    if let Some(bad) = files.iter().find(|f| !publishable(&f.path)) {
        return Err(Error::Storage {
            path: place,
            message: format!("the published project names the file `{}`, which no project publishes", bad.path),
        });
    }
    write_copy(max_dir, &files)?;
    files::write_atomic(&max_dir.join(COPY_VERSION), version.as_bytes())?;
    Ok(Some(version))
}

/// Writes `files` into the copy in `max_dir` and removes the connectors' files and installations
/// that are not among them.
fn write_copy(max_dir: &Path, files: &[Published]) -> Result<()> {
    let wanted: BTreeMap<&str, &Published> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    for file in files {
        let path = max_dir.join(&file.path);
        let dir = path.parent().expect("published files live in a folder");
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        if std::fs::read(&path).is_ok_and(|held| held == file.content) {
            continue;
        }
        if file.private {
            files::write_private(&path, &file.content)?;
        } else {
            files::write_atomic(&path, &file.content)?;
        }
    }
    let mut held = Vec::new();
    for (folder, depth) in [("connectors", 1), ("installations", 3)] {
        walk(&max_dir.join(folder), folder, depth, &mut held)?;
    }
    for path in held.iter().filter(|p| publishable(p) && !wanted.contains_key(p.as_str())) {
        let file = max_dir.join(path);
        std::fs::remove_file(&file).map_err(Error::io("remove", &file))?;
    }
    // An installation no longer published goes with its folder.
    for path in held.iter().filter(|p| p.ends_with("/installation.json") && !wanted.contains_key(p.as_str())) {
        let folder: PathBuf = max_dir.join(path).parent().map(Path::to_path_buf).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&folder);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_projects_own_files_are_publishable() {
        for path in [
            "project.json",
            "connectors/manifest.json",
            "connectors/acme-0.1.0-946451f8dea8.wasm",
            "installations/acme/default/installation.json",
            "installations/acme/default/credentials.json",
        ] {
            assert!(publishable(path), "{path}");
        }
        for path in [
            "storage.json",
            "../.bashrc",
            "connectors/../../x",
            "connectors/.manifest.json.12.tmp",
            "installations/acme/default/data.db",
            "installations/acme/../credentials.json",
            "installations/acme/default/x/installation.json",
            "/etc/passwd",
            "connectors/a/b",
        ] {
            assert!(!publishable(path), "{path}");
        }
    }

    #[test]
    fn a_copy_gets_the_published_files_and_loses_what_is_no_longer_published() {
        let dir = tempfile::tempdir().unwrap();
        let max_dir = dir.path();
        let file = |path: &str, private, content: &str| Published {
            path: path.into(),
            private,
            content: content.as_bytes().to_vec(),
        };
        let first = [
            file("connectors/manifest.json", false, "{}"),
            file("installations/acme/old/installation.json", false, "old"),
            file("installations/acme/old/credentials.json", true, "secret"),
        ];
        write_copy(max_dir, &first).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(max_dir.join("installations/acme/old/credentials.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = [file("connectors/manifest.json", false, "{\"v\":2}"), file("installations/acme/new/installation.json", false, "new")];
        write_copy(max_dir, &second).unwrap();
        assert_eq!(std::fs::read_to_string(max_dir.join("connectors/manifest.json")).unwrap(), "{\"v\":2}");
        assert!(!max_dir.join("installations/acme/old").exists());
        assert!(max_dir.join("installations/acme/new/installation.json").exists());
        assert_ne!(version(&first), version(&second));
        assert_eq!(version(&collect(max_dir).unwrap()), version(&second));
    }
}
