//! What a client and the daemon say to each other: JSON-RPC 2.0, one message a line, and the build
//! identity they compare when they meet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest line either side reads (a request or a response).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// `message` as one line of JSON, its newline included.
pub fn line(message: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(message)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// Always `2.0`.
    pub jsonrpc: String,
    /// Matches the response to it.
    pub id: u64,
    /// What to do: `hello`, `daemon_status`, `sync`, `search`, `status`, `schedules`, `stop`.
    pub method: String,
    /// Its arguments.
    #[serde(default)]
    pub params: Value,
}

impl Request {
    /// A request `method` with `params`.
    pub fn new(id: u64, method: &str, params: Value) -> Self {
        Request { jsonrpc: "2.0".to_string(), id, method: method.to_string(), params }
    }
}

/// A response: a result or an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Always `2.0`.
    pub jsonrpc: String,
    /// The request's.
    pub id: Option<u64>,
    /// What it returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

impl Response {
    /// A successful response to `id`.
    pub fn ok(id: u64, result: Value) -> Self {
        Response { jsonrpc: "2.0".to_string(), id: Some(id), result: Some(result), error: None }
    }

    /// A failed response.
    pub fn failed(id: Option<u64>, code: i64, message: impl Into<String>) -> Self {
        let error = RpcError { code, message: message.into(), data: None };
        Response { jsonrpc: "2.0".to_string(), id, result: None, error: Some(error) }
    }
}

/// A JSON-RPC error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcError {
    /// JSON-RPC's codes (-32700 parse error, -32601 no such method, -32602 bad params), or -32000
    /// for a failure of Max's (its code and hint in `data`).
    pub code: i64,
    /// What happened.
    pub message: String,
    /// Max's `{code, message, hint}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// JSON-RPC's "the message doesn't parse".
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC's "no such method".
pub const NO_SUCH_METHOD: i64 = -32601;
/// JSON-RPC's "the parameters are wrong".
pub const INVALID_PARAMS: i64 = -32602;
/// A failure of Max's, its `{code, message, hint}` in the error's `data`.
pub const MAX_FAILED: i64 = -32000;
/// The method of the notifications a sync sends its client as it runs.
pub const SYNC_EVENT: &str = "sync/event";
/// The method of the notifications a search sends its client: first `{entity, columns}`, then
/// `{rows}` batches as they are read.
pub const SEARCH_ROWS: &str = "search/rows";
/// Rows a search sends in one notification.
pub const SEARCH_BATCH: usize = 256;

/// What a client asks the daemon to search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchParams {
    /// `connector` or `connector/name`.
    pub installation: String,
    /// The search.
    pub request: max_host::query::SearchRequest,
}

/// Whose status a client asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusParams {
    /// One installation (`connector` or `connector/name`), or all.
    pub target: Option<String>,
    /// Syncs per installation.
    pub last: usize,
}

/// What a client asks the daemon to sync, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncParams {
    /// `connector/name`.
    pub installation: String,
    /// Reload everything.
    pub full: bool,
    /// Tasks at once.
    pub workers: usize,
    /// New, resumed, or failed tasks retried.
    pub start: max_host::Start,
    /// Attempts of a task that fails transiently.
    pub max_attempts: u32,
    /// Fields loaded again only when older than this many seconds.
    pub max_age_s: u64,
}

/// What the daemon says of itself in `hello` and `project.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Its process.
    pub pid: u32,
    /// The project root it serves.
    pub project: String,
    /// Max's version.
    pub version: String,
    /// The build it runs (see [`build_id`]).
    pub build: String,
    /// When it started (RFC 3339).
    pub started: String,
}

/// What identifies the running binary: Max's version and the executable's size and modification
/// time, so a rebuilt or reinstalled `max` is another build (and replaces the daemon of the old one)
/// without hashing the binary on every command.
pub fn build_id() -> String {
    use std::os::unix::fs::MetadataExt;
    let stamp = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}-{}.{}", m.size(), m.mtime(), m.mtime_nsec()))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("{}+{stamp}", env!("CARGO_PKG_VERSION"))
}
