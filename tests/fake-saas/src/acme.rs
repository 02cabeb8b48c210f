//! `fake-saas acme`: the REST API of the demo server of Max's reference implementation.
//!
//! - `Authorization: Bearer <key>`: 401 `{"error":"Missing API key"}` without it, 403 when wrong.
//! - `GET /api/workspaces`, `GET /api/users?workspaceId=`, `GET /api/projects?workspaceId=`,
//!   `GET /api/tasks?projectId=`, `GET /api/files?projectId=`: every object, unless `limit` (and
//!   `cursor`) are given; then one page, with the next cursor in `X-Next-Cursor` (absent on the last).
//! - `GET|PATCH|DELETE /api/<kind>/<id>`, `POST /api/<kind>`: mutations append to the change log.
//! - `GET /api/changes?since=<sequence>&limit=` → `{events: [...], nextCursor}`.
//! - `GET /api/changes/cursor` → `{"cursor": "<sequence>"}`: the newest event's sequence, where a reader
//!   that wants only what happens from now on starts (`since=` it returns nothing old).
//! - `GET /_fake/stats` → `{"counts": {"Task": n, ...}, "requests": n, "rate_limited": n}` (not counted as
//!   a request).
//! - With a rolling window (`Faults::window`), HubSpot's rate-limit headers and 429s (see `window`).

mod data;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use data::{Dataset, Kind, Size};

use crate::faults::{Fault, FaultDice};
use crate::window::RollingWindow;
use crate::{Faults, RunningServer};

/// The API key the fake accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "acme-test-key";

/// How to build the fake.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// Seed of the generated data (and of the fault dice).
    pub seed: u64,
    /// How much data.
    pub size: Size,
    /// The accepted bearer token.
    pub api_key: String,
    /// Injected faults.
    pub faults: Faults,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig { seed: 1, size: Size::default(), api_key: DEFAULT_API_KEY.to_string(), faults: Faults::default() }
    }
}

struct AcmeState {
    data: RwLock<Dataset>,
    api_key: String,
    dice: Arc<FaultDice>,
    requests: AtomicU64,
    /// The rolling-window limit, if the fake has one.
    window: Option<Arc<RollingWindow>>,
    /// Path and query of every API request, in the order they arrived.
    log: std::sync::Mutex<Vec<String>>,
}

/// A handle on the fake's state, shared with its router.
#[derive(Clone)]
pub struct Acme {
    state: Arc<AcmeState>,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme").field("requests", &self.request_count()).finish_non_exhaustive()
    }
}

impl Acme {
    /// Generates the data set.
    pub fn new(config: AcmeConfig) -> Self {
        let data = Dataset::generate(config.seed, &config.size);
        let window = config.faults.window.map(|limit| Arc::new(RollingWindow::new(limit)));
        Acme {
            state: Arc::new(AcmeState {
                data: RwLock::new(data),
                api_key: config.api_key,
                dice: Arc::new(FaultDice::new(config.faults, config.seed)),
                requests: AtomicU64::new(0),
                window,
                log: std::sync::Mutex::default(),
            }),
        }
    }

    /// Serves it on `listen` on a thread of its own.
    pub fn spawn(&self, listen: SocketAddr) -> std::io::Result<RunningServer> {
        let router = self.router();
        RunningServer::spawn(move || router, listen)
    }

    /// Serves it on `listen` in the current tokio runtime.
    pub async fn start(&self, listen: SocketAddr) -> std::io::Result<RunningServer> {
        RunningServer::start(self.router(), listen).await
    }

    /// The routes.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/api/changes", get(changes))
            .route("/api/changes/cursor", get(change_cursor))
            .route("/api/{kind}", get(list).post(create))
            .route("/api/{kind}/{id}", get(read).patch(update).delete(delete))
            .route("/_fake/stats", get(stats))
            .layer(axum::middleware::from_fn_with_state(self.state.dice.clone(), crate::faults::damage_bodies))
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), record))
            .with_state(self.state.clone());
        crate::window::limited(router, self.state.window.as_ref())
    }

    /// Objects per entity type.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        self.state.data.read().expect("data lock").counts()
    }

    /// API requests answered so far (`/_fake/*` excluded).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Requests the rolling window answered 429 so far (0 without one).
    pub fn rate_limited(&self) -> u64 {
        self.state.window.as_ref().map_or(0, |w| w.refused())
    }

    /// Path and query of every API request answered so far (`/_fake/*` excluded), in arrival order.
    pub fn request_log(&self) -> Vec<String> {
        self.state.log.lock().expect("log lock").clone()
    }

    /// Runs `f` on the data set (to read it, or to change it between syncs).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.data.write().expect("data lock"))
    }
}

