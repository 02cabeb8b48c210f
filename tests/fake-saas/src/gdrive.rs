//! `fake-saas gdrive`: Google Drive API v3 as `../shared/apis.md` §3 describes it, under
//! `/drive/v3/`, and Google's OAuth token endpoint at `/token`.
//!
//! - `Authorization: Bearer <access token>`; otherwise 401 with Google's error body (`authError`,
//!   `UNAUTHENTICATED`).
//! - `POST /token` (form-encoded refresh-token grant): a new access token, `expires_in`, `scope`,
//!   `token_type`, and no new refresh token (Google keeps it); `invalid_grant`, `invalid_client` and
//!   `unsupported_grant_type` errors in OAuth's shape.
//! - `GET /files` (`q` with the operators in [`query`], `pageSize` 1–1000 (more is 1000, default 100),
//!   `pageToken`, `orderBy`, `corpora` (`user`, `domain`, `drive` with `driveId`, `allDrives`),
//!   `includeItemsFromAllDrives` with `supportsAllDrives` for shared-drive items), `GET /files/{id}`
//!   (`root`, a shared drive's root folder, `alt=media` downloads of files with binary content),
//!   `GET /files/{id}/export` (Docs and Slides to `text/plain`, Sheets to `text/csv`; Docs' text starts
//!   with a byte-order mark, as Google's does), `GET /files/{id}/permissions`, `GET /drives`,
//!   `GET /drives/{id}`, `GET /about`, `GET /changes/startPageToken`, `GET /changes`
//!   (`newStartPageToken` on the last page, removals, trashed files as changes).
//! - Partial responses: `fields` is honoured exactly (keys not named are not returned; unknown ones
//!   are refused 400); without it, Google's default subsets.
//! - Google's error body (`error.code`, `message`, `errors[].reason`, `status`) on every error:
//!   403 `userRateLimitExceeded` and 429 `rateLimitExceeded` for throttled requests (no rate-limit
//!   headers, no `Retry-After`), 404 `notFound`, 400 `invalid`/`badRequest`/`required`, 403
//!   `fileNotDownloadable`, `fileNotExportable`, `exportSizeLimitExceeded`,
//!   `insufficientFilePermissions`, 500 `backendError`.
//! - `GET /_fake/stats`, `GET /_fake/log` (every API request's method and URL) and
//!   `POST /_fake/mutate` (one [`Mutation`] or a list), not counted as requests.

mod data;
mod fields;
mod query;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub use data::{Body, Dataset, File, Mutation, Size, md5_hex};
pub use data::{DOCUMENT, FOLDER, PRESENTATION, SHORTCUT, SPREADSHEET};
use fields::{Selector, Shape};
use query::{Query, Subject};

use crate::faults::{Fault, FaultDice};
use crate::oauth::{Invalid, OAuth, Refused, TokenForm, Tokens};
use crate::{Faults, RunningServer, format_ms};

/// How to build the fake.
#[derive(Debug, Clone)]
pub struct DriveConfig {
    /// Seed of the generated data (and of the fault dice).
    pub seed: u64,
    /// How much data.
    pub size: Size,
    /// The OAuth client and the tokens valid at start.
    pub oauth: OAuth,
    /// Injected faults: throttled requests are answered 403 `userRateLimitExceeded` or 429
    /// `rateLimitExceeded`, in turn.
    pub faults: Faults,
    /// The largest export, in bytes (Google's is 10 MB).
    pub export_limit: usize,
}

impl Default for DriveConfig {
    fn default() -> Self {
        DriveConfig {
            seed: 1,
            size: Size::default(),
            oauth: default_oauth(),
            faults: Faults::default(),
            export_limit: 10 << 20,
        }
    }
}

/// Google's OAuth as the fake starts it: tokens `ya29_oauth_initial` and `ya29_refresh_initial` for
/// client `fake-client`/`fake-secret`, access tokens living an hour, refresh tokens kept.
pub fn default_oauth() -> OAuth {
    OAuth { rotates: false, ..OAuth::named("ya29", std::time::Duration::from_secs(3599)) }
}

