//! `max:connector/http`: converts the guest's requests and hands them to the installation's
//! [`HttpCapability`](crate::http::HttpCapability); time spent here is not the guest's CPU time.

use std::time::{Duration, Instant};

use crate::http::{self as cap, HttpCapability};
use crate::runtime::bindings::v0_1::max::connector::http::{Host, HttpError, Method, Request, Response};
use crate::runtime::state::StoreState;

impl Host for StoreState {
    async fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let started = Instant::now();
        let request = to_host(request);
        let line = request_line(&request);
        let result = self.http.send(request).await;
        self.add_host_time(started.elapsed());
        self.requests.note(|| outcome_line(line, &result));
        result.map(to_guest).map_err(error_to_guest)
    }

    async fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let started = Instant::now();
        let requests: Vec<cap::HttpRequest> = requests.into_iter().map(to_host).collect();
        let lines: Vec<String> = requests.iter().map(request_line).collect();
        let http: &HttpCapability = &self.http;
        let results = futures::future::join_all(requests.into_iter().map(|r| http.send(r))).await;
        self.add_host_time(started.elapsed());
        for (line, result) in lines.into_iter().zip(&results) {
            self.requests.note(|| outcome_line(line, result));
        }
        results.into_iter().map(|r| r.map(to_guest).map_err(error_to_guest)).collect()
    }
}

/// `GET https://…` (the URL as the connector wrote it: secrets are attached later, never in it).
fn request_line(request: &cap::HttpRequest) -> String {
    let url: String = request.url.chars().take(300).collect();
    format!("{} {}", reqwest::Method::from(request.method), crate::text::one_line(&url))
}

/// The request line with what came of it: `→ 200` or `→ denied: …`.
fn outcome_line(line: String, result: &Result<cap::HttpResponse, cap::HttpError>) -> String {
    match result {
        Ok(response) => format!("{line} → {}", response.status),
        Err(error) => format!("{line} → {error}"),
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
