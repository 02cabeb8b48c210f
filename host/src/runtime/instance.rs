//! One connector instance: a store, its instance and typed calls. Every call runs under the CPU,
//! wall-clock and memory limits; a trap or limit hit poisons the instance (it is never entered again)
//! and becomes a host [`Error`] naming the connector.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;

use super::bindings::{discovery as wit_discovery, types as wit, v0_1, v0_2, v0_3, v0_4};
use super::state::StoreState;
use super::{convert, result_size};
use crate::data::{ChangePage, EntityBatch, EntityRef, Page, SeedState, SyncPlan};
use crate::manifest::{ConnectorInfo, SchemaExtension, SelectOption};
use crate::{Error, LimitKind, Result};

/// A live instance of a connector component.
pub struct ConnectorInstance {
    store: Store<StoreState>,
    bindings: Bindings,
    connector: Arc<str>,
    poisoned: bool,
}

/// An instance's exports, as the contract version it was built against has them.
pub(crate) enum Bindings {
    /// Built against 0.1.0: no `discover`.
    V0_1(v0_1::Connector),
    /// Built against 0.2.0: no `searchable-fields`.
    V0_2(v0_2::Connector),
    /// Built against 0.3.0: no `scoped-feeds`.
    V0_3(v0_3::Connector),
    /// Built against 0.4.0.
    V0_4(v0_4::Connector),
}

impl std::fmt::Debug for ConnectorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorInstance")
            .field("connector", &self.connector)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

/// Runs one guest call with the limits armed and turns its outcome into `Result<guest result>`. The
/// second form gives the call per contract version (`V0_1 => |source| …, V0_2 => |source| …`, up to
/// `V0_4`) where the versions differ.
macro_rules! guest_call {
    ($self:ident, $name:literal, $method:ident ( $($arg:expr),* )) => {
        guest_call!($self, $name,
            V0_1 => |source| source.$method(&mut $self.store $(, $arg)*),
            V0_2 => |source| source.$method(&mut $self.store $(, $arg)*),
            V0_3 => |source| source.$method(&mut $self.store $(, $arg)*),
            V0_4 => |source| source.$method(&mut $self.store $(, $arg)*))
    };
    ($self:ident, $name:literal, $($version:ident => |$source:ident| $call:expr),+) => {{
        $self.ensure_usable($name)?;
        $self.store.data_mut().begin_call();
        $self.store.set_epoch_deadline(1);
        let wall = $self.store.data().call_limits.wall_per_call;
        // Requests the rate limiter would hold past the call's time are answered 429 a little before.
        let answer_by = tokio::time::Instant::now() + wall.saturating_sub(HELD_MARGIN.min(wall / 10));
        let outcome = match &$self.bindings {
            $(Bindings::$version(bindings) => {
                let $source = bindings.max_connector_source();
                tokio::time::timeout(wall, crate::http::HttpCapability::answering_by(answer_by, $call)).await
            })+
        };
        $self.finish($name, outcome)?
    }};
}

/// How long before a call's wall-clock limit a request still held back by the rate limiter is
/// answered `429` (so the connector can report the rate limit before the call runs out of time).
const HELD_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What a version without an export answers in its place: nothing.
fn none<T>() -> std::future::Ready<wasmtime::Result<Vec<T>>> {
    std::future::ready(Ok(Vec::new()))
}

impl ConnectorInstance {
    pub(crate) fn new(store: Store<StoreState>, bindings: Bindings, connector: Arc<str>) -> Self {
        ConnectorInstance { store, bindings, connector, poisoned: false }
    }

