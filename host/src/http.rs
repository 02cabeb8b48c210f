//! The HTTP capability: the only network access a connector has. Every request is checked against the
//! installation's grants (on every redirect hop), gets its secret attached here (never in the guest),
//! and is bounded in time and response size.

mod addresses;
mod cassette;
mod grants;
mod oauth;
mod pressure;
mod ratelimit;
pub use ratelimit::SharedBudgets;
mod redact;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::manifest::{CredentialDef, CredentialInjection, Permissions};

pub use cassette::{Body, CASSETTE_FORMAT, Cassette, Exchange, Outcome, RecordedRequest, Replayer, Tape};
pub use grants::Grants;
pub(crate) use grants::{authority, host_matches};
pub use pressure::Pressure;
pub use redact::Redactor;

tokio::task_local! {
    /// When the connector call sending requests in this task must be answered by
    /// ([`HttpCapability::answering_by`]).
    static ANSWER_BY: tokio::time::Instant;
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
}

impl From<Method> for reqwest::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Options => reqwest::Method::OPTIONS,
        }
    }
}

/// A request from a connector.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Name of the credential to attach.
    pub credential: Option<String>,
    /// The connector's own timeout (capped by the host's).
    pub timeout: Option<Duration>,
}

/// A response (any status).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request got no response; returned to the guest as the WIT `http-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not a granted host or path.
    #[error("denied: {0}")]
    Denied(String),
    /// Undeclared or unset credential.
    #[error("unknown credential `{0}`")]
    UnknownCredential(String),
    /// Malformed URL or header.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No response in time.
    #[error("timed out")]
    Timeout,
    /// Connection failure.
    #[error("connection failed: {0}")]
    Connection(String),
    /// Body over the cap.
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
}

/// Where a connector's secrets come from. The host looks them up per request; the guest never sees them.
pub trait SecretSource: Send + Sync {
    /// The secret stored under `name`, if any.
    fn secret(&self, name: &str) -> Option<String>;

    /// Every secret value held (refreshed tokens included), for redaction.
    fn values(&self) -> Vec<String>;

    /// Stores new values (refreshed OAuth tokens) so later lookups, and later runs, see them.
    fn store(&self, changes: &[(String, String)]) -> Result<(), String> {
        let _ = changes;
        Err("this secret store is read-only".to_string())
    }
}

impl SecretSource for std::collections::HashMap<String, String> {
    fn secret(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn values(&self) -> Vec<String> {
        std::collections::HashMap::values(self).cloned().collect()
    }
}

/// Bounds on a connector's HTTP use.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Longest time for one request (each redirect hop), body included; not the time the rate limiter
    /// holds it back first.
    pub request_timeout: Duration,
    /// Largest response body.
    pub max_response_bytes: u64,
    /// Most requests in flight at once per installation.
    pub max_concurrent: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Largest request body a connector may send.
    pub max_request_bytes: usize,
    /// Most headers a connector may set on one request.
    pub max_request_headers: usize,
    /// Longest header value a connector may set.
    pub max_header_value_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 64 << 20,
            max_concurrent: 64,
            max_redirects: 10,
            max_request_bytes: 16 << 20,
            max_request_headers: 64,
            max_header_value_bytes: 8 << 10,
        }
    }
}

/// One installation's HTTP access.
pub struct HttpCapability {
    client: reqwest::Client,
    resolver: addresses::CheckedResolver,
    grants: Grants,
    credentials: Vec<CredentialDef>,
    secrets: Arc<dyn SecretSource>,
    limits: HttpLimits,
    in_flight: tokio::sync::Semaphore,
    requests: AtomicU64,
    /// Responses `304 Not Modified` (conditional requests whose answer the connector already had).
    not_modified: AtomicU64,
    pressure: pressure::PressureGauge,
    limiter: ratelimit::RateLimiter,
    oauth: oauth::Refresher,
    /// Where exchanges are recorded or replayed from (`max connector test`); none: live.
    tape: Option<Arc<Tape>>,
}

impl std::fmt::Debug for HttpCapability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCapability").field("grants", &self.grants).finish_non_exhaustive()
    }
}

