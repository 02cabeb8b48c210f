//! `fake-saas hubspot`: HubSpot's CRM API as `../shared/apis.md` §2 describes it.
//!
//! - `Authorization: Bearer <private-app token or OAuth access token>`; otherwise 401 with HubSpot's
//!   error body (`category: INVALID_AUTHENTICATION`, or `EXPIRED_AUTHENTICATION` for an expired
//!   access token).
//! - `POST /oauth/v1/token` (form-encoded refresh-token grant): a new access token and a rotated
//!   refresh token, with `token_use`, `hub_id` and `scopes`; HubSpot's `BAD_REFRESH_TOKEN` and
//!   `BAD_CLIENT_ID` errors.
//! - `GET /crm/v3/objects/{contacts|companies|deals|tickets}`: `limit` (default 10, at most 100),
//!   `after`, `properties` (comma-separated, repeatable), `archived`, `associations`; all property
//!   values strings or null; `paging.next.after` until the last page.
//! - `GET /crm/v3/objects/{type}/{id}` and `POST /crm/v3/objects/{type}/batch/read` (at most 100 inputs;
//!   207 with `numErrors` and `errors` when some ids are unknown).
//! - `GET /crm/v3/properties/{type}`: every property with its type (`string`, `number`, `date`,
//!   `datetime`, `enumeration`, `bool`), standard and custom.
//! - `POST /crm/v3/objects/{type}/search` (see `search`), limited apart: at most
//!   `search_per_second` a second, answered 429 with `policyName: SECONDLY`, and without the
//!   window's headers.
//! - Associations v4: `GET /crm/v4/objects/{type}/{id}/associations/{toType}` (`limit` default 500,
//!   `after`) and `POST /crm/v4/associations/{type}/{toType}/batch/read`; `toObjectId` a number, each
//!   association with its `associationTypes` (`category`, `typeId`, `label`); the portal's own labels
//!   are `USER_DEFINED`; `GET /crm/v4/associations/{type}/{toType}/labels` lists the types in use.
//! - `GET /crm/v3/owners`, `GET /crm/v3/owners/{ownerId}` (`idProperty=id|userId`, `archived`),
//!   `GET /crm/v3/pipelines/{deals|tickets}`, `GET /account-info/v3/details`.
//! - HubSpot's error body on every error: `status`, `message`, `correlationId`, `category`, `context`.
//! - With a rolling window (`Faults::window`), the `X-HubSpot-RateLimit-*` headers and 429 body.
//! - `X-HubSpot-RateLimit-Daily` and `-Daily-Remaining` on requests made with the private-app token
//!   (never on OAuth-authorized ones, nor on search, as HubSpot does), counting down from
//!   `daily_limit`.
//! - `GET /_fake/stats` and `POST /_fake/mutate` (one [`Mutation`] or a list: updates, creates,
//!   archives, a new custom property, many objects modified at once), not counted as requests.

mod data;
mod search;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub use data::{Dataset, Mutation, ObjectType, Size};

use crate::faults::{Fault, FaultDice};
use crate::oauth::{Invalid, OAuth, Refused, TokenForm, Tokens};
use crate::window::RollingWindow;
use crate::{Faults, RunningServer};

/// The private-app token the fake accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
/// The most objects a list page holds.
pub const MAX_LIST_LIMIT: usize = 100;
/// The most inputs a batch read takes.
pub const MAX_BATCH: usize = 100;
/// The most inputs an associations batch read takes.
pub const MAX_ASSOCIATION_BATCH: usize = 1000;

/// How to build the fake.
#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    /// Seed of the generated data (and of the fault dice).
    pub seed: u64,
    /// How much data.
    pub size: Size,
    /// The accepted private-app token.
    pub token: String,
    /// Injected faults.
    pub faults: Faults,
    /// Search requests allowed in any second (HubSpot allows about 4).
    pub search_per_second: u64,
    /// The OAuth app and the tokens it starts with.
    pub oauth: OAuth,
    /// Requests a day for the private-app token, as its daily headers count them.
    pub daily_limit: u64,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        HubSpotConfig {
            seed: 1,
            size: Size::default(),
            token: DEFAULT_TOKEN.to_string(),
            faults: Faults::default(),
            search_per_second: 4,
            oauth: OAuth::named("hs", std::time::Duration::from_secs(1800)),
            daily_limit: 250_000,
        }
    }
}