    /// Whether a trap or limit hit made this instance unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Calls `describe`, then `request-limits` (since 0.2.0), whose limits join the permissions, and
    /// `searchable-fields`, `field-versions` and `owned-collections` (since 0.3.0), which join the
    /// schema, and `scoped-feeds` (since 0.4.0); no check of the result (see [`crate::manifest::check`]).
    pub async fn describe(&mut self) -> Result<ConnectorInfo> {
        let info = guest_call!(self, "describe", call_describe());
        let mut info = convert::connector_info(info);
        let limits = guest_call!(self, "request-limits",
            V0_1 => |_source| none(),
            V0_2 => |source| source.call_request_limits(&mut self.store),
            V0_3 => |source| source.call_request_limits(&mut self.store),
            V0_4 => |source| source.call_request_limits(&mut self.store));
        self.check_size("request-limits", limits.iter().map(|l| l.name.len() + l.path.len() + 32).sum())?;
        info.permissions.request_limits = limits.into_iter().map(convert::request_limit).collect();
        let searchable = guest_call!(self, "searchable-fields",
            V0_1 => |_source| none(),
            V0_2 => |_source| none(),
            V0_3 => |source| source.call_searchable_fields(&mut self.store),
            V0_4 => |source| source.call_searchable_fields(&mut self.store));
        self.check_size("searchable-fields", searchable.iter().map(|f| f.entity.len() + f.field.len() + 16).sum())?;
        info.schema.searchable = searchable.into_iter().map(convert::searchable_field).collect();
        let versioned = guest_call!(self, "field-versions",
            V0_1 => |_source| none(),
            V0_2 => |_source| none(),
            V0_3 => |source| source.call_field_versions(&mut self.store),
            V0_4 => |source| source.call_field_versions(&mut self.store));
        let size = |names: &[String]| names.iter().map(|n| n.len() + 16).sum::<usize>();
        self.check_size("field-versions", versioned.iter().map(|v| v.entity.len() + size(&v.fields) + size(&v.versions)).sum())?;
        info.schema.versioned = versioned.into_iter().map(convert::versioned_fields).collect();
        let owned = guest_call!(self, "owned-collections",
            V0_1 => |_source| none(),
            V0_2 => |_source| none(),
            V0_3 => |source| source.call_owned_collections(&mut self.store),
            V0_4 => |source| source.call_owned_collections(&mut self.store));
        self.check_size("owned-collections", owned.iter().map(|o| o.entity.len() + o.field.len() + 16).sum())?;
        info.schema.owned = owned.into_iter().map(convert::owned_collection).collect();
        let scoped = guest_call!(self, "scoped-feeds",
            V0_1 => |_source| none(),
            V0_2 => |_source| none(),
            V0_3 => |_source| none(),
            V0_4 => |source| source.call_scoped_feeds(&mut self.store));
        self.check_size("scoped-feeds", scoped.iter().map(|f| f.loader.len() + f.entity.len() + 16).sum())?;
        info.scoped_feeds = scoped.into_iter().map(convert::scoped_feed).collect();
        Ok(info)
    }

    /// Calls `initialise` with the installation's config and the fields discovered so far (a 0.1.0
    /// connector, which can't discover any, gets the config only).
    pub async fn initialise(&mut self, config: &[(String, String)], discovered: &SchemaExtension) -> Result<()> {
        let config = config.to_vec();
        let discovered = convert::schema_extension_to_wit(discovered);
        let result = guest_call!(self, "initialise",
            V0_1 => |source| source.call_initialise(&mut self.store, &config),
            V0_2 => |source| source.call_initialise(&mut self.store, &config, &discovered),
            V0_3 => |source| source.call_initialise(&mut self.store, &config, &discovered),
            V0_4 => |source| source.call_initialise(&mut self.store, &config, &discovered));
        self.guest_result("initialise", result)
    }

    /// Calls `discover` (a 0.1.0 connector discovers nothing). The result is bounded by the result size
    /// limit; its consistency is the caller's to check ([`crate::manifest::check_extension`]).
    pub async fn discover(&mut self) -> Result<SchemaExtension> {
        let nothing = || wit_discovery::SchemaExtension { entities: Vec::new(), refill_on_new_fields: false };
        let result = guest_call!(self, "discover",
            V0_1 => |_source| std::future::ready(wasmtime::Result::Ok(Ok(nothing()))),
            V0_2 => |source| source.call_discover(&mut self.store),
            V0_3 => |source| source.call_discover(&mut self.store),
            V0_4 => |source| source.call_discover(&mut self.store));
        let extension = self.guest_result("discover", result)?;
        self.check_size("discover", result_size::schema_extension(&extension))?;
        Ok(convert::schema_extension(extension))
    }

