//! The daemon (`max daemon run`): holds `daemon.lock` for its life, serves JSON-RPC lines on the
//! project's socket, runs the project's schedules, and exits when stopped (`stop`, SIGTERM, SIGINT)
//! or when it has been idle (no client connected, nothing scheduled) for its idle time. It removes its socket and record as it goes; a killed
//! one leaves them, and the next start finds its lock free and clears them.

use std::ops::ControlFlow;
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
    host: Arc<max_host::Host>,
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
    let host = Arc::new(max_host::Host::open(&root)?.keep_warm());
    let scheduler = Scheduler::new(host.clone());
    tokio::spawn(scheduler.clone().run());
    let state = Arc::new(State {
        identity,
        host,
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
                state.host.cool();
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
                Ok(request) if request.method == "sync" => {
                    state.served.fetch_add(1, Ordering::SeqCst);
                    match sync_for(&request, &mut reader, &mut write, &state).await {
                        Ok(true) => continue,
                        Ok(false) | Err(_) => break,
                    }
                }
                Ok(request) if request.method == "search" => {
                    state.served.fetch_add(1, Ordering::SeqCst);
                    match search_for(&request, &mut write, &state).await {
                        Ok(()) => continue,
                        Err(_) => break,
                    }
                }
                Ok(request) if request.method == "status" => status_for(&request, &state).await,
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
        "daemon_status" => Response::ok(
            request.id,
            json!({
                "identity": state.identity,
                "uptime_s": state.started.elapsed().as_secs(),
                "clients": state.clients.load(Ordering::SeqCst),
                "served": state.served.load(Ordering::SeqCst),
                "schedules": state.scheduler.snapshot(),
                "warm": state.host.warm_stats(),
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

/// Runs the sync `request` asks for, sending its events to the client as notifications and its
/// report (or failure) as the response. A `cancel` from the client, or the client going away, stops
/// it as Ctrl-C does: no new task starts, tasks in flight finish, the sync stays resumable. Returns
/// whether the client is still there.
async fn sync_for(
    request: &Request,
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
    state: &State,
) -> std::io::Result<bool> {
    let params: protocol::SyncParams = match serde_json::from_value(request.params.clone()) {
        Ok(params) => params,
        Err(error) => {
            let response = Response::failed(Some(request.id), protocol::INVALID_PARAMS, error.to_string());
            return send(write, &response).await.map(|()| true);
        }
    };
    tracing::info!(installation = %params.installation, "sync for a client");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let sync_request = max_host::SyncRequest {
        full: params.full,
        workers: params.workers,
        start: params.start,
        max_attempts: params.max_attempts,
        max_age: Duration::from_secs(params.max_age_s),
        stop: stop.clone(),
    };
    let host = state.host.clone();
    let mut task = tokio::spawn(async move {
        let installation = host.installation(&params.installation)?;
        host.sync(&installation, &sync_request, &Forward(events)).await
    });
    let mut line = Vec::new();
    let mut present = true;
    loop {
        tokio::select! {
            Some(event) = received.recv() => {
                if present && notify(write, event).await.is_err() {
                    present = false;
                    stop.store(true, Ordering::SeqCst);
                }
            }
            read = reader.read_until(b'\n', &mut line), if present => {
                let cancel = matches!(&read, Ok(n) if *n > 0)
                    && serde_json::from_slice::<Request>(&line).is_ok_and(|r| r.method == "cancel");
                if cancel {
                    tracing::info!("the client cancelled its sync");
                } else if !matches!(&read, Ok(n) if *n > 0) || line.len() > protocol::MAX_LINE_BYTES {
                    tracing::info!("the client of a sync went away; stopping it");
                    present = false;
                }
                if cancel || !present {
                    stop.store(true, Ordering::SeqCst);
                }
                if line.ends_with(b"\n") {
                    line.clear();
                }
            }
            result = &mut task => {
                while let Ok(event) = received.try_recv() {
                    if present {
                        let _ = notify(write, event).await;
                    }
                }
                let response = match result {
                    Ok(Ok(report)) => Response::ok(request.id, json!(report)),
                    Ok(Err(error)) => failure(request.id, &error),
                    Err(error) => Response::failed(Some(request.id), protocol::MAX_FAILED, format!("the sync crashed: {error}")),
                };
                if present {
                    send(write, &response).await?;
                }
                return Ok(present);
            }
        }
    }
}

/// Runs the search `request` asks for on a blocking thread, sending the entity and columns, then
/// the rows in batches as they are read, as notifications, and the next page's cursor (or the
/// failure) as the response. A client that goes away ends the search at its next batch.
async fn search_for(
    request: &Request,
    write: &mut tokio::net::unix::OwnedWriteHalf,
    state: &State,
) -> std::io::Result<()> {
    let params: protocol::SearchParams = match serde_json::from_value(request.params.clone()) {
        Ok(params) => params,
        Err(error) => {
            return send(write, &Response::failed(Some(request.id), protocol::INVALID_PARAMS, error.to_string())).await;
        }
    };
    let (batches, mut received) = tokio::sync::mpsc::channel::<Value>(8);
    let host = state.host.clone();
    let task = tokio::task::spawn_blocking(move || {
        let installation = host.installation(&params.installation)?;
        let mut rows = Vec::with_capacity(protocol::SEARCH_BATCH);
        let next = host.search_each(
            &installation,
            &params.request,
            &mut |entity, columns| {
                let _ = batches.blocking_send(json!({ "entity": entity, "columns": columns }));
            },
            &mut |row| {
                rows.push(row);
                if rows.len() < protocol::SEARCH_BATCH {
                    return ControlFlow::Continue(());
                }
                let full = std::mem::replace(&mut rows, Vec::with_capacity(protocol::SEARCH_BATCH));
                match batches.blocking_send(json!({ "rows": full })) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            },
        )?;
        if !rows.is_empty() {
            let _ = batches.blocking_send(json!({ "rows": rows }));
        }
        Ok::<_, max_host::Error>(next)
    });
    while let Some(batch) = received.recv().await {
        send(write, &json!({ "jsonrpc": "2.0", "method": protocol::SEARCH_ROWS, "params": batch })).await?;
    }
    let response = match task.await {
        Ok(Ok(next)) => Response::ok(request.id, json!({ "next": next })),
        Ok(Err(error)) => failure(request.id, &error),
        Err(error) => Response::failed(Some(request.id), protocol::MAX_FAILED, format!("the search crashed: {error}")),
    };
    send(write, &response).await
}

/// The status of the installations `request` names (all when none), each its own or the error
/// that keeps it from being read, and the installations that can't be listed.
async fn status_for(request: &Request, state: &State) -> Response {
    let params: protocol::StatusParams = match serde_json::from_value(request.params.clone()) {
        Ok(params) => params,
        Err(error) => return Response::failed(Some(request.id), protocol::INVALID_PARAMS, error.to_string()),
    };
    let host = state.host.clone();
    let answered = tokio::task::spawn_blocking(move || {
        let (installations, damaged) = match &params.target {
            Some(target) => (vec![host.installation(target)?], Vec::new()),
            None => {
                let store = host.project().installations();
                let damaged: Vec<Value> = store
                    .damaged()
                    .into_iter()
                    .map(|(label, error)| json!({ "installation": label, "message": error.to_string() }))
                    .collect();
                (store.list()?, damaged)
            }
        };
        let statuses: Vec<Value> = installations
            .iter()
            .map(|installation| match host.status(installation, params.last) {
                Ok(status) => json!({ "installation": installation.label(), "status": status }),
                Err(error) => {
                    json!({ "installation": installation.label(), "error": crate::output::host_error_json(&error) })
                }
            })
            .collect();
        Ok::<_, max_host::Error>(json!({ "installations": statuses, "damaged": damaged }))
    })
    .await;
    match answered {
        Ok(Ok(result)) => Response::ok(request.id, result),
        Ok(Err(error)) => failure(request.id, &error),
        Err(error) => Response::failed(Some(request.id), protocol::MAX_FAILED, format!("the status crashed: {error}")),
    }
}

/// A host error as a JSON-RPC error carrying Max's `{code, message, hint}`.
fn failure(id: u64, error: &max_host::Error) -> Response {
    let mut response = Response::failed(Some(id), protocol::MAX_FAILED, error.to_string());
    if let Some(rpc) = response.error.as_mut() {
        rpc.data = Some(crate::output::host_error_json(error));
    }
    response
}

/// A sync's events, passed on to the client that asked for it.
struct Forward(tokio::sync::mpsc::UnboundedSender<Value>);

impl max_host::SyncObserver for Forward {
    fn stored(&self, entity: &str, rows: u64) {
        let _ = self.0.send(json!({ "event": "stored", "entity": entity, "rows": rows }));
    }
    fn progress(&self, done: u64, total: u64) {
        let _ = self.0.send(json!({ "event": "progress", "done": done, "total": total }));
    }
    fn retrying(&self, task: &str, error: &str, delay: Duration) {
        let delay_ms = delay.as_millis() as u64;
        let _ = self.0.send(json!({ "event": "retrying", "task": task, "error": error, "delay_ms": delay_ms }));
    }
    fn started(&self, sync: max_host::task::SyncId, continuation: max_host::Continuation) {
        let _ = self.0.send(json!({ "event": "started", "sync": sync, "continuation": continuation }));
    }
    fn credentials_exposed(&self, path: &std::path::Path, mode: u32) {
        let _ = self.0.send(json!({ "event": "credentials_exposed", "path": path, "mode": mode }));
    }
}

/// Sends one sync event as a notification.
async fn notify(write: &mut tokio::net::unix::OwnedWriteHalf, event: Value) -> std::io::Result<()> {
    send(write, &json!({ "jsonrpc": "2.0", "method": protocol::SYNC_EVENT, "params": event })).await
}

/// Writes one message, a line of JSON.
async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, message: &impl serde::Serialize) -> std::io::Result<()> {
    write.write_all(&protocol::line(message)?).await
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