struct HubSpotState {
    data: RwLock<Dataset>,
    token: String,
    dice: Arc<FaultDice>,
    requests: AtomicU64,
    window: Option<Arc<RollingWindow>>,
    /// Search's own limit.
    searches: RollingWindow,
    /// Search requests refused by it.
    search_limited: AtomicU64,
    /// Search requests answered with results.
    searches_answered: AtomicU64,
    tokens: Mutex<Tokens>,
    refreshes: AtomicU64,
    daily_limit: u64,
    /// Requests made today with the private-app token.
    daily_used: AtomicU64,
}

/// A handle on the fake's state, shared with its router.
#[derive(Clone)]
pub struct HubSpot {
    state: Arc<HubSpotState>,
}

impl std::fmt::Debug for HubSpot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpot").field("requests", &self.request_count()).finish_non_exhaustive()
    }
}

impl HubSpot {
    /// Generates the portal.
    pub fn new(config: HubSpotConfig) -> Self {
        let window = config.faults.window.map(|limit| Arc::new(RollingWindow::new(limit)));
        HubSpot {
            state: Arc::new(HubSpotState {
                data: RwLock::new(Dataset::generate(config.seed, &config.size)),
                token: config.token,
                dice: Arc::new(FaultDice::new(config.faults, config.seed)),
                requests: AtomicU64::new(0),
                window,
                searches: RollingWindow::new(crate::window::WindowLimit {
                    max: config.search_per_second.max(1),
                    interval: std::time::Duration::from_secs(1),
                }),
                search_limited: AtomicU64::new(0),
                searches_answered: AtomicU64::new(0),
                tokens: Mutex::new(Tokens::new(config.oauth, "hs")),
                refreshes: AtomicU64::new(0),
                daily_limit: config.daily_limit,
                daily_used: AtomicU64::new(0),
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
            .route("/crm/v3/objects/{object_type}", get(list))
            .route("/crm/v3/objects/{object_type}/batch/read", post(batch_read))
            .route("/crm/v3/objects/{object_type}/search", post(search_objects))
            .route("/crm/v4/objects/{object_type}/{id}/associations/{to_type}", get(associations))
            .route("/crm/v4/associations/{object_type}/{to_type}/batch/read", post(associations_batch))
            .route("/crm/v4/associations/{object_type}/{to_type}/labels", get(association_labels))
            .route("/crm/v3/objects/{object_type}/{id}", get(read))
            .route("/crm/v3/properties/{object_type}", get(properties))
            .route("/crm/v3/owners", get(owners))
            .route("/crm/v3/owners/{owner_id}", get(owner))
            .route("/crm/v3/pipelines/{object_type}", get(pipelines))
            .route("/account-info/v3/details", get(account))
            .route("/oauth/v1/token", post(token))
            .route("/_fake/stats", get(stats))
            .route("/_fake/mutate", post(mutate))
            .fallback(unknown_route)
            .layer(axum::middleware::from_fn_with_state(self.state.dice.clone(), crate::faults::damage_bodies))
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), daily))
            .with_state(self.state.clone());
        crate::window::limited(router, self.state.window.as_ref())
    }

    /// Live objects per type (`contacts`: n).
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        self.state.data.read().expect("data lock").counts()
    }

    /// What `/_fake/stats` answers.
    pub fn stats(&self) -> Value {
        stats_json(&self.state)
    }

    /// API requests answered so far (`/_fake/*` excluded).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Runs `f` on the portal's data (to read it, or to change it between syncs).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.data.write().expect("data lock"))
    }
}

type Shared = State<Arc<HubSpotState>>;

/// Handlers answer failures with a ready response (`?` on the helpers below).
type Answer = Result<Response, Response>;

/// HubSpot's error body.
fn error(status: StatusCode, category: &str, message: &str, context: Value) -> Response {
    let mut body = json!({
        "status": "error",
        "message": message,
        "correlationId": "2f1c9a4e-7d3b-4c21-9e8f-6a5b4c3d2e1f",
        "category": category,
    });
    if !context.is_null() {
        body["context"] = context;
    }
    (status, Json(body)).into_response()
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message, Value::Null)
}

async fn unknown_route() -> Response {
    error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Unable to find a handler for this path.", Value::Null)
}