struct DriveState {
    data: RwLock<Dataset>,
    dice: Arc<FaultDice>,
    tokens: Mutex<Tokens>,
    export_limit: usize,
    requests: AtomicU64,
    throttled: AtomicU64,
    refreshes: AtomicU64,
    exports: AtomicU64,
    downloads: AtomicU64,
    log: Mutex<Vec<String>>,
}

/// A handle on the fake's state, shared with its router.
#[derive(Clone)]
pub struct GoogleDrive {
    state: Arc<DriveState>,
}

impl std::fmt::Debug for GoogleDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleDrive").field("requests", &self.request_count()).finish_non_exhaustive()
    }
}

impl GoogleDrive {
    /// Generates the Drive.
    pub fn new(config: DriveConfig) -> Self {
        GoogleDrive {
            state: Arc::new(DriveState {
                data: RwLock::new(Dataset::generate(config.seed, &config.size)),
                dice: Arc::new(FaultDice::new(config.faults, config.seed)),
                tokens: Mutex::new(Tokens::new(config.oauth, "ya29")),
                export_limit: config.export_limit,
                requests: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                exports: AtomicU64::new(0),
                downloads: AtomicU64::new(0),
                log: Mutex::new(Vec::new()),
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
            .route("/drive/v3/about", get(about))
            .route("/drive/v3/files", get(list_files))
            .route("/drive/v3/files/{id}", get(get_file))
            .route("/drive/v3/files/{id}/export", get(export))
            .route("/drive/v3/files/{id}/permissions", get(permissions))
            .route("/drive/v3/drives", get(list_drives))
            .route("/drive/v3/drives/{id}", get(get_drive))
            .route("/drive/v3/changes/startPageToken", get(start_page_token))
            .route("/drive/v3/changes", get(changes))
            .route("/token", post(token))
            .route("/_fake/stats", get(stats))
            .route("/_fake/log", get(log))
            .route("/_fake/mutate", post(mutate))
            .fallback(unknown_route)
            .layer(axum::middleware::from_fn_with_state(self.state.dice.clone(), crate::faults::damage_bodies))
            .with_state(self.state.clone())
    }

    /// What `/_fake/stats` answers.
    pub fn stats(&self) -> Value {
        stats_json(&self.state)
    }

    /// API requests answered so far (`/_fake/*` excluded).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Every API request so far, as `GET /drive/v3/files?…`.
    pub fn request_log(&self) -> Vec<String> {
        self.state.log.lock().expect("log lock").clone()
    }

    /// Runs `f` on the Drive's data (to read it, or to change it between syncs).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.data.write().expect("data lock"))
    }
}

type Shared = State<Arc<DriveState>>;

/// Handlers answer failures with a ready response (`?` on the helpers below).
type Answer = Result<Response, Response>;

/// Google's error body: `code`, `message`, one error with its `reason` (and `location`), `status`.
fn error(code: StatusCode, reason: &str, message: &str, location: Option<(&str, &str)>) -> Response {
    let mut detail = json!({"domain": "global", "reason": reason, "message": message});
    if let Some((location, kind)) = location {
        detail["location"] = json!(location);
        detail["locationType"] = json!(kind);
    }
    if matches!(reason, "userRateLimitExceeded" | "rateLimitExceeded") {
        detail["domain"] = json!("usageLimits");
    }
    let status = match code.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": code.as_u16(), "message": message, "errors": [detail], "status": status}});
    (code, Json(body)).into_response()
}

/// 400 for a parameter's value.
fn invalid_parameter(name: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalidParameter", message, Some((name, "parameter")))
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "notFound", &format!("File not found: {id}."), Some(("fileId", "parameter")))
}

async fn unknown_route() -> Response {
    error(StatusCode::NOT_FOUND, "notFound", "Not Found", None)
}

/// Counts and logs the request, applies latency and faults, and checks the bearer token.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
async fn gate(state: &DriveState, headers: &HeaderMap, what: String) -> Result<(), Response> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state.log.lock().expect("log lock").push(what);
    state.dice.delay().await;
    match state.dice.roll() {
        Fault::None => {}
        Fault::Throttle => {
            // Drive says so in two ways, and in no header.
            let n = state.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(if n.is_multiple_of(2) {
                error(StatusCode::FORBIDDEN, "userRateLimitExceeded", "User Rate Limit Exceeded", None)
            } else {
                error(StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded", "Rate Limit Exceeded", None)
            });
        }
        Fault::ServerError(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(error(code, "backendError", "Backend Error", None));
        }
    }
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|a| a.strip_prefix("Bearer "));
    let valid = token.is_some_and(|token| state.tokens.lock().expect("token lock").check(token).is_ok());
    if valid {
        return Ok(());
    }
    let expired =
        token.is_some_and(|t| matches!(state.tokens.lock().expect("token lock").check(t), Err(Invalid::Expired(_))));
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "authError",
        if expired {
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
        } else {
            "Invalid Credentials"
        },
        Some(("Authorization", "header")),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
    );
    Err(response)
}

