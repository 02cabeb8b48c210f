//! `fake-saas linear`: Linear's GraphQL API (`../shared/apis.md` §1) over a generated workspace.
//!
//! - `POST /graphql` with `{"query", "variables", "operationName"}`, executed by a real GraphQL engine
//!   over the schema subset in `linear/schema.rs`.
//! - Auth: a personal API key as `Authorization: <key>` (no `Bearer`), or an OAuth access token as
//!   `Authorization: Bearer <token>`. Anything else: HTTP 401 with `extensions.type: "authentication
//!   error"`.
//! - Rate limits as Linear applies them: request and complexity budgets (leaky buckets) advertised in
//!   `X-RateLimit-{Requests,Complexity}-{Limit,Remaining,Reset}` (reset in epoch milliseconds) and
//!   `X-Complexity`; over budget: HTTP 400 with `extensions.code: "RATELIMITED"` and `extensions.type:
//!   "ratelimited"`, plus `Retry-After`. A query over the per-query complexity cap is refused.
//! - `POST /oauth/token` (form-encoded `grant_type=refresh_token`): a new access token and a rotated
//!   refresh token; the old refresh token stops working.
//! - `GET /_fake/stats` → `{"counts": {...}, "requests": n, ...}`; `POST /_fake/mutate` changes data.

mod data;
mod filter;
mod limits;
mod schema;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value as Json_, json};

pub use data::{Dataset, Mutation, Size};
pub use limits::Bucket;

use crate::faults::{Fault, FaultDice};
use crate::oauth::{Invalid, Refused, TokenForm, Tokens};
use crate::{Faults, RunningServer};

/// The personal API key the fake accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "lin_api_fake0000000000000000000000000000000";

pub use crate::oauth::OAuth;

impl Default for OAuth {
    fn default() -> Self {
        OAuth::named("lin", Duration::from_secs(86_399))
    }
}

/// Rate-limit budgets.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests per period.
    pub requests: u64,
    /// Complexity points per period.
    pub complexity: u64,
    /// The period both budgets refill over.
    pub period: Duration,
    /// The most complexity one query may have.
    pub max_query_complexity: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests: 5_000,
            complexity: 3_000_000,
            period: Duration::from_secs(3600),
            max_query_complexity: 10_000,
        }
    }
}

/// How to build the fake.
#[derive(Debug, Clone)]
pub struct LinearConfig {
    /// Seed of the generated data (and of the fault dice).
    pub seed: u64,
    /// How much data.
    pub size: Size,
    /// The accepted personal API key.
    pub api_key: String,
    /// OAuth client and tokens.
    pub oauth: OAuth,
    /// Budgets.
    pub limits: RateLimits,
    /// The largest `first` a connection accepts.
    pub max_first: usize,
    /// Injected faults.
    pub faults: Faults,
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig {
            seed: 1,
            size: Size::default(),
            api_key: DEFAULT_API_KEY.into(),
            oauth: OAuth::default(),
            limits: RateLimits::default(),
            max_first: 250,
            faults: Faults::default(),
        }
    }
}

/// What the fake counts, for tests to assert on (`GET /_fake/stats` shows it too).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    early: AtomicU64,
    refreshes: AtomicU64,
    max_complexity: AtomicU64,
}

struct Budget {
    requests: Bucket,
    complexity: Bucket,
    /// The earliest moment a client that was told to wait may come back.
    blocked_until: Option<Instant>,
}

struct LinearState {
    data: Arc<RwLock<Dataset>>,
    schema: async_graphql::dynamic::Schema,
    config: LinearConfig,
    dice: Arc<FaultDice>,
    counters: Counters,
    /// Every GraphQL request's query and variables, in arrival order.
    log: std::sync::Mutex<Vec<String>>,
    budget: Mutex<Budget>,
    tokens: Mutex<Tokens>,
    connections: Vec<&'static str>,
}

/// A running fake Linear, shared by its server and the test that drives it.
#[derive(Clone)]
pub struct Linear {
    state: Arc<LinearState>,
}

impl std::fmt::Debug for Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linear").field("requests", &self.request_count()).finish_non_exhaustive()
    }
}

