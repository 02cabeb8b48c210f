//! The daemon (`max daemon run`): holds `daemon.lock` for its life, serves JSON-RPC lines on the
//! project's socket, runs the project's schedules, and exits when stopped (`stop`, SIGTERM, SIGINT)
//! or when it has been idle (no client connected, nothing scheduled) for its idle time. It removes its socket and record as it goes; a killed
//! one leaves them, and the next start finds its lock free and clears them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::paths::DaemonDir;
use super::protocol::{self, Identity, Request, Response};
use super::scheduler::Scheduler;

/// What every connection's handler shares.
struct State {
    identity: Identity,
    scheduler: Arc<Scheduler>,
    started: Instant,
    /// Clients connected now.
    clients: AtomicUsize,
    /// Requests answered since the start.
    served: AtomicU64,
    /// When the last client left (or the daemon started).
    idle_since: Mutex<Instant>,
    stop: Notify,
}

/// Runs the daemon of the project at `root` until it is stopped or idle for `idle`.
pub async fn run(root: PathBuf, idle: Duration) -> anyhow::Result<()> {
    let dirs = DaemonDir::of(&root);
    dirs.create().with_context(|| format!("the daemon folder {}", dirs.dir().display()))?;
    let lock = std::fs::File::options().create(true).truncate(false).write(true).open(dirs.lock())?;
    // A client asking whether a daemon lives holds the lock for an instant: try for a second.
    let mut attempts = 0;
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if attempts < 20 => attempts += 1,
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!("a daemon already serves {}", root.display()),
            Err(std::fs::TryLockError::Error(error)) => return Err(error.into()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No daemon holds the lock but this one: a socket left there is a dead daemon's.
    let socket = dirs.socket();
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).with_context(|| format!("the socket {}", socket.display()))?;
    let identity = Identity {
        pid: std::process::id(),
        project: root.display().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        build: protocol::build_id(),
        started: chrono_now(),
    };
    std::fs::write(dirs.record(), serde_json::to_vec_pretty(&identity)?)?;
    tracing::info!(pid = identity.pid, project = %identity.project, build = %identity.build, idle_s = idle.as_secs(), "daemon started");
    let host = Arc::new(max_host::Host::open(&root)?);
    let scheduler = Scheduler::new(host);
    tokio::spawn(scheduler.clone().run());
    let state = Arc::new(State {
        identity,
        scheduler,
        started: Instant::now(),
        clients: AtomicUsize::new(0),
        served: AtomicU64::new(0),
        idle_since: Mutex::new(Instant::now()),
        stop: Notify::new(),
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let check = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let why = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.clients.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(stream, state.clone()));
                }
                Err(error) => tracing::warn!(%error, "accepting a client failed"),
            },
            () = state.stop.notified() => break "asked to stop",
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
            () = tokio::time::sleep(check) => {
                let quiet = state.idle_since.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
                if state.clients.load(Ordering::SeqCst) == 0 && quiet >= idle && state.scheduler.is_empty() {
                    break "idle";
                }
                if !root.join(".max").is_dir() {
                    break "its project was removed";
                }
            }
        }
    };
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(dirs.record());
    tracing::info!(reason = why, served = state.served.load(Ordering::SeqCst), "daemon stopped");
    drop(lock);
    Ok(())
}

/// Answers one client's requests until it goes.
async fn serve(stream: UnixStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(protocol::MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line).await;
        let response = match read {
            Ok(0) | Err(_) => break,
            Ok(_) if line.len() > protocol::MAX_LINE_BYTES => {
                let response = Response::failed(None, protocol::PARSE_ERROR, "the request is too long");
                let _ = send(&mut write, &response).await;
                break;
            }
            Ok(_) => match serde_json::from_slice::<Request>(&line) {
                Ok(request) => answer(&request, &state),
                Err(error) => Response::failed(None, protocol::PARSE_ERROR, format!("not a JSON-RPC request: {error}")),
            },
        };
        state.served.fetch_add(1, Ordering::SeqCst);
        if send(&mut write, &response).await.is_err() {
            break;
        }
    }
    if state.clients.fetch_sub(1, Ordering::SeqCst) == 1 {
        *state.idle_since.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// The response to one request.
fn answer(request: &Request, state: &State) -> Response {
    match request.method.as_str() {
        "hello" => Response::ok(request.id, json!(state.identity)),
        "status" => Response::ok(
            request.id,
            json!({
                "identity": state.identity,
                "uptime_s": state.started.elapsed().as_secs(),
                "clients": state.clients.load(Ordering::SeqCst),
                "served": state.served.load(Ordering::SeqCst),
                "schedules": state.scheduler.snapshot(),
            }),
        ),
        "schedules" => Response::ok(request.id, json!(state.scheduler.snapshot())),
        "reload_schedules" => {
            state.scheduler.reload_now();
            Response::ok(request.id, json!(state.scheduler.snapshot()))
        }
        "stop" => {
            state.stop.notify_one();
            Response::ok(request.id, Value::Bool(true))
        }
        other => Response::failed(Some(request.id), protocol::NO_SUCH_METHOD, format!("no method `{other}`")),
    }
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, response: &Response) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(response)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