/// A query string's parameters.
fn params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn flag(params: &[(String, String)], name: &str) -> bool {
    param(params, name) == Some("true")
}

fn described(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("GET {path}?{q}"),
        _ => format!("GET {path}"),
    }
}

/// `pageSize` between 1 and `most` (more is `most`, as Drive coerces it), `default` when absent.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn page_size(params: &[(String, String)], default: usize, most: usize) -> Result<usize, Response> {
    match param(params, "pageSize") {
        None => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok((n as usize).min(most)),
            _ => Err(invalid_parameter(
                "pageSize",
                &format!("Invalid value '{text}'. Values must be within the range: [1, {most}]"),
            )),
        },
    }
}

/// The partial-response selector of `fields` (or `default`), checked against `shape`.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn selector(params: &[(String, String)], default: &str, shape: &Shape) -> Result<Selector, Response> {
    let text = param(params, "fields").unwrap_or(default);
    let selector = Selector::parse(text)
        .map_err(|e| invalid_parameter("fields", &format!("Invalid field selection {text}: {e}")))?;
    match selector.unknown(shape).first() {
        Some(unknown) => Err(invalid_parameter("fields", &format!("Invalid field selection {unknown}"))),
        None => Ok(selector),
    }
}

/// The keys of a file resource.
fn user_shape() -> Shape {
    Shape::of(&["kind", "displayName", "emailAddress", "permissionId", "me", "photoLink"])
}

fn permission_shape() -> Shape {
    Shape::of(&[
        "kind",
        "id",
        "type",
        "role",
        "emailAddress",
        "displayName",
        "domain",
        "deleted",
        "pendingOwner",
        "allowFileDiscovery",
        "expirationTime",
        "photoLink",
    ])
    .with("permissionDetails", Shape::of(&["permissionType", "role", "inherited", "inheritedFrom"]))
}

fn file_shape() -> Shape {
    let mut shape = Shape::of(&[
        "kind",
        "id",
        "name",
        "mimeType",
        "parents",
        "starred",
        "trashed",
        "explicitlyTrashed",
        "trashedTime",
        "createdTime",
        "modifiedTime",
        "modifiedByMeTime",
        "viewedByMeTime",
        "sharedWithMeTime",
        "version",
        "size",
        "quotaBytesUsed",
        "md5Checksum",
        "sha256Checksum",
        "headRevisionId",
        "webViewLink",
        "webContentLink",
        "iconLink",
        "driveId",
        "shared",
        "ownedByMe",
        "permissionIds",
        "capabilities",
        "exportLinks",
        "spaces",
        "description",
        "originalFilename",
        "fileExtension",
        "fullFileExtension",
        "resourceKey",
        "thumbnailLink",
    ]);
    for key in ["owners", "lastModifyingUser", "sharingUser", "trashingUser"] {
        shape = shape.with(key, user_shape());
    }
    shape
        .with("permissions", permission_shape())
        .with("shortcutDetails", Shape::of(&["targetId", "targetMimeType", "targetResourceKey"]))
}

fn list_shape(items: &'static str, item: Shape) -> Shape {
    Shape::of(&["kind", "nextPageToken", "incompleteSearch", "newStartPageToken"]).with(items, item)
}

fn drive_shape() -> Shape {
    Shape::of(&[
        "kind",
        "id",
        "name",
        "createdTime",
        "hidden",
        "capabilities",
        "restrictions",
        "colorRgb",
        "backgroundImageLink",
        "themeId",
        "orgUnitId",
    ])
}

