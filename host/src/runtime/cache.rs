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

    /// Loads the component whose bytes hash to `sha256`, from the cache if possible.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8], sha256: &str) -> wasmtime::Result<(Component, LoadOrigin)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, LoadOrigin::Compiled));
        };
        let artifact = dir.join(format!("{sha256}.cwasm"));
        if artifact.is_file() {
            // SAFETY: the artifact was written by `store` below from the bytes whose sha256 names it,
            // by an engine with the same compatibility hash (part of the directory name). A damaged file
            // is rejected by wasmtime's header and checksum checks and then recompiled.
            match unsafe { Component::deserialize_file(engine, &artifact) } {
                Ok(component) => return Ok((component, LoadOrigin::Cache)),
                Err(error) => tracing::warn!(path = %artifact.display(), %error, "discarding a damaged compile-cache entry"),
            }
        }
        let serialized = engine.precompile_component(bytes)?;
        if let Err(error) = store(dir, &artifact, &serialized) {
            tracing::warn!(path = %artifact.display(), %error, "could not write the compile cache");
        }
        // SAFETY: `serialized` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &serialized)? };
        Ok((component, LoadOrigin::Compiled))
    }
}

/// Writes atomically: a temporary file in the same directory, then a rename.
fn store(dir: &Path, artifact: &Path, serialized: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.{}.tmp", artifact.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"), std::process::id()));
    std::fs::write(&temp, serialized)?;
    std::fs::rename(&temp, artifact)
}

fn wasmtime_version() -> &'static str {
    // The engine's compatibility hash covers the version too; the name makes the folder readable.
    "48"
}
