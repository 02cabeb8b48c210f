//! Syncs you can trust: a sync killed at any moment and resumed ends with exactly the tables of an
//! uninterrupted sync, without fetching finished work again; a second `max sync` on a busy
//! installation is refused; failed tasks run again with `--retry-failed`.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use max_fake_saas::Faults;
use max_fake_saas::RunningServer;
use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Size};
use max_tests::{TestProject, connector};
use rusqlite::types::Value as Sql;
use serde_json::Value;

/// An Acme fake of `size` answering every request after `latency`, on a thread of its own.
fn slow_acme(size: Size, latency: Duration) -> (Acme, RunningServer) {
    let faults = Faults { latency, ..Faults::default() };
    let fake = Acme::new(AcmeConfig { size, faults, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    (fake, server)
}

fn connected(server: &RunningServer, extra: &[&str]) -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    let mut connect = project.max();
    connect
        .args(["connect", "acme", "--set"])
        .arg(format!("base_url={}", server.base_url()))
        .args(["--set", &format!("api_key={DEFAULT_API_KEY}")]);
    for setting in extra {
        connect.args(["--set", setting]);
    }
    connect.assert().success();
    project
}

/// `max sync acme` as a child process (to kill), its output dropped.
fn spawn_sync(project: &TestProject) -> Child {
    spawn_sync_with_stderr(project, Stdio::null(), &[])
}

/// `max sync acme` with `args` as a child process (to kill), its standard error sent to `stderr`.
fn spawn_sync_with_stderr(project: &TestProject, stderr: Stdio, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("max"))
        .args(["sync", "acme"])
        .args(args)
        .current_dir(project.path())
        .env("MAX_HOME", project.home())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn tables(project: &TestProject) -> BTreeMap<String, Vec<Vec<Sql>>> {
    max_tests::tables(&project.path().join(".max/installations/acme/default/data.db"), false)
}

fn data_db(project: &TestProject) -> rusqlite::Connection {
    rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap()
}

/// Whether a bulk load is under way (begun by a full sync, not yet finished).
fn bulk_loading(project: &TestProject) -> bool {
    data_db(project)
        .query_row("SELECT COUNT(*) FROM _max_info WHERE key = 'bulk_load'", [], |r| r.get::<_, i64>(0))
        .unwrap()
        > 0
}

/// The secondary indexes of the data tables, as `table: index` (a bulk load builds them at its end).
fn indexes(project: &TestProject) -> Vec<String> {
    let db = data_db(project);
    let mut stmt = db
        .prepare(
            "SELECT tbl_name || ': ' || name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx:%' ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

/// The sync metadata's rows per field set, staged ones included.
fn sync_meta(project: &TestProject) -> Vec<(String, i64, i64)> {
    let db = data_db(project);
    let mut stmt = db
        .prepare(
            "SELECT s.entity || ' ' || s.fields, COUNT(*), (SELECT COUNT(*) FROM _max_sync_meta_staged)
             FROM _max_sync_meta m JOIN _max_field_sets s ON s.id = m.field_set GROUP BY 1 ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

#[test]
fn a_sync_killed_at_random_moments_and_resumed_ends_exactly_like_an_uninterrupted_one() {
    // ~18,000 tasks in pages of 25 behind 25 ms of latency, four requests at once: a few seconds of
    // syncing, ~740 requests. A kill loses the requests in flight and the completions not yet
    // committed (a group of at most 8), so four at once keeps what is done again well under the bound.
    let size =
        Size { workspaces: 2, users: 12, projects: 6, tasks_per_project: 1500, files_per_project: 20, history: false };
    let (fake, server) = slow_acme(size, Duration::from_millis(25));

    let reference = connected(&server, &["page_size=25"]);
    let before = fake.request_count();
    reference.max().args(["sync", "acme"]).assert().success();
    let uninterrupted = fake.request_count() - before;

    let victim = connected(&server, &["page_size=25"]);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = max_fake_saas::Rng::new(seed);
    let before = fake.request_count();
    let mut moments = Vec::new();
    while moments.len() < 10 {
        let mut child = spawn_sync_with_stderr(&victim, Stdio::null(), &["--workers", "4"]);
        let moment = Duration::from_millis(60 + rng.below(300));
        std::thread::sleep(moment);
        if child.try_wait().unwrap().is_some() {
            panic!("the sync finished before kill {} (seed {seed}, moments {moments:?})", moments.len() + 1);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        moments.push(moment.as_millis());
        // The full-text index holds exactly the text of the rows committed, whenever the kill came.
        let problems = max_tests::full_text_problems(&victim.path().join(".max/installations/acme/default/data.db"));
        assert_eq!(problems, Vec::<String>::new(), "after kill {} (seed {seed})", moments.len());
    }
    assert!(bulk_loading(&victim), "the kills cut off a bulk load (its indexes not built yet)");
    let output = victim.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert_eq!(summary["sync"]["continuation"]["kind"], "resumed", "{summary}");
    let interrupted = fake.request_count() - before;
    assert!(!bulk_loading(&victim), "the resumed sync finished the bulk load");
    assert_eq!(indexes(&victim), indexes(&reference), "every index exists after the resumed bulk load");
    assert!(!indexes(&victim).is_empty());
    assert_eq!(sync_meta(&victim), sync_meta(&reference), "one metadata row per entity and field set");

    max_tests::assert_same_task_matches(&reference, &victim);
    let (want, got) = (tables(&reference), tables(&victim));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (name, rows) in &want {
        assert_eq!(rows.len(), got[name].len(), "{name}: row count (seed {seed}, kills at {moments:?} ms)");
        assert!(rows == &got[name], "{name}: rows differ (seed {seed}, kills at {moments:?} ms)");
    }
    assert!(
        (interrupted as f64) < 1.3 * uninterrupted as f64,
        "{interrupted} requests with 10 kills vs {uninterrupted} uninterrupted (seed {seed}, kills at {moments:?} ms)"
    );
}

#[test]
fn a_second_sync_of_a_busy_installation_is_refused_naming_the_holder() {
    let size =
        Size { workspaces: 1, users: 4, projects: 2, tasks_per_project: 400, files_per_project: 2, history: false };
    let (_fake, server) = slow_acme(size, Duration::from_millis(30));
    let project = connected(&server, &["page_size=10"]);
    let mut first = spawn_sync(&project);
    // Wait until the first sync holds the lock (it writes its pid into the lock file).
    let lock = project.path().join(".max/installations/acme/default/sync.lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&lock).unwrap_or_default().contains(&first.id().to_string()) {
        assert!(Instant::now() < deadline, "the first sync never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = project.max().args(["sync", "acme"]).assert().failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("being synced by another max") && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );
    assert!(first.wait().unwrap().success(), "the first sync was not disturbed");

    // A holder that died (killed) leaves no lock behind: the next sync runs and resumes its work.
    let mut doomed = spawn_sync(&project);
    std::thread::sleep(Duration::from_millis(300));
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    project.max().args(["sync", "acme"]).assert().success();
}

/// A small data set in pages of 40: about fifty requests.
fn small() -> Size {
    Size { workspaces: 2, users: 8, projects: 4, tasks_per_project: 400, files_per_project: 10, history: false }
}

#[test]
fn with_a_fifth_of_requests_failing_transiently_the_sync_completes_with_exactly_the_right_data() {
    let clean = Acme::new(AcmeConfig { size: small(), ..AcmeConfig::default() });
    let clean_server = clean.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let reference = connected(&clean_server, &["page_size=40"]);
    reference.max().args(["sync", "acme"]).assert().success();

    // 429 with Retry-After, 500/503, connections dropped after the headers, bodies cut off halfway:
    // drawn independently, about 22% of requests hit one of them.
    let faults =
        Faults { throttle_rate: 0.03, error_rate: 0.09, drop_rate: 0.06, truncate_rate: 0.06, ..Faults::default() };
    let faulty = Acme::new(AcmeConfig { size: small(), faults, seed: 1, ..AcmeConfig::default() });
    let faulty_server = faulty.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let victim = connected(&faulty_server, &["page_size=40"]);
    let output = victim.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert!(summary["sync"]["failures"].as_array().unwrap().is_empty());
    max_tests::assert_same_task_matches(&reference, &victim);
    let (want, got) = (tables(&reference), tables(&victim));
    assert!(want == got, "the tables differ from a fault-free sync's");
}

#[test]
fn failed_tasks_fail_the_sync_and_retry_failed_runs_only_them() {
    let clean = Acme::new(AcmeConfig { size: small(), ..AcmeConfig::default() });
    let clean_server = clean.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let reference = connected(&clean_server, &["page_size=40"]);
    reference.max().args(["sync", "acme"]).assert().success();

    let faults = Faults { error_rate: 0.3, ..Faults::default() };
    let faulty = Acme::new(AcmeConfig { size: small(), faults, ..AcmeConfig::default() });
    let server = faulty.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let victim = connected(&server, &["page_size=40"]);
    // One attempt each: every server error is a failed task; the rest is stored; the exit is non-zero.
    let output = victim.max().args(["sync", "acme", "--max-attempts", "1"]).assert().failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tasks failed") && stderr.contains("HTTP 50"), "{stderr}");
    let failed_count = |project: &TestProject| -> i64 {
        let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap();
        db.query_row("SELECT COUNT(*) FROM _max_tasks WHERE state = 'failed'", [], |r| r.get(0)).unwrap()
    };
    let failed = failed_count(&victim);
    assert!(failed > 0);

    let finished = |project: &TestProject| -> BTreeMap<i64, String> {
        let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT id, updated_at FROM _max_tasks WHERE state = 'completed' AND json_extract(spec, '$.kind') != 'expand'")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let done_before = finished(&victim);
    let output =
        victim.max().args(["sync", "acme", "--retry-failed", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["continuation"]["kind"], "retried_failed", "{summary}");
    assert_eq!(summary["sync"]["continuation"]["tasks"], failed);
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert_eq!(failed_count(&victim), 0);
    // Work that had finished was not done again.
    let done_after = finished(&victim);
    for (task, at) in &done_before {
        assert_eq!(done_after.get(task), Some(at), "task {task} ran again");
    }
    assert!(tables(&reference) == tables(&victim), "after the retry the tables equal a clean sync's");

    // Nothing left to retry: a clear refusal.
    let output = victim.max().args(["sync", "acme", "--retry-failed"]).assert().failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no failed tasks to retry"), "{stderr}");
}

#[test]
fn ctrl_c_stops_after_the_tasks_in_flight_and_the_next_sync_continues() {
    let size =
        Size { workspaces: 2, users: 12, projects: 6, tasks_per_project: 800, files_per_project: 10, history: false };
    let (_fake, server) = slow_acme(size, Duration::from_millis(40));
    let reference = connected(&server, &["page_size=25"]);
    reference.max().args(["sync", "acme"]).assert().success();

    let project = connected(&server, &["page_size=25"]);
    let interrupt = |child: &Child| {
        let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
    };
    let child = spawn_sync_with_stderr(&project, Stdio::piped(), &[]);
    std::thread::sleep(Duration::from_millis(700));
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "stopped by Ctrl-C: {stderr}");
    assert!(stderr.contains("Stopping after the tasks in flight"), "{stderr}");
    assert!(stderr.contains("stopped sync #1") && stderr.contains("run `max sync acme` to continue"), "{stderr}");
    let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap();
    let (status, running): (String, i64) = db
        .query_row(
            "SELECT status, (SELECT COUNT(*) FROM _max_tasks WHERE state = 'running') FROM _max_syncs WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), running), ("interrupted", 0), "tasks in flight finished before it stopped");

    // Twice: it quits at once, without waiting for the (slow) requests in flight, and stays resumable.
    let (_slow, slow_server) = slow_acme(small(), Duration::from_millis(1500));
    let impatient = connected(&slow_server, &["page_size=40"]);
    let mut child = spawn_sync(&impatient);
    std::thread::sleep(Duration::from_millis(800));
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(20));
    let pressed = Instant::now();
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(pressed.elapsed() < Duration::from_millis(1000), "it waited {:?}", pressed.elapsed());
    let db = rusqlite::Connection::open(impatient.path().join(".max/installations/acme/default/data.db")).unwrap();
    let status: String = db.query_row("SELECT status FROM _max_syncs WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert!(status == "running" || status == "interrupted", "{status}: the next sync resumes it");

    let output = project.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["continuation"]["kind"], "resumed", "{summary}");
    assert_eq!(summary["sync"]["record"]["id"], 1, "the same sync, continued");
    assert!(tables(&reference) == tables(&project), "the tables differ from an uninterrupted sync's");
}