fn change_shape() -> Shape {
    Shape::of(&["kind", "changeType", "time", "removed", "fileId", "driveId", "type", "teamDriveId"])
        .with("file", file_shape())
        .with("drive", drive_shape())
}

/// Whether a file is seen by a request asking for shared-drive items (`all_drives`) or not.
fn visible(file: &File, all_drives: bool) -> bool {
    !file.removed && (file.drive.is_none() || all_drives)
}

/// The checked `includeItemsFromAllDrives`/`supportsAllDrives` pair: whether shared-drive items are in.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn all_drives(params: &[(String, String)]) -> Result<bool, Response> {
    let include = flag(params, "includeItemsFromAllDrives");
    if include && !flag(params, "supportsAllDrives") {
        return Err(invalid_parameter(
            "includeItemsFromAllDrives",
            "The includeItemsFromAllDrives parameter must be used with supportsAllDrives set to true.",
        ));
    }
    Ok(include)
}

async fn about(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described("/drive/v3/about", query.as_deref())).await?;
    let params = params(query.as_deref());
    if param(&params, "fields").is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "required",
            "The 'fields' parameter is required for this method.",
            Some(("fields", "parameter")),
        ));
    }
    let shape = Shape::of(&[
        "kind",
        "storageQuota",
        "maxUploadSize",
        "appInstalled",
        "canCreateDrives",
        "exportFormats",
        "importFormats",
    ])
    .with("user", user_shape());
    let selector = selector(&params, "", &shape)?;
    let data = state.data.read().expect("data lock");
    let about = json!({
        "kind": "drive#about", "user": data.user_json(0), "appInstalled": false, "canCreateDrives": true,
        "maxUploadSize": "5497558138880",
        "storageQuota": {"limit": "16106127360", "usage": "52811", "usageInDrive": "52811", "usageInDriveTrash": "0"},
    });
    Ok(Json(selector.apply(&about)).into_response())
}

/// An ordering of `orderBy`, each key with its direction.
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn order_by(params: &[(String, String)]) -> Result<Vec<(String, bool)>, Response> {
    const KEYS: &[&str] = &[
        "createdTime",
        "folder",
        "modifiedByMeTime",
        "modifiedTime",
        "name",
        "name_natural",
        "quotaBytesUsed",
        "recency",
        "sharedWithMeTime",
        "starred",
        "viewedByMeTime",
    ];
    let Some(text) = param(params, "orderBy") else { return Ok(Vec::new()) };
    text.split(',')
        .map(|key| {
            let mut words = key.split_whitespace();
            let name = words.next().unwrap_or_default();
            let descending = match words.next() {
                None => false,
                Some("desc") => true,
                Some(_) => return Err(()),
            };
            if KEYS.contains(&name) && words.next().is_none() { Ok((name.to_string(), descending)) } else { Err(()) }
        })
        .collect::<Result<_, ()>>()
        .map_err(|()| {
            error(
                StatusCode::BAD_REQUEST,
                "badRequest",
                &format!("Invalid orderBy: {text}"),
                Some(("orderBy", "parameter")),
            )
        })
}

