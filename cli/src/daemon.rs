//! The project daemon: one process per project that front ends reach over a Unix socket (JSON-RPC
//! 2.0, one message a line). It is found, started and replaced through locks, never through a pid:
//! `daemon.lock` is held by the daemon for its whole life (free: no daemon, whatever files a killed
//! one left), and `start.lock` is held by whoever starts one, so two clients never start two.
//!
//! - `paths.rs`: where a project's daemon lives (`~/.max/daemons/<hash>/`) and its socket's path.
//! - `protocol.rs`: the messages, and what identifies a build.
//! - `server.rs`: the daemon itself (`max daemon run`).
//! - `scheduler.rs`: the syncs it runs on the project's schedules.
//! - `client.rs`: connecting, starting under the lock, replacing another build's daemon, stopping.
//! - `log.rs`: the daemon's log file, rotated by size.

pub mod client;
pub mod log;
pub mod paths;
pub mod protocol;
pub mod scheduler;
pub mod server;
