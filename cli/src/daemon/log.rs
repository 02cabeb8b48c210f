//! The daemon's log: `daemon.log`, rotated when it passes a size (`daemon.log.1` … `.3` keep the
//! older ones), so a daemon that runs for months never fills the disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The size past which the log is rotated.
pub const ROTATE_BYTES: u64 = 8 << 20;
/// How many rotated logs are kept.
const KEPT: usize = 3;

/// A log file that rotates itself; clones share it.
#[derive(Clone)]
pub struct RotatingLog {
    inner: Arc<Mutex<Open>>,
}

struct Open {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
}

impl RotatingLog {
    /// Opens `path` for appending, rotating it first when it is already past `limit` bytes.
    pub fn open(path: &Path, limit: u64) -> std::io::Result<RotatingLog> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > limit) {
            rotate(path)?;
        }
        let file = append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog { inner: Arc::new(Mutex::new(Open { path: path.to_path_buf(), file, size, limit })) })
    }
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut open = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if open.size + buf.len() as u64 > open.limit && open.size > 0 {
            rotate(&open.path)?;
            open.file = append(&open.path)?;
            open.size = 0;
        }
        open.file.write_all(buf)?;
        open.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).file.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingLog {
    type Writer = RotatingLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// `daemon.log` → `.1`, `.1` → `.2`, …, the oldest dropped.
fn rotate(path: &Path) -> std::io::Result<()> {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    for n in (1..KEPT).rev() {
        if numbered(n).exists() {
            std::fs::rename(numbered(n), numbered(n + 1))?;
        }
    }
    std::fs::rename(path, numbered(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_past_its_size_and_keeps_three() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let mut log = RotatingLog::open(&path, 100).unwrap();
        for i in 0..30 {
            writeln!(log, "line {i:02} {}", "x".repeat(40)).unwrap();
        }
        let size = |p: &str| std::fs::metadata(dir.path().join(p)).map(|m| m.len()).ok();
        assert!(size("daemon.log").is_some_and(|s| s <= 100));
        assert!(size("daemon.log.1").is_some() && size("daemon.log.3").is_some());
        assert_eq!(size("daemon.log.4"), None, "only three are kept");
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.contains("line 29"), "{newest}");
    }
}
