//! Fake SaaS servers on loopback that imitate real APIs' wire formats (field names, pagination,
//! auth errors, rate-limit responses), deterministic from a seed. Used by the tests, `cargo xtask demo`
//! and the benchmarks; runnable alone as `fake-saas <api> --listen 127.0.0.1:0`.

pub mod acme;
mod faults;
pub mod gdrive;
pub mod github;
pub mod hubspot;
pub mod linear;
pub mod oauth;
mod rng;
mod server;
pub mod window;

pub use faults::Faults;
pub use rng::Rng;
pub use server::RunningServer;

/// Epoch milliseconds as the APIs write instants: ISO 8601 in UTC with milliseconds
/// (`2024-05-02T10:11:12.345Z`).
pub fn format_ms(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
