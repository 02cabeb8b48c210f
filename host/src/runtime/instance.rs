//! One connector instance: a store, its instance and typed calls. Every call runs under the CPU,
//! wall-clock and memory limits; a trap or limit hit poisons the instance (it is never entered again)
//! and becomes a host [`Error`] naming the connector.

use std::sync::Arc;

use wasmtime::Store;

use super::bindings::{self, max::connector::types as wit};
use super::convert;
use super::state::StoreState;
use crate::data::{ChangePage, EntityBatch, EntityRef, Page, SeedState, SyncPlan};
use crate::manifest::{ConnectorInfo, SelectOption};
use crate::{Error, LimitKind, Result};

/// A live instance of a connector component.
pub struct ConnectorInstance {
    store: Store<StoreState>,
    bindings: bindings::Connector,
    connector: Arc<str>,
    poisoned: bool,
}

impl std::fmt::Debug for ConnectorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorInstance")
            .field("connector", &self.connector)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

/// Runs one guest call with the limits armed and turns its outcome into `Result<guest result>`.
macro_rules! guest_call {
    ($self:ident, $name:literal, $method:ident ( $($arg:expr),* )) => {{
        $self.ensure_usable($name)?;
        $self.store.data_mut().begin_call();
        $self.store.set_epoch_deadline(1);
        let wall = $self.store.data().call_limits.wall_per_call;
        let call = $self.bindings.max_connector_source().$method(&mut $self.store $(, $arg)*);
        let outcome = tokio::time::timeout(wall, call).await;
        $self.finish($name, outcome)?
    }};
}

impl ConnectorInstance {
    pub(crate) fn new(store: Store<StoreState>, bindings: bindings::Connector, connector: Arc<str>) -> Self {
        ConnectorInstance { store, bindings, connector, poisoned: false }
    }

    /// Whether a trap or limit hit made this instance unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Calls `describe` (no check of the result; see [`crate::manifest::check`]).
    pub async fn describe(&mut self) -> Result<ConnectorInfo> {
        let info = guest_call!(self, "describe", call_describe());
        Ok(convert::connector_info(info))
    }

    /// Calls `initialise` with the installation's config.
    pub async fn initialise(&mut self, config: &[(String, String)]) -> Result<()> {
        let config = config.to_vec();
        let result = guest_call!(self, "initialise", call_initialise(&config));
        self.guest_result("initialise", result)
    }

    /// Calls `validate`.
    pub async fn validate(&mut self) -> Result<String> {
        let result = guest_call!(self, "validate", call_validate());
        self.guest_result("validate", result).map(|account| self.store.data().clean_text(&account))
    }

    /// Calls `select-options`.
    pub async fn select_options(&mut self, key: &str) -> Result<Vec<SelectOption>> {
        let result = guest_call!(self, "select-options", call_select_options(key));
        let options = self.guest_result("select-options", result)?;
        let state = self.store.data();
        Ok(options
            .into_iter()
            .map(convert::select_option)
            .map(|option| SelectOption { label: state.clean_text(&option.label), ..option })
            .collect())
    }

    /// Calls `seed`.
    pub async fn seed(&mut self, state: &SeedState) -> Result<SyncPlan> {
        let state = convert::seed_state_to_wit(state);
        let result = guest_call!(self, "seed", call_seed(&state));
        self.guest_result("seed", result).map(convert::sync_plan)
    }

    /// Calls `load` with a batch of refs.
    pub async fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Vec<EntityBatch>> {
        let refs: Vec<wit::EntityRef> = refs.iter().map(convert::entity_ref_to_wit).collect();
        let result = guest_call!(self, "load", call_load(loader, &refs));
        let batches = self.guest_result("load", result)?;
        self.check_size("load", &batches)?;
        convert::entity_batches(batches)
    }

    /// Calls `load-page` for one page of `parent`'s collection.
    pub async fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        let parent = convert::entity_ref_to_wit(parent);
        let result = guest_call!(self, "load-page", call_load_page(loader, &parent, cursor));
        let page = self.guest_result("load-page", result)?;
        self.check_size("load-page", std::iter::once(&page.items).chain(&page.related))?;
        convert::page(page)
    }

    /// Calls `changes` from `cursor`.
    pub async fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<ChangePage> {
        let result = guest_call!(self, "changes", call_changes(loader, cursor));
        let page = self.guest_result("changes", result)?;
        self.check_size("changes", &page.upserts)?;
        convert::change_page(page)
    }

    fn ensure_usable(&self, call: &str) -> Result<()> {
        if self.poisoned {
            return Err(Error::ConnectorCrashed {
                connector: self.connector.to_string(),
                call: call.to_string(),
                reason: "this instance crashed earlier and can't be entered again".to_string(),
            });
        }
        Ok(())
    }

    fn guest_result<T>(&self, call: &str, result: std::result::Result<T, wit::ConnectorError>) -> Result<T> {
        let state = self.store.data();
        result.map_err(|error| Error::ConnectorFailed {
            connector: self.connector.to_string(),
            call: call.to_string(),
            error: convert::connector_error(error, |message| state.clean_text(message)),
        })
    }

    /// Classifies the outcome of a call; anything but a returned value poisons the instance.
    fn finish<T>(
        &mut self,
        call: &str,
        outcome: std::result::Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        let dropped = self.store.data_mut().log_budget.take_dropped();
        let per_second = self.store.data().call_limits.log_per_second;
        crate::runtime::imports::log::report_dropped(&self.connector, dropped, per_second);
        let error = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => self.classify(call, error),
            Err(_elapsed) => self.limit_error(call, LimitKind::WallClock),
        };
        self.poisoned = true;
        Err(error)
    }

    fn classify(&self, call: &str, error: wasmtime::Error) -> Error {
        let state = self.store.data();
        if let Some(limit) = state.limit_hit {
            return self.limit_error(call, limit);
        }
        let chain = format!("{error:#}");
        if let Some(limit) = super::state::store_limit_hit(&chain) {
            return self.limit_error(call, limit);
        }
        let reason = match (error.downcast_ref::<wasmtime::Trap>(), state.stderr_tail()) {
            (Some(wasmtime::Trap::StackOverflow), _) => format!(
                "stack overflow past {} KiB (infinite recursion? an installation can be given more with the \
                 `stack-kib` limit)",
                state.call_limits.stack_bytes >> 10
            ),
            (Some(wasmtime::Trap::UnreachableCodeReached), Some(message)) => {
                format!("panicked: {}", state.http.redact(&message))
            }
            (Some(trap), _) => format!("trap: {trap}"),
            (None, _) => state.http.redact(&chain),
        };
        Error::ConnectorCrashed { connector: self.connector.to_string(), call: call.to_string(), reason }
    }

    /// Refuses a result carrying more entity data than the limit (before it is decoded and stored).
    fn check_size<'a>(&self, call: &str, batches: impl IntoIterator<Item = &'a wit::EntityBatch>) -> Result<()> {
        let size: usize = batches
            .into_iter()
            .map(|b| b.data.len() + b.text.len() + b.columns.iter().map(String::len).sum::<usize>())
            .sum();
        if size > self.store.data().call_limits.max_result_bytes {
            return Err(self.limit_error(call, LimitKind::ResultSize));
        }
        Ok(())
    }

    fn limit_error(&self, call: &str, limit: LimitKind) -> Error {
        let detail = self.store.data().call_limits.describe(limit);
        Error::LimitExceeded { connector: self.connector.to_string(), call: call.to_string(), limit, detail }
    }
}