type Shared = State<Arc<AcmeState>>;

/// Adds an API request to the log as it arrives.
async fn record(State(state): Shared, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri();
    if !uri.path().starts_with("/_fake/") {
        let line = uri.path_and_query().map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
        state.log.lock().expect("log lock").push(line);
    }
    next.run(request).await
}

/// Handlers answer failures with a ready response (`?` on the helpers below).
type Answer = Result<Response, Response>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn not_found(kind: Kind) -> Response {
    error(StatusCode::NOT_FOUND, &format!("{} not found", kind.entity()))
}

/// Counts the request, applies latency and faults, and checks the bearer token.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
async fn gate(state: &AcmeState, headers: &HeaderMap) -> Result<(), Response> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state.dice.delay().await;
    match state.dice.roll() {
        Fault::None => {}
        Fault::Throttle => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(response);
        }
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(error(status, "Internal server error"));
        }
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        None => Err(error(StatusCode::UNAUTHORIZED, "Missing API key")),
        Some(key) if key == state.api_key => Ok(()),
        Some(_) => Err(error(StatusCode::FORBIDDEN, "Invalid API key")),
    }
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn kind_of(path: &str) -> Result<Kind, Response> {
    Kind::from_path(path).ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("Unknown resource: {path}")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    workspace_id: Option<String>,
    project_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(state): Shared,
    Path(kind): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let kind = kind_of(&kind)?;
    let parent = match kind.parent_key() {
        Some("workspaceId") => query.workspace_id.as_deref(),
        Some(_) => query.project_id.as_deref(),
        None => None,
    };
    if kind.parent_key().is_some() && parent.is_none() {
        return Err(error(StatusCode::BAD_REQUEST, &format!("{} is required", kind.parent_key().unwrap_or_default())));
    }
    if query.limit == Some(0) {
        return Err(error(StatusCode::BAD_REQUEST, "limit must be positive"));
    }
    let (items, next) =
        state.data.read().expect("data lock").list_json(kind, parent, query.cursor.as_deref(), query.limit);
    let mut response = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], items).into_response();
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("x-next-cursor", next);
    }
    Ok(response)
}

async fn read(State(state): Shared, Path((kind, id)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let kind = kind_of(&kind)?;
    match state.data.read().expect("data lock").get(kind, &id) {
        Some(object) => Ok(Json(object.clone()).into_response()),
        None => Err(not_found(kind)),
    }
}

async fn create(
    State(state): Shared,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Map<String, Value>>,
) -> Answer {
    gate(&state, &headers).await?;
    let kind = kind_of(&kind)?;
    Ok((StatusCode::CREATED, Json(state.data.write().expect("data lock").create(kind, body))).into_response())
}

async fn update(
    State(state): Shared,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Map<String, Value>>,
) -> Answer {
    gate(&state, &headers).await?;
    let kind = kind_of(&kind)?;
    match state.data.write().expect("data lock").update(kind, &id, body) {
        Some(object) => Ok(Json(object).into_response()),
        None => Err(not_found(kind)),
    }
}

async fn delete(State(state): Shared, Path((kind, id)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let kind = kind_of(&kind)?;
    match state.data.write().expect("data lock").delete(kind, &id) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(kind)),
    }
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

async fn changes(State(state): Shared, Query(query): Query<ChangesQuery>, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let (events, next) =
        state.data.read().expect("data lock").changes(query.since.unwrap_or(0), query.limit.unwrap_or(1000).max(1));
    Ok(Json(json!({ "events": events, "nextCursor": next.map(|n| n.to_string()) })).into_response())
}

async fn change_cursor(State(state): Shared, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let latest = state.data.read().expect("data lock").latest_sequence();
    Ok(Json(json!({ "cursor": latest.to_string() })).into_response())
}

async fn stats(State(state): Shared) -> Response {
    let counts = state.data.read().expect("data lock").counts();
    let rate_limited = state.window.as_ref().map_or(0, |w| w.refused());
    Json(json!({ "counts": counts, "requests": state.requests.load(Ordering::Relaxed), "rate_limited": rate_limited }))
        .into_response()
}
