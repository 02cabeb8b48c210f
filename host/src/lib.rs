//! The Max engine as a library. Front ends (the `max` CLI, a daemon, an agent interface, workers) go
//! through one front door, [`Host`]: install and onboard connectors ([`onboarding`]), sync, search and
//! report on installations. The data they exchange is public: projects and installations
//! ([`project`]), what connectors declare ([`manifest`]) and return ([`data`]), limits ([`limits`]),
//! sync records ([`task`]), searches ([`query`]), signatures ([`signing`]), and the one rule for showing
//! connector text ([`text`]). The engine behind the door (the wasmtime runtime, the HTTP capability,
//! storage and the executor) is crate-private, public only with the `internals` feature for the
//! integration tests and benchmarks. It prints nothing and parses no command lines.

// Without `internals`, engine items used only by the tests and benchmarks look unused.
#![cfg_attr(
    not(feature = "internals"),
    allow(dead_code, unused_imports, private_interfaces, private_bounds, unreachable_pub)
)]

/// Declares the engine's modules: public with the `internals` feature, crate-private without.
macro_rules! engine_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}

engine_modules!(http, live, runtime, storage, sync);

pub mod authoring;
pub mod data;
mod error;
pub mod format;
mod front;
pub mod limits;
mod lookup;
pub mod manifest;
mod marketplace;
pub mod onboarding;
pub mod project;
pub mod query;
mod reach;
pub mod registry;
pub mod signing;
mod sql;
pub mod task;
pub mod text;
mod warm;
mod worker;

pub use data::ConnectorError;
pub use error::{Error, LimitKind, Result};
pub use front::{
    Host, Overview, Progress, RetiredField, SchemaView, SearchResult, Status, StorageChange, SyncRequest,
    check_storage, inspect_component,
};
pub use lookup::EntityView;
pub use marketplace::{
    FetchOptions, FetchedConnector, Listed, Published, publish_component, search_registry, sign_published,
};
pub use runtime::CONTRACT_VERSION;
pub use sql::{SqlOptions, SqlOutcome, SqlSchema};
pub use storage::WorkerSeen;
pub use storage::{Freshness, LastSyncs, Timestamp};
pub use sync::{Continuation, DrainReport, Start, SyncObserver, SyncReport, Unobserved};
pub use warm::WarmStats;
pub use worker::{Helped, WorkObserver, WorkRequest};
