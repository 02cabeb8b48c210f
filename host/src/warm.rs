//! What a long-lived front end (the project daemon, `max mcp`) keeps between calls: each
//! installation's live connector (its component loaded, its instances initialised, its HTTP
//! capability with the rate limits it has learnt) and open read-only connections to its database.
//!
//! A connector is kept only after a sync that completed, and only for the settings, credentials,
//! component and worker count it was built with: any of them changing (a `max connect` again, an
//! upgrade, a refreshed token written by another process) builds it afresh, as does a sync that
//! failed, so a connector that trapped, hung or ran out of a limit never runs again as it was. A read
//! connection is kept per database (a SQLite file by its inode: a database removed and synced anew
//! is another file; a PostgreSQL schema by name) and reads the stored schema again before each use,
//! since a sync may have changed it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Result;
use crate::live::LiveConnector;
use crate::project::{Installation, InstalledConnector};
use crate::storage::ReadStore;

/// Live connectors kept at most (the least recently used goes first).
const MOST_CONNECTORS: usize = 8;
/// Idle read connections kept per database.
const MOST_READERS: usize = 4;
/// How long something unused is kept.
const KEEP_FOR: Duration = Duration::from_secs(15 * 60);

/// The live connectors and read connections a host keeps warm.
#[derive(Default)]
pub(crate) struct Warm {
    connectors: Mutex<HashMap<String, KeptConnector>>,
    readers: Mutex<HashMap<String, Vec<IdleReader>>>,
    counts: Counts,
}

/// A live connector kept, what it was built for, and when it was last used.
struct KeptConnector {
    live: LiveConnector,
    made_for: [u8; 32],
    used: Instant,
}

/// A read connection kept, the file it opened (a SQLite database's), and when it was last used.
struct IdleReader {
    file: Option<FileId>,
    storage: Box<dyn ReadStore>,
    used: Instant,
}

#[derive(Default)]
struct Counts {
    connectors_built: AtomicU64,
    connectors_reused: AtomicU64,
    readers_opened: AtomicU64,
    readers_reused: AtomicU64,
}

/// What a warm host holds and how often it saved building or opening something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmStats {
    /// The installations whose live connectors are kept.
    pub connectors: Vec<String>,
    /// Read connections kept, over every database.
    pub readers: usize,
    /// Live connectors built for a sync.
    pub connectors_built: u64,
    /// Syncs that ran on a kept live connector.
    pub connectors_reused: u64,
    /// Read connections opened.
    pub readers_opened: u64,
    /// Reads on a kept connection.
    pub readers_reused: u64,
}

/// Opens an installation's database for reading (none when nothing is stored yet).
pub(crate) type Opener = Box<dyn FnOnce() -> Result<Option<Box<dyn ReadStore>>>>;

/// A database file, by device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileId(m.dev(), m.ino()))
    }
}

impl Warm {
    /// The live connector kept for `installation`, taken out (a sync has it to itself) when it was
    /// built for `made_for`; one built for anything else is dropped.
    pub(crate) fn take_connector(&self, installation: &Installation, made_for: &[u8; 32]) -> Option<LiveConnector> {
        let kept = lock(&self.connectors).remove(&installation.label())?;
        if &kept.made_for != made_for || kept.used.elapsed() > KEEP_FOR {
            return None;
        }
        self.counts.connectors_reused.fetch_add(1, Ordering::Relaxed);
        Some(kept.live)
    }

