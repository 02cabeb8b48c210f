//! `fake-saas github`: GitHub's REST API as `../shared/apis.md` §4 describes it.
//!
//! - Auth: `Authorization: Bearer <token>` or `token <token>`; a wrong one is 401 `Bad credentials`.
//!   The classic token's responses carry `X-OAuth-Scopes`; a fine-grained one's (`github_pat_…`) don't.
//!   A request without `User-Agent` is 403, as GitHub refuses it.
//! - `GET /user`, `/users/{login}`, `/user/repos` (`since`, `sort`, `direction`), `/orgs/{org}`,
//!   `/orgs/{org}/repos`, `/orgs/{org}/members`, `/repos/{o}/{r}`, `/repos/{o}/{r}/issues` (`state`,
//!   `since`, `sort`, `direction`; pull requests included, marked by `pull_request`), `/pulls`
//!   (`state`, `sort`, `direction`), `/pulls/{n}`, `/pulls/{n}/reviews`, `/user/orgs`, `/issues/comments` (`since`),
//!   `/pulls/comments` (`since`), `/labels`, `/milestones` (`state`), `/rate_limit` (not counted).
//! - Lists: bare JSON arrays, `per_page` (default 30, at most 100) and `page`, a `Link` header with
//!   absolute `next`, `last`, `first` and `prev` URLs (no `next` on the last page).
//! - `ETag` on every 200; `If-None-Match` with it answers 304 with no body, which doesn't count against
//!   the limit.
//! - `X-RateLimit-Limit/Remaining/Used/Reset/Resource` on every response. Past the primary limit: 403
//!   and 429 in turn with `remaining: 0` and GitHub's message. Secondary limits: more than
//!   `max_concurrent` requests in flight, or a request the fault dice throttle, is answered 403 or 429
//!   (in turn) with `Retry-After` and the secondary-limit message.
//! - A deleted repository's paths are 404; a transferred one's old paths are 301 to its new ones.
//! - Changes made through `/_fake/mutate` happen at the real time (as the `Date` header says), so a
//!   client's `since` from its own clock sees them; the generated history is older.
//! - GitHub's error bodies: `message`, `documentation_url`, `status` (a string).
//! - `GET /_fake/stats`, `GET /_fake/log` and `POST /_fake/mutate` (one [`Mutation`] or a list), not
//!   counted as requests.

#![allow(clippy::result_large_err, reason = "helpers fail with the HTTP response their handler returns as is")]

mod data;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub use data::{Dataset, Issue, Mutation, Repo, Size, iso, parse_iso};

use md5::{Digest, Md5};

use crate::faults::{Fault, FaultDice};
use crate::{Faults, RunningServer};

/// The classic personal access token the fake accepts by default.
pub const DEFAULT_TOKEN: &str = "ghp_fake000000000000000000000000000000";
/// The fine-grained token it accepts too (no `X-OAuth-Scopes`).
pub const FINE_GRAINED_TOKEN: &str = "github_pat_fake_0000000000000000000000";
/// The scopes the classic token has.
pub const SCOPES: &str = "repo, read:org, read:user";

const DOCS: &str = "https://docs.github.com/rest";

/// How to build the fake.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// Seed of the data and of the fault dice.
    pub seed: u64,
    /// How much data.
    pub size: Size,
    /// The primary limit: requests per hour (GitHub's is 5,000 for a token).
    pub hourly_limit: u64,
    /// More requests in flight than this are a secondary limit (GitHub's is 100).
    pub max_concurrent: usize,
    /// The `Retry-After` of a secondary limit, in seconds (GitHub says 60).
    pub retry_after_seconds: u64,
    /// Injected faults; throttled requests are answered as secondary limits.
    pub faults: Faults,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        GitHubConfig {
            seed: 1,
            size: Size::default(),
            hourly_limit: 5_000,
            max_concurrent: 100,
            retry_after_seconds: 60,
            faults: Faults::default(),
        }
    }
}

/// The primary limit's window.
#[derive(Debug)]
struct Budget {
    used: u64,
    /// When the window resets, in seconds since the epoch (real time: clients wait for it).
    reset: u64,
}