fn compare_by(order: &[(String, bool)], a: &Value, b: &Value) -> std::cmp::Ordering {
    for (key, descending) in order {
        let ordering = match key.as_str() {
            "folder" => (b["mimeType"] == FOLDER).cmp(&(a["mimeType"] == FOLDER)),
            "name" | "name_natural" => a["name"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .cmp(&b["name"].as_str().unwrap_or_default().to_lowercase()),
            "quotaBytesUsed" => {
                let n = |v: &Value| v["quotaBytesUsed"].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                n(a).cmp(&n(b))
            }
            "recency" => a["modifiedTime"].as_str().cmp(&b["modifiedTime"].as_str()),
            key => a[key].as_str().cmp(&b[key].as_str()),
        };
        let ordering = if *descending { ordering.reverse() } else { ordering };
        if ordering.is_ne() {
            return ordering;
        }
    }
    a["id"].as_str().cmp(&b["id"].as_str())
}

/// A hash of what a page token was made for (a token is refused under another query).
fn token_hash(made_for: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in made_for.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// A page token: where the next page starts, and what it was made for.
fn page_token(offset: usize, made_for: &str) -> String {
    format!("~!!~AI9FV7{offset:x}.{:016x}", token_hash(made_for))
}

/// A file listing's page token: the sort values of the last file listed, so the next page starts
/// after it whatever was added or removed meanwhile (a page never skips or repeats a file).
fn listing_token(last: &Value, order: &[(String, bool)], made_for: &str) -> String {
    let mut keys = json!({"id": last["id"], "mimeType": last["mimeType"]});
    for (key, _) in order {
        keys[key.as_str()] = last[key.as_str()].clone();
    }
    let hex: String = keys.to_string().bytes().map(|b| format!("{b:02x}")).collect();
    format!("~!!~AI9FV7{hex}.{:016x}", token_hash(made_for))
}

/// The sort values a listing token holds (none: the first page).
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn read_listing_token(params: &[(String, String)], made_for: &str) -> Result<Option<Value>, Response> {
    let Some(token) = param(params, "pageToken").filter(|t| !t.is_empty()) else { return Ok(None) };
    let keys = token
        .strip_prefix("~!!~AI9FV7")
        .and_then(|rest| rest.rsplit_once('.'))
        .filter(|(_, hash)| *hash == format!("{:016x}", token_hash(made_for)))
        .and_then(|(hex, _)| {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect();
            serde_json::from_slice::<Value>(&bytes?).ok()
        });
    keys.map(Some).ok_or_else(|| invalid_parameter("pageToken", &format!("Invalid Value: {token}")))
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn read_page_token(params: &[(String, String)], made_for: &str) -> Result<usize, Response> {
    let Some(token) = param(params, "pageToken").filter(|t| !t.is_empty()) else { return Ok(0) };
    let offset = token
        .strip_prefix("~!!~AI9FV7")
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(offset, _)| usize::from_str_radix(offset, 16).ok())
        .filter(|offset| page_token(*offset, made_for) == token);
    offset.ok_or_else(|| invalid_parameter("pageToken", &format!("Invalid Value: {token}")))
}

async fn list_files(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described("/drive/v3/files", query.as_deref())).await?;
    let params = params(query.as_deref());
    let all_drives = all_drives(&params)?;
    let size = page_size(&params, 100, 1000)?;
    let order = order_by(&params)?;
    let selector = selector(
        &params,
        "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
        &list_shape("files", file_shape()),
    )?;
    let filter = match param(&params, "q") {
        Some(q) => Some(Query::parse(q).map_err(|e| invalid_parameter("q", &format!("Invalid Value: {e}")))?),
        None => None,
    };
    let corpora = param(&params, "corpora").unwrap_or("user");
    let drive_id = param(&params, "driveId");
    let data = state.data.read().expect("data lock");
    let in_corpus: Box<dyn Fn(&File) -> bool> = match (corpora, drive_id) {
        ("user" | "domain", None) => Box::new(|f: &File| visible(f, all_drives)),
        ("drive", Some(drive)) if all_drives => {
            if data.drive(drive).is_none() {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    "notFound",
                    &format!("Shared drive not found: {drive}"),
                    Some(("driveId", "parameter")),
                ));
            }
            let drive = drive.to_string();
            Box::new(move |f: &File| !f.removed && f.drive.as_deref() == Some(drive.as_str()))
        }
        ("allDrives", None) if all_drives => Box::new(|f: &File| !f.removed),
        _ => {
            return Err(invalid_parameter(
                "corpora",
                "The corpora parameter is invalid: drive needs driveId, and drive and allDrives need includeItemsFromAllDrives and supportsAllDrives",
            ));
        }
    };
    let mut found: Vec<Value> = data
        .all()
        .iter()
        .filter(|f| in_corpus(f))
        .filter(|f| {
            let json = data.file_json(f);
            let text = Dataset::text_of(f);
            filter.as_ref().is_none_or(|q| q.matches(&Subject { file: &json, text: &text }))
        })
        .map(|f| data.file_json(f))
        .collect();
    found.sort_by(|a, b| compare_by(&order, a, b));
    let made_for =
        format!("{:?}|{:?}|{corpora}|{drive_id:?}|{all_drives}", param(&params, "q"), param(&params, "orderBy"));
    let after = read_listing_token(&params, &made_for)?;
    let rest: Vec<&Value> =
        found.iter().filter(|f| after.as_ref().is_none_or(|a| compare_by(&order, f, a).is_gt())).collect();
    let page: Vec<Value> = rest.iter().take(size).map(|f| (*f).clone()).collect();
    let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false});
    if rest.len() > size
        && let Some(last) = page.last()
    {
        body["nextPageToken"] = json!(listing_token(last, &order, &made_for));
    }
    body["files"] = Value::Array(page);
    Ok(Json(selector.apply(&body)).into_response())
}

