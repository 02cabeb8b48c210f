//! Recording and replaying a connector's HTTP exchanges at the host's boundary (`max connector test
//! --record/--replay`). What is recorded is what crosses the boundary: the request as the connector
//! made it (secrets are attached later, inside the capability, and never written) and the response as
//! the connector got it (every secret already redacted). Replaying answers from the cassette with no
//! network at all, after the same grant checks a live request gets.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{HttpError, HttpRequest, HttpResponse};

/// The format of cassettes this host writes and reads.
pub const CASSETTE_FORMAT: u32 = 1;

/// A recording: the connector it was made with, the (non-secret) config it ran with, and every
/// exchange in the order the requests were answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cassette {
    /// [`CASSETTE_FORMAT`].
    pub format: u32,
    /// The connector's name.
    pub connector: String,
    /// Its version.
    pub version: String,
    /// The non-secret configuration the sync ran with.
    pub config: Vec<(String, String)>,
    /// The credentials it named (their values are never recorded).
    pub credentials: Vec<String>,
    /// The exchanges.
    pub exchanges: Vec<Exchange>,
}

/// One request and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// The request as the connector made it.
    pub request: RecordedRequest,
    /// The response, or why there was none.
    pub outcome: Outcome,
}

/// A request as the connector made it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL.
    pub url: String,
    /// The connector's headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The credential it asked the host to attach (by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What came of a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A response (any status).
    Response {
        /// Status code.
        status: u16,
        /// Headers, names lowercase.
        headers: Vec<(String, String)>,
        /// Body.
        body: Body,
    },
    /// No response: the host's error (`denied: …`, `timed out`, …).
    Error {
        /// Which error (`denied`, `timeout`, `connection`, …).
        kind: String,
        /// Its detail.
        detail: String,
    },
}

/// A body: UTF-8 text as it is, anything else in hex.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// UTF-8 text.
    Text(String),
    /// Bytes, in hex.
    Hex(String),
}

impl Body {
    fn of(bytes: &[u8]) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text.to_string()),
            Err(_) => Body::Hex(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Hex(hex) => (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect(),
        }
    }
}

impl RecordedRequest {
    /// The request `request` as recorded.
    pub fn of(request: &HttpRequest) -> RecordedRequest {
        RecordedRequest {
            method: reqwest::Method::from(request.method).to_string(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.as_deref().map(Body::of),
            credential: request.credential.clone(),
        }
    }

    /// `GET https://…`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    /// What identifies a request on replay: method, URL and body.
    fn key(&self) -> RequestKey {
        (self.method.clone(), self.url.clone(), self.body.clone())
    }
}

impl Outcome {
    /// The outcome `result` as recorded: a response's `Set-Cookie` headers are left out (a session a
    /// cassette in a repository must not carry; no connector sees cookies either way).
    pub fn of(result: &Result<HttpResponse, HttpError>) -> Outcome {
        match result {
            Ok(response) => Outcome::Response {
                status: response.status,
                headers: response.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("set-cookie")).cloned().collect(),
                body: Body::of(&response.body),
            },
            Err(error) => {
                let (kind, detail) = match error {
                    HttpError::Denied(what) => ("denied", what.clone()),
                    HttpError::UnknownCredential(name) => ("unknown-credential", name.clone()),
                    HttpError::InvalidRequest(why) => ("invalid-request", why.clone()),
                    HttpError::Timeout => ("timeout", String::new()),
                    HttpError::Connection(why) => ("connection", why.clone()),
                    HttpError::TooLarge(cap) => ("too-large", cap.to_string()),
                };
                Outcome::Error { kind: kind.to_string(), detail }
            }
        }
    }

    /// The result the connector gets on replay.
    fn result(&self) -> Result<HttpResponse, HttpError> {
        match self {
            Outcome::Response { status, headers, body } => {
                Ok(HttpResponse { status: *status, headers: headers.clone(), body: body.bytes() })
            }
            Outcome::Error { kind, detail } => Err(match kind.as_str() {
                "denied" => HttpError::Denied(detail.clone()),
                "unknown-credential" => HttpError::UnknownCredential(detail.clone()),
                "invalid-request" => HttpError::InvalidRequest(detail.clone()),
                "timeout" => HttpError::Timeout,
                "too-large" => HttpError::TooLarge(detail.parse().unwrap_or(0)),
                _ => HttpError::Connection(detail.clone()),
            }),
        }
    }
}

