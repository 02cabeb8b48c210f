//! The WebAssembly runtime: the only module that uses wasmtime.
//!
//! One [`Runtime`] per process holds the engine, the epoch ticker that enforces time limits, the linker
//! with the host's imports, and the on-disk compile cache. Loading a component yields a
//! [`LoadedConnector`] (compiled and pre-instantiated once); an [`InstancePool`] hands out
//! [`ConnectorInstance`]s of one installation, one call in flight per instance.

mod bindings;
mod cache;
pub(crate) mod contract;
mod convert;
mod imports;
mod instance;
mod packed;
mod pool;
mod result_size;
mod state;

pub use contract::{CONTRACT_VERSION, supported_contract};
mod loader;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wasmtime::component::Linker;
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

/// Stack left to host functions on a guest's fiber, on top of what its WebAssembly code may use.
const HOST_STACK_BYTES: usize = 1 << 20;

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
    config: RuntimeConfig,
    /// One engine per stack size in use: wasmtime sets the stack limit per engine, not per store.
    engines: Mutex<Vec<Arc<EngineSet>>>,
    compiled: AtomicU64,
    from_cache: AtomicU64,
}

/// An engine for one stack size, with its linker and compile cache.
pub(crate) struct EngineSet {
    stack_bytes: usize,
    engine: Engine,
    linker: Linker<state::StoreState>,
    cache: cache::CompileCache,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache_dir", &self.inner.config.cache_dir).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine for the default stack size, its linker with the host's imports, and starts
    /// the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let inner = Arc::new(RuntimeInner {
            config,
            engines: Mutex::new(Vec::new()),
            compiled: AtomicU64::new(0),
            from_cache: AtomicU64::new(0),
        });
        inner.engine_for(Limits::default().stack_bytes)?;
        start_epoch_ticker(Arc::downgrade(&inner));
        Ok(Runtime { inner })
    }

    /// Loads the component in `path`: see [`Runtime::load`].
    pub fn load_file(&self, path: &std::path::Path) -> Result<LoadedConnector> {
        let bytes = std::fs::read(path).map_err(Error::io("read", path))?;
        self.load(&path.display().to_string(), &bytes)
    }

    /// Checks that `bytes` are a component of a supported contract version, compiles it (or maps it
    /// from the cache) and pre-instantiates it for the default stack size. `label` names it in errors.
    pub fn load(&self, label: &str, bytes: &[u8]) -> Result<LoadedConnector> {
        self.load_with_stack(label, bytes, Limits::default().stack_bytes)
    }

    /// [`Runtime::load`] for instances whose WebAssembly code may use `stack_bytes` of stack (the
    /// [`Limits::stack_bytes`] they will run with).
    pub fn load_with_stack(&self, label: &str, bytes: &[u8], stack_bytes: usize) -> Result<LoadedConnector> {
        let engine = self.inner.engine_for(stack_bytes)?;
        loader::load(&self.inner, engine, label, bytes, crate::format::sha256_hex(bytes))
    }

    /// [`Runtime::load_with_stack`] for bytes whose sha256 the caller has already computed (and checked).
    pub(crate) fn load_hashed(
        &self,
        label: &str,
        bytes: &[u8],
        sha256: String,
        stack_bytes: usize,
    ) -> Result<LoadedConnector> {
        let engine = self.inner.engine_for(stack_bytes)?;
        loader::load(&self.inner, engine, label, bytes, sha256)
    }

    /// How loads have been served so far.
    pub fn load_stats(&self) -> LoadStats {
        LoadStats {
            compiled: self.inner.compiled.load(Ordering::Relaxed),
            from_cache: self.inner.from_cache.load(Ordering::Relaxed),
        }
    }
}

impl RuntimeInner {
    /// The engine whose WebAssembly stack limit is `stack_bytes`, created on first use.
    fn engine_for(&self, stack_bytes: usize) -> Result<Arc<EngineSet>> {
        let mut engines = self.engines.lock().expect("engines lock");
        if let Some(set) = engines.iter().find(|set| set.stack_bytes == stack_bytes) {
            return Ok(set.clone());
        }
        let mut wasm_config = Config::new();
        wasm_config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(stack_bytes)
            .async_stack_size(stack_bytes + HOST_STACK_BYTES);
        let engine = Engine::new(&wasm_config).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        bindings::add_to_linker(&mut linker).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        let cache = cache::CompileCache::new(&engine, self.config.cache_dir.as_deref());
        let set = Arc::new(EngineSet { stack_bytes, engine, linker, cache });
        engines.push(set.clone());
        Ok(set)
    }
}

/// Advances the epoch of every engine every [`EPOCH_TICK`] while the runtime lives; each tick lets
/// running guests check their CPU and wall-clock budgets.
fn start_epoch_ticker(runtime: Weak<RuntimeInner>) {
    std::thread::Builder::new()
        .name("max-epoch".to_string())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                let Some(runtime) = runtime.upgrade() else { return };
                for set in runtime.engines.lock().expect("engines lock").iter() {
                    set.engine.increment_epoch();
                }
            }
        })
        .expect("spawning the epoch thread");
}