/// The file `id` the request may see, as a resource with every field, and the file itself (none for
/// a root folder).
#[allow(clippy::result_large_err, reason = "the error is the HTTP response the handler returns as is")]
fn find<'a>(data: &'a Dataset, id: &str, params: &[(String, String)]) -> Result<(Value, Option<&'a File>), Response> {
    let supports = flag(params, "supportsAllDrives");
    if let Some(root) = data.root_json(id).filter(|r| supports || r.get("driveId").is_none()) {
        return Ok((root, None));
    }
    match data.get(id).filter(|f| f.drive.is_none() || supports) {
        Some(file) => Ok((data.file_json(file), Some(file))),
        None => Err(not_found(id)),
    }
}

async fn get_file(
    State(state): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers, described(&format!("/drive/v3/files/{id}"), query.as_deref())).await?;
    let params = params(query.as_deref());
    let data = state.data.read().expect("data lock");
    let (json, file) = find(&data, &id, &params)?;
    if param(&params, "alt") == Some("media") {
        return match file.map(|f| &f.body) {
            Some(Body::Blob(bytes)) => {
                state.downloads.fetch_add(1, Ordering::Relaxed);
                let mime = file.map(|f| f.mime_type.clone()).unwrap_or_default();
                Ok(([(header::CONTENT_TYPE, mime)], bytes.clone()).into_response())
            }
            _ => Err(error(
                StatusCode::FORBIDDEN,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                Some(("alt", "parameter")),
            )),
        };
    }
    let selector = selector(&params, "kind,id,name,mimeType", &file_shape())?;
    Ok(Json(selector.apply(&json)).into_response())
}

async fn export(State(state): Shared, Path(id): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described(&format!("/drive/v3/files/{id}/export"), query.as_deref())).await?;
    let params = params(query.as_deref());
    let Some(wanted) = param(&params, "mimeType") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "required",
            "Required parameter: mimeType",
            Some(("mimeType", "parameter")),
        ));
    };
    let data = state.data.read().expect("data lock");
    // Export takes no supportsAllDrives: it reads shared drives' files too.
    let everywhere = [("supportsAllDrives".to_string(), "true".to_string())];
    let (_, file) = find(&data, &id, &everywhere)?;
    let Some((file, Body::Native(text))) = file.map(|f| (f, &f.body)) else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "fileNotExportable",
            "Export only supports Docs Editors files.",
            None,
        ));
    };
    let exported = match (file.mime_type.as_str(), wanted) {
        (DOCUMENT, "text/plain") => format!("\u{feff}{}", text.replace('\n', "\r\n")),
        (PRESENTATION, "text/plain") | (SPREADSHEET, "text/csv") => text.clone(),
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "The requested conversion is not supported.",
                Some(("convertTo", "parameter")),
            ));
        }
    };
    if exported.len() > state.export_limit {
        return Err(error(
            StatusCode::FORBIDDEN,
            "exportSizeLimitExceeded",
            "This file is too large to be exported.",
            None,
        ));
    }
    state.exports.fetch_add(1, Ordering::Relaxed);
    Ok(([(header::CONTENT_TYPE, format!("{wanted}; charset=utf-8"))], exported).into_response())
}