impl HttpCapability {
    /// Grants what `permissions` ask for, plus `base_url` (the URL the user configured, if any).
    pub fn new(
        permissions: &Permissions,
        base_url: Option<&str>,
        secrets: Arc<dyn SecretSource>,
        limits: HttpLimits,
    ) -> Self {
        // The user's own base URL may point anywhere (a local fake, a self-hosted server); the hosts the
        // connector declared must be on the public internet.
        let users_host = base_url.and_then(|u| Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_string));
        let resolver = addresses::CheckedResolver::new(users_host, std::collections::HashMap::new());
        HttpCapability {
            client: client(&resolver),
            resolver,
            grants: Grants::new(&permissions.hosts, base_url),
            credentials: permissions.credentials.clone(),
            secrets,
            in_flight: tokio::sync::Semaphore::new(limits.max_concurrent.max(1)),
            limits,
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            pressure: pressure::PressureGauge::default(),
            limiter: ratelimit::RateLimiter::new(&permissions.request_limits),
            oauth: oauth::Refresher::new(&permissions.hosts, base_url),
            tape: None,
        }
    }

    /// The same capability, recording every exchange on `tape`, or answering from it with no network.
    pub fn with_tape(mut self, tape: Arc<Tape>) -> Self {
        self.tape = Some(tape);
        self
    }

    /// Answers these host names from the table instead of DNS (like a hosts file), still checking the
    /// addresses. For tests, and for users who pin a name.
    pub fn with_fixed_hosts(mut self, hosts: std::collections::HashMap<String, Vec<std::net::IpAddr>>) -> Self {
        self.resolver = self.resolver.with_fixed(hosts);
        self.client = client(&self.resolver);
        self
    }

    /// A capability that denies every request (for `describe` and tests).
    pub fn deny_all() -> Self {
        Self::new(&Permissions::default(), None, Arc::new(std::collections::HashMap::new()), HttpLimits::default())
    }

    /// Pools the rate budgets this capability learns with other processes calling the same account
    /// (workers sharing a database), through `shared`.
    pub fn share_budgets(&self, shared: Arc<dyn SharedBudgets>) {
        self.limiter.share(shared);
    }

    /// Holds every request of the installation back for `wait` (a connector reported a rate limit).
    pub fn pause_for(&self, wait: Duration) {
        self.limiter.pause_for(wait);
    }

    /// How long requests have waited for rate-limit budgets so far.
    pub fn rate_limit_wait(&self) -> Duration {
        self.limiter.waited()
    }

    /// `text` (a guest's log or error message, an API's answer) with every secret of the installation
    /// replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        redact::redact(text, self.secrets.values())
    }

    /// A redactor for every secret of the installation as it is now (for synced data).
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets.values())
    }

    /// The number of requests sent so far (redirect hops included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The responses answered `304 Not Modified` so far: conditional requests (`If-None-Match`) whose
    /// answer the connector already had, which APIs such as GitHub don't count against the limit.
    pub fn not_modified_count(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }

    /// How the API has been answering so far: latencies, 429s and failures.
    pub fn pressure(&self) -> Pressure {
        self.pressure.read()
    }

    /// Sends a request, following redirects within the grants.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let Some(tape) = &self.tape else { return self.send_live(request).await };
        let result = match &**tape {
            Tape::Record(_) => self.send_live(request.clone()).await,
            Tape::Replay(replayer) => self.replay(&request, replayer),
        };
        tape.note(&request, &result);
        result
    }

    /// What a live request would get, from the cassette: the same grant and secret checks first, then
    /// the recorded answer; nothing goes to the network.
    fn replay(&self, request: &HttpRequest, replayer: &Replayer) -> Result<HttpResponse, HttpError> {
        self.check_size(request)?;
        refuse_carried_secrets(request, &self.redactor())?;
        let url = Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad URL `{}`: {e}", request.url)))?;
        self.grants.check(&url).map_err(HttpError::Denied)?;
        if let Some(name) = &request.credential {
            let (def, _) = self.credential(name)?;
            self.check_credential_host(&def, &url)?;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = replayer.answer(request)?;
        // A cassette is a file anyone may have written: its answers get the live response cap.
        let cap = self.limits.max_response_bytes;
        if response.body.len() as u64 > cap {
            return Err(HttpError::TooLarge(cap));
        }
        if response.status == 304 {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
        Ok(response)
    }

    async fn send_live(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let _permit = self.in_flight.acquire().await.expect("the semaphore is never closed");
        let timeout = request.timeout.map_or(self.limits.request_timeout, |t| t.min(self.limits.request_timeout));
        self.exchange(request, timeout).await
    }

    /// Runs `call`, a connector call whose requests must be answered by `deadline` (its wall-clock
    /// limit, less a margin): a request the rate limiter still holds back then is answered with a
    /// `429` and the `Retry-After` the limiter expects, never sent, so the connector reports a rate
    /// limit and the task waits outside the call instead of the call running out of time. Time a
    /// request is held doesn't count against its own timeout.
    pub async fn answering_by<F: std::future::Future>(deadline: tokio::time::Instant, call: F) -> F::Output {
        ANSWER_BY.scope(deadline, call).await
    }

    /// The answer to a request held back past its call's deadline (see [`HttpCapability::answering_by`]).
    fn held_back(&self) -> HttpResponse {
        let wait = self.limiter.until_room().as_secs_f64().ceil().max(1.0) as u64;
        let body = "Max held this request back: the API's rate limit leaves no room before this call's time is up";
        HttpResponse {
            status: 429,
            headers: vec![
                ("retry-after".to_string(), wait.to_string()),
                ("x-max-held-back".to_string(), "rate limit".to_string()),
                ("content-type".to_string(), "text/plain".to_string()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Sends `request` with its credential; an OAuth2 token that is about to expire is refreshed first,
    /// and one the API refuses (401) is refreshed and the request sent once more.
    async fn exchange(&self, request: HttpRequest, timeout: Duration) -> Result<HttpResponse, HttpError> {
        self.check_size(&request)?;
        let mut credential = match &request.credential {
            Some(name) => Some(self.credential(name)?),
            None => None,
        };
        let oauth = |def: &CredentialDef| match &def.injection {
            CredentialInjection::OAuth2(oauth) => Some(oauth.clone()),
            _ => None,
        };
        if let Some((def, secret)) = &mut credential
            && let Some(settings) = oauth(def)
            && self.oauth.expiring(&*self.secrets, def)
        {
            // A failed early refresh leaves the stored token to be tried (and refreshed again on a 401).
            let context = self.oauth_context();
            let refresh = self.oauth.refresh(&context, def, &settings, secret);
            if let Ok(Ok(fresh)) = tokio::time::timeout(timeout, refresh).await {
                *secret = fresh;
            }
        }
        let response = self.exchange_with(&request, credential.as_ref(), timeout).await?;
        if response.status == 401
            && let Some((def, used)) = &credential
            && let Some(settings) = oauth(def)
        {
            let context = self.oauth_context();
            let refresh = self.oauth.refresh(&context, def, &settings, used);
            match tokio::time::timeout(timeout, refresh).await.unwrap_or_else(|_| Err("timed out".to_string())) {
                Ok(fresh) => return self.exchange_with(&request, Some(&(def.clone(), fresh)), timeout).await,
                Err(problem) => {
                    tracing::warn!(credential = %def.name, "OAuth2 refresh failed: {}", self.redact(&problem))
                }
            }
        }
        Ok(response)
    }

    /// Refuses requests over the body and header caps before anything is sent.
    fn check_size(&self, request: &HttpRequest) -> Result<(), HttpError> {
        let limits = &self.limits;
        if let Some(body) = &request.body
            && body.len() > limits.max_request_bytes
        {
            return Err(HttpError::InvalidRequest(format!(
                "a body of {} bytes; at most {} may be sent",
                body.len(),
                limits.max_request_bytes
            )));
        }
        if request.headers.len() > limits.max_request_headers {
            return Err(HttpError::InvalidRequest(format!(
                "{} headers; at most {} may be set",
                request.headers.len(),
                limits.max_request_headers
            )));
        }
        if let Some((name, _)) = request.headers.iter().find(|(_, v)| v.len() > limits.max_header_value_bytes) {
            return Err(HttpError::InvalidRequest(format!(
                "header `{name}` is longer than {} bytes",
                limits.max_header_value_bytes
            )));
        }
        Ok(())
    }

    fn oauth_context(&self) -> oauth::Context<'_> {
        oauth::Context { client: &self.client, grants: &self.grants, resolver: &self.resolver, secrets: &*self.secrets }
    }

    /// Sends `request` hop by hop; each hop's exchange (not the wait for the rate limiter before it)
    /// must end within `timeout`.
    async fn exchange_with(
        &self,
        request: &HttpRequest,
        credential: Option<&(CredentialDef, String)>,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpError> {
        let redactor = self.redactor();
        refuse_carried_secrets(request, &redactor)?;
        let mut url = Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad URL `{}`: {e}", request.url)))?;
        let mut headers = build_headers(&request.headers, credential.is_some())?;
        let mut method = request.method;
        let mut body = request.body.clone();
        for _hop in 0..=self.limits.max_redirects {
            self.grants.check(&url).map_err(HttpError::Denied)?;
            if let Some(ip) = literal_ip(&url) {
                let host = url.host_str().unwrap_or_default();
                self.resolver.check_literal(host, ip).map_err(|e| HttpError::Denied(e.to_string()))?;
            }
            let mut hop_url = url.clone();
            let mut hop_headers = headers.clone();
            if let Some((def, secret)) = credential {
                self.check_credential_host(def, &url)?;
                inject(def, secret, &mut hop_url, &mut hop_headers)?;
            }
            let mut builder = self.client.request(method.into(), hop_url).headers(hop_headers);
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let method_name = reqwest::Method::from(method);
            let admit = self.limiter.admit(method_name.as_str(), url.path());
            let admission = match ANSWER_BY.try_with(|by| *by) {
                Ok(by) => match tokio::time::timeout_at(by, admit).await {
                    Ok(admission) => admission,
                    Err(_) => return Ok(self.held_back()),
                },
                Err(_) => admit.await,
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = std::time::Instant::now();
            let hop_deadline = tokio::time::Instant::now() + timeout;
            let timed_out = || {
                self.pressure.unanswered();
                HttpError::Timeout
            };
            let response = tokio::time::timeout_at(hop_deadline, builder.send()).await.map_err(|_| timed_out())?;
            let response = response.map_err(|error| {
                let error = transport_error(error);
                if !matches!(error, HttpError::Denied(_)) {
                    self.pressure.unanswered();
                }
                error
            })?;
            let status = response.status().as_u16();
            tracing::debug!(status, method = ?method, path = url.path(), "answered");
            if status == 304 {
                self.not_modified.fetch_add(1, Ordering::Relaxed);
            }
            self.pressure.answered(status, sent.elapsed());
            self.limiter.observe(admission.sent(), status, &rate_limit_headers(response.headers()));
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => {
                    let next = url
                        .join(location)
                        .map_err(|e| HttpError::InvalidRequest(format!("bad redirect location `{location}`: {e}")))?;
                    if status == 303 || ((status == 301 || status == 302) && method == Method::Post) {
                        method = Method::Get;
                        body = None;
                    }
                    if next.origin() != url.origin() {
                        // Headers the connector set may carry tokens of its own: only the credential the
                        // host attaches follows a redirect to another origin, and only if it may go there.
                        headers = HeaderMap::new();
                    }
                    url = next;
                }
                _ => {
                    let read = tokio::time::timeout_at(hop_deadline, self.read(response, &redactor));
                    return read.await.map_err(|_| timed_out())?;
                }
            }
        }
        Err(HttpError::Connection(format!("more than {} redirects", self.limits.max_redirects)))
    }

    fn credential(&self, name: &str) -> Result<(CredentialDef, String), HttpError> {
        let def = self
            .credentials
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| HttpError::UnknownCredential(name.to_string()))?;
        let secret = self.secrets.secret(name).ok_or_else(|| HttpError::UnknownCredential(name.to_string()))?;
        Ok((def.clone(), secret))
    }

    fn check_credential_host(&self, def: &CredentialDef, url: &Url) -> Result<(), HttpError> {
        if def.hosts.is_empty() || def.hosts.iter().any(|h| grants::host_matches(h, url)) {
            Ok(())
        } else {
            Err(HttpError::Denied(format!("credential `{}` may not be sent to {}", def.name, grants::authority(url))))
        }
    }

    /// Reads the response, with every secret of the installation taken out of its headers and body
    /// (an API that echoes the request would otherwise hand the guest its own credential).
    async fn read(&self, mut response: reqwest::Response, redactor: &Redactor) -> Result<HttpResponse, HttpError> {
        let cap = self.limits.max_response_bytes;
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(HttpError::TooLarge(cap));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let mut value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                redactor.redact_in_place(&mut value);
                (name.as_str().to_string(), value)
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(HttpError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(redacted) = redactor.redact_bytes(&body) {
            body = redacted;
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// The headers the rate limiter reads: budgets (`*remaining`, `*reset`) and `Retry-After`.
fn rate_limit_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name.ends_with("remaining")
                || name.ends_with("reset")
                || name.ends_with("max")
                || name.ends_with("interval-milliseconds")
                || name == "retry-after"
        })
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect()
}

/// Refuses a request whose URL, headers or body carry a secret of the installation: secrets are
/// attached by the host, to the hosts they may go to; one a connector got hold of (an API reflected
/// it) must not leave in a request it built.
fn refuse_carried_secrets(request: &HttpRequest, redactor: &Redactor) -> Result<(), HttpError> {
    let carried = if redactor.finds(request.url.as_bytes()) {
        "its URL"
    } else if request
        .headers
        .iter()
        .any(|(name, value)| redactor.finds(name.as_bytes()) || redactor.finds(value.as_bytes()))
    {
        "a header"
    } else if request.body.as_deref().is_some_and(|body| redactor.finds(body)) {
        "its body"
    } else {
        return Ok(());
    };
    Err(HttpError::Denied(format!(
        "the request carries a secret of this installation in {carried}; secrets are attached by the host \
         (name the credential instead)"
    )))
}

/// Headers a connector may not set, as a browser's fetch refuses them to scripts: they steer the
/// connection, the framing or the virtual host (`Host` could pick another site on a shared front end),
/// or belong to the client.
fn forbidden_header(name: &HeaderName, value: &str) -> bool {
    const FORBIDDEN: &[&str] = &[
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let name = name.as_str();
    let overrides_method = matches!(name, "x-http-method" | "x-http-method-override" | "x-method-override")
        && value.split(',').any(|m| matches!(m.trim().to_ascii_uppercase().as_str(), "CONNECT" | "TRACE" | "TRACK"));
    FORBIDDEN.contains(&name) || name.starts_with("proxy-") || name.starts_with("sec-") || overrides_method
}

fn build_headers(pairs: &[(String, String)], credential_attached: bool) -> Result<HeaderMap, HttpError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("bad header name `{name}`")))?;
        if forbidden_header(&name, value) {
            return Err(HttpError::InvalidRequest(format!(
                "`{name}` is set by the host; a connector may not set it (as a browser's fetch refuses it to scripts)"
            )));
        }
        if credential_attached && name == reqwest::header::AUTHORIZATION {
            return Err(HttpError::InvalidRequest("set `Authorization` or name a credential, not both".to_string()));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| HttpError::InvalidRequest(format!("bad value for header `{name}`")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn inject(def: &CredentialDef, secret: &str, url: &mut Url, headers: &mut HeaderMap) -> Result<(), HttpError> {
    let header_value = |text: String| {
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            HttpError::InvalidRequest(format!("the secret of `{}` is not a valid header value", def.name))
        })?;
        value.set_sensitive(true);
        Ok::<_, HttpError>(value)
    };
    match &def.injection {
        CredentialInjection::Bearer | CredentialInjection::OAuth2(_) => {
            headers.insert(reqwest::header::AUTHORIZATION, header_value(format!("Bearer {secret}"))?);
        }
        CredentialInjection::Authorization => {
            headers.insert(reqwest::header::AUTHORIZATION, header_value(secret.to_string())?);
        }
        CredentialInjection::Header { name } => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::InvalidRequest(format!("bad credential header name `{name}`")))?;
            headers.insert(name, header_value(secret.to_string())?);
        }
        CredentialInjection::Query { name } => {
            url.query_pairs_mut().append_pair(name, secret);
        }
    }
    Ok(())
}

/// The HTTP client: no redirects followed by itself, no proxy from the environment, every name resolved
/// through `resolver`.
fn client(resolver: &addresses::CheckedResolver) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(resolver.clone()))
        .user_agent(concat!("max/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls and no proxy always builds")
}

/// The URL's host when it is an IP address.
fn literal_ip(url: &Url) -> Option<std::net::IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Describes a transport failure without the URL (which may carry a secret query parameter). An
/// address the resolver refused is a denial, not a network failure.
fn transport_error(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        return HttpError::Timeout;
    }
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<addresses::Blocked>() {
            return HttpError::Denied(blocked.to_string());
        }
        source = cause.source();
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    HttpError::Connection(message)
}