/// Adds the daily budget's headers to a response to the private-app token.
async fn daily(State(state): Shared, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // Search responses carry none of the rate-limit headers.
    let private_app = !request.uri().path().ends_with("/search")
        && request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|token| token == state.token);
    let mut response = next.run(request).await;
    if private_app && response.status() != StatusCode::UNAUTHORIZED {
        let used = state.daily_used.fetch_add(1, Ordering::Relaxed) + 1;
        let headers = response.headers_mut();
        headers.insert("x-hubspot-ratelimit-daily", HeaderValue::from(state.daily_limit));
        headers
            .insert("x-hubspot-ratelimit-daily-remaining", HeaderValue::from(state.daily_limit.saturating_sub(used)));
    }
    response
}

/// Counts the request, applies latency and faults, and checks the bearer token.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
async fn gate(state: &HubSpotState, headers: &HeaderMap) -> Result<(), Response> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state.dice.delay().await;
    match state.dice.roll() {
        Fault::None => {}
        Fault::Throttle => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITS",
                "You have reached your secondly limit.",
                Value::Null,
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(response);
        }
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(error(status, "INTERNAL_ERROR", "internal error", Value::Null));
        }
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let checked = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(|token| if token == state.token { Ok(()) } else { state.tokens.lock().expect("token lock").check(token) });
    match checked {
        Some(Ok(())) => Ok(()),
        Some(Err(Invalid::Expired(ago))) => Err(error(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            &format!("The OAuth token used to make this call expired {} second(s) ago.", ago.as_secs()),
            Value::Null,
        )),
        Some(Err(Invalid::Unknown)) => Err(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            Value::Null,
        )),
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
            Value::Null,
        )),
    }
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn object_type(segment: &str) -> Result<ObjectType, Response> {
    ObjectType::from_path(segment).ok_or_else(|| {
        let message = format!("Unable to infer object type from: {segment}");
        error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", &message, Value::Null)
    })
}

/// A query string's parameters, repeated ones kept in order.
fn params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The values of `name`, comma-separated or repeated.
fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string))
        .collect()
}

fn single_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// What a read of objects asks for: which properties, associations with which types, archived
/// objects or live ones.
struct Wanted {
    properties: Vec<String>,
    with: Vec<ObjectType>,
    archived: bool,
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn wanted(params: &[(String, String)]) -> Result<Wanted, Response> {
    Ok(Wanted {
        properties: list_param(params, "properties"),
        with: list_param(params, "associations").iter().map(|t| object_type(t)).collect::<Result<_, _>>()?,
        archived: single_param(params, "archived") == Some("true"),
    })
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn limit(params: &[(String, String)], default: usize, most: usize) -> Result<usize, Response> {
    match single_param(params, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=most).contains(&n) => Ok(n),
            _ => Err(invalid(&format!("limit must be between 1 and {most}, got {text}"))),
        },
    }
}

/// `after` as the id it continues after (0 at the start).
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn after(params: &[(String, String)]) -> Result<u64, Response> {
    match single_param(params, "after") {
        None | Some("") => Ok(0),
        Some(text) => text.parse().map_err(|_| invalid(&format!("Invalid paging cursor: {text}"))),
    }
}

fn paging(next: Option<String>, link: String) -> Value {
    match next {
        Some(after) => json!({ "next": { "after": after, "link": link.replace("{after}", &after) } }),
        None => Value::Null,
    }
}

fn with_paging(results: Vec<Value>, paging: Value) -> Response {
    let mut body = json!({ "results": results });
    if !paging.is_null() {
        body["paging"] = paging;
    }
    Json(body).into_response()
}

async fn list(
    State(state): Shared,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let object_type = object_type(&segment)?;
    let params = params(query.as_deref());
    let (limit, after, wanted) = (limit(&params, 10, MAX_LIST_LIMIT)?, after(&params)?, wanted(&params)?);
    let data = state.data.read().expect("data lock");
    let (page, next) = data.page(object_type, after, limit, wanted.archived);
    let results =
        page.into_iter().map(|o| data.object_json(object_type, o, &wanted.properties, &wanted.with)).collect();
    let link = format!("https://api.hubapi.com/crm/v3/objects/{}?after={{after}}", object_type.path());
    Ok(with_paging(results, paging(next.map(|n| n.to_string()), link)))
}