async fn permissions(
    State(state): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers, described(&format!("/drive/v3/files/{id}/permissions"), query.as_deref())).await?;
    let params = params(query.as_deref());
    let size = page_size(&params, 100, 100)?;
    let selector = selector(
        &params,
        "kind,nextPageToken,permissions(kind,id,type,role)",
        &list_shape("permissions", permission_shape()),
    )?;
    let data = state.data.read().expect("data lock");
    let (_, file) = find(&data, &id, &params)?;
    let Some(file) = file else {
        return Ok(Json(selector.apply(&json!({"kind": "drive#permissionList", "permissions": []}))).into_response());
    };
    let can_share = file.drive.is_some()
        || file.owner == Some(0)
        || file.permissions.iter().any(|p| p.user == Some(0) && p.role == "writer");
    if !can_share {
        return Err(error(
            StatusCode::FORBIDDEN,
            "insufficientFilePermissions",
            "The user does not have sufficient permissions for this file.",
            None,
        ));
    }
    let made_for = format!("permissions|{id}");
    let offset = read_page_token(&params, &made_for)?;
    let page: Vec<Value> =
        file.permissions.iter().skip(offset).take(size).map(|p| data.permission_json(file, p)).collect();
    let mut body = json!({"kind": "drive#permissionList", "permissions": page});
    if offset + size < file.permissions.len() {
        body["nextPageToken"] = json!(page_token(offset + size, &made_for));
    }
    Ok(Json(selector.apply(&body)).into_response())
}

fn drive_json(drive: &data::Drive) -> Value {
    json!({
        "kind": "drive#drive", "id": drive.id, "name": drive.name, "createdTime": format_ms(drive.created_ms),
        "hidden": false, "capabilities": {"canEdit": true, "canShare": true},
    })
}

async fn list_drives(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described("/drive/v3/drives", query.as_deref())).await?;
    let params = params(query.as_deref());
    let size = page_size(&params, 10, 100)?;
    let selector = selector(&params, "kind,nextPageToken,drives(kind,id,name)", &list_shape("drives", drive_shape()))?;
    let data = state.data.read().expect("data lock");
    let offset = read_page_token(&params, "drives")?;
    let page: Vec<Value> = data.drives.iter().skip(offset).take(size).map(drive_json).collect();
    let mut body = json!({"kind": "drive#driveList", "drives": page});
    if offset + size < data.drives.len() {
        body["nextPageToken"] = json!(page_token(offset + size, "drives"));
    }
    Ok(Json(selector.apply(&body)).into_response())
}

async fn get_drive(
    State(state): Shared,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    gate(&state, &headers, described(&format!("/drive/v3/drives/{id}"), query.as_deref())).await?;
    let params = params(query.as_deref());
    let selector = selector(&params, "kind,id,name", &drive_shape())?;
    let data = state.data.read().expect("data lock");
    match data.drive(&id) {
        Some(drive) => Ok(Json(selector.apply(&drive_json(drive))).into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("Shared drive not found: {id}"),
            Some(("driveId", "parameter")),
        )),
    }
}

async fn start_page_token(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described("/drive/v3/changes/startPageToken", query.as_deref())).await?;
    let params = params(query.as_deref());
    let selector = selector(&params, "kind,startPageToken", &Shape::of(&["kind", "startPageToken"]))?;
    let data = state.data.read().expect("data lock");
    if let Some(drive) = param(&params, "driveId")
        && (data.drive(drive).is_none() || !flag(&params, "supportsAllDrives"))
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            "notFound",
            &format!("Shared drive not found: {drive}"),
            Some(("driveId", "parameter")),
        ));
    }
    Ok(Json(selector.apply(&json!({"kind": "drive#startPageToken", "startPageToken": data.next_seq.to_string()})))
        .into_response())
}

