//! The on-disk compile cache: a component compiled once is stored as a `.cwasm` keyed by the sha256 of
//! its bytes and by the engine's compatibility hash, and later loads map it instead of compiling.
//!
//! Artifacts are only ever produced here, by this engine, from the bytes whose hash names them; a
//! damaged or foreign artifact fails to deserialize and is replaced by a fresh compile.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOrigin {
    /// Compiled now (and stored in the cache, when there is one).
    Compiled,
    /// Mapped from the compile cache.
    Cache,
}

/// The cache directory for one engine configuration.
#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
}

/// Feeds `Hash` output into sha256 so the key is stable across Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl CompileCache {
    /// A cache under `root` (none: compile every time).
    pub(crate) fn new(engine: &Engine, root: Option<&Path>) -> Self {
        let dir = root.map(|root| {
            let mut hasher = Sha256Hasher(Sha256::new());
            engine.precompile_compatibility_hash().hash(&mut hasher);
            root.join(format!("wasmtime-{}", wasmtime_version())).join(format!("{:016x}", hasher.finish()))
        });
        CompileCache { dir }
    }

    /// Loads the component whose bytes hash to `sha256`, from the cache if possible. A fresh compile is
    /// not stored yet: the caller checks the component first and then calls [`CompileCache::keep`], so a
    /// component that is refused leaves nothing behind.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> wasmtime::Result<Loaded> {
        // A folder others can write to is not used at all: what is read from it, and what would be
        // written to it, could be swapped for native code of theirs.
        let dir = self.dir.as_ref().filter(|dir| !dir.exists() || written_only_by_us(dir));
        if let Some(dir) = self.dir.as_ref().filter(|_| dir.is_none()) {
            tracing::warn!(path = %dir.display(), "not using a compile-cache folder that others can write to");
        }
        let artifact = dir.map(|dir| dir.join(format!("{sha256}.cwasm")));
        let trusted = |artifact: &PathBuf| {
            if !artifact.is_file() {
                return false;
            }
            let ours = written_only_by_us(artifact);
            if !ours {
                tracing::warn!(path = %artifact.display(), "ignoring a compile-cache entry that others could have written");
            }
            ours
        };
        if let Some(artifact) = artifact.as_ref().filter(|a| trusted(a)) {
            // SAFETY: the artifact was written by `keep` from the bytes whose sha256 names it, by an
            // engine with the same compatibility hash (part of the directory name); only this user
            // can have written it or its folder. A damaged file is rejected by wasmtime's header
            // checks and then recompiled.
            match unsafe { Component::deserialize_file(engine, artifact) } {
                Ok(component) => return Ok(Loaded { component, origin: LoadOrigin::Cache, unsaved: None }),
                Err(error) => {
                    tracing::warn!(path = %artifact.display(), %error, "discarding a damaged compile-cache entry")
                }
            }
        }
        let serialized = engine.precompile_component(bytes)?;
        // SAFETY: `serialized` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &serialized)? };
        let unsaved = artifact.map(|path| (path, serialized));
        Ok(Loaded { component, origin: LoadOrigin::Compiled, unsaved })
    }

    /// Stores a fresh compile of a component that passed its checks.
    pub(crate) fn keep(&self, loaded: Loaded) -> Component {
        if let Some((path, serialized)) = loaded.unsaved
            && let Err(error) = store(&path, &serialized)
        {
            tracing::warn!(path = %path.display(), %error, "could not write the compile cache");
        }
        loaded.component
    }
}

/// A component just loaded, with its compiled artifact if it is not in the cache yet.
pub(crate) struct Loaded {
    pub(crate) component: Component,
    pub(crate) origin: LoadOrigin,
    unsaved: Option<(PathBuf, Vec<u8>)>,
}

/// Writes atomically: a temporary file in the same directory, then a rename. Folders are made
/// readable by this user only, and so are the files.
fn store(artifact: &Path, serialized: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = artifact.parent().expect("artifacts live in the cache directory");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        artifact.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"),
        std::process::id()
    ));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
    file.write_all(serialized)?;
    std::fs::rename(&temp, artifact)
}

/// Whether only this user can have written `path` (a cache entry or its folder): not a link, owned by
/// this user, not writable by group or others. An entry someone else could have planted is native
/// code this process would run.
fn written_only_by_us(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    // SAFETY: geteuid has no preconditions and never fails.
    let me = unsafe { libc::geteuid() };
    !meta.file_type().is_symlink() && meta.uid() == me && meta.mode() & 0o022 == 0
}

fn wasmtime_version() -> &'static str {
    // The engine's compatibility hash covers the version too; the name makes the folder readable.
    "48"
}