impl Linear {
    /// Generates the workspace and the schema.
    pub fn new(config: LinearConfig) -> Self {
        let data = Arc::new(RwLock::new(Dataset::generate(config.seed, &config.size)));
        let schema = schema::build(schema::Context { data: data.clone(), max_first: config.max_first })
            .expect("the fake's schema is valid");
        let tokens = Tokens::new(config.oauth.clone(), "lin");
        let budget = Budget {
            requests: Bucket::new(config.limits.requests, config.limits.period),
            complexity: Bucket::new(config.limits.complexity, config.limits.period),
            blocked_until: None,
        };
        Linear {
            state: Arc::new(LinearState {
                data,
                schema,
                dice: Arc::new(FaultDice::new(config.faults.clone(), config.seed)),
                config,
                counters: Counters::default(),
                log: std::sync::Mutex::default(),
                budget: Mutex::new(budget),
                tokens: Mutex::new(tokens),
                connections: schema::connection_fields(),
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
        Router::new()
            .route("/graphql", post(graphql))
            .route("/oauth/token", post(token))
            .route("/_fake/stats", get(stats))
            .route("/_fake/mutate", post(mutate))
            .layer(axum::middleware::from_fn_with_state(self.state.dice.clone(), crate::faults::damage_bodies))
            .with_state(self.state.clone())
    }

    /// Objects per type, archived ones excluded.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        self.state.data.read().expect("data lock").counts()
    }

    /// Every GraphQL request so far, as its query and its variables as JSON, in arrival order.
    pub fn request_log(&self) -> Vec<String> {
        self.state.log.lock().expect("log lock").clone()
    }

    /// API requests answered so far (`/_fake/*` excluded, `/oauth/token` included).
    pub fn request_count(&self) -> u64 {
        self.state.counters.requests.load(Ordering::Relaxed)
    }

    /// The counters `/_fake/stats` shows.
    pub fn stats(&self) -> Json_ {
        stats_json(&self.state)
    }

    /// Runs `f` on the data set (to read it, or to change it between syncs).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.data.write().expect("data lock"))
    }
}

fn stats_json(state: &LinearState) -> Json_ {
    let c = &state.counters;
    json!({
        "counts": state.data.read().expect("data lock").counts(),
        "requests": c.requests.load(Ordering::Relaxed),
        "rate_limited": c.rate_limited.load(Ordering::Relaxed),
        "early_requests": c.early.load(Ordering::Relaxed),
        "refreshes": c.refreshes.load(Ordering::Relaxed),
        "max_complexity": c.max_complexity.load(Ordering::Relaxed),
    })
}

type Shared = State<Arc<LinearState>>;

/// A GraphQL error response in Linear's shape.
fn graphql_error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    let body = json!({"errors": [{
        "message": message,
        "extensions": {"type": kind, "code": code, "userError": kind != "internal error", "userPresentableMessage": message},
    }]});
    (status, Json(body)).into_response()
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, value);
    }
}

fn rate_limit_headers(budget: &mut Budget, headers: &mut HeaderMap) {
    insert(headers, "x-ratelimit-requests-limit", budget.requests.limit());
    insert(headers, "x-ratelimit-requests-remaining", budget.requests.remaining());
    insert(headers, "x-ratelimit-requests-reset", budget.requests.reset_epoch_ms());
    insert(headers, "x-ratelimit-complexity-limit", budget.complexity.limit());
    insert(headers, "x-ratelimit-complexity-remaining", budget.complexity.remaining());
    insert(headers, "x-ratelimit-complexity-reset", budget.complexity.reset_epoch_ms());
}

/// Linear's rate-limited answer; the client may come back after `wait`.
fn rate_limited(state: &LinearState, budget: &mut Budget, what: &str, wait: Duration) -> Response {
    state.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
    budget.blocked_until = Some(Instant::now() + wait);
    let message = match what {
        "requests" => format!(
            "Rate limit exceeded. Only {} requests are allowed per {} seconds.",
            budget.requests.limit(),
            state.config.limits.period.as_secs()
        ),
        _ => format!(
            "Rate limit exceeded. Only {} complexity points are allowed per {} seconds.",
            budget.complexity.limit(),
            state.config.limits.period.as_secs()
        ),
    };
    let body = json!({"errors": [{
        "message": message,
        "extensions": {"code": "RATELIMITED", "type": "ratelimited", "statusCode": 429, "userError": true,
                       "userPresentableMessage": message},
    }]});
    let mut response = (StatusCode::BAD_REQUEST, Json(body)).into_response();
    rate_limit_headers(budget, response.headers_mut());
    // Retry-After is in whole seconds; the reset headers carry the precise moment.
    insert(response.headers_mut(), "retry-after", wait.as_secs_f64().ceil().max(1.0) as u64);
    if what == "requests" {
        insert(response.headers_mut(), "x-ratelimit-requests-reset", limits::epoch_ms(wait));
    } else {
        insert(response.headers_mut(), "x-ratelimit-complexity-reset", limits::epoch_ms(wait));
    }
    response
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn authenticate(state: &LinearState, headers: &HeaderMap) -> Result<(), Response> {
    let refused = |message: &str| {
        graphql_error(StatusCode::UNAUTHORIZED, message, "authentication error", "AUTHENTICATION_ERROR")
    };
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if auth.is_empty() {
        return Err(refused("Authentication required, not authenticated"));
    }
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return match state.tokens.lock().expect("token lock").check(token) {
            Ok(()) => Ok(()),
            Err(Invalid::Expired(_)) => Err(refused("Access token expired")),
            Err(Invalid::Unknown) => Err(refused("Invalid access token")),
        };
    }
    if auth == state.config.api_key { Ok(()) } else { Err(refused("Invalid API key")) }
}

