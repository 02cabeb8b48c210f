//! A pool of initialised instances of one installation: concurrency without re-instantiating per call.
//! An instance that trapped is dropped instead of returned, and the next caller gets a fresh one.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ConnectorInstance, InstanceSetup, LoadedConnector};
use crate::Result;

/// Up to `size` instances of one installation, created on demand.
pub struct InstancePool {
    connector: String,
    loaded: LoadedConnector,
    setup: InstanceSetup,
    idle: Arc<Mutex<Vec<ConnectorInstance>>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for InstancePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePool").field("connector", &self.connector).finish_non_exhaustive()
    }
}

impl InstancePool {
    /// A pool of at most `size` instances of `loaded` for the connector named `connector`.
    pub fn new(connector: &str, loaded: LoadedConnector, setup: InstanceSetup, size: usize) -> Self {
        InstancePool {
            connector: connector.to_string(),
            loaded,
            setup,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Waits for a free slot and returns an initialised instance (an idle one, or a new one).
    pub async fn get(&self) -> Result<PooledInstance> {
        let permit = self.permits.clone().acquire_owned().await.expect("the pool's semaphore is never closed");
        let idle = self.idle.lock().expect("pool lock").pop();
        let instance = match idle {
            Some(instance) => instance,
            None => {
                let mut instance = self.loaded.instantiate(&self.connector, &self.setup).await?;
                instance.initialise(&self.setup.config).await?;
                instance
            }
        };
        Ok(PooledInstance { instance: Some(instance), idle: self.idle.clone(), _permit: permit })
    }
}

/// An instance borrowed from a pool; it goes back when dropped, unless it crashed.
pub struct PooledInstance {
    instance: Option<ConnectorInstance>,
    idle: Arc<Mutex<Vec<ConnectorInstance>>>,
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
            self.idle.lock().expect("pool lock").push(instance);
        }
    }
}