async fn read(
    State(state): Shared,
    Path((segment, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let object_type = object_type(&segment)?;
    let wanted = wanted(&params(query.as_deref()))?;
    let data = state.data.read().expect("data lock");
    let found = id.parse::<u64>().ok().and_then(|n| data.get(object_type, n));
    match found.filter(|o| o.archived_ms.is_some() == wanted.archived) {
        Some(object) => {
            Ok(Json(data.object_json(object_type, object, &wanted.properties, &wanted.with)).into_response())
        }
        None => Err(error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
            json!({ "id": [id] }),
        )),
    }
}

async fn batch_read(
    State(state): Shared,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    gate(&state, &headers).await?;
    let object_type = object_type(&segment)?;
    let (request, ids) = batch_inputs(&body, MAX_BATCH)?;
    let wanted: Vec<String> =
        request["properties"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_string)).collect();
    let archived = single_param(&params(query.as_deref()), "archived") == Some("true");
    let data = state.data.read().expect("data lock");
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for id in ids {
        match id
            .parse::<u64>()
            .ok()
            .and_then(|n| data.get(object_type, n))
            .filter(|o| o.archived_ms.is_some() == archived)
        {
            Some(object) => results.push(data.object_json(object_type, object, &wanted, &[])),
            None => missing.push(id),
        }
    }
    let now = now_iso();
    let mut body = json!({ "status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now });
    if missing.is_empty() {
        return Ok(Json(body).into_response());
    }
    body["numErrors"] = json!(1);
    body["errors"] = json!([{
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!("Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.", object_type.path().trim_end_matches('s').to_uppercase()),
        "context": { "ids": missing },
    }]);
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

async fn search_objects(
    State(state): Shared,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    gate(&state, &headers).await?;
    if state.searches.admit().is_none() {
        state.search_limited.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "5d0c8b7a-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
            "policyName": "SECONDLY",
        });
        return Err((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
    }
    let object_type = object_type(&segment)?;
    let request: Value = serde_json::from_slice(&body).map_err(|e| invalid(&format!("Invalid input JSON: {e}")))?;
    let data = state.data.read().expect("data lock");
    match search::search(&data, object_type, &request) {
        Ok(body) => {
            state.searches_answered.fetch_add(1, Ordering::Relaxed);
            Ok(Json(body).into_response())
        }
        Err(search::Refused(message)) => Err(invalid(&message)),
    }
}

/// An object's associations with `to_type` after `after` (an id), `limit` of them, as v4 lists them.
fn associations_v4(
    data: &Dataset,
    from: (ObjectType, u64),
    to_type: ObjectType,
    after: u64,
    limit: usize,
) -> (Vec<Value>, Option<String>) {
    let all = data.associations_of(from, to_type);
    let mut rest = all.iter().filter(|(id, _)| *id > after);
    let page: Vec<Value> = rest
        .by_ref()
        .take(limit)
        .map(|(id, types)| {
            let types: Vec<Value> = types
                .iter()
                .map(|(type_id, label)| json!({ "category": data::category(*type_id), "typeId": type_id, "label": label }))
                .collect();
            json!({ "toObjectId": id, "associationTypes": types })
        })
        .collect();
    let next = rest.next().and(page.last().and_then(|p| p["toObjectId"].as_u64()).map(|id| id.to_string()));
    (page, next)
}

async fn associations(
    State(state): Shared,
    Path((segment, id, to)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let (object_type, to_type) = (object_type(&segment)?, object_type(&to)?);
    let params = params(query.as_deref());
    let (limit, after) = (limit(&params, 500, 500)?, after(&params)?);
    let data = state.data.read().expect("data lock");
    let id = id.parse::<u64>().ok().filter(|n| data.get(object_type, *n).is_some_and(|o| o.archived_ms.is_none()));
    let Some(id) = id else {
        return Err(error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Object not found.", Value::Null));
    };
    let (results, next) = associations_v4(&data, (object_type, id), to_type, after, limit);
    let link = format!(
        "https://api.hubapi.com/crm/v4/objects/{}/{id}/associations/{}?after={{after}}",
        object_type.path(),
        to_type.path()
    );
    Ok(with_paging(results, paging(next, link)))
}

async fn associations_batch(
    State(state): Shared,
    Path((segment, to)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    gate(&state, &headers).await?;
    let (object_type, to_type) = (object_type(&segment)?, object_type(&to)?);
    let (request, ids) = batch_inputs(&body, MAX_ASSOCIATION_BATCH)?;
    let data = state.data.read().expect("data lock");
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for (index, id) in ids.into_iter().enumerate() {
        let after = request["inputs"][index]["after"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
        match id.parse::<u64>().ok().filter(|n| data.get(object_type, *n).is_some_and(|o| o.archived_ms.is_none())) {
            Some(n) => {
                let (to, next) = associations_v4(&data, (object_type, n), to_type, after, 500);
                let mut result = json!({ "from": { "id": id }, "to": to });
                if let Some(after) = next {
                    result["paging"] = json!({ "next": { "after": after } });
                }
                results.push(result);
            }
            None => missing.push(id),
        }
    }
    let now = now_iso();
    let mut body =
        json!({ "status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now, "requestedAt": now });
    if missing.is_empty() {
        return Ok(Json(body).into_response());
    }
    body["numErrors"] = json!(missing.len());
    body["errors"] = missing
        .iter()
        .map(|id| json!({ "status": "error", "category": "OBJECT_NOT_FOUND", "message": format!("No {} is associated with {id}", to_type.path()), "context": { "fromObjectId": [id] } }))
        .collect();
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

/// `GET /crm/v4/associations/{type}/{toType}/labels`: the association types between two object types,
/// labelled or not.
async fn association_labels(
    State(state): Shared,
    Path((segment, to)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let (object_type, to_type) = (object_type(&segment)?, object_type(&to)?);
    let data = state.data.read().expect("data lock");
    let results: Vec<Value> = data
        .association_labels(object_type, to_type)
        .into_iter()
        .map(|(type_id, label)| json!({ "category": data::category(type_id), "typeId": type_id, "label": label }))
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

/// A batch request's body and its inputs' ids (as strings, whether sent as strings or numbers).
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn batch_inputs(body: &[u8], most: usize) -> Result<(Value, Vec<String>), Response> {
    let request: Value = serde_json::from_slice(body).map_err(|e| invalid(&format!("Invalid input JSON: {e}")))?;
    let inputs = request["inputs"].as_array().ok_or_else(|| invalid("inputs is required"))?;
    if inputs.len() > most {
        return Err(invalid(&format!("Batch size {} exceeds the limit of {most}", inputs.len())));
    }
    let ids = inputs
        .iter()
        .map(|input| match &input["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok((request, ids))
}

/// Now, as HubSpot writes times.
fn now_iso() -> String {
    crate::format_ms(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
    )
}

/// The portal's creation time, as every definition's timestamps.
const EPOCH: &str = "2023-01-01T00:00:00.000Z";

async fn properties(State(state): Shared, Path(segment): Path<String>, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let object_type = object_type(&segment)?;
    let data = state.data.read().expect("data lock");
    let results: Vec<Value> = data.properties(object_type).iter().map(|p| p.json(EPOCH)).collect();
    Ok(Json(json!({ "results": results })).into_response())
}

/// An owner as the owners API returns it.
fn owner_json(o: &data::Owner) -> Value {
    json!({
        "id": o.id.to_string(),
        "email": o.email,
        "firstName": o.first_name,
        "lastName": o.last_name,
        "userId": o.user_id,
        "userIdIncludingInactive": o.user_id,
        "type": "PERSON",
        "createdAt": EPOCH,
        "updatedAt": EPOCH,
        "archived": false,
        "teams": [],
    })
}

async fn owners(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let params = params(query.as_deref());
    let (limit, after) = (limit(&params, 100, 500)?, after(&params)?);
    let archived = single_param(&params, "archived") == Some("true");
    let data = state.data.read().expect("data lock");
    // The portal's owners are all active.
    let mut matching = data.owners().iter().filter(|o| o.id > after && !archived);
    let page: Vec<Value> = matching.by_ref().take(limit).map(owner_json).collect();
    let next = matching.next().and(page.last().and_then(|o| o["id"].as_str().map(str::to_string)));
    Ok(with_paging(page, paging(next, "https://api.hubapi.com/crm/v3/owners?after={after}".to_string())))
}

async fn owner(
    State(state): Shared,
    Path(owner_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers).await?;
    let params = params(query.as_deref());
    let by_user = match single_param(&params, "idProperty") {
        None | Some("id") => false,
        Some("userId") => true,
        Some(other) => return Err(invalid(&format!("idProperty must be id or userId, got {other}"))),
    };
    let archived = single_param(&params, "archived") == Some("true");
    let data = state.data.read().expect("data lock");
    let wanted = owner_id.parse::<u64>().ok();
    let found = data.owners().iter().find(|o| Some(if by_user { o.user_id } else { o.id }) == wanted && !archived);
    match found {
        Some(o) => Ok(Json(owner_json(o)).into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            &format!("No owner with id {owner_id}"),
            json!({ "id": [owner_id] }),
        )),
    }
}

async fn pipelines(State(state): Shared, Path(segment): Path<String>, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let object_type = object_type(&segment)?;
    let data = state.data.read().expect("data lock");
    let results: Vec<Value> = data
        .pipelines(object_type)
        .iter()
        .enumerate()
        .map(|(order, pipeline)| {
            let stages: Vec<Value> = pipeline
                .stages
                .iter()
                .enumerate()
                .map(|(i, (id, label, probability))| {
                    let metadata = match probability {
                        Some(p) => {
                            json!({ "isClosed": (*p == 0.0 || *p == 1.0).to_string(), "probability": p.to_string() })
                        }
                        None => {
                            json!({ "ticketState": if i + 1 == pipeline.stages.len() { "CLOSED" } else { "OPEN" } })
                        }
                    };
                    json!({
                        "id": id, "label": label, "displayOrder": i, "metadata": metadata,
                        "createdAt": EPOCH, "updatedAt": EPOCH, "archived": false,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                    })
                })
                .collect();
            json!({
                "id": pipeline.id, "label": pipeline.label, "displayOrder": order, "stages": stages,
                "createdAt": EPOCH, "updatedAt": EPOCH, "archived": false,
            })
        })
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn account(State(state): Shared, headers: HeaderMap) -> Answer {
    gate(&state, &headers).await?;
    let portal_id = state.data.read().expect("data lock").portal_id;
    Ok(Json(json!({
        "portalId": portal_id,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18_000_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }))
    .into_response())
}

/// `POST /_fake/mutate` with one mutation or a list of them: what each did, or 400 and nothing done
/// after the first that failed.
async fn mutate(State(state): Shared, Json(body): Json<Value>) -> Response {
    let mutations: Result<Vec<Mutation>, _> = match body {
        Value::Array(_) => serde_json::from_value(body),
        other => serde_json::from_value(other).map(|m| vec![m]),
    };
    let mutations = match mutations {
        Ok(mutations) => mutations,
        Err(e) => return invalid(&format!("not a mutation: {e}")),
    };
    let mut data = state.data.write().expect("data lock");
    let mut done = Vec::new();
    for mutation in &mutations {
        match data.mutate(mutation) {
            Ok(result) => done.push(result),
            Err(message) => return invalid(&message),
        }
    }
    Json(json!({ "applied": done })).into_response()
}

/// `POST /oauth/v1/token`.
async fn token(State(state): Shared, axum::Form(form): axum::Form<TokenForm>) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let refused = |status: &str, message: &str| {
        let body =
            json!({ "status": status, "message": message, "correlationId": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let issued = match state.tokens.lock().expect("token lock").refresh(&form) {
        Ok(issued) => issued,
        Err(Refused::UnsupportedGrant) => return refused("BAD_GRANT_TYPE", "unsupported grant type"),
        Err(Refused::InvalidClient) => return refused("BAD_CLIENT_ID", "missing or unknown client id"),
        Err(Refused::InvalidGrant) => return refused("BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
    };
    state.refreshes.fetch_add(1, Ordering::Relaxed);
    let hub_id = state.data.read().expect("data lock").portal_id;
    Json(json!({
        "access_token": issued.access,
        "refresh_token": issued.refresh,
        "expires_in": issued.expires_in.as_secs(),
        "token_type": "bearer",
        "token_use": "access_token",
        "hub_id": hub_id,
        "scopes": ["crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read", "tickets", "crm.schemas.contacts.read", "oauth"],
    }))
    .into_response()
}

async fn stats(State(state): Shared) -> Response {
    Json(stats_json(&state)).into_response()
}

/// What `/_fake/stats` answers: live objects per type, requests answered, searches answered, and the
/// requests each limit refused.
fn stats_json(state: &HubSpotState) -> Value {
    let counts = state.data.read().expect("data lock").counts();
    let rate_limited = state.window.as_ref().map_or(0, |w| w.refused());
    let search_limited = state.search_limited.load(Ordering::Relaxed);
    json!({
        "counts": counts,
        "requests": state.requests.load(Ordering::Relaxed),
        "searches": state.searches_answered.load(Ordering::Relaxed),
        "rate_limited": rate_limited,
        "search_limited": search_limited,
        "refreshes": state.refreshes.load(Ordering::Relaxed),
    })
}
