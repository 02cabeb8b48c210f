//! Making an installation runnable: its verified connector loaded, an HTTP capability granting what was
//! granted at install plus the configured base URL, its secrets, and a pool of initialised instances.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Result;
use crate::http::{HttpCapability, HttpLimits, SecretSource};
use crate::manifest::ConnectorInfo;
use crate::project::{InstalledConnector, Narrowing, Project};
use crate::runtime::{InstancePool, InstanceSetup, Limits, Runtime};

/// A connector ready to call for one installation (or for onboarding, before one exists).
pub struct LiveConnector {
    /// What the connector declared at install.
    pub info: ConnectorInfo,
    /// Initialised instances.
    pub pool: InstancePool,
    /// The HTTP capability shared by the instances.
    pub http: Arc<HttpCapability>,
}

impl std::fmt::Debug for LiveConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConnector").field("connector", &self.info.name).finish_non_exhaustive()
    }
}

/// The per-instance limits an installed connector gets: the defaults, raised where it asked and the
/// user granted.
pub fn limits_for(connector: &InstalledConnector) -> Limits {
    let mut limits = Limits::default();
    if let Some(mib) = connector.granted.resources.memory_mib {
        limits.memory_bytes = limits.memory_bytes.max((mib as usize) << 20);
    }
    if let Some(ms) = connector.granted.resources.call_timeout_ms {
        limits.wall_per_call = limits.wall_per_call.max(std::time::Duration::from_millis(ms.into()));
    }
    limits
}

/// Loads `connector` (checking its hash) and prepares a pool of `size` instances with `config` and
/// `secrets`, granted what it was at install less what the installation `narrowed`.
pub fn live_connector(
    runtime: &Runtime,
    project: &Project,
    connector: &InstalledConnector,
    config: &BTreeMap<String, String>,
    secrets: Arc<dyn SecretSource>,
    narrowed: &Narrowing,
    size: usize,
) -> Result<LiveConnector> {
    let loaded = project.connectors().load(runtime, connector)?;
    let base_url = connector.granted.base_url_key.as_ref().and_then(|key| config.get(key)).map(String::as_str);
    let mut granted = connector.granted.clone();
    if let Some(hosts) = &narrowed.hosts {
        granted.hosts.retain(|h| hosts.contains(&h.host));
    }
    let http = Arc::new(HttpCapability::new(&granted, base_url, secrets, HttpLimits::default()));
    let mut limits = limits_for(connector);
    if let Some(mib) = narrowed.memory_mib {
        limits.memory_bytes = limits.memory_bytes.min((mib as usize) << 20);
    }
    if let Some(seconds) = narrowed.cpu_seconds {
        limits.cpu_per_call = limits.cpu_per_call.min(std::time::Duration::from_secs(seconds.into()));
    }
    if let Some(seconds) = narrowed.call_timeout_seconds {
        limits.wall_per_call = limits.wall_per_call.min(std::time::Duration::from_secs(seconds.into()));
    }
    let setup = InstanceSetup {
        config: config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        http: http.clone(),
        limits,
    };
    let pool = InstancePool::new(&connector.name, loaded, setup, size);
    Ok(LiveConnector { info: connector.info.clone(), pool, http })
}