struct GitHubState {
    data: RwLock<Dataset>,
    dice: Arc<FaultDice>,
    config: GitHubConfig,
    budget: Mutex<Budget>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    requests: AtomicU64,
    not_modified: AtomicU64,
    primary_limited: AtomicU64,
    secondary_limited: AtomicU64,
    /// Alternates 403 and 429 for limited requests, as GitHub answers either.
    flip: AtomicU64,
    log: Mutex<Vec<String>>,
}

/// A handle on the fake's state, shared with its router.
#[derive(Clone)]
pub struct GitHub {
    state: Arc<GitHubState>,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub").field("requests", &self.request_count()).finish_non_exhaustive()
    }
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl GitHub {
    /// Generates the data.
    pub fn new(config: GitHubConfig) -> Self {
        GitHub {
            state: Arc::new(GitHubState {
                data: RwLock::new(Dataset::generate(config.seed, &config.size)),
                dice: Arc::new(FaultDice::new(config.faults.clone(), config.seed)),
                budget: Mutex::new(Budget { used: 0, reset: now_seconds() + 3_600 }),
                config,
                in_flight: AtomicUsize::new(0),
                most_in_flight: AtomicUsize::new(0),
                requests: AtomicU64::new(0),
                not_modified: AtomicU64::new(0),
                primary_limited: AtomicU64::new(0),
                secondary_limited: AtomicU64::new(0),
                flip: AtomicU64::new(0),
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
            .route("/user", get(viewer))
            .route("/user/repos", get(user_repos))
            .route("/user/orgs", get(user_orgs))
            .route("/users/{login}", get(user))
            .route("/orgs/{org}", get(org))
            .route("/orgs/{org}/repos", get(org_repos))
            .route("/orgs/{org}/members", get(org_members))
            .route("/repos/{owner}/{repo}", get(repo))
            .route("/repos/{owner}/{repo}/{*rest}", get(repo_list))
            .route("/rate_limit", get(rate_limit))
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

    /// API requests answered so far, 304s included (`/_fake/*` and `/rate_limit` excluded).
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Every API request so far, as `GET /repos/…?…`.
    pub fn request_log(&self) -> Vec<String> {
        self.state.log.lock().expect("log lock").clone()
    }

    /// Runs `f` on the data (to read it, or to change it between syncs).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.state.data.write().expect("data lock"))
    }
}

type Shared = State<Arc<GitHubState>>;
type Answer = Result<Response, Response>;

/// GitHub's error body.
fn error(status: StatusCode, message: &str, docs: &str) -> Response {
    let body = json!({"message": message, "documentation_url": format!("{DOCS}{docs}"), "status": status.as_u16().to_string()});
    (status, Json(body)).into_response()
}

/// Decrements the requests in flight when a request ends.
struct InFlight(Arc<GitHubState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request let through: whose token, where to point URLs, and the slot it holds.
struct Admitted {
    base: String,
    classic: bool,
    _slot: InFlight,
}

/// 403 or 429, in turn.
fn limited_status(state: &GitHubState) -> StatusCode {
    match state.flip.fetch_add(1, Ordering::Relaxed) % 2 {
        0 => StatusCode::FORBIDDEN,
        _ => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// The checks every API request goes through before it is answered: the log, latency, `User-Agent`,
/// the token, the secondary limits (requests in flight, injected throttling) and the primary limit.
async fn admit(state: &Arc<GitHubState>, headers: &HeaderMap, line: String) -> Result<Admitted, Response> {
    state.log.lock().expect("log lock").push(line);
    state.requests.fetch_add(1, Ordering::Relaxed);
    let slot = InFlight(state.clone());
    let now = state.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    state.most_in_flight.fetch_max(now, Ordering::Relaxed);
    state.dice.delay().await;
    let text =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if text(header::USER_AGENT).trim().is_empty() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header \
             (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
            "/overview/resources-in-the-rest-api#user-agent-required",
        ));
    }
    let authorization = text(header::AUTHORIZATION);
    let token = authorization.strip_prefix("Bearer ").or_else(|| authorization.strip_prefix("token ")).unwrap_or("");
    let classic = token == DEFAULT_TOKEN;
    if !classic && token != FINE_GRAINED_TOKEN {
        return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials", "/overview/authenticating-to-the-rest-api"));
    }
    let fault = state.dice.roll();
    if now > state.config.max_concurrent || fault == Fault::Throttle {
        state.secondary_limited.fetch_add(1, Ordering::Relaxed);
        let mut response = error(
            limited_status(state),
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach \
             out to GitHub Support for help, please include the request ID.",
            "/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(state.config.retry_after_seconds));
        return Err(with_rate_headers(state, response));
    }
    if let Fault::ServerError(status) = fault {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(error(status, "Server Error", ""));
    }
    {
        let mut budget = state.budget.lock().expect("budget lock");
        if now_seconds() >= budget.reset {
            *budget = Budget { used: 0, reset: now_seconds() + 3_600 };
        }
        if budget.used >= state.config.hourly_limit {
            drop(budget);
            state.primary_limited.fetch_add(1, Ordering::Relaxed);
            let response = error(
                limited_status(state),
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include \
                 the request ID.",
                "/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
            );
            return Err(with_rate_headers(state, response));
        }
    }
    let host = text(header::HOST);
    let base = format!("http://{}", if host.is_empty() { "127.0.0.1" } else { host.as_str() });
    Ok(Admitted { base, classic, _slot: slot })
}

/// Adds `X-RateLimit-*` as they stand.
fn with_rate_headers(state: &GitHubState, mut response: Response) -> Response {
    let budget = state.budget.lock().expect("budget lock");
    let limit = state.config.hourly_limit;
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(limit.saturating_sub(budget.used)));
    headers.insert("x-ratelimit-used", HeaderValue::from(budget.used));
    headers.insert("x-ratelimit-reset", HeaderValue::from(budget.reset));
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    response
}

/// A 200 with `body`, its `ETag` and `link`; or 304 when the client holds that `ETag` already (not
/// counted against the limit).
fn answer(
    state: &GitHubState,
    request: &HeaderMap,
    admitted: &Admitted,
    body: Value,
    link: Option<String>,
) -> Response {
    let text = body.to_string();
    // ETags differ per token, as GitHub's do.
    let digest = Md5::new().chain_update(text.as_bytes()).chain_update([u8::from(admitted.classic)]).finalize();
    let etag = format!("W/\"{digest:x}\"");
    let held = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let mut response = if held.is_some_and(|held| held.split(',').any(|e| e.trim() == etag)) {
        state.not_modified.fetch_add(1, Ordering::Relaxed);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        state.budget.lock().expect("budget lock").used += 1;
        let mut response =
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], text).into_response();
        if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if admitted.classic {
        headers.insert("x-oauth-scopes", HeaderValue::from_static(SCOPES));
    }
    headers.insert("x-github-api-version-selected", HeaderValue::from_static("2022-11-28"));
    with_rate_headers(state, response)
}

/// The query's parameters.
fn params(query: &Option<String>) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()).into_owned().collect()
}

/// One page of `items` and its `Link` header, with URLs at `base` + `path` keeping the other parameters.
fn page_of(
    items: Vec<Value>,
    base: &str,
    path: &str,
    query: &BTreeMap<String, String>,
) -> Result<(Value, Option<String>), Response> {
    let number = |key: &str, default: u64| -> Result<u64, Response> {
        match query.get(key) {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Invalid {key}: {text}"), "")),
        }
    };
    let per_page = number("per_page", 30)?.clamp(1, 100);
    let page = number("page", 1)?.max(1);
    let last = (items.len() as u64).div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page) as usize;
    let shown: Vec<Value> = items.into_iter().skip(start).take(per_page as usize).collect();
    let url = |n: u64| {
        let mut kept: Vec<(String, String)> =
            query.iter().filter(|(k, _)| *k != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
        kept.push(("page".into(), n.to_string()));
        let encoded: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
        format!("<{base}{path}?{encoded}>")
    };
    let mut rels = Vec::new();
    if page < last {
        rels.push(format!("{}; rel=\"next\"", url(page + 1)));
        rels.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        rels.push(format!("{}; rel=\"first\"", url(1)));
        rels.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    Ok((Value::Array(shown), (!rels.is_empty()).then(|| rels.join(", "))))
}

/// Sorts by `sort` (`created` or `updated`, default `created`) and `direction` (default `desc`), and
/// keeps what was updated at or after `since`.
fn order<T>(
    mut items: Vec<T>,
    query: &BTreeMap<String, String>,
    times: impl Fn(&T) -> (i64, i64, u64),
) -> Result<Vec<T>, Response> {
    if let Some(since) = query.get("since") {
        let since = parse_iso(since).ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid since", ""))?;
        items.retain(|item| times(item).1 >= since);
    }
    let by_updated = query.get("sort").is_some_and(|s| s == "updated");
    items.sort_by_key(|item| {
        let (created, updated, id) = times(item);
        (if by_updated { updated } else { created }, id)
    });
    if query.get("direction").is_none_or(|d| d != "asc") {
        items.reverse();
    }
    Ok(items)
}

fn line(method: &str, path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{method} {path}?{q}"),
        _ => format!("{method} {path}"),
    }
}

// ------------------------------------------------------------------------------------------------
// JSON as GitHub writes it
// ------------------------------------------------------------------------------------------------

fn user_json(base: &str, user: &data::User) -> Value {
    json!({
        "login": user.login, "id": user.id, "node_id": format!("U_kgDO{:08}", user.id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", user.id), "gravatar_id": "",
        "url": format!("{base}/users/{}", user.login), "html_url": format!("https://github.com/{}", user.login),
        "type": "User", "site_admin": false,
    })
}

fn owner_json(base: &str, data: &Dataset, login: &str) -> Value {
    match data.user_by_login(login) {
        Some(user) => user_json(base, user),
        None => json!({
            "login": login, "id": data.org_id, "node_id": format!("O_kgDO{:08}", data.org_id),
            "url": format!("{base}/users/{login}"), "html_url": format!("https://github.com/{login}"),
            "type": "Organization", "site_admin": false,
        }),
    }
}

fn repo_json(base: &str, data: &Dataset, repo: &Repo) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    let count =
        |pull: bool| data.issues.iter().filter(|i| i.repo == repo.id && i.open && i.pull.is_some() == pull).count();
    json!({
        "id": repo.id, "node_id": format!("R_kgDO{:08}", repo.id), "name": repo.name, "full_name": full,
        "owner": owner_json(base, data, &repo.owner), "private": repo.private,
        "html_url": format!("https://github.com/{full}"), "description": repo.description, "fork": false,
        "url": format!("{base}/repos/{full}"), "default_branch": "main",
        "visibility": if repo.private { "private" } else { "public" }, "archived": false, "disabled": false,
        "topics": repo.topics, "language": repo.language, "forks_count": 0, "stargazers_count": repo.id % 50,
        "watchers_count": repo.id % 50, "open_issues_count": count(false) + count(true), "size": 1024,
        "has_issues": true, "created_at": iso(repo.created_at), "updated_at": iso(repo.updated_at),
        "pushed_at": iso(repo.pushed_at),
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
        "license": null,
    })
}

fn label_json(base: &str, repo: &Repo, label: &data::Label) -> Value {
    json!({
        "id": label.id, "node_id": format!("LA_kwDO{:08}", label.id),
        "url": format!("{base}/repos/{}/{}/labels/{}", repo.owner, repo.name, label.name.replace(' ', "%20")),
        "name": label.name, "color": label.color, "default": false, "description": label.description,
    })
}

fn milestone_json(base: &str, data: &Dataset, repo: &Repo, m: &data::Milestone) -> Value {
    let issues = |open: bool| {
        data.issues.iter().filter(|i| i.repo == repo.id && i.milestone == Some(m.number) && i.open == open).count()
    };
    json!({
        "url": format!("{base}/repos/{}/{}/milestones/{}", repo.owner, repo.name, m.number),
        "id": m.id, "node_id": format!("MI_kwDO{:08}", m.id), "number": m.number, "title": m.title,
        "description": null, "state": if m.open { "open" } else { "closed" },
        "open_issues": issues(true), "closed_issues": issues(false),
        "created_at": iso(m.created_at), "updated_at": iso(m.updated_at),
        "closed_at": (!m.open).then(|| iso(m.updated_at)), "due_on": m.due_on.map(iso),
    })
}

fn issue_json(base: &str, data: &Dataset, repo: &Repo, issue: &Issue) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    let labels: Vec<Value> =
        data.labels.iter().filter(|l| issue.labels.contains(&l.id)).map(|l| label_json(base, repo, l)).collect();
    let assignees: Vec<Value> = issue.assignees.iter().map(|id| user_json(base, data.user(*id))).collect();
    let milestone = issue
        .milestone
        .and_then(|n| data.milestones.iter().find(|m| m.repo == repo.id && m.number == n))
        .map(|m| milestone_json(base, data, repo, m));
    let comments = data.comments.iter().filter(|c| c.repo == repo.id && c.issue == issue.number).count();
    let mut body = json!({
        "id": issue.id, "node_id": format!("I_kwDO{:08}", issue.id),
        "url": format!("{base}/repos/{full}/issues/{}", issue.number),
        "repository_url": format!("{base}/repos/{full}"),
        "html_url": format!("https://github.com/{full}/{}/{}", if issue.pull.is_some() { "pull" } else { "issues" }, issue.number),
        "number": issue.number, "state": if issue.open { "open" } else { "closed" },
        "state_reason": (!issue.open).then_some("completed"), "title": issue.title, "body": issue.body,
        "user": user_json(base, data.user(issue.author)), "labels": labels,
        "assignee": assignees.first().cloned(), "assignees": assignees, "milestone": milestone,
        "locked": false, "active_lock_reason": null, "comments": comments,
        "closed_at": issue.closed_at.map(iso), "created_at": iso(issue.created_at), "updated_at": iso(issue.updated_at),
        "closed_by": null, "author_association": "MEMBER",
    });
    if let Some(pull) = &issue.pull {
        body["pull_request"] = json!({
            "url": format!("{base}/repos/{full}/pulls/{}", issue.number),
            "html_url": format!("https://github.com/{full}/pull/{}", issue.number),
            "diff_url": format!("https://github.com/{full}/pull/{}.diff", issue.number),
            "patch_url": format!("https://github.com/{full}/pull/{}.patch", issue.number),
            "merged_at": pull.merged_at.map(iso),
        });
        body["draft"] = json!(pull.draft);
    }
    body
}

