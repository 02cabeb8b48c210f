//! Where a project's daemon keeps its files: `~/.max/daemons/<sha256(project root)[:12]>/` with
//! `project.json` (which project, which process, which build), `daemon.lock`, `start.lock`,
//! `daemon.log` and `daemon.sock`; the socket goes elsewhere when that path is too long for one.

use std::path::{Path, PathBuf};

/// The longest path a Unix socket address holds (`sun_path`, less its terminating zero).
const MAX_SOCKET_PATH: usize = 107;

/// One project's daemon folder.
#[derive(Debug, Clone)]
pub struct DaemonDir {
    dir: PathBuf,
}

impl DaemonDir {
    /// The daemon folder of the project at `root` (however the path is spelled: `..` and links are
    /// resolved first, so `-C ../acme` and `-C /home/ada/acme` find the same daemon).
    pub fn of(root: &Path) -> DaemonDir {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let key = max_host::format::sha256_hex(root.as_os_str().as_encoded_bytes());
        DaemonDir { dir: daemons_dir().join(&key[..12]) }
    }

    /// The folder, created private to this user (and the socket's, when that is elsewhere).
    pub fn create(&self) -> std::io::Result<&Path> {
        private_dir(&self.dir)?;
        if let Some(parent) = self.socket().parent().filter(|p| *p != self.dir) {
            private_dir(parent)?;
        }
        Ok(&self.dir)
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Held by the daemon for its whole life.
    pub fn lock(&self) -> PathBuf {
        self.dir.join("daemon.lock")
    }

    /// Held by whoever starts (or replaces) the daemon.
    pub fn start_lock(&self) -> PathBuf {
        self.dir.join("start.lock")
    }

    /// What the running daemon says of itself.
    pub fn record(&self) -> PathBuf {
        self.dir.join("project.json")
    }

    /// Its log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    /// The socket: in the folder, or, when that path is too long for a socket address, in a private
    /// folder of this user's under the runtime directory (`$XDG_RUNTIME_DIR`, else `/tmp`).
    pub fn socket(&self) -> PathBuf {
        let inside = self.dir.join("daemon.sock");
        if inside.as_os_str().len() <= MAX_SOCKET_PATH {
            return inside;
        }
        let name = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        short_socket_dir().join(format!("{name}.sock"))
    }
}

/// Every project's daemon folder lives here.
pub fn daemons_dir() -> PathBuf {
    max_host::project::max_home().join("daemons")
}

/// `$XDG_RUNTIME_DIR/max`, else `/tmp/max-<uid>`.
pub fn short_socket_dir() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("max"),
        None => {
            let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
            std::env::temp_dir().join(format!("max-{uid}"))
        }
    }
}

/// Creates `dir` private to this user, or checks that it is: a folder someone else owns, or others
/// may write to, is refused (another user could put their own socket there).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    let mine = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    if !meta.is_dir() || meta.uid() != mine || meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is not a folder private to this user", dir.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_path_too_long_for_an_address_moves_to_a_short_folder() {
        let short = DaemonDir { dir: PathBuf::from("/home/ada/.max/daemons/0123456789ab") };
        assert_eq!(short.socket(), PathBuf::from("/home/ada/.max/daemons/0123456789ab/daemon.sock"));
        let long = DaemonDir { dir: PathBuf::from(format!("/{}/daemons/0123456789ab", "deep/".repeat(30))) };
        let socket = long.socket();
        assert!(socket.as_os_str().len() <= MAX_SOCKET_PATH, "{}", socket.display());
        assert!(socket.ends_with("0123456789ab.sock"));
    }
}