    /// Counts a live connector built because none was kept.
    pub(crate) fn built_connector(&self) {
        self.counts.connectors_built.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps `live`, built for `made_for`, for `installation`'s next sync.
    pub(crate) fn keep_connector(&self, installation: &Installation, made_for: [u8; 32], live: LiveConnector) {
        let mut connectors = lock(&self.connectors);
        connectors.retain(|_, kept| kept.used.elapsed() <= KEEP_FOR);
        if connectors.len() >= MOST_CONNECTORS
            && let Some(oldest) = connectors.iter().min_by_key(|(_, kept)| kept.used).map(|(label, _)| label.clone())
        {
            connectors.remove(&oldest);
        }
        connectors.insert(installation.label(), KeptConnector { live, made_for, used: Instant::now() });
    }

    /// A read connection to the database `key` names: a kept one (its schema read again) when it
    /// still reads the same database (`file`, for a SQLite one), else one `open` opens (none when
    /// nothing is stored there yet). It comes back to be kept when dropped.
    pub(crate) fn reader(self: &Arc<Self>, key: &str, file: Option<&Path>, open: Opener) -> Result<Option<Reader>> {
        let id = file.and_then(FileId::of);
        let kept = {
            let mut readers = lock(&self.readers);
            let idle = readers.entry(key.to_string()).or_default();
            idle.retain(|kept| kept.file == id && kept.used.elapsed() <= KEEP_FOR);
            idle.pop()
        };
        let storage = match kept {
            Some(mut kept) => {
                kept.storage.reread_info()?;
                self.counts.readers_reused.fetch_add(1, Ordering::Relaxed);
                kept.storage
            }
            None => {
                let Some(storage) = open()? else { return Ok(None) };
                self.counts.readers_opened.fetch_add(1, Ordering::Relaxed);
                storage
            }
        };
        Ok(Some(Reader { storage: Some(storage), back: Some((self.clone(), key.to_string(), id)) }))
    }

    /// Drops what has not been used for a while.
    pub(crate) fn cool(&self) {
        lock(&self.connectors).retain(|_, kept| kept.used.elapsed() <= KEEP_FOR);
        lock(&self.readers).retain(|_, idle| {
            idle.retain(|kept| kept.used.elapsed() <= KEEP_FOR);
            !idle.is_empty()
        });
    }

    /// What is kept and how often it served.
    pub(crate) fn stats(&self) -> WarmStats {
        let mut connectors: Vec<String> = lock(&self.connectors).keys().cloned().collect();
        connectors.sort();
        WarmStats {
            connectors,
            readers: lock(&self.readers).values().map(Vec::len).sum(),
            connectors_built: self.counts.connectors_built.load(Ordering::Relaxed),
            connectors_reused: self.counts.connectors_reused.load(Ordering::Relaxed),
            readers_opened: self.counts.readers_opened.load(Ordering::Relaxed),
            readers_reused: self.counts.readers_reused.load(Ordering::Relaxed),
        }
    }
}

/// What a live connector is built from: the component, the installation's settings and sandbox,
/// its credentials as stored now, and the number of instances.
pub(crate) fn made_for(installation: &Installation, connector: &InstalledConnector, workers: usize) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(connector.sha256.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(&installation.file).unwrap_or_default());
    hash.update([0]);
    hash.update(std::fs::read(installation.credentials_path()).unwrap_or_default());
    hash.update([0]);
    hash.update(workers.to_le_bytes());
    hash.finalize().into()
}

/// A read connection to one installation's database, kept warm again when dropped (when it came
/// from a warm host).
pub(crate) struct Reader {
    storage: Option<Box<dyn ReadStore>>,
    back: Option<(Arc<Warm>, String, Option<FileId>)>,
}

impl Reader {
    /// A connection of its own, not kept.
    pub(crate) fn cold(storage: Box<dyn ReadStore>) -> Reader {
        Reader { storage: Some(storage), back: None }
    }
}

impl std::ops::Deref for Reader {
    type Target = dyn ReadStore;
    fn deref(&self) -> &(dyn ReadStore + 'static) {
        self.storage.as_deref().expect("present until drop")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let (Some(storage), Some((warm, key, file))) = (self.storage.take(), self.back.take()) else { return };
        let mut readers = lock(&warm.readers);
        let idle = readers.entry(key).or_default();
        if idle.len() < MOST_READERS {
            idle.push(IdleReader { file, storage, used: Instant::now() });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