fn pull_json(base: &str, data: &Dataset, repo: &Repo, issue: &Issue, pull: &data::Pull) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    let as_issue = issue_json(base, data, repo, issue);
    let head_repo = data.repos.iter().find(|r| r.id == pull.head_repo && !r.deleted);
    let side = |reference: &str, of: Option<&Repo>| {
        json!({
            "label": format!("{}:{reference}", of.map_or("unknown", |r| r.owner.as_str())), "ref": reference,
            "sha": format!("{:040x}", issue.id * 7919 + reference.len() as u64),
            "user": of.map(|r| owner_json(base, data, &r.owner)), "repo": of.map(|r| repo_json(base, data, r)),
        })
    };
    json!({
        "url": format!("{base}/repos/{full}/pulls/{}", issue.number), "id": issue.pull_id,
        "node_id": format!("PR_kwDO{:08}", issue.pull_id), "html_url": as_issue["html_url"],
        "issue_url": as_issue["url"], "number": issue.number, "state": as_issue["state"], "locked": false,
        "title": issue.title, "user": as_issue["user"], "body": issue.body, "labels": as_issue["labels"],
        "milestone": as_issue["milestone"], "created_at": as_issue["created_at"], "updated_at": as_issue["updated_at"],
        "closed_at": as_issue["closed_at"], "merged_at": pull.merged_at.map(iso),
        "merge_commit_sha": pull.merged_at.map(|_| format!("{:040x}", issue.id)),
        "assignee": as_issue["assignee"], "assignees": as_issue["assignees"], "requested_reviewers": [],
        "requested_teams": [], "head": side(&pull.head_ref, head_repo), "base": side(&pull.base_ref, Some(repo)),
        "author_association": "MEMBER", "auto_merge": null, "draft": pull.draft,
    })
}