    /// Calls `validate`.
    pub async fn validate(&mut self) -> Result<String> {
        let result = guest_call!(self, "validate", call_validate());
        let account = self.guest_result("validate", result)?;
        self.check_size("validate", account.len())?;
        Ok(self.store.data().clean_text(&account))
    }

    /// Calls `select-options`.
    pub async fn select_options(&mut self, key: &str) -> Result<Vec<SelectOption>> {
        let result = guest_call!(self, "select-options", call_select_options(key));
        let options = self.guest_result("select-options", result)?;
        self.check_size("select-options", options.iter().map(|o| o.value.len() + o.label.len() + 64).sum())?;
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
        let plan = self.guest_result("seed", result)?;
        self.check_size("seed", result_size::plan(&plan))?;
        Ok(convert::sync_plan(plan))
    }

    /// Calls `load` with a batch of refs.
    pub async fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Vec<EntityBatch>> {
        let started = Instant::now();
        let wit_refs: Vec<wit::EntityRef> = refs.iter().map(convert::entity_ref_to_wit).collect();
        let result = guest_call!(self, "load", call_load(loader, &wit_refs));
        let loaded = self.guest_result("load", result).and_then(|batches| {
            self.check_size("load", batches.iter().map(result_size::batch).sum())?;
            let limits = &self.store.data().call_limits;
            convert::entity_batches(batches, limits).map_err(|e| self.named("load", e))
        });
        let rows = loaded.as_ref().map(|batches| batches.iter().map(|b| b.rows.len()).sum());
        self.log_call("load", loader, &format!("{} refs", refs.len()), started, rows.as_ref().ok().copied(), loaded.as_ref().err());
        loaded
    }