/// Where a capability's exchanges go or come from.
#[derive(Debug)]
pub enum Tape {
    /// Sent for real and recorded.
    Record(Mutex<Vec<Exchange>>),
    /// Answered from a cassette.
    Replay(Replayer),
}

impl Tape {
    /// A tape that records.
    pub fn recording() -> Tape {
        Tape::Record(Mutex::new(Vec::new()))
    }

    /// A tape that replays `cassette`.
    pub fn replaying(cassette: &Cassette) -> Tape {
        Tape::Replay(Replayer::new(cassette))
    }

    /// Every exchange so far: recorded ones, or on replay those the connector asked for.
    pub fn exchanges(&self) -> Vec<Exchange> {
        match self {
            Tape::Record(exchanges) => exchanges.lock().expect("tape lock").clone(),
            Tape::Replay(replayer) => replayer.asked.lock().expect("tape lock").clone(),
        }
    }

    /// Notes an exchange sent for real (recording) or asked of the cassette (replaying).
    pub(super) fn note(&self, request: &HttpRequest, result: &Result<HttpResponse, HttpError>) {
        let exchange = Exchange { request: RecordedRequest::of(request), outcome: Outcome::of(result) };
        match self {
            Tape::Record(exchanges) => exchanges.lock().expect("tape lock").push(exchange),
            Tape::Replay(replayer) => replayer.asked.lock().expect("tape lock").push(exchange),
        }
    }
}

/// What identifies a request on replay: method, URL, body.
type RequestKey = (String, String, Option<Body>);

/// The recorded outcomes of one request not yet given, and the last one given.
type Answers = (VecDeque<Outcome>, Option<Outcome>);

/// Answers requests from a cassette: each request (method, URL, body) gets the responses recorded for
/// it in order, the last again once they run out; one never recorded gets an `invalid-request` error
/// naming it (not a transient one: retrying can't help).
#[derive(Debug)]
pub struct Replayer {
    answers: Mutex<HashMap<RequestKey, Answers>>,
    asked: Mutex<Vec<Exchange>>,
    missed: Mutex<Vec<String>>,
}

impl Replayer {
    fn new(cassette: &Cassette) -> Replayer {
        let mut answers: HashMap<RequestKey, Answers> = HashMap::new();
        for exchange in &cassette.exchanges {
            answers.entry(exchange.request.key()).or_default().0.push_back(exchange.outcome.clone());
        }
        Replayer { answers: Mutex::new(answers), asked: Mutex::new(Vec::new()), missed: Mutex::new(Vec::new()) }
    }

    /// The recorded answer to `request`.
    pub(super) fn answer(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let recorded = RecordedRequest::of(request);
        let mut answers = self.answers.lock().expect("tape lock");
        let outcome = answers.get_mut(&recorded.key()).and_then(|(queue, last)| {
            let next = queue.pop_front().or_else(|| last.clone())?;
            *last = Some(next.clone());
            Some(next)
        });
        match outcome {
            Some(outcome) => outcome.result(),
            None => {
                self.missed.lock().expect("tape lock").push(recorded.line());
                Err(HttpError::InvalidRequest(format!("not in the cassette: {}", recorded.line())))
            }
        }
    }

    /// The requests the cassette had no answer for.
    pub fn missed(&self) -> Vec<String> {
        self.missed.lock().expect("tape lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_not_recorded_and_bodies_round_trip() {
        let response = HttpResponse {
            status: 200,
            headers: vec![("set-cookie".into(), "session=abc".into()), ("etag".into(), "W/\"1\"".into())],
            body: vec![0xff, 0x00, b'a'],
        };
        let Outcome::Response { headers, body, .. } = Outcome::of(&Ok(response)) else { panic!("a response") };
        assert_eq!(headers, [("etag".to_string(), "W/\"1\"".to_string())]);
        assert_eq!(body, Body::Hex("ff0061".into()));
        assert_eq!(body.bytes(), [0xff, 0x00, b'a']);
        assert_eq!(Body::of("é".as_bytes()), Body::Text("é".into()));
    }
}
