//! Requests to Google Drive through the host: URLs under the configured base, the OAuth credential the
//! host refreshes, and Google's error bodies (`{"error": {code, message, errors: [{reason}]}}`) turned
//! into the errors the host acts on. Drive sends no rate-limit headers: a throttled request (403
//! `userRateLimitExceeded` or `rateLimitExceeded`, 429) is retried with the host's exponential backoff.

use max_connector_sdk::http::{self, Request, Response, encode_query};
use max_connector_sdk::{ConnectorError, Result};
use serde_json::Value as Json;

/// Where Google's APIs live.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com";

/// The credential requests carry (an OAuth access token the host refreshes).
pub const CREDENTIAL: &str = "oauth_access_token";

/// Drive's API, as configured.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
}

impl Api {
    /// Requests go to `base` (no trailing `/`).
    pub fn new(base: String) -> Self {
        Api { base }
    }

    /// A `GET` of `/drive/v3{path}` with `query` (names and values, encoded here).
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Request {
        let mut url = format!("{}/drive/v3{path}", self.base);
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(name);
            url.push('=');
            url.push_str(&encode_query(value));
        }
        http::get(url).credential(CREDENTIAL)
    }

    /// Sends `request`: its JSON body, or the error Drive's answer means.
    pub fn json(&self, request: Request) -> Result<Json> {
        check(request.send()?)?.json()
    }

    /// Sends `requests` side by side (the host runs them concurrently): each one's response or error,
    /// in order. Requests Drive throttled or failed transiently are sent again, up to [`RESENDS`]
    /// times, before their error is returned: one call reads many files, and Drive refuses single
    /// requests now and then; when it keeps refusing, the error makes the host back off.
    pub fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response>> {
        let mut results: Vec<Result<Response>> =
            http::send_all(requests.clone()).into_iter().map(|sent| sent.and_then(check)).collect();
        for _ in 0..RESENDS {
            let again: Vec<usize> = (0..results.len()).filter(|&i| retryable(&results[i])).collect();
            if again.is_empty() {
                break;
            }
            let resent = http::send_all(again.iter().map(|&i| requests[i].clone()).collect());
            for (i, sent) in again.into_iter().zip(resent) {
                results[i] = sent.and_then(check);
            }
        }
        results
    }
}

/// How many times [`Api::send_all`] sends a throttled request again within one call.
const RESENDS: usize = 2;

/// Whether a result is worth sending again at once: Drive throttled it or failed for a moment.
fn retryable(result: &Result<Response>) -> bool {
    matches!(result, Err(ConnectorError::RateLimited(_) | ConnectorError::Transient(_)))
}

/// The response when it succeeded, or the error it means.
pub fn check(response: Response) -> Result<Response> {
    if (200..300).contains(&response.status()) { Ok(response) } else { Err(error(&response)) }
}

/// The `reason` of Google's error body (`notFound`, `userRateLimitExceeded`…).
pub fn reason(error: &ConnectorError) -> Option<&str> {
    let text = match error {
        ConnectorError::NotFound(t) | ConnectorError::Forbidden(t) | ConnectorError::Other(t) => t,
        _ => return None,
    };
    text.split_once("reason ").map(|(_, rest)| rest.split(')').next().unwrap_or(rest))
}

/// What a Drive error response means to the host.
fn error(response: &Response) -> ConnectorError {
    let status = response.status();
    let body: Json = serde_json::from_slice(response.body()).unwrap_or(Json::Null);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let reason = body["error"]["errors"][0]["reason"].as_str().unwrap_or_default();
    let summary = match (message.is_empty(), reason.is_empty()) {
        (true, _) => format!("Google Drive answered HTTP {status}"),
        (false, true) => format!("Google Drive answered HTTP {status}: {message}"),
        (false, false) => format!("Google Drive answered HTTP {status}: {message} (reason {reason})"),
    };
    match (status, reason) {
        (429, _) | (403, "userRateLimitExceeded" | "rateLimitExceeded" | "sharingRateLimitExceeded") => {
            ConnectorError::RateLimited(None)
        }
        (403, "dailyLimitExceeded") => ConnectorError::Other(format!(
            "{summary}. The project's daily Drive quota is used up; it resets at midnight Pacific time."
        )),
        (401, _) => ConnectorError::Unauthorized(summary),
        (403, _) => ConnectorError::Forbidden(summary),
        (404, _) => ConnectorError::NotFound(summary),
        (408 | 500..=599, _) => ConnectorError::Transient(summary),
        _ => ConnectorError::Other(summary),
    }
}

/// A string a JSON value holds (Drive writes numbers as strings: `"size": "48213"`) as a number.
pub fn number(value: &Json) -> Option<i64> {
    match value {
        Json::String(text) => text.parse().ok(),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_numbers_are_strings() {
        assert_eq!(number(&Json::String("48213".into())), Some(48213));
        assert_eq!(number(&serde_json::json!(7)), Some(7));
        assert_eq!(number(&Json::Null), None);
    }
}