fn comment_json(base: &str, data: &Dataset, repo: &Repo, c: &data::Comment) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": c.id, "node_id": format!("IC_kwDO{:08}", c.id),
        "url": format!("{base}/repos/{full}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{full}/issues/{}#issuecomment-{}", c.issue, c.id),
        "body": c.body, "user": user_json(base, data.user(c.author)), "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at), "issue_url": format!("{base}/repos/{full}/issues/{}", c.issue),
        "author_association": "MEMBER",
    })
}

fn review_json(base: &str, data: &Dataset, repo: &Repo, r: &data::Review) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": r.id, "node_id": format!("PRR_kwDO{:08}", r.id), "user": user_json(base, data.user(r.author)),
        "body": r.body, "state": r.state, "html_url": format!("https://github.com/{full}/pull/{}#pullrequestreview-{}", r.pull, r.id),
        "pull_request_url": format!("{base}/repos/{full}/pulls/{}", r.pull), "submitted_at": iso(r.submitted_at),
        "commit_id": format!("{:040x}", r.id), "author_association": "MEMBER",
    })
}

fn review_comment_json(base: &str, data: &Dataset, repo: &Repo, c: &data::ReviewComment) -> Value {
    let full = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": c.id, "node_id": format!("PRRC_kwDO{:08}", c.id),
        "url": format!("{base}/repos/{full}/pulls/comments/{}", c.id), "pull_request_review_id": c.review,
        "path": c.path, "body": c.body, "user": user_json(base, data.user(c.author)),
        "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
        "html_url": format!("https://github.com/{full}/pull/{}#discussion_r{}", c.pull, c.id),
        "pull_request_url": format!("{base}/repos/{full}/pulls/{}", c.pull), "author_association": "MEMBER",
    })
}

