//! Fault injection shared by every fake: latency, throttling (429 + `Retry-After`), server errors, and
//! damaged bodies (a connection dropped right after the headers, or a body cut off halfway). Each
//! kind is drawn on its own; `/_fake/*` routes are never damaged.

use std::sync::Mutex;
use std::time::Duration;

use crate::Rng;

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every response.
    pub latency: Duration,
    /// Share of requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// Share of requests answered 500 or 503.
    pub error_rate: f64,
    /// Share of responses whose connection drops right after the headers.
    pub drop_rate: f64,
    /// Share of responses cut off halfway through the body (the full length announced).
    pub truncate_rate: f64,
    /// A rolling-window request limit, HubSpot's way (see `window`), where the fake supports one.
    pub window: Option<crate::window::WindowLimit>,
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// Answer 429.
    Throttle,
    /// Answer this 5xx status.
    ServerError(u16),
}

/// What happens to one response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// Sent whole.
    None,
    /// The connection drops after the headers.
    Drop,
    /// Half the body, then the connection drops.
    Truncate,
}

/// Draws faults from a seeded generator, so a run is reproducible.
#[derive(Debug)]
pub struct FaultDice {
    faults: Faults,
    rng: Mutex<Rng>,
}

impl FaultDice {
    /// Dice for `faults`, seeded.
    pub fn new(faults: Faults, seed: u64) -> Self {
        FaultDice { faults, rng: Mutex::new(Rng::new(seed.wrapping_add(7))) }
    }

    /// Waits the latency every response gets.
    pub async fn delay(&self) {
        if !self.faults.latency.is_zero() {
            tokio::time::sleep(self.faults.latency).await;
        }
    }

    /// Rolls for one response body.
    pub fn roll_body(&self) -> BodyFault {
        if self.faults.drop_rate <= 0.0 && self.faults.truncate_rate <= 0.0 {
            return BodyFault::None;
        }
        let draw = self.rng.lock().expect("fault dice lock").unit();
        if draw < self.faults.drop_rate {
            BodyFault::Drop
        } else if draw < self.faults.drop_rate + self.faults.truncate_rate {
            BodyFault::Truncate
        } else {
            BodyFault::None
        }
    }

    /// Rolls for one request.
    pub fn roll(&self) -> Fault {
        if self.faults.throttle_rate <= 0.0 && self.faults.error_rate <= 0.0 {
            return Fault::None;
        }
        let mut rng = self.rng.lock().expect("fault dice lock");
        let draw = rng.unit();
        if draw < self.faults.throttle_rate {
            Fault::Throttle
        } else if draw < self.faults.throttle_rate + self.faults.error_rate {
            Fault::ServerError(if rng.below(2) == 0 { 500 } else { 503 })
        } else {
            Fault::None
        }
    }
}

/// Middleware: damages response bodies as the dice say (see [`Faults::drop_rate`] and
/// [`Faults::truncate_rate`]).
pub async fn damage_bodies(
    axum::extract::State(dice): axum::extract::State<std::sync::Arc<FaultDice>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::body::{Body, Bytes};
    if request.uri().path().starts_with("/_fake/") {
        return next.run(request).await;
    }
    let fault = dice.roll_body();
    let response = next.run(request).await;
    let broken = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault injected by fake-saas");
    match fault {
        BodyFault::None => response,
        BodyFault::Drop => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            let stream = futures::stream::iter([Err::<Bytes, _>(broken())]);
            axum::response::Response::from_parts(parts, Body::from_stream(stream))
        }
        BodyFault::Truncate => {
            let (parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return axum::response::Response::from_parts(parts, Body::empty());
            };
            let half = bytes.slice(..bytes.len() / 2);
            let stream = futures::stream::iter([Ok(half), Err(broken())]);
            axum::response::Response::from_parts(parts, Body::from_stream(stream))
        }
    }
}
