//! Checkpoints off the writer's path. SQLite in WAL mode appends commits to the `-wal` file and, by
//! default, copies them back into the database (a checkpoint, with an fsync of each file) inside the
//! commit that makes the WAL pass 1,000 pages: on a large sync that is the writer waiting for the disk
//! many times over. A writable database here turns that off for its connection and runs passive
//! checkpoints from a thread of its own, with its own connection, every [`EVERY`] while the WAL keeps
//! changing: the writer goes on writing while the disk syncs (WAL readers and writers never block each
//! other, and a passive checkpoint never waits for a lock). The WAL stays about what a writer adds in
//! that time, and a killed process loses nothing a commit wrote (the WAL is replayed on the next open).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is checkpointed while it changes.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpointing thread of one database; stopped when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (whose writer has `wal_autocheckpoint` off). `None`
    /// when the thread or its connection can't be had: the writer then checkpoints itself.
    pub(super) fn start(path: &Path) -> Option<Self> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(Duration::from_secs(10)).ok()?;
        let wal = wal_path(path);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("max-checkpoint".into())
            .spawn(move || {
                let mut checkpointed = None;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // The writer's last write to the WAL (a checkpoint doesn't write it).
                    let written = std::fs::metadata(&wal).and_then(|m| m.modified()).ok();
                    if written.is_some() && written != checkpointed {
                        // Busy or failed: the next look tries again; the writer's data is in the WAL.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        checkpointed = written;
                    }
                }
            })
            .ok()?;
        Some(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The WAL file of the database at `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database file's size once `written` bytes were committed to the WAL and `wait` passed.
    fn checkpointed_size(checkpointer: bool, written: usize, wait: Duration) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v BLOB);")
            .unwrap();
        let _checkpointer = checkpointer.then(|| Checkpointer::start(&path).expect("a checkpointing thread"));
        for _ in 0..written / 65_536 {
            conn.execute("INSERT INTO t (v) VALUES (zeroblob(65536))", []).unwrap();
        }
        let until = std::time::Instant::now() + wait;
        let size = || std::fs::metadata(&path).unwrap().len();
        // Bounded: the thread checkpoints within a few of its looks, or the size stays as it is.
        while size() < written as u64 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        size()
    }

    #[test]
    fn commits_reach_the_database_file_while_its_writer_never_checkpoints() {
        let written = 4 << 20;
        assert!(checkpointed_size(false, written, EVERY * 2) < 1 << 20, "with no checkpoint, all stays in the WAL");
        assert!(checkpointed_size(true, written, EVERY * 20) >= written as u64, "the thread copied the WAL back");
    }
}
