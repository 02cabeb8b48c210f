//! Fake SaaS servers on loopback that imitate real APIs' wire formats (field names, pagination,
//! auth errors, rate-limit responses), deterministic from a seed. Used by the tests, `cargo xtask demo`
//! and the benchmarks; runnable alone as `fake-saas <api> --listen 127.0.0.1:0`.

pub mod acme;
mod faults;
pub mod hubspot;
pub mod linear;
pub mod oauth;
mod rng;
mod server;
pub mod window;

pub use faults::Faults;
pub use rng::Rng;
pub use server::RunningServer;
