//! Reaching a project's daemon: connecting and greeting it, starting one under `start.lock` (so two
//! clients starting at once start one), replacing a daemon of another build, and stopping one.
//! Whether a daemon lives is asked of its lock, never of a pid.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::paths::DaemonDir;
use super::protocol::{self, Identity, Request, Response};

/// How long a client waits for a daemon it started to answer, or for one it stopped to go.
const WAIT: Duration = Duration::from_secs(20);
/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to a daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the daemon of `dirs`, if one answers on its socket.
    pub fn connect(dirs: &DaemonDir) -> std::io::Result<Client> {
        let stream = UnixStream::connect(dirs.socket())?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        stream.set_write_timeout(Some(CALL_TIMEOUT))?;
        Ok(Client { reader: BufReader::new(stream.try_clone()?), writer: stream, next_id: 1 })
    }

    /// Sends the request `method` with `params` under `id`.
    fn send(&mut self, id: u64, method: &str, params: Value) -> anyhow::Result<()> {
        let bytes = protocol::line(&Request::new(id, method, params))?;
        self.writer.write_all(&bytes).context("the daemon went away")
    }

    /// The next request's id.
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// Calls `method` and returns its result (a daemon's error as an error).
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next();
        self.send(id, method, params)?;
        let mut line = Vec::new();
        (&mut self.reader).take(protocol::MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
        if line.is_empty() {
            anyhow::bail!("the daemon closed the connection");
        }
        let response: Response = serde_json::from_slice(&line).context("the daemon's answer doesn't parse")?;
        match (response.result, response.error) {
            (_, Some(error)) => anyhow::bail!("the daemon refused `{method}`: {}", error.message),
            (Some(result), None) => Ok(result),
            (None, None) => Ok(Value::Null),
        }
    }

    /// Has the daemon sync `params.installation`, passing its events to `observer` as they come;
    /// when `stop` is set (Ctrl-C), asks the daemon to stop the sync as Ctrl-C would. Returns the
    /// sync's report, or the host's failure with its code and hint.
    pub fn sync(
        &mut self,
        params: &protocol::SyncParams,
        observer: &dyn max_host::SyncObserver,
        stop: &std::sync::atomic::AtomicBool,
    ) -> anyhow::Result<max_host::SyncReport> {
        let id = self.next();
        self.send(id, "sync", serde_json::to_value(params)?)?;
        // Look at the stop flag between lines; a sync may be quiet for long.
        self.reader.get_ref().set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut cancelled = false;
        let mut line = Vec::new();
        let outcome = loop {
            if stop.load(std::sync::atomic::Ordering::Relaxed) && !cancelled {
                self.send(id, "cancel", Value::Null)?;
                cancelled = true;
            }
            match (&mut self.reader).take(protocol::MAX_LINE_BYTES as u64).read_until(b'\n', &mut line) {
                Ok(0) => {
                    break Err(anyhow::anyhow!(
                        "the daemon closed the connection during the sync; see `max daemon logs`"
                    ));
                }
                Ok(_) if !line.ends_with(b"\n") => continue,
                Ok(_) => {
                    let message: Value = serde_json::from_slice(&line).context("the daemon's message doesn't parse")?;
                    line.clear();
                    if message["method"] == protocol::SYNC_EVENT {
                        replay(&message["params"], observer);
                        continue;
                    }
                    break match answer(serde_json::from_value(message)?) {
                        Ok(Value::Null) => Err(anyhow::anyhow!("the daemon answered the sync with nothing")),
                        Ok(result) => Ok(serde_json::from_value(result)?),
                        Err(error) => Err(error),
                    };
                }
                // Quiet for a moment: look at the stop flag again.
                Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                }
                Err(error) => break Err(error.into()),
            }
        };
        self.reader.get_ref().set_read_timeout(Some(CALL_TIMEOUT))?;
        outcome
    }

    /// Has the daemon run the search `params` asks for: `start` gets the entity and the columns, then
    /// `visit` each row as its batch arrives, until it breaks (then the connection is left, which
    /// ends the search in the daemon). Returns the next page's cursor, or the host's failure with its
    /// code and hint.
    pub fn search(
        &mut self,
        params: &protocol::SearchParams,
        start: &mut dyn FnMut(&str, &[String]),
        visit: &mut dyn FnMut(Vec<Value>) -> std::ops::ControlFlow<()>,
    ) -> anyhow::Result<Option<String>> {
        let id = self.next();
        self.send(id, "search", serde_json::to_value(params)?)?;
        // A search may think for long before its first row (an ordering no index serves).
        self.reader.get_ref().set_read_timeout(None)?;
        let mut line = Vec::new();
        loop {
            line.clear();
            (&mut self.reader).take(protocol::MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
            if line.is_empty() {
                anyhow::bail!("the daemon closed the connection during the search; see `max daemon logs`");
            }
            let mut message: Value = serde_json::from_slice(&line).context("the daemon's message doesn't parse")?;
            if message["method"] != protocol::SEARCH_ROWS {
                self.reader.get_ref().set_read_timeout(Some(CALL_TIMEOUT))?;
                return match answer(serde_json::from_value(message)?)? {
                    Value::Null => Ok(None),
                    result => Ok(result["next"].as_str().map(str::to_string)),
                };
            }
            let batch = message["params"].take();
            if let Some(entity) = batch["entity"].as_str() {
                let columns: Vec<String> = serde_json::from_value(batch["columns"].clone())?;
                start(entity, &columns);
            }
            let Value::Array(rows) = batch["rows"].clone() else { continue };
            for row in rows {
                let Value::Array(row) = row else { anyhow::bail!("the daemon sent a row that isn't a list") };
                if visit(row).is_break() {
                    return Ok(None);
                }
            }
        }
    }

    /// The status of `params.target` (all installations when none), as the daemon reads it.
    pub fn status(&mut self, params: &protocol::StatusParams) -> anyhow::Result<Value> {
        let id = self.next();
        self.send(id, "status", serde_json::to_value(params)?)?;
        let mut line = Vec::new();
        (&mut self.reader).take(protocol::MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
        if line.is_empty() {
            anyhow::bail!("the daemon closed the connection");
        }
        answer(serde_json::from_slice(&line).context("the daemon's answer doesn't parse")?)
    }

    /// Greets the daemon: who it is.
    pub fn hello(&mut self) -> anyhow::Result<Identity> {
        Ok(serde_json::from_value(self.call("hello", json!({ "build": protocol::build_id() }))?)?)
    }
}

/// Passes one sync event from the daemon to `observer`.
fn replay(event: &Value, observer: &dyn max_host::SyncObserver) {
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    let number = |key: &str| event[key].as_u64().unwrap_or_default();
    match event["event"].as_str() {
        Some("stored") => observer.stored(&text("entity"), number("rows")),
        Some("progress") => observer.progress(number("done"), number("total")),
        Some("retrying") => observer.retrying(&text("task"), &text("error"), Duration::from_millis(number("delay_ms"))),
        Some("started") => {
            if let Ok(continuation) = serde_json::from_value(event["continuation"].clone()) {
                observer.started(event["sync"].as_i64().unwrap_or_default(), continuation);
            }
        }
        Some("credentials_exposed") => {
            observer.credentials_exposed(Path::new(&text("path")), number("mode") as u32);
        }
        _ => {}
    }
}

/// A response's result, or its failure as the CLI shows its own.
fn answer(response: Response) -> anyhow::Result<Value> {
    match (response.result, response.error) {
        (_, Some(error)) => Err(remote_failure(error)),
        (Some(result), None) => Ok(result),
        (None, None) => Ok(Value::Null),
    }
}

/// A failure the daemon reports: Max's code, message and hint as the CLI shows its own.
fn remote_failure(error: protocol::RpcError) -> anyhow::Error {
    let data = error.data.unwrap_or_default();
    let code = data["code"].as_str().unwrap_or("daemon_error").to_string();
    let message = data["message"].as_str().map_or(error.message, str::to_string);
    let hint = data["hint"].as_str().map(str::to_string);
    crate::failure::Failure { message, hint, code: code.into() }.into()
}

/// How [`ensure_running`] found the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// It was running this build already.
    Running,
    /// None ran (or a killed one's files were left): one was started.
    Started,
    /// One of another build ran: it was stopped and this build's started.
    Replaced,
}

