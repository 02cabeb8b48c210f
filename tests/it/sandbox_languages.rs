//! The sandbox holds against hostile guests written in Python (componentize-py) and JavaScript
//! (componentize-js) exactly as against the Rust one: their runtimes import most of WASI 0.2, which
//! the host provides granting nothing. After each attack the same connector answers a fresh call and
//! another installation syncs to the end on the same runtime.

use std::time::Duration;

use max_host::runtime::Limits;
use max_host::{Error, LimitKind};

use crate::sandbox::{Sandbox, hostile_in, result_of};

const GUESTS: [&str; 2] = ["hostile-python", "hostile-js"];

async fn guest(name: &str, limits: Limits) -> Sandbox {
    hostile_in(name, limits, "http://127.0.0.1:9").await
}

#[tokio::test(flavor = "multi_thread")]
async fn their_infinite_loops_are_stopped_by_the_cpu_deadline() {
    for name in GUESTS {
        let sandbox = guest(name, Limits { cpu_per_call: Duration::from_millis(300), ..Limits::default() }).await;
        let error = result_of(&sandbox.pool, "loop", "x").await.unwrap_err();
        assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::Cpu, .. }), "{name}: {error:?}");
        sandbox.stays_healthy().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn their_memory_growth_hits_the_memory_limit() {
    for name in GUESTS {
        let sandbox = guest(name, Limits { memory_bytes: 96 << 20, ..Limits::default() }).await;
        let error = result_of(&sandbox.pool, "alloc", "x").await.unwrap_err();
        assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::Memory, .. }), "{name}: {error:?}");
        sandbox.stays_healthy().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn their_runaway_recursion_is_an_error_not_a_host_crash() {
    for name in GUESTS {
        let sandbox = guest(name, Limits::default()).await;
        let error = result_of(&sandbox.pool, "recurse", "x").await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::ConnectorCrashed { .. } | Error::ConnectorFailed { .. } | Error::LimitExceeded { .. }
            ),
            "{name}: {error:?}"
        );
        sandbox.stays_healthy().await;
    }
}

/// An exception reaches the host as the connector's error with its message and where it was raised.
#[tokio::test(flavor = "multi_thread")]
async fn their_exceptions_are_errors_naming_the_message_and_the_place() {
    for (name, place) in [("hostile-python", "app.py:"), ("hostile-js", "app.js:")] {
        let sandbox = guest(name, Limits::default()).await;
        let error = result_of(&sandbox.pool, "panic", "boom").await.unwrap_err().to_string();
        assert!(error.contains("panicked on purpose: boom") && error.contains(place), "{name}: {error}");
        sandbox.stays_healthy().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn they_read_no_files_environment_or_sockets() {
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), "host secret").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    assert!(std::env::var_os("PATH").is_some(), "the host process has an environment");
    for name in GUESTS {
        let sandbox = guest(name, Limits::default()).await;
        for path in ["/etc/passwd", secret_file.path().to_str().unwrap(), env!("CARGO_MANIFEST_DIR")] {
            let result = result_of(&sandbox.pool, "read-file", path).await.unwrap();
            assert!(result.starts_with("denied:"), "{name} read {path}: {result}");
        }
        for dir in ["/", ".", "/tmp"] {
            let result = result_of(&sandbox.pool, "list-dir", dir).await.unwrap();
            assert!(result.starts_with("denied:"), "{name} listed {dir}: {result}");
        }
        assert_eq!(result_of(&sandbox.pool, "read-env", "x").await.unwrap(), "0 variables: ", "{name}");
        let result = result_of(&sandbox.pool, "tcp", &address).await.unwrap();
        assert!(result.starts_with("denied:"), "{name}: {result}");
        assert!(listener.accept().is_err(), "{name} reached the listener");
        sandbox.stays_healthy().await;
    }
}

/// JavaScript's `fetch` reaches nothing (the component is built without `wasi:http`: calling it traps,
/// which ends the call): requests go through the host's `http`, which allows only declared hosts.
#[tokio::test(flavor = "multi_thread")]
async fn javascript_fetch_reaches_nothing_and_http_only_declared_hosts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let sandbox = guest("hostile-js", Limits::default()).await;
    match result_of(&sandbox.pool, "fetch", &url).await {
        Ok(result) => assert!(result.starts_with("denied:"), "{result}"),
        Err(error) => assert!(matches!(error, Error::ConnectorCrashed { .. }), "{error:?}"),
    }
    assert!(listener.accept().is_err(), "fetch reached the listener");
    let error = result_of(&sandbox.pool, "http", "https://undeclared.example/").await.unwrap_err().to_string();
    assert!(error.contains("forbidden") && error.contains("undeclared.example"), "{error}");
    sandbox.stays_healthy().await;
}

/// Exiting ends the call with an error, never the host: Python's `os._exit` (WASI's exit) and
/// `sys.exit`, JavaScript's `process.exit` (absent).
#[tokio::test(flavor = "multi_thread")]
async fn exiting_ends_the_call_not_the_host() {
    for (name, loader) in [("hostile-python", "exit"), ("hostile-python", "raise-exit")] {
        let sandbox = guest(name, Limits::default()).await;
        let error = result_of(&sandbox.pool, loader, "x").await.unwrap_err();
        assert!(
            matches!(error, Error::ConnectorCrashed { .. } | Error::ConnectorFailed { .. }),
            "{name} {loader}: {error:?}"
        );
        sandbox.stays_healthy().await;
    }
    let sandbox = guest("hostile-js", Limits::default()).await;
    let result = result_of(&sandbox.pool, "exit", "x").await.unwrap();
    assert!(result.starts_with("denied:"), "{result}");
    sandbox.stays_healthy().await;
}