    /// Calls `load-page` for one page of `parent`'s collection.
    pub async fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        let started = Instant::now();
        let wit_parent = convert::entity_ref_to_wit(parent);
        let result = guest_call!(self, "load-page", call_load_page(loader, &wit_parent, cursor));
        let loaded = self.guest_result("load-page", result).and_then(|page| {
            self.check_size("load-page", result_size::page(&page))?;
            self.check_cursor("load-page", page.next_cursor.as_deref())?;
            let limits = &self.store.data().call_limits;
            convert::page(page, limits).map_err(|e| self.named("load-page", e))
        });
        let rows = loaded.as_ref().ok().map(|p| p.items.rows.len() + p.related.iter().map(|b| b.rows.len()).sum::<usize>());
        let target = format!("{}:{}{}", parent.entity, parent.id, if cursor.is_some() { " from a cursor" } else { "" });
        self.log_call("load-page", loader, &target, started, rows, loaded.as_ref().err());
        loaded
    }

    /// Calls `changes` from `cursor`.
    pub async fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<ChangePage> {
        let started = Instant::now();
        let result = guest_call!(self, "changes", call_changes(loader, cursor));
        let loaded = self.change_page("changes", result);
        let rows = loaded.as_ref().ok().map(|p| p.upserts.iter().map(|b| b.rows.len()).sum::<usize>() + p.deletions.len());
        let target = if cursor.is_some() { "from its cursor" } else { "from the start" };
        self.log_call("changes", loader, target, started, rows, loaded.as_ref().err());
        loaded
    }

    /// Calls `changes-of`: the scoped change feed `loader` of `parent` from `cursor` (contract 0.4.0; an
    /// older connector declares no scoped feed, so the host never asks it).
    pub async fn changes_of(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<ChangePage> {
        let started = Instant::now();
        let wit_parent = convert::entity_ref_to_wit(parent);
        let unscoped = || {
            let error = wit::ConnectorError::InvalidInput(format!("`{loader}` is not a scoped change feed"));
            std::future::ready(wasmtime::Result::Ok(Err(error)))
        };
        let result = guest_call!(self, "changes-of",
            V0_1 => |_source| unscoped(),
            V0_2 => |_source| unscoped(),
            V0_3 => |_source| unscoped(),
            V0_4 => |source| source.call_changes_of(&mut self.store, loader, &wit_parent, cursor));
        let loaded = self.change_page("changes-of", result);
        let rows = loaded.as_ref().ok().map(|p| p.upserts.iter().map(|b| b.rows.len()).sum::<usize>() + p.deletions.len());
        let target = format!("{}:{}{}", parent.entity, parent.id, if cursor.is_some() { " from its cursor" } else { " from the start" });
        self.log_call("changes-of", loader, &target, started, rows, loaded.as_ref().err());
        loaded
    }

    /// A change feed's page as the host's, checked against the limits.
    fn change_page(&self, call: &str, result: std::result::Result<wit::ChangePage, wit::ConnectorError>) -> Result<ChangePage> {
        self.guest_result(call, result).and_then(|page| {
            self.check_size(call, result_size::change_page(&page))?;
            self.check_cursor(call, Some(&page.next_cursor))?;
            let limits = &self.store.data().call_limits;
            convert::change_page(page, limits).map_err(|e| self.named(call, e))
        })
    }

    /// Logs one loader call for `max -v`: which loader on what, the rows it returned (or its error),
    /// how long it took, and the requests it made (each at debug level).
    fn log_call(&self, call: &str, loader: &str, target: &str, started: Instant, rows: Option<usize>, error: Option<&Error>) {
        let requests = &self.store.data().requests;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let loader = crate::text::one_line(loader);
        match (rows, error) {
            (Some(rows), _) => tracing::info!(
                connector = %self.connector, loader = %loader, target, rows, requests = requests.count, elapsed_ms,
                "{call} returned {rows} rows"
            ),
            (None, error) => tracing::info!(
                connector = %self.connector, loader = %loader, target, requests = requests.count, elapsed_ms,
                "{call} failed: {}", error.map(|e| e.to_string()).unwrap_or_default()
            ),
        }
        for line in &requests.lines {
            tracing::debug!(connector = %self.connector, loader = %loader, "{line}");
        }
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
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            let reason =
                format!("the connector exited with code {} (connectors return errors instead of exiting)", exit.0);
            return Error::ConnectorCrashed { connector: self.connector.to_string(), call: call.to_string(), reason };
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

    /// Refuses a result larger than the limit (`size` counts everything it holds, entity data as it
    /// will be held in memory), before it is decoded and stored.
    fn check_size(&self, call: &str, size: usize) -> Result<()> {
        if size > self.store.data().call_limits.max_result_bytes {
            return Err(self.limit_error(call, LimitKind::ResultSize));
        }
        Ok(())
    }

    /// Refuses a cursor longer than the limit (cursors are stored and handed back to every later call).
    fn check_cursor(&self, call: &str, cursor: Option<&str>) -> Result<()> {
        let limit = self.store.data().call_limits.max_cursor_bytes;
        match cursor {
            Some(cursor) if cursor.len() > limit => Err(Error::LimitExceeded {
                connector: self.connector.to_string(),
                call: call.to_string(),
                limit: LimitKind::CursorSize,
                detail: format!("a cursor of {} bytes; at most {} KiB", cursor.len(), limit >> 10),
            }),
            _ => Ok(()),
        }
    }

    /// A decoding error with this connector and `call` named (the decoder knows neither).
    fn named(&self, call: &str, error: Error) -> Error {
        match error {
            Error::LimitExceeded { limit, detail, .. } => {
                Error::LimitExceeded { connector: self.connector.to_string(), call: call.to_string(), limit, detail }
            }
            other => other,
        }
    }

    fn limit_error(&self, call: &str, limit: LimitKind) -> Error {
        let detail = self.store.data().call_limits.describe(limit);
        Error::LimitExceeded { connector: self.connector.to_string(), call: call.to_string(), limit, detail }
    }
}
