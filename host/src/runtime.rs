//! The WebAssembly runtime: the only module that uses wasmtime.
//!
//! One [`Runtime`] per process holds the engine, the epoch ticker that enforces time limits, the linker
//! with the host's imports, and the on-disk compile cache. Loading a component yields a
//! [`LoadedConnector`] (compiled and pre-instantiated once); an [`InstancePool`] hands out
//! [`ConnectorInstance`]s of one installation, one call in flight per instance.

mod bindings;
mod cache;
mod contract;
mod convert;
mod imports;
mod instance;
mod packed;
mod pool;
mod state;

pub use contract::{CONTRACT_VERSION, supported_contract};
mod loader;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use cache::LoadOrigin;
pub use instance::ConnectorInstance;
pub use loader::{InstanceSetup, LoadedConnector};
pub use packed::decode_rows;
pub use pool::{InstancePool, PooledInstance};
pub use state::Limits;

use crate::{Error, Result};

/// How often the epoch ticks: the resolution of the CPU and wall-clock limits.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached (`~/.max/cache`); `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
}

/// Counts of how loads were served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Components compiled by Cranelift.
    pub compiled: u64,
    /// Components mapped from the compile cache.
    pub from_cache: u64,
}

/// The process-wide WebAssembly runtime.
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    engine: Engine,
    linker: Linker<state::StoreState>,
    cache: cache::CompileCache,
    compiled: AtomicU64,
    from_cache: AtomicU64,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache", &self.inner.cache).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine, the linker with the host's imports, and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let mut wasm_config = Config::new();
        wasm_config.wasm_component_model(true).epoch_interruption(true).max_wasm_stack(1 << 20);
        let engine = Engine::new(&wasm_config).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        bindings::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| Error::Runtime(format!("{e:#}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        start_epoch_ticker(engine.clone(), ticker_stop.clone());
        let cache = cache::CompileCache::new(&engine, config.cache_dir.as_deref());
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache,
                compiled: AtomicU64::new(0),
                from_cache: AtomicU64::new(0),
                ticker_stop,
            }),
        })
    }

    /// Loads the component in `path`: see [`Runtime::load`].
    pub fn load_file(&self, path: &std::path::Path) -> Result<LoadedConnector> {
        let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
        self.load(&path.display().to_string(), &bytes)
    }

    /// Checks that `bytes` are a component of a supported contract version, compiles it (or maps it
    /// from the cache) and pre-instantiates it. `label` names it in errors.
    pub fn load(&self, label: &str, bytes: &[u8]) -> Result<LoadedConnector> {
        loader::load(&self.inner, label, bytes, crate::format::sha256_hex(bytes))
    }

    /// [`Runtime::load`] for bytes whose sha256 the caller has already computed (and checked).
    pub(crate) fn load_hashed(&self, label: &str, bytes: &[u8], sha256: String) -> Result<LoadedConnector> {
        loader::load(&self.inner, label, bytes, sha256)
    }

    /// How loads have been served so far.
    pub fn load_stats(&self) -> LoadStats {
        LoadStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            from_cache: self.inner.from_cache.load(Ordering::Relaxed),
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until `stop` is set; each tick lets running
/// guests check their CPU and wall-clock budgets.
fn start_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("max-epoch".to_string())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread");
}
