//! Loading a component: recognise the file, check the contract version, compile or map from the
//! cache, pre-instantiate; and instantiating it into stores armed with limits.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use wasmtime::{Store, UpdateDeadline};

use super::cache::LoadOrigin;
use super::instance::Bindings;
use super::state::{Limits, StoreState};
use super::{EngineSet, RuntimeInner, bindings, contract};
use crate::http::HttpCapability;
use crate::manifest::{self, ConnectorInfo};
use crate::{Error, Result};

/// Everything an instance of one installation needs.
#[derive(Debug, Clone)]
pub struct InstanceSetup {
    /// The installation's non-secret config, passed to `initialise`.
    pub config: Vec<(String, String)>,
    /// The installation's HTTP access.
    pub http: Arc<HttpCapability>,
    /// Per-instance limits.
    pub limits: Limits,
}

/// A compiled, version-checked, pre-instantiated connector component.
#[derive(Clone)]
pub struct LoadedConnector {
    /// Keeps the runtime (and so its epoch ticker) alive.
    _runtime: Arc<RuntimeInner>,
    engine: Arc<EngineSet>,
    pre: Pre,
    label: Arc<str>,
    sha256: String,
    contract: semver::Version,
    origin: LoadOrigin,
}

impl std::fmt::Debug for LoadedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConnector")
            .field("label", &self.label)
            .field("sha256", &self.sha256)
            .field("contract", &self.contract)
            .field("origin", &self.origin)
            .field("stack_bytes", &self.engine.stack_bytes)
            .finish()
    }
}

/// A component pre-instantiated with the bindings of the contract version it was built against.
#[derive(Clone)]
enum Pre {
    V0_1(bindings::v0_1::ConnectorPre<StoreState>),
    V0_2(bindings::v0_2::ConnectorPre<StoreState>),
    V0_3(bindings::v0_3::ConnectorPre<StoreState>),
    V0_4(bindings::v0_4::ConnectorPre<StoreState>),
}

/// Magic and version bytes of a core module and of a component.
const WASM_MAGIC: &[u8] = b"\0asm";
const CORE_MODULE_VERSION: &[u8] = &[1, 0, 0, 0];

/// Loads `bytes`, whose sha256 (hex) the caller has computed, into `engine`.
pub(super) fn load(
    runtime: &Arc<RuntimeInner>,
    engine: Arc<EngineSet>,
    label: &str,
    bytes: &[u8],
    sha256: String,
) -> Result<LoadedConnector> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(Error::NotWasm { path: label.to_string() });
    }
    if &bytes[4..8] == CORE_MODULE_VERSION {
        return Err(Error::CoreModule { path: label.to_string() });
    }
    let contract = contract::probe(bytes, label)?;
    let loaded = engine
        .cache
        .load(&engine.engine, bytes, &sha256)
        .map_err(|e| Error::InvalidComponent { path: label.to_string(), reason: first_line(&format!("{e:#}")) })?;
    let origin = loaded.origin;
    let pre = engine
        .linker
        .instantiate_pre(&loaded.component)
        .map_err(|e| Error::UnsupportedImports { path: label.to_string(), imports: first_line(&format!("{e:#}")) })?;
    let not_a_connector = |e: wasmtime::Error| Error::NotAConnector { path: label.to_string(), exports: format!("{e:#}") };
    let pre = match contract.minor {
        1 => Pre::V0_1(bindings::v0_1::ConnectorPre::new(pre).map_err(not_a_connector)?),
        2 => Pre::V0_2(bindings::v0_2::ConnectorPre::new(pre).map_err(not_a_connector)?),
        3 => Pre::V0_3(bindings::v0_3::ConnectorPre::new(pre).map_err(not_a_connector)?),
        _ => Pre::V0_4(bindings::v0_4::ConnectorPre::new(pre).map_err(not_a_connector)?),
    };
    engine.cache.keep(loaded);
    match origin {
        LoadOrigin::Compiled => runtime.compiled.fetch_add(1, Ordering::Relaxed),
        LoadOrigin::Cache => runtime.from_cache.fetch_add(1, Ordering::Relaxed),
    };
    Ok(LoadedConnector { _runtime: runtime.clone(), engine, pre, label: label.into(), sha256, contract, origin })
}

impl LoadedConnector {
    /// The sha256 of the component's bytes, in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The contract version it was built against.
    pub fn contract(&self) -> &semver::Version {
        &self.contract
    }

    /// Whether it was compiled now or mapped from the cache.
    pub fn origin(&self) -> LoadOrigin {
        self.origin
    }

    /// Calls `describe` in a fresh sandbox without network and checks the result against the default
    /// install limits and for consistency.
    pub async fn describe(&self) -> Result<ConnectorInfo> {
        self.describe_within(&crate::limits::InstallLimits::default()).await
    }

    /// Calls `describe` in a fresh sandbox without network and checks the result: within `limits`
    /// (before anything else), storable and consistent.
    pub async fn describe_within(&self, limits: &crate::limits::InstallLimits) -> Result<ConnectorInfo> {
        let sandbox = Limits { stack_bytes: self.engine.stack_bytes, ..Limits::default() };
        let setup = InstanceSetup { config: Vec::new(), http: Arc::new(HttpCapability::deny_all()), limits: sandbox };
        let mut instance = self.instantiate(&self.label, &setup).await?;
        let info = instance.describe().await?;
        manifest::check_size(&info, limits)?;
        let problems = manifest::check(&info);
        if !problems.is_empty() {
            return Err(Error::InvalidDescription { connector: info.name, problems });
        }
        Ok(info)
    }

    /// Creates a fresh instance (not yet initialised) for the connector named `connector`. The setup's
    /// stack size must be the one the component was loaded for.
    pub async fn instantiate(&self, connector: &str, setup: &InstanceSetup) -> Result<super::ConnectorInstance> {
        if setup.limits.stack_bytes != self.engine.stack_bytes {
            return Err(Error::Runtime(format!(
                "{} was loaded for a stack of {} KiB but its instances are to get {} KiB: load it with \
                 `Runtime::load_with_stack`",
                self.label,
                self.engine.stack_bytes >> 10,
                setup.limits.stack_bytes >> 10
            )));
        }
        let state = StoreState::new(connector, setup.http.clone(), setup.limits.clone());
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            if context.data_mut().check_deadline().is_some() {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let connector: Arc<str> = connector.into();
        let instantiated = match &self.pre {
            Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(Bindings::V0_1),
            Pre::V0_2(pre) => pre.instantiate_async(&mut store).await.map(Bindings::V0_2),
            Pre::V0_3(pre) => pre.instantiate_async(&mut store).await.map(Bindings::V0_3),
            Pre::V0_4(pre) => pre.instantiate_async(&mut store).await.map(Bindings::V0_4),
        };
        match instantiated {
            Ok(bindings) => Ok(super::ConnectorInstance::new(store, bindings, connector)),
            Err(error) => {
                let chain = format!("{error:#}");
                let call = "instantiate".to_string();
                Err(match super::state::store_limit_hit(&chain) {
                    Some(limit) => Error::LimitExceeded {
                        connector: connector.to_string(),
                        call,
                        limit,
                        detail: setup.limits.describe(limit),
                    },
                    None => {
                        Error::ConnectorCrashed { connector: connector.to_string(), call, reason: first_line(&chain) }
                    }
                })
            }
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