// ------------------------------------------------------------------------------------------------
// Handlers
// ------------------------------------------------------------------------------------------------

async fn viewer(State(state): Shared, headers: HeaderMap) -> Answer {
    let admitted = admit(&state, &headers, "GET /user".into()).await?;
    let body = {
        let data = state.data.read().expect("data lock");
        let mut body = user_json(&admitted.base, &data.users[0]);
        body["name"] = json!(data.users[0].name);
        body
    };
    Ok(answer(&state, &headers, &admitted, body, None))
}

async fn user(State(state): Shared, Path(login): Path<String>, headers: HeaderMap) -> Answer {
    let admitted = admit(&state, &headers, format!("GET /users/{login}")).await?;
    let body = {
        let data = state.data.read().expect("data lock");
        let user =
            data.user_by_login(&login).ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found", "/users/users"))?;
        let mut body = user_json(&admitted.base, user);
        body["name"] = json!(user.name);
        body
    };
    Ok(answer(&state, &headers, &admitted, body, None))
}

async fn org(State(state): Shared, Path(org): Path<String>, headers: HeaderMap) -> Answer {
    let admitted = admit(&state, &headers, format!("GET /orgs/{org}")).await?;
    let body = {
        let data = state.data.read().expect("data lock");
        if !data.org.eq_ignore_ascii_case(&org) {
            return Err(error(StatusCode::NOT_FOUND, "Not Found", "/orgs/orgs#get-an-organization"));
        }
        json!({"login": data.org, "id": data.org_id, "node_id": format!("O_kgDO{:08}", data.org_id),
               "url": format!("{}/orgs/{}", admitted.base, data.org), "description": "The Acme Corporation", "name": "Acme Corp"})
    };
    Ok(answer(&state, &headers, &admitted, body, None))
}

