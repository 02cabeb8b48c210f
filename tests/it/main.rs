//! Max's integration tests, one binary: real components built by `cargo xtask build`, loopback fakes,
//! and the real `max` binary.

mod acme;
mod cache;
mod cli;
mod contract;
mod front_door;
mod fulltext;
mod gdrive;
mod gdrive_fake;
mod github;
mod github_fake;
mod http;
mod hubspot;
mod hubspot_fake;
mod inventory;
mod kit;
mod languages;
mod linear;
mod linear_fake;
mod marketplace;
mod mcp;
mod onboarding;
mod packed;
mod pipeline;
mod resume;
mod rogue;
mod sandbox;
mod sandbox_languages;
mod scaffold;
mod search;
mod snapshots;
mod sql;
mod storage;
mod sync;
mod tidy;
mod ttl;
