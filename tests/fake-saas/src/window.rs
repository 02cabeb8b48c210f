//! A rolling-window request limit the way HubSpot enforces its "ten-secondly rolling" one: at most `max`
//! requests arrive in any `interval`. Every answer carries `X-HubSpot-RateLimit-Max`,
//! `X-HubSpot-RateLimit-Remaining` and `X-HubSpot-RateLimit-Interval-Milliseconds` (no reset header:
//! the window rolls); a request over the limit gets HubSpot's 429 body, with `policyName`
//! `TEN_SECONDLY_ROLLING`, and no `Retry-After`. `/_fake/*` routes are never counted, nor search
//! (`…/search`), which HubSpot limits apart.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// At most `max` requests in any `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    /// Requests allowed per interval.
    pub max: u64,
    /// The window's length.
    pub interval: Duration,
}

/// The requests a rolling window has let through, and the ones it refused.
#[derive(Debug)]
pub struct RollingWindow {
    limit: WindowLimit,
    arrivals: Mutex<VecDeque<Instant>>,
    refused: AtomicU64,
}

impl RollingWindow {
    /// An empty window.
    pub fn new(limit: WindowLimit) -> Self {
        RollingWindow { limit, arrivals: Mutex::new(VecDeque::new()), refused: AtomicU64::new(0) }
    }

    /// Counts a request arriving now: what is left of the window after it, or `None` when it is over.
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        let mut arrivals = self.arrivals.lock().expect("window lock");
        while arrivals.front().is_some_and(|at| now.duration_since(*at) >= self.limit.interval) {
            arrivals.pop_front();
        }
        if arrivals.len() as u64 >= self.limit.max {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        arrivals.push_back(now);
        Some(self.limit.max - arrivals.len() as u64)
    }

    /// Requests answered 429 so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn headers(&self, response: &mut Response, remaining: u64) {
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: u64| {
            headers.insert(name, HeaderValue::from(value));
        };
        set("x-hubspot-ratelimit-max", self.limit.max);
        set("x-hubspot-ratelimit-remaining", remaining);
        set("x-hubspot-ratelimit-interval-milliseconds", self.limit.interval.as_millis() as u64);
    }
}

/// `router` behind `window`, when the fake has one.
pub fn limited(router: axum::Router, window: Option<&std::sync::Arc<RollingWindow>>) -> axum::Router {
    match window {
        Some(window) => router.layer(axum::middleware::from_fn_with_state(window.clone(), enforce)),
        None => router,
    }
}

/// Middleware: answers requests over the window 429 and adds the window's headers to the others.
async fn enforce(
    axum::extract::State(window): axum::extract::State<std::sync::Arc<RollingWindow>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // HubSpot's search endpoints have a limit of their own and don't send these headers.
    let path = request.uri().path();
    if path.starts_with("/_fake/") || path.ends_with("/search") {
        return next.run(request).await;
    }
    let Some(remaining) = window.admit() else {
        let body = serde_json::json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "8c1f2a3e-5b7d-4e09-9a61-0d2f4c6b8e13",
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": "fake-saas",
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        window.headers(&mut response, 0);
        return response;
    };
    let mut response = next.run(request).await;
    window.headers(&mut response, remaining);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_requests_arrive_in_any_interval() {
        let window = RollingWindow::new(WindowLimit { max: 3, interval: Duration::from_millis(200) });
        assert_eq!((window.admit(), window.admit(), window.admit()), (Some(2), Some(1), Some(0)));
        assert_eq!(window.admit(), None, "a fourth within the interval is refused");
        assert_eq!(window.refused(), 1);
        std::thread::sleep(Duration::from_millis(210));
        assert_eq!(window.admit(), Some(2), "the first three rolled out of the window");
    }
}