/// Repositories of `owner` (or every repository the viewer can see, for `/user/repos`).
async fn list_repos(
    state: &Arc<GitHubState>,
    headers: &HeaderMap,
    path: &str,
    query: Option<String>,
    owner: Option<String>,
) -> Answer {
    let admitted = admit(state, headers, line("GET", path, &query)).await?;
    let params = params(&query);
    let (items, link) = {
        let data = state.data.read().expect("data lock");
        if let Some(owner) = &owner
            && !data.org.eq_ignore_ascii_case(owner)
        {
            return Err(error(StatusCode::NOT_FOUND, "Not Found", "/repos/repos#list-organization-repositories"));
        }
        let repos: Vec<&Repo> = data
            .repos
            .iter()
            .filter(|r| !r.deleted && owner.as_ref().is_none_or(|o| r.owner.eq_ignore_ascii_case(o)))
            .collect();
        let repos = order(repos, &params, |r| (r.created_at, r.updated_at, r.id))?;
        let items = repos.iter().map(|r| repo_json(&admitted.base, &data, r)).collect();
        page_of(items, &admitted.base, path, &params)?
    };
    Ok(answer(state, headers, &admitted, items, link))
}

async fn user_repos(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    list_repos(&state, &headers, "/user/repos", query, None).await
}

async fn org_repos(
    State(state): Shared,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    list_repos(&state, &headers, &format!("/orgs/{org}/repos"), query, Some(org)).await
}

