//! The Max engine as a library: runs sandboxed connector components ([`runtime`]), gives them HTTP
//! ([`http`]), and keeps projects and installed connectors ([`project`]). It prints nothing and parses
//! no command lines: the `max` CLI does that.

pub mod data;
mod error;
pub mod http;
pub mod manifest;
pub mod project;
pub mod query;
pub mod storage;
pub mod runtime;

pub use data::ConnectorError;
pub use error::{Error, LimitKind, Result};
pub use runtime::CONTRACT_VERSION;
