//! Unit tests of a connector without Max (feature `testing`): a fake HTTP host in the test's own
//! thread answers the connector's requests, and [`rows`] reads a batch back.
//!
//! ```
//! use max_connector_sdk::http;
//! use max_connector_sdk::testing::FakeHttp;
//!
//! let fake = FakeHttp::new().get("https://api.example.com/me", 200, r#"{"name":"Ada"}"#);
//! let _installed = fake.install();
//! let me: serde_json::Value = http::get("https://api.example.com/me").credential("api_key").send()?.ok()?.json()?;
//! assert_eq!(me["name"], "Ada");
//! assert_eq!(fake.requests()[0].credential.as_deref(), Some("api_key"));
//! # Ok::<(), max_connector_sdk::ConnectorError>(())
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::Batch;
use crate::bindings::max::connector::http::{HttpError, Method, Request, Response};

/// A handler answering one request.
type Handler = Box<dyn Fn(&Request) -> Result<Response, HttpError>>;

struct Route {
    method: Method,
    url: String,
    handler: Handler,
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<Request>,
}

/// Canned answers by method and URL (a route without `?` ignores the query), and every request the
/// connector made. A request no route answers gets a 404 naming it.
#[derive(Clone, Default)]
pub struct FakeHttp(Rc<RefCell<State>>);

thread_local! {
    static INSTALLED: RefCell<Option<FakeHttp>> = const { RefCell::new(None) };
}

/// Keeps a [`FakeHttp`] installed for this thread until dropped.
pub struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.with(|slot| *slot.borrow_mut() = None);
    }
}

impl FakeHttp {
    /// A fake with no routes.
    pub fn new() -> Self {
        FakeHttp::default()
    }

    /// Answers `method url` with `handler(request)`; a later route for the same request wins.
    pub fn route(
        self,
        method: Method,
        url: &str,
        handler: impl Fn(&Request) -> Result<Response, HttpError> + 'static,
    ) -> Self {
        self.0.borrow_mut().routes.insert(0, Route { method, url: url.to_string(), handler: Box::new(handler) });
        self
    }

    /// Answers `GET url` with `status` and the JSON `body`.
    pub fn get(self, url: &str, status: u16, body: &str) -> Self {
        let response = json_response(status, body);
        self.route(Method::Get, url, move |_| Ok(response.clone()))
    }

    /// Answers `POST url` with `status` and the JSON `body`.
    pub fn post(self, url: &str, status: u16, body: &str) -> Self {
        let response = json_response(status, body);
        self.route(Method::Post, url, move |_| Ok(response.clone()))
    }

    /// Routes this thread's requests here until the returned guard is dropped.
    pub fn install(&self) -> Installed {
        INSTALLED.with(|slot| *slot.borrow_mut() = Some(self.clone()));
        Installed(())
    }

    /// Every request made so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.0.borrow().requests.clone()
    }

    fn answer(&self, request: &Request) -> Result<Response, HttpError> {
        self.0.borrow_mut().requests.push(request.clone());
        let state = self.0.borrow();
        let found = state.routes.iter().find(|r| {
            r.method == request.method
                && if r.url.contains('?') {
                    r.url == request.url
                } else {
                    request.url.split('?').next() == Some(r.url.as_str())
                }
        });
        match found {
            Some(route) => (route.handler)(request),
            None => Ok(json_response(
                404,
                &format!(r#"{{"error":"no fake route for {:?} {}"}}"#, request.method, request.url),
            )),
        }
    }
}

fn json_response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// Sends through the fake installed on this thread.
///
/// # Panics
/// When no fake is installed: a native test must say what the API answers.
pub(crate) fn send(request: &Request) -> Result<Response, HttpError> {
    let fake = INSTALLED.with(|slot| slot.borrow().clone());
    match fake {
        Some(fake) => fake.answer(request),
        None => panic!(
            "{:?} {}: no FakeHttp is installed on this thread; a native test installs one with `FakeHttp::install`",
            request.method, request.url
        ),
    }
}

/// The rows of `batch`, read back from its packed buffers: `id` and each column by name, as JSON
/// (datetimes, references and JSON text as strings; collections as arrays of ids).
pub fn rows(batch: &Batch) -> Vec<BTreeMap<String, serde_json::Value>> {
    use serde_json::Value;
    let (data, text) = (&batch.data, batch.text.as_bytes());
    let (mut at, mut text_at) = (0usize, 0usize);
    let mut varint = |at: &mut usize| {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let byte = data[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                return value;
            }
        }
    };
    let mut span = |at: &mut usize, varint: &mut dyn FnMut(&mut usize) -> u64| {
        let len = varint(at) as usize;
        let piece = String::from_utf8_lossy(&text[text_at..text_at + len]).into_owned();
        text_at += len;
        piece
    };
    let mut out = Vec::new();
    for _ in 0..batch.row_count {
        let mut row = BTreeMap::new();
        for _ in 0..batch.columns.len() {
            let column = varint(&mut at) as usize;
            let tag = data[at];
            at += 1;
            let value = match tag {
                0 => Value::Null,
                1 | 6 | 7 | 8 => Value::String(span(&mut at, &mut varint)),
                2 => {
                    let v = i64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
                    at += 8;
                    Value::from(v)
                }
                3 => {
                    let v = f64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"));
                    at += 8;
                    Value::from(v)
                }
                4 | 5 => Value::Bool(tag == 5),
                _ => {
                    let count = varint(&mut at);
                    Value::Array((0..count).map(|_| Value::String(span(&mut at, &mut varint))).collect())
                }
            };
            row.insert(batch.columns[column].clone(), value);
        }
        row.insert("id".to_string(), Value::String(span(&mut at, &mut varint)));
        out.push(row);
    }
    out
}