/// `/user/orgs`: the organizations the token's owner belongs to.
async fn user_orgs(State(state): Shared, RawQuery(query): RawQuery, headers: HeaderMap) -> Answer {
    let admitted = admit(&state, &headers, line("GET", "/user/orgs", &query)).await?;
    let params = params(&query);
    let (items, link) = {
        let data = state.data.read().expect("data lock");
        let org = json!({"login": data.org, "id": data.org_id, "node_id": format!("O_kgDO{:08}", data.org_id),
                         "url": format!("{}/orgs/{}", admitted.base, data.org), "description": "The Acme Corporation"});
        page_of(vec![org], &admitted.base, "/user/orgs", &params)?
    };
    Ok(answer(&state, &headers, &admitted, items, link))
}

async fn org_members(
    State(state): Shared,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let path = format!("/orgs/{org}/members");
    let admitted = admit(&state, &headers, line("GET", &path, &query)).await?;
    let params = params(&query);
    let (items, link) = {
        let data = state.data.read().expect("data lock");
        if !data.org.eq_ignore_ascii_case(&org) {
            return Err(error(StatusCode::NOT_FOUND, "Not Found", "/orgs/members"));
        }
        let users = data.users.iter().map(|u| user_json(&admitted.base, u)).collect();
        page_of(users, &admitted.base, &path, &params)?
    };
    Ok(answer(&state, &headers, &admitted, items, link))
}

/// The live repository at `owner/name`, or the answer for one that isn't there: 301 to where a
/// transferred one went, 404 otherwise.
fn find_repo<'d>(
    data: &'d Dataset,
    base: &str,
    owner: &str,
    name: &str,
    rest: &str,
    query: &Option<String>,
) -> Result<&'d Repo, Response> {
    if let Some(repo) = data.repo(owner, name) {
        return Ok(repo);
    }
    if let Some(moved) = data.moved_from(owner, name) {
        let mut location = format!("{base}/repos/{}/{}{rest}", moved.owner, moved.name);
        if let Some(q) = query.as_deref().filter(|q| !q.is_empty()) {
            location.push('?');
            location.push_str(q);
        }
        let mut response = error(StatusCode::MOVED_PERMANENTLY, "Moved Permanently", "/repos/repos#get-a-repository");
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return Err(response);
    }
    Err(error(StatusCode::NOT_FOUND, "Not Found", "/repos/repos#get-a-repository"))
}