/// The daemon a command should do its work through: the project's, when one runs this build,
/// unless `--no-daemon` or `CI` says to work in this process.
pub fn serving(root: &Path, no_daemon: bool) -> Option<(Client, Identity)> {
    if no_daemon || std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    running(root).filter(|(_, identity)| identity.build == protocol::build_id())
}

/// The running daemon of the project at `root`, if one answers.
pub fn running(root: &Path) -> Option<(Client, Identity)> {
    let mut client = Client::connect(&DaemonDir::of(root)).ok()?;
    let identity = client.hello().ok()?;
    Some((client, identity))
}

/// The daemon of the project at `root`, running this build: the one there, or one started (with
/// `idle` as its idle time) under `start.lock`, replacing a daemon of another build.
pub fn ensure_running(root: &Path, idle: Duration) -> anyhow::Result<(Client, Identity, Found)> {
    let dirs = DaemonDir::of(root);
    dirs.create().with_context(|| format!("the daemon folder {}", dirs.dir().display()))?;
    let start_lock = std::fs::File::options().create(true).truncate(false).write(true).open(dirs.start_lock())?;
    start_lock.lock().context("waiting for another client starting the daemon")?;
    let mut how = Found::Started;
    if let Some((mut client, identity)) = running(root) {
        if identity.build == protocol::build_id() {
            return Ok((client, identity, Found::Running));
        }
        tracing::info!(old = %identity.build, new = %protocol::build_id(), "replacing the daemon of another build");
        let _ = client.call("stop", Value::Null);
        wait_until_gone(&dirs, &identity)?;
        how = Found::Replaced;
    } else if lock_held(&dirs)? {
        // Alive (it holds its lock) but not answering yet: starting, or busy. Give it the time a
        // start gets.
        if let Some((client, identity)) = wait_for_answer(root) {
            return Ok((client, identity, Found::Running));
        }
        anyhow::bail!(
            "the daemon of {} holds its lock but doesn't answer; see `max daemon logs`, or stop it with `max daemon stop`",
            root.display()
        );
    }
    spawn(root, &dirs, idle)?;
    let (client, identity) = wait_for_answer(root).ok_or_else(|| {
        anyhow::anyhow!("the daemon didn't answer within {} s; see `max daemon logs`", WAIT.as_secs())
    })?;
    drop(start_lock);
    Ok((client, identity, how))
}