async fn changes(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    gate(&state, &headers, described("/drive/v3/changes", query.as_deref())).await?;
    let params = params(query.as_deref());
    let all_drives = all_drives(&params)?;
    let size = page_size(&params, 100, 1000)?;
    let selector = selector(
        &params,
        "kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))",
        &list_shape("changes", change_shape()),
    )?;
    let data = state.data.read().expect("data lock");
    let Some(token) = param(&params, "pageToken") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "required",
            "Required parameter: pageToken",
            Some(("pageToken", "parameter")),
        ));
    };
    let start = token
        .parse::<u64>()
        .ok()
        .filter(|t| *t <= data.next_seq)
        .ok_or_else(|| invalid_parameter("pageToken", &format!("Invalid Value: {token}")))?;
    let include_removed = param(&params, "includeRemoved") != Some("false");
    let drive_id = param(&params, "driveId");
    let mut page: Vec<Value> = Vec::new();
    let mut next = data.next_seq;
    for change in data.changes.iter().filter(|c| c.seq >= start) {
        let Some(file) = data.all().iter().find(|f| f.id == change.file_id) else { continue };
        let in_scope = match drive_id {
            Some(drive) => file.drive.as_deref() == Some(drive),
            None => file.drive.is_none() || all_drives,
        };
        if !in_scope || (file.removed && !include_removed) {
            continue;
        }
        if page.len() == size {
            next = change.seq;
            break;
        }
        // A file appears once a page, as it is now.
        page.retain(|c| c["fileId"] != json!(file.id));
        let mut entry = json!({
            "kind": "drive#change", "changeType": "file", "type": "file", "fileId": file.id,
            "removed": file.removed, "time": format_ms(change.time_ms),
        });
        if !file.removed {
            entry["file"] = data.file_json(file);
        }
        if let Some(drive) = &file.drive {
            entry["driveId"] = json!(drive);
            entry["teamDriveId"] = json!(drive);
        }
        page.push(entry);
    }
    let mut body = json!({"kind": "drive#changeList", "changes": page});
    if next < data.next_seq {
        body["nextPageToken"] = json!(next.to_string());
    } else {
        body["newStartPageToken"] = json!(data.next_seq.to_string());
    }
    Ok(Json(selector.apply(&body)).into_response())
}

/// `POST /token`: Google's refresh-token grant.
async fn token(State(state): Shared, axum::Form(form): axum::Form<TokenForm>) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    state.log.lock().expect("log lock").push("POST /token".into());
    let refused = |status: StatusCode, error: &str, description: &str| {
        (status, Json(json!({"error": error, "error_description": description}))).into_response()
    };
    let issued = match state.tokens.lock().expect("token lock").refresh(&form) {
        Ok(issued) => issued,
        Err(Refused::UnsupportedGrant) => {
            return refused(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type: ");
        }
        Err(Refused::InvalidClient) => {
            return refused(StatusCode::UNAUTHORIZED, "invalid_client", "The OAuth client was not found.");
        }
        Err(Refused::InvalidGrant) => {
            return refused(StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
        }
    };
    state.refreshes.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": issued.access,
        "expires_in": issued.expires_in.as_secs(),
        "scope": "https://www.googleapis.com/auth/drive.readonly",
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn stats(State(state): Shared) -> Response {
    Json(stats_json(&state)).into_response()
}

/// What `/_fake/stats` answers.
fn stats_json(state: &DriveState) -> Value {
    let data = state.data.read().expect("data lock");
    let live = data.all().iter().filter(|f| !f.removed);
    json!({
        "files": live.clone().count(),
        "folders": live.filter(|f| f.is_folder()).count(),
        "drives": data.drives.len(),
        "requests": state.requests.load(Ordering::Relaxed),
        "throttled": state.throttled.load(Ordering::Relaxed),
        "refreshes": state.refreshes.load(Ordering::Relaxed),
        "exports": state.exports.load(Ordering::Relaxed),
        "downloads": state.downloads.load(Ordering::Relaxed),
        "next_change": data.next_seq,
    })
}

async fn log(State(state): Shared) -> Response {
    Json(json!(state.log.lock().expect("log lock").clone())).into_response()
}

async fn mutate(State(state): Shared, Json(body): Json<Value>) -> Response {
    let mutations: Result<Vec<Mutation>, _> = match body {
        Value::Array(_) => serde_json::from_value(body),
        other => serde_json::from_value(other).map(|m| vec![m]),
    };
    let mutations = match mutations {
        Ok(mutations) => mutations,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid", &format!("not a mutation: {e}"), None),
    };
    let mut data = state.data.write().expect("data lock");
    let mut done = Vec::new();
    for mutation in &mutations {
        match data.mutate(mutation) {
            Ok(result) => done.push(result),
            Err(message) => return error(StatusCode::BAD_REQUEST, "invalid", &message, None),
        }
    }
    Json(json!({ "applied": done })).into_response()
}