async fn repo(State(state): Shared, Path((owner, name)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    let admitted = admit(&state, &headers, format!("GET /repos/{owner}/{name}")).await?;
    let body = {
        let data = state.data.read().expect("data lock");
        let repo = find_repo(&data, &admitted.base, &owner, &name, "", &None)?;
        repo_json(&admitted.base, &data, repo)
    };
    Ok(answer(&state, &headers, &admitted, body, None))
}

/// The lists under a repository: `issues`, `pulls`, `issues/comments`, `pulls/comments`,
/// `pulls/{n}/reviews`, `labels`, `milestones`.
async fn repo_list(
    State(state): Shared,
    Path((owner, name, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let path = format!("/repos/{owner}/{name}/{rest}");
    let admitted = admit(&state, &headers, line("GET", &path, &query)).await?;
    let params = params(&query);
    let (items, link) = {
        let data = state.data.read().expect("data lock");
        let repo = find_repo(&data, &admitted.base, &owner, &name, &format!("/{rest}"), &query)?;
        let base = &admitted.base;
        let state_filter = |open: bool, default: &str| match params.get("state").map_or(default, String::as_str) {
            "all" => true,
            "closed" => !open,
            _ => open,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        // One pull request: an object, not a list.
        if let ["pulls", number] = parts.as_slice()
            && let Ok(number) = number.parse::<u64>()
        {
            let issue = data
                .issues
                .iter()
                .find(|i| i.repo == repo.id && i.number == number && i.pull.is_some())
                .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found", "/pulls/pulls#get-a-pull-request"))?;
            let pull = issue.pull.as_ref().expect("found as a pull request");
            let body = pull_json(base, &data, repo, issue, pull);
            drop(data);
            return Ok(answer(&state, &headers, &admitted, body, None));
        }
        let items: Vec<Value> = match parts.as_slice() {
            ["issues"] => {
                let issues: Vec<&Issue> =
                    data.issues.iter().filter(|i| i.repo == repo.id && state_filter(i.open, "open")).collect();
                order(issues, &params, |i| (i.created_at, i.updated_at, i.id))?
                    .iter()
                    .map(|i| issue_json(base, &data, repo, i))
                    .collect()
            }
            ["pulls"] => {
                let mut pulls: Vec<&Issue> = data
                    .issues
                    .iter()
                    .filter(|i| i.repo == repo.id && i.pull.is_some() && state_filter(i.open, "open"))
                    .collect();
                // `/pulls` takes no `since`.
                pulls = order(
                    pulls,
                    &params.iter().filter(|(k, _)| *k != "since").map(|(k, v)| (k.clone(), v.clone())).collect(),
                    |i| (i.created_at, i.updated_at, i.id),
                )?;
                pulls.iter().filter_map(|i| i.pull.as_ref().map(|p| pull_json(base, &data, repo, i, p))).collect()
            }
            ["issues", "comments"] => {
                let comments: Vec<&data::Comment> = data.comments.iter().filter(|c| c.repo == repo.id).collect();
                order(comments, &params, |c| (c.created_at, c.updated_at, c.id))?
                    .iter()
                    .map(|c| comment_json(base, &data, repo, c))
                    .collect()
            }
            ["pulls", "comments"] => {
                let comments: Vec<&data::ReviewComment> =
                    data.review_comments.iter().filter(|c| c.repo == repo.id).collect();
                order(comments, &params, |c| (c.created_at, c.updated_at, c.id))?
                    .iter()
                    .map(|c| review_comment_json(base, &data, repo, c))
                    .collect()
            }
            ["pulls", number, "reviews"] => {
                let number: u64 = number.parse().map_err(|_| error(StatusCode::NOT_FOUND, "Not Found", ""))?;
                if !data.issues.iter().any(|i| i.repo == repo.id && i.number == number && i.pull.is_some()) {
                    return Err(error(StatusCode::NOT_FOUND, "Not Found", "/pulls/reviews"));
                }
                let mut reviews: Vec<&data::Review> =
                    data.reviews.iter().filter(|r| r.repo == repo.id && r.pull == number).collect();
                reviews.sort_by_key(|r| r.id);
                reviews.iter().map(|r| review_json(base, &data, repo, r)).collect()
            }
            ["labels"] => data.labels.iter().filter(|l| l.repo == repo.id).map(|l| label_json(base, repo, l)).collect(),
            ["milestones"] => {
                let mut milestones: Vec<&data::Milestone> =
                    data.milestones.iter().filter(|m| m.repo == repo.id && state_filter(m.open, "open")).collect();
                milestones.sort_by_key(|m| m.number);
                milestones.iter().map(|m| milestone_json(base, &data, repo, m)).collect()
            }
            _ => return Err(error(StatusCode::NOT_FOUND, "Not Found", "")),
        };
        page_of(items, base, &path, &params)?
    };
    Ok(answer(&state, &headers, &admitted, items, link))
}

/// `GET /rate_limit`: the budget, not counted against it.
async fn rate_limit(State(state): Shared) -> Response {
    let budget = state.budget.lock().expect("budget lock");
    let limit = state.config.hourly_limit;
    let core = json!({"limit": limit, "remaining": limit.saturating_sub(budget.used), "reset": budget.reset, "used": budget.used});
    Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}

fn stats_json(state: &GitHubState) -> Value {
    let counts = state.data.read().expect("data lock").counts();
    json!({
        "requests": state.requests.load(Ordering::Relaxed),
        "not_modified": state.not_modified.load(Ordering::Relaxed),
        "primary_limited": state.primary_limited.load(Ordering::Relaxed),
        "secondary_limited": state.secondary_limited.load(Ordering::Relaxed),
        "most_in_flight": state.most_in_flight.load(Ordering::Relaxed),
        "counted": state.budget.lock().expect("budget lock").used,
        "objects": counts,
    })
}

async fn stats(State(state): Shared) -> Json<Value> {
    Json(stats_json(&state))
}

async fn log(State(state): Shared) -> Json<Value> {
    Json(json!(state.log.lock().expect("log lock").clone()))
}

async fn mutate(State(state): Shared, Json(body): Json<Value>) -> Response {
    let list = match body {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut data = state.data.write().expect("data lock");
    let mut results = Vec::new();
    for item in list {
        let outcome = serde_json::from_value::<Mutation>(item).map_err(|e| e.to_string()).and_then(|m| data.apply(m));
        match outcome {
            Ok(result) => results.push(result),
            Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message, ""),
        }
    }
    Json(json!(results)).into_response()
}

async fn unknown_route() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", "")
}
