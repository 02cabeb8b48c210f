//! A pool of initialised instances of one installation: concurrency without re-instantiating per call.
//! An instance that trapped is dropped instead of returned, and the next caller gets a fresh one. When
//! the installation's discovered fields change, instances initialised with the old ones are retired.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ConnectorInstance, InstanceSetup, LoadedConnector};
use crate::Result;
use crate::manifest::SchemaExtension;

/// Up to `size` instances of one installation, created on demand. Clones share the instances.
#[derive(Clone)]
pub struct InstancePool {
    connector: Arc<str>,
    loaded: LoadedConnector,
    setup: InstanceSetup,
    shared: Arc<Mutex<Shared>>,
    permits: Arc<Semaphore>,
}

/// What the pool's clones share.
struct Shared {
    /// Idle instances, with the generation of discovered fields each was initialised with.
    idle: Vec<(u64, ConnectorInstance)>,
    /// The discovered fields new instances are initialised with.
    discovered: Arc<SchemaExtension>,
    /// Bumped whenever `discovered` changes.
    generation: u64,
}

impl std::fmt::Debug for InstancePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePool").field("connector", &self.connector).finish_non_exhaustive()
    }
}

impl InstancePool {
    /// A pool of at most `size` instances of `loaded` for the connector named `connector`, initialised
    /// with no discovered fields until [`InstancePool::set_discovered`] says otherwise.
    pub fn new(connector: &str, loaded: LoadedConnector, setup: InstanceSetup, size: usize) -> Self {
        let shared = Shared { idle: Vec::new(), discovered: Arc::default(), generation: 0 };
        InstancePool {
            connector: connector.into(),
            loaded,
            setup,
            shared: Arc::new(Mutex::new(shared)),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Initialises instances from now on with `discovered`; idle ones initialised with other fields are
    /// dropped, and busy ones when they come back.
    pub fn set_discovered(&self, discovered: SchemaExtension) {
        let mut shared = self.shared.lock().expect("pool lock");
        if *shared.discovered != discovered {
            shared.discovered = Arc::new(discovered);
            shared.generation += 1;
            shared.idle.clear();
        }
    }

    /// Waits for a free slot and returns an initialised instance (an idle one, or a new one).
    pub async fn get(&self) -> Result<PooledInstance> {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool's semaphore is never closed");
        let (idle, generation, discovered) = {
            let mut shared = self.shared.lock().expect("pool lock");
            (shared.idle.pop(), shared.generation, shared.discovered.clone())
        };
        let (generation, instance) = match idle {
            Some(idle) => idle,
            None => {
                let mut instance = self.loaded.instantiate(&self.connector, &self.setup).await?;
                instance.initialise(&self.setup.config, &discovered).await?;
                (generation, instance)
            }
        };
        Ok(PooledInstance { instance: Some(instance), generation, shared: self.shared.clone(), _permit: permit })
    }
}

/// An instance borrowed from a pool; it goes back when dropped, unless it crashed or the discovered
/// fields changed meanwhile.
pub struct PooledInstance {
    instance: Option<ConnectorInstance>,
    generation: u64,
    shared: Arc<Mutex<Shared>>,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for PooledInstance {
    type Target = ConnectorInstance;
    fn deref(&self) -> &ConnectorInstance {
        self.instance.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledInstance {
    fn deref_mut(&mut self) -> &mut ConnectorInstance {
        self.instance.as_mut().expect("present until drop")
    }
}

impl Drop for PooledInstance {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take().filter(|i| !i.is_poisoned()) {
            let mut shared = self.shared.lock().expect("pool lock");
            if shared.generation == self.generation {
                shared.idle.push((self.generation, instance));
            }
        }
    }
}
