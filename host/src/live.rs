//! Making an installation runnable: its verified connector loaded, an HTTP capability granting what was
//! granted at install plus the configured base URL, its secrets, and a pool of initialised instances.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::http::{HttpCapability, SecretSource};
use crate::manifest::ConnectorInfo;
use crate::project::{InstalledConnector, Project, SandboxSettings};
use crate::runtime::{InstancePool, InstanceSetup, Runtime};
use crate::{Result, limits};

/// A connector ready to call for one installation (or for onboarding, before one exists).
pub struct LiveConnector {
    /// What the connector declared at install.
    pub info: ConnectorInfo,
    /// Initialised instances.
    pub pool: InstancePool,
    /// The HTTP capability shared by the instances.
    pub http: Arc<HttpCapability>,
    /// Its limits (the sandbox's and the HTTP capability's are applied; the database's is the caller's).
    pub limits: limits::InstallationLimits,
}

impl std::fmt::Debug for LiveConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConnector").field("connector", &self.info.name).finish_non_exhaustive()
    }
}

/// Loads `connector` (checking its hash) and prepares a pool of `size` instances with `config` and
/// `secrets`, granted what it was at install with the installation's `sandbox` settings applied: its
/// hosts kept, its limits set.
pub fn live_connector(
    runtime: &Runtime,
    project: &Project,
    connector: &InstalledConnector,
    config: &BTreeMap<String, String>,
    secrets: Arc<dyn SecretSource>,
    sandbox: &SandboxSettings,
    size: usize,
) -> Result<LiveConnector> {
    let limits = limits::effective(connector, &sandbox.limits)?;
    let loaded = project.connectors().load(runtime, connector, limits.sandbox.stack_bytes)?;
    let base_url = connector.base_url(config).map(|(_, url)| url);
    let mut granted = connector.granted.clone();
    if let Some(hosts) = &sandbox.hosts {
        granted.hosts.retain(|h| hosts.contains(&h.host));
    }
    let http = Arc::new(HttpCapability::new(&granted, base_url, secrets, limits.http.clone()));
    let setup = InstanceSetup {
        config: config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        http: http.clone(),
        limits: limits.sandbox.clone(),
    };
    let pool = InstancePool::new(&connector.name, loaded, setup, size);
    Ok(LiveConnector { info: connector.info.clone(), pool, http, limits })
}