/// Stops the daemon of the project at `root` and waits until it has gone; none when none ran.
pub fn stop(root: &Path) -> anyhow::Result<Option<Identity>> {
    let dirs = DaemonDir::of(root);
    let Some((mut client, identity)) = running(root) else { return Ok(None) };
    client.call("stop", Value::Null)?;
    wait_until_gone(&dirs, &identity)?;
    Ok(Some(identity))
}

/// Whether a live daemon holds the lock of `dirs`.
pub fn lock_held(dirs: &DaemonDir) -> std::io::Result<bool> {
    let Ok(file) = std::fs::File::options().write(true).open(dirs.lock()) else { return Ok(false) };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Starts `max daemon run` for `root`, detached from this terminal (its own process group, so a
/// Ctrl-C here doesn't reach it), its output appended to the log.
fn spawn(root: &Path, dirs: &DaemonDir, idle: Duration) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let log = std::fs::File::options().create(true).append(true).open(dirs.log())?;
    std::process::Command::new(exe)
        .arg("-C")
        .arg(root)
        .args(["daemon", "run", "--idle", &format!("{}s", idle.as_secs().max(1))])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting the daemon")?;
    Ok(())
}

/// Waits (at most [`WAIT`]) until the daemon of `root` answers.
fn wait_for_answer(root: &Path) -> Option<(Client, Identity)> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(found) = running(root) {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Waits (at most [`WAIT`]) until the daemon `identity` has released its lock.
fn wait_until_gone(dirs: &DaemonDir, identity: &Identity) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if !lock_held(dirs)? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("the daemon (pid {}) didn't stop within {} s", identity.pid, WAIT.as_secs())
}
