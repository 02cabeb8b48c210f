//! HTTP through the host: requests, JSON and GraphQL helpers, status-to-error mapping and pagination.
//!
//! The host makes every request: it checks the URL against the granted hosts and attaches the secret
//! of the credential a request names. A connector never sees a secret.
//!
//! ```no_run
//! # fn demo() -> max_connector_sdk::Result<()> {
//! use max_connector_sdk::http;
//! let page = http::get("https://api.example.com/items?limit=100").credential("api_key").send()?.ok()?;
//! let items: Vec<serde_json::Value> = page.json()?;
//! let next = page.header("x-next-cursor");
//! # let _ = (items, next); Ok(()) }
//! ```

use crate::bindings::max::connector::http as wit;
use crate::{ConnectorError, Result};

pub use wit::{HttpError, Method};

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request(wit::Request);

/// Starts a `GET` request.
pub fn get(url: impl Into<String>) -> Request {
    Request::new(Method::Get, url)
}

/// Starts a `POST` request.
pub fn post(url: impl Into<String>) -> Request {
    Request::new(Method::Post, url)
}

impl Request {
    /// Starts a request.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request(wit::Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            credential: None,
            timeout_ms: None,
        })
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Asks the host to attach the secret of this declared credential.
    pub fn credential(mut self, name: &str) -> Self {
        self.0.credential = Some(name.to_string());
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.0.body = Some(serde_json::to_vec(body).expect("a Serialize value always serializes to JSON"));
        self.header("content-type", "application/json")
    }

    /// Sets a raw body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.0.body = Some(body);
        self
    }

    /// Sets a timeout for this request (the host caps it).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.0.timeout_ms = Some(ms);
        self
    }

    /// Sends the request and waits for the response. Any status is a response; see [`Response::ok`].
    pub fn send(self) -> Result<Response> {
        crate::transport::send(&self.0).map(Response).map_err(transport_error)
    }
}

/// Sends requests concurrently (the host runs them in parallel) and returns the results in order.
pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response>> {
    let requests: Vec<wit::Request> = requests.into_iter().map(|r| r.0).collect();
    crate::transport::send_all(&requests).into_iter().map(|r| r.map(Response).map_err(transport_error)).collect()
}

/// Maps a transport error to the connector error the host acts on.
fn transport_error(error: HttpError) -> ConnectorError {
    match error {
        HttpError::Denied(what) => ConnectorError::Forbidden(format!("the host refused the request: {what}")),
        HttpError::UnknownCredential(name) => ConnectorError::InvalidInput(format!("unknown credential `{name}`")),
        HttpError::InvalidRequest(why) => ConnectorError::InvalidInput(format!("invalid request: {why}")),
        HttpError::Timeout => ConnectorError::Transient("request timed out".to_string()),
        HttpError::Connection(why) => ConnectorError::Transient(format!("connection failed: {why}")),
        HttpError::TooLarge(cap) => ConnectorError::InvalidResponse(format!("response larger than {cap} bytes")),
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response(wit::Response);

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.0.body
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.0.body)
            .map_err(|e| ConnectorError::InvalidResponse(format!("invalid JSON in a {} response: {e}", self.0.status)))
    }

    /// Returns the response for a 2xx status, and otherwise the error the status means:
    /// 401 unauthorized, 403 forbidden, 404 not found, 429 rate limited (with `Retry-After`),
    /// 5xx and 408 transient, anything else `other`. The message quotes the start of the body.
    pub fn ok(self) -> Result<Self> {
        let status = self.0.status;
        if (200..300).contains(&status) {
            return Ok(self);
        }
        let summary = format!("HTTP {status}: {}", self.body_excerpt());
        Err(match status {
            401 => ConnectorError::Unauthorized(summary),
            403 => ConnectorError::Forbidden(summary),
            404 => ConnectorError::NotFound(summary),
            429 => ConnectorError::RateLimited(self.retry_after_ms()),
            408 | 500..=599 => ConnectorError::Transient(summary),
            _ => ConnectorError::Other(summary),
        })
    }

    /// `Retry-After` in milliseconds, when it is a number of seconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        let seconds: f64 = self.header("retry-after")?.trim().parse().ok()?;
        (seconds >= 0.0).then_some((seconds * 1000.0) as u64)
    }

    /// The URL of the `rel="next"` entry of an RFC 8288 `Link` header (GitHub-style pagination).
    pub fn link_next(&self) -> Option<String> {
        link_next(self.header("link")?)
    }

    fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.0.body);
        let text = text.trim();
        match text.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        }
    }
}

