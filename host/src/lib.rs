//! The Max engine as a library: runs sandboxed connector components ([`runtime`]) with HTTP through the
//! host ([`http`]); keeps projects, installed connectors and installations ([`project`]); syncs them
//! ([`sync`]) into storage ([`storage`]) and searches what was synced ([`query`]). It prints nothing and
//! parses no command lines: the `max` CLI does that.

pub mod data;
mod error;
pub mod format;
mod front;
pub mod http;
pub mod limits;
pub mod live;
pub mod manifest;
pub mod onboarding;
pub mod project;
pub mod query;
mod reach;
pub mod runtime;
pub mod signing;
pub mod storage;
pub mod sync;
pub mod task;

pub use data::ConnectorError;
pub use error::{Error, LimitKind, Result};
pub use front::{Host, Overview, Progress, SearchResult, Status, SyncRequest, inspect_component};
pub use runtime::CONTRACT_VERSION;
pub use storage::{Freshness, LastSyncs, Timestamp};
