//! Reaching PostgreSQL from the synchronous storage traits: one pool per database URL for the whole
//! process (deadpool over tokio-postgres), connections driven by a small runtime of their own, and
//! each call's future polled to its end on the calling thread (the storage is called on blocking
//! threads, like SQLite's). tokio-postgres's client futures talk to their connection task through
//! channels, so they need no runtime of their own; only taking a connection from the pool does, and
//! that runs on the pool's runtime.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::tls::{Target, target};
use crate::{Error, Result};

/// Connections a pool holds at most.
const POOL_SIZE: usize = 32;
/// How long taking a connection may wait (the server's answer to connecting included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The runtime the connections' tasks run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("max-postgres")
            .enable_all()
            .build()
            .expect("the PostgreSQL runtime starts")
    })
}

/// Runs `future` (a client call) to its end on this thread.
pub(super) fn wait<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// Runs `future` on the pool's runtime and waits for it here (for what needs a runtime: connecting).
fn on_runtime<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().expect("the PostgreSQL runtime answers")
}

/// A database URL without its password, for messages.
pub(crate) fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            parsed.to_string()
        }
        Err(_) => "the PostgreSQL database".to_string(),
    }
}

/// What is wrong with `url` as a PostgreSQL URL, if anything.
pub(crate) fn url_problem(url: &str) -> Option<String> {
    match target(url) {
        Err(problem) => Some(problem),
        Ok(Target { config, .. }) if config.get_dbname().is_none() => {
            Some("it names no database (postgres://user@host:port/DATABASE)".to_string())
        }
        Ok(_) => None,
    }
}

/// `url` made ready to connect to as Max (named so in the server's views, with a time limit unless
/// the URL sets one, with the password libpq would find when it has none), or an error about it.
fn target_of(url: &str) -> Result<Target> {
    let mut target = target(url)
        .map_err(|problem| Error::Storage { path: shown(url), message: format!("not a PostgreSQL URL: {problem}") })?;
    if target.config.get_password().is_none()
        && let Some(password) = super::passfile::password(&target.config)
    {
        target.config.password(password);
    }
    if target.config.get_connect_timeout().is_none() {
        target.config.connect_timeout(CONNECT_TIMEOUT);
    }
    target.config.application_name("max");
    Ok(target)
}

/// Checks that the database at `url` answers.
pub(crate) fn check(url: &str) -> Result<()> {
    let client = connect(url)?;
    wait(client.simple_query("SELECT 1")).map_err(failed(&shown(url)))?;
    Ok(())
}

/// The pool of `url`'s database, made on first use.
fn pool(url: &str) -> Result<Pool> {
    static POOLS: OnceLock<Mutex<HashMap<String, Pool>>> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pool) = pools.get(url) {
        return Ok(pool.clone());
    }
    let Target { config, tls } = target_of(url)?;
    let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| Error::Storage { path: shown(url), message: e.to_string() })?;
    pools.insert(url.to_string(), pool.clone());
    Ok(pool)
}

/// Taken, until its transaction ends, by whoever creates the tables of the `"_max"` schema, so that
/// two processes never create them at once (`CREATE … IF NOT EXISTS` can fail when they do). A
/// transaction's lock is released even when a statement fails: a session's would stay with the
/// pooled connection.
pub(super) const MAX_SCHEMA_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('max:_max'))";

/// A connection to `url`'s database, from its pool.
pub(crate) fn connect(url: &str) -> Result<deadpool_postgres::Object> {
    let pool = pool(url)?;
    on_runtime(async move { pool.get().await })
        .map_err(|error| Error::DatabaseUnreachable { url: shown(url), reason: innermost(&error) })
}

/// A connection listening for `NOTIFY max_tasks` (new tasks to run): the schemas named, as they
/// come. A wake-up hint only: a worker polls as well (a pooler in transaction mode drops
/// notifications).
pub struct Listener {
    notified: tokio::sync::mpsc::UnboundedReceiver<String>,
    _client: tokio_postgres::Client,
}

impl Listener {
    /// Waits at most `timeout` for a notification; the schema it names, if one came.
    pub async fn next(&mut self, timeout: Duration) -> Option<String> {
        match tokio::time::timeout(timeout, self.notified.recv()).await {
            Ok(Some(schema)) => Some(schema),
            // The connection is gone (the database went away): nothing will come; wait as polling does.
            Ok(None) => {
                tokio::time::sleep(timeout).await;
                None
            }
            Err(_) => None,
        }
    }
}

/// Starts listening on `url`'s database.
pub(crate) fn listen(url: &str) -> Result<Listener> {
    use futures_util::StreamExt;
    let Target { config, tls } = target_of(url)?;
    let connected = on_runtime(async move {
        let (client, mut connection) = config.connect(tls).await?;
        let (sender, notified) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(notification) = message
                    && sender.send(notification.payload().to_string()).is_err()
                {
                    break;
                }
            }
        });
        client.batch_execute("LISTEN max_tasks").await?;
        Ok::<_, tokio_postgres::Error>(Listener { notified, _client: client })
    });
    connected.map_err(|e| Error::DatabaseUnreachable { url: shown(url), reason: innermost(&e) })
}

/// A client error as a host error about `place` (the database and schema), with the server's own
/// message and not the statement it was about.
pub(super) fn failed(place: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |error| {
        let message = match error.as_db_error() {
            Some(db) => match db.code() {
                &tokio_postgres::error::SqlState::DISK_FULL => {
                    return Error::DatabaseFull { path: place.to_string() };
                }
                _ => db.message().to_string(),
            },
            None => plain(&error.to_string()),
        };
        tracing::debug!(%error, "PostgreSQL failed");
        Error::Storage { path: place.to_string(), message }
    }
}

/// What an error chain says at its root (`connection refused`), where the outer layers only say
/// that something failed.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut said = plain(&error.to_string());
    let mut source = error.source();
    while let Some(cause) = source {
        said = plain(&cause.to_string());
        source = cause.source();
    }
    said
}

fn plain(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}