/// `POST /graphql`.
async fn graphql(State(state): Shared, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    state.dice.delay().await;
    {
        let budget = state.budget.lock().expect("budget lock");
        if budget.blocked_until.is_some_and(|until| Instant::now() < until) {
            state.counters.early.fetch_add(1, Ordering::Relaxed);
        }
    }
    match state.dice.roll() {
        Fault::None => {}
        Fault::Throttle => {
            let mut budget = state.budget.lock().expect("budget lock");
            return rate_limited(&state, &mut budget, "requests", Duration::from_secs(1));
        }
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return graphql_error(status, "Internal server error", "internal error", "INTERNAL_SERVER_ERROR");
        }
    }
    if let Err(response) = authenticate(&state, &headers) {
        return response;
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid request body: {error}"),
                "graphql error",
                "BAD_REQUEST",
            );
        }
    };
    let document = match async_graphql::parser::parse_query(&request.query) {
        Ok(document) => document,
        Err(error) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                &format!("Syntax error: {error}"),
                "graphql error",
                "GRAPHQL_PARSE_FAILED",
            );
        }
    };
    let variables: HashMap<String, async_graphql::Value> =
        request.variables.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let logged = serde_json::to_string(&request.variables).unwrap_or_default();
    state.log.lock().expect("log lock").push(format!("{} {logged}", request.query));
    let cost = limits::complexity(&document, request.operation_name.as_deref(), &variables, &state.connections).ceil();
    state.counters.max_complexity.fetch_max(cost as u64, Ordering::Relaxed);
    if cost > state.config.limits.max_query_complexity as f64 {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            &format!("Query too complex: {cost} points, at most {} allowed", state.config.limits.max_query_complexity),
            "invalid input",
            "QUERY_TOO_COMPLEX",
        );
    }
    {
        let mut budget = state.budget.lock().expect("budget lock");
        if let Err(wait) = budget.requests.take(1.0) {
            return rate_limited(&state, &mut budget, "requests", wait);
        }
        if let Err(wait) = budget.complexity.take(cost) {
            return rate_limited(&state, &mut budget, "complexity", wait);
        }
    }
    let response = state.schema.execute(request).await;
    let status = if response.data == async_graphql::Value::Null && !response.errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut answer = (status, Json(response)).into_response();
    let mut budget = state.budget.lock().expect("budget lock");
    rate_limit_headers(&mut budget, answer.headers_mut());
    insert(answer.headers_mut(), "x-complexity", cost as u64);
    answer
}

/// `POST /oauth/token`.
async fn token(State(state): Shared, Form(form): Form<TokenForm>) -> Response {
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    let oauth_error = |error: &str, description: &str| {
        (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": description}))).into_response()
    };
    let issued = match state.tokens.lock().expect("token lock").refresh(&form) {
        Ok(issued) => issued,
        Err(Refused::UnsupportedGrant) => {
            return oauth_error("unsupported_grant_type", "only refresh_token is supported by the fake");
        }
        Err(Refused::InvalidClient) => {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        Err(Refused::InvalidGrant) => {
            return oauth_error("invalid_grant", "the refresh token is invalid, expired or was already used");
        }
    };
    state.counters.refreshes.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": issued.access,
        "token_type": "Bearer",
        "expires_in": issued.expires_in.as_secs(),
        "scope": "read",
        "refresh_token": issued.refresh,
    }))
    .into_response()
}

async fn stats(State(state): Shared) -> Response {
    Json(stats_json(&state)).into_response()
}

/// `POST /_fake/mutate` with one mutation or a list of them.
async fn mutate(State(state): Shared, Json(body): Json<Json_>) -> Response {
    let mutations: Vec<Mutation> = match body {
        Json_::Array(_) => serde_json::from_value(body),
        other => serde_json::from_value(other).map(|m| vec![m]),
    }
    .unwrap_or_default();
    if mutations.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "expected a mutation or a list of them"})))
            .into_response();
    }
    let mut data = state.data.write().expect("data lock");
    let mut results = Vec::new();
    for mutation in &mutations {
        match data.mutate(mutation) {
            Ok(object) => results.push(object),
            Err(error) => return (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response(),
        }
    }
    Json(Json_::Array(results)).into_response()
}
