//! `max:connector/http`: converts the guest's requests and hands them to the installation's
//! [`HttpCapability`](crate::http::HttpCapability); time spent here is not the guest's CPU time.

use std::time::{Duration, Instant};

use crate::http::{self as cap, HttpCapability};
use crate::runtime::bindings::v0_1::max::connector::http::{Host, HttpError, Method, Request, Response};
use crate::runtime::state::StoreState;

impl Host for StoreState {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let started = Instant::now();
        let result = self.http.send(to_host(request)).await;
        self.add_host_time(started.elapsed());
        result.map(to_guest).map_err(error_to_guest)
    }

    async fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let started = Instant::now();
        let http: &HttpCapability = &self.http;
        let results = futures::future::join_all(requests.into_iter().map(|r| http.send(to_host(r)))).await;
        self.add_host_time(started.elapsed());
        results.into_iter().map(|r| r.map(to_guest).map_err(error_to_guest)).collect()
    }
}

fn to_host(request: Request) -> cap::HttpRequest {
    cap::HttpRequest {
        method: match request.method {
            Method::Get => cap::Method::Get,
            Method::Head => cap::Method::Head,
            Method::Post => cap::Method::Post,
            Method::Put => cap::Method::Put,
            Method::Patch => cap::Method::Patch,
            Method::Delete => cap::Method::Delete,
            Method::Options => cap::Method::Options,
        },
        url: request.url,
        headers: request.headers,
        body: request.body,
        credential: request.credential,
        timeout: request.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
    }
}

fn to_guest(response: cap::HttpResponse) -> Response {
    Response { status: response.status, headers: response.headers, body: response.body }
}

fn error_to_guest(error: cap::HttpError) -> HttpError {
    match error {
        cap::HttpError::Denied(what) => HttpError::Denied(what),
        cap::HttpError::UnknownCredential(name) => HttpError::UnknownCredential(name),
        cap::HttpError::InvalidRequest(why) => HttpError::InvalidRequest(why),
        cap::HttpError::Timeout => HttpError::Timeout,
        cap::HttpError::Connection(why) => HttpError::Connection(why),
        cap::HttpError::TooLarge(cap) => HttpError::TooLarge(cap),
    }
}
