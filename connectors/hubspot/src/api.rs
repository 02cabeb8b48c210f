//! Requests to HubSpot through the host: URLs under the configured base, the credential the user chose,
//! and HubSpot's error bodies (`{status, message, category, policyName…}`) turned into the errors the host
//! acts on.

use max_connector_sdk::http::{self, Request, Response};
use max_connector_sdk::{ConnectorError, Result};
use serde_json::Value as Json;

/// Where HubSpot's API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// The API of one portal, as configured.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    credential: &'static str,
}

impl Api {
    /// Requests go to `base` (no trailing `/`) with the secret named `credential`.
    pub fn new(base: String, credential: &'static str) -> Self {
        Api { base, credential }
    }

    /// A `GET` of `path_and_query` (starting with `/`).
    pub fn get(&self, path_and_query: &str) -> Request {
        http::get(format!("{}{path_and_query}", self.base)).credential(self.credential)
    }

    /// A `POST` of `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: &Json) -> Request {
        http::post(format!("{}{path}", self.base)).credential(self.credential).json(body)
    }

    /// Sends `request` and returns its JSON body and its response, or the error HubSpot's answer means.
    pub fn send(&self, request: Request) -> Result<(Json, Response)> {
        answer(request.send()?)
    }

    /// Sends `requests` side by side (the host runs them concurrently) and returns their bodies in order.
    pub fn send_all(&self, requests: Vec<Request>) -> Result<Vec<Json>> {
        http::send_all(requests).into_iter().map(|sent| answer(sent?).map(|(body, _)| body)).collect()
    }
}

/// The JSON body of a successful response, or the error it means.
pub fn check(response: Response) -> Result<Json> {
    answer(response).map(|(body, _)| body)
}

/// The JSON body of a successful (2xx, a batch's 207 included) response, or the error it means.
fn answer(response: Response) -> Result<(Json, Response)> {
    let status = response.status();
    if (200..300).contains(&status) {
        let body = response.json()?;
        return Ok((body, response));
    }
    Err(error(&response))
}

/// What a HubSpot error response means to the host.
fn error(response: &Response) -> ConnectorError {
    let status = response.status();
    let body: Json = serde_json::from_slice(response.body()).unwrap_or(Json::Null);
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_string();
    let (message, category, policy) = (text("message"), text("category"), text("policyName"));
    let summary = match (message.is_empty(), category.is_empty()) {
        (true, _) => format!("HubSpot answered HTTP {status}"),
        (false, true) => format!("HubSpot answered HTTP {status}: {message}"),
        (false, false) => format!("HubSpot answered HTTP {status} ({category}): {message}"),
    };
    match status {
        429 if policy == "DAILY" => ConnectorError::Other(format!(
            "HubSpot's daily API limit for this account is used up; it resets at midnight in the account's \
             time zone. Sync again then. ({message})"
        )),
        // The ten-second window and the search limit free room within a second; HubSpot sends no
        // Retry-After.
        429 => ConnectorError::RateLimited(Some(response.retry_after_ms().unwrap_or(1000))),
        401 => ConnectorError::Unauthorized(summary),
        403 => ConnectorError::Forbidden(summary),
        404 => ConnectorError::NotFound(summary),
        408 | 500..=599 => ConnectorError::Transient(summary),
        _ => ConnectorError::Other(summary),
    }
}

/// The `after` of the next page (`paging.next.after`), absent on the last page.
pub fn next_after(body: &Json) -> Option<String> {
    match &body["paging"]["next"]["after"] {
        Json::String(after) if !after.is_empty() => Some(after.clone()),
        Json::Number(after) => Some(after.to_string()),
        _ => None,
    }
}

/// The `results` array of a response.
pub fn results(body: &Json) -> Result<&Vec<Json>> {
    body["results"].as_array().ok_or_else(|| ConnectorError::invalid_response("a HubSpot response without results"))
}

/// An id HubSpot sent as a string or as a number (v4 sends `toObjectId` as a number; owners' ids are
/// strings).
pub fn id_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