/// `value` percent-encoded for a URL's query string (every byte but RFC 3986's unreserved ones).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Finds the `rel="next"` target in a `Link` header value.
pub fn link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim().split_once('='), Some(("rel", v)) if v.trim_matches('"').split_whitespace().any(|r| r == "next")));
        let target = target.trim();
        (is_next && target.starts_with('<') && target.ends_with('>')).then(|| target[1..target.len() - 1].to_string())
    })
}

/// Sends a GraphQL query (`POST` with `{"query", "variables"}`) and returns its `data`.
///
/// GraphQL errors become connector errors: an error whose `extensions.code` is `RATELIMITED` or whose
/// `extensions.type` is `ratelimited` (Linear, even on HTTP 400) is `rate-limited`; authentication
/// errors are `unauthorized`; the rest are `other` with the first message.
pub fn graphql(
    endpoint: &str,
    credential: &str,
    query: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value> {
    let response = post(endpoint)
        .credential(credential)
        .json(&serde_json::json!({ "query": query, "variables": variables }))
        .send()?;
    let body: serde_json::Value = match response.json() {
        Ok(body) => body,
        Err(_) => {
            return response.ok().and_then(|_| Err(ConnectorError::invalid_response("GraphQL response is not JSON")));
        }
    };
    if let Some(error) = body.get("errors").and_then(|e| e.as_array()).and_then(|e| e.first()) {
        return Err(graphql_error(&response, error));
    }
    let response = response.ok()?;
    match body.get("data") {
        Some(data) if !data.is_null() => Ok(data.clone()),
        _ => {
            Err(ConnectorError::invalid_response(format!("GraphQL response without data (HTTP {})", response.status())))
        }
    }
}

fn graphql_error(response: &Response, error: &serde_json::Value) -> ConnectorError {
    let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("GraphQL error").to_string();
    let extensions = error.get("extensions");
    let field = |name: &str| extensions.and_then(|e| e.get(name)).and_then(|v| v.as_str()).map(str::to_ascii_lowercase);
    let code = field("code").or_else(|| field("type")).unwrap_or_default();
    match code.as_str() {
        "ratelimited" => ConnectorError::RateLimited(response.retry_after_ms()),
        "authentication error" | "authentication_error" | "unauthenticated" => ConnectorError::Unauthorized(message),
        "forbidden" => ConnectorError::Forbidden(message),
        _ if response.status() == 401 => ConnectorError::Unauthorized(message),
        _ if response.status() >= 500 => ConnectorError::Transient(message),
        _ => ConnectorError::Other(message),
    }
}

#[cfg(test)]
mod tests {
    use super::link_next;

    #[test]
    fn query_values_keep_only_unreserved_bytes() {
        assert_eq!(super::encode_query("a,b c/é~_.-"), "a%2Cb%20c%2F%C3%A9~_.-");
    }

    #[test]
    fn finds_next_among_several_rels() {
        let header = r#"<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last""#;
        assert_eq!(link_next(header).as_deref(), Some("https://api.github.com/r?page=2"));
    }

    #[test]
    fn no_next_on_the_last_page() {
        let header = r#"<https://api.github.com/r?page=1>; rel="first", <https://api.github.com/r?page=4>; rel="prev""#;
        assert_eq!(link_next(header), None);
    }
}
