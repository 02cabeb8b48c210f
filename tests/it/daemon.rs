//! The project daemon's life, through the real binary: started once however many clients start it,
//! replaced by another build, recovered after a kill -9 through its lock, gone when idle.

use std::path::Path;
use std::time::{Duration, Instant};

use max_tests::TestProject;
use serde_json::Value;

fn project() -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project
}

fn json(project: &TestProject, args: &[&str]) -> Value {
    let output = project.max().args(args).args(["-o", "json"]).assert().success();
    serde_json::from_slice(&output.get_output().stdout).unwrap()
}

fn status(project: &TestProject) -> Value {
    json(project, &["daemon", "status"])
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Waits (at most 30 s) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} didn't happen within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_clients_starting_at_once_start_one_daemon() {
    let project = project();
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("max"));
            command.args(["daemon", "start", "-o", "json"]).current_dir(project.path()).env("MAX_HOME", project.home());
            command.stdout(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let answers: Vec<Value> =
        starts.into_iter().map(|c| serde_json::from_slice(&c.wait_with_output().unwrap().stdout).unwrap()).collect();
    let pids: std::collections::BTreeSet<u64> = answers.iter().map(|a| a["daemon"]["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one daemon: {answers:?}");
    let started = answers.iter().filter(|a| a["how"] == "started").count();
    assert_eq!(started, 1, "one client started it, the others found it: {answers:?}");
    let listed = json(&project, &["daemon", "list"]);
    let ours: Vec<&Value> =
        listed.as_array().unwrap().iter().filter(|d| d["project"] == project.path().display().to_string()).collect();
    assert_eq!(ours.len(), 1, "{listed}");
    // However the project's path is spelled, it is the same daemon.
    let roundabout = format!("{}/.max/..", project.path().display());
    let found = project.max().args(["-C", &roundabout, "daemon", "status", "-o", "json"]).assert().success();
    let found: Value = serde_json::from_slice(&found.get_output().stdout).unwrap();
    assert_eq!(found["status"]["identity"]["pid"].as_u64(), pids.first().copied(), "{found}");
    project.max().args(["daemon", "stop"]).assert().success();
    assert_eq!(status(&project)["running"], false);
    let pid = *pids.first().unwrap();
    eventually("the daemon's exit", || !alive(pid));
}

#[test]
fn a_daemon_of_another_build_is_replaced() {
    let project = project();
    // Another build of max: the same program as another file (its own size and time stamp).
    let other = tempfile::tempdir().unwrap();
    let copy = other.path().join("max");
    std::fs::copy(assert_cmd::cargo::cargo_bin("max"), &copy).unwrap();
    let mut old = std::process::Command::new(&copy);
    old.args(["daemon", "start", "-o", "json"]).current_dir(project.path()).env("MAX_HOME", project.home());
    let old: Value = serde_json::from_slice(&old.output().unwrap().stdout).unwrap();
    let old_pid = old["daemon"]["pid"].as_u64().unwrap();

    let new = json(&project, &["daemon", "start"]);
    assert_eq!(new["how"], "replaced", "{new}");
    assert_ne!(new["daemon"]["pid"].as_u64(), Some(old_pid));
    assert_ne!(new["daemon"]["build"], old["daemon"]["build"]);
    eventually("the old daemon's exit", || !alive(old_pid));
    assert_eq!(status(&project)["status"]["identity"]["pid"], new["daemon"]["pid"]);
    project.max().args(["daemon", "stop"]).assert().success();
}

#[test]
fn a_killed_daemons_socket_is_recovered_through_its_lock() {
    let project = project();
    let first = json(&project, &["daemon", "start"]);
    let pid = first["daemon"]["pid"].as_u64().unwrap();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    eventually("the kill", || !alive(pid));
    let socket = project.home().join("daemons");
    let left: Vec<_> = walk(&socket).into_iter().filter(|p| p.ends_with("daemon.sock")).collect();
    assert_eq!(left.len(), 1, "the killed daemon left its socket: {left:?}");
    assert_eq!(status(&project)["running"], false, "a dead socket is no daemon");

    let second = json(&project, &["daemon", "start"]);
    assert_eq!(second["how"], "started");
    assert_ne!(second["daemon"]["pid"].as_u64(), Some(pid));
    assert_eq!(status(&project)["running"], true);
    project.max().args(["daemon", "stop"]).assert().success();
}

#[test]
fn the_daemon_exits_when_idle_and_logs_why() {
    let project = project();
    let started = json(&project, &["daemon", "start", "--idle", "1s"]);
    let pid = started["daemon"]["pid"].as_u64().unwrap();
    eventually("the idle exit", || !alive(pid));
    assert_eq!(status(&project)["running"], false);
    let sockets: Vec<_> =
        walk(&project.home().join("daemons")).into_iter().filter(|p| p.ends_with("daemon.sock")).collect();
    assert!(sockets.is_empty(), "it removed its socket: {sockets:?}");
    let logs = project.max().args(["daemon", "logs"]).assert().success();
    let logs = String::from_utf8_lossy(&logs.get_output().stdout).into_owned();
    assert!(logs.contains("daemon started") && logs.contains("reason=\"idle\""), "{logs}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// An acme fake whose every answer takes `latency`, on its own server.
fn acme_fake(
    size: max_fake_saas::acme::Size,
    latency: Duration,
) -> (max_fake_saas::acme::Acme, max_fake_saas::RunningServer) {
    use max_fake_saas::acme::{Acme, AcmeConfig};
    let faults = max_fake_saas::Faults { latency, ..max_fake_saas::Faults::default() };
    let fake = Acme::new(AcmeConfig { size, faults, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    (fake, server)
}

#[test]
fn a_sync_runs_in_the_running_daemon_streams_its_progress_and_ctrl_c_stops_it() {
    use max_fake_saas::acme::Size;
    let project = project();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    let quick =
        Size { workspaces: 1, users: 4, projects: 3, tasks_per_project: 60, files_per_project: 2, history: false };
    let (fake, server) = acme_fake(quick, Duration::from_millis(15));
    max_tests::connect_acme_to(&project, &server, "default", &["--set", "page_size=10"]);
    let slow =
        Size { workspaces: 2, users: 12, projects: 6, tasks_per_project: 800, files_per_project: 10, history: false };
    let (_slow_fake, slow_server) = acme_fake(slow, Duration::from_millis(150));
    max_tests::connect_acme_to(&project, &slow_server, "slow", &["--set", "page_size=25"]);
    let daemon = json(&project, &["daemon", "start"])["daemon"]["pid"].as_u64().unwrap();

    // The sync runs in the daemon; its progress is drawn here, as it goes.
    let mut terminal = max_tests::Terminal::max(&project, &["sync", "acme/default"]);
    terminal.expect("Syncing through the project's daemon");
    terminal.expect("Task");
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Synced acme/default"), "{shown}");
    project.assert_acme_synced(&fake);
    let served = json(&project, &["daemon", "status"])["status"]["served"].as_u64().unwrap();
    assert!(served >= 2, "the daemon served the sync");
    // --no-daemon syncs in this process.
    let here = project.spawn(&["sync", "acme/default", "--no-daemon"]).wait_with_output().unwrap();
    assert!(here.status.success());
    assert!(!String::from_utf8_lossy(&here.stderr).contains("through the project's daemon"));

    // Ctrl-C in the client stops the daemon's sync after the tasks in flight, resumable.
    let child = project.spawn(&["sync", "acme/slow"]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("through the project's daemon") && stderr.contains("Stopping after the tasks in flight"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped sync #1"), "{stderr}");
    let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/slow/data.db")).unwrap();
    let (status, running): (String, i64) = db
        .query_row(
            "SELECT status, (SELECT COUNT(*) FROM _max_tasks WHERE state = 'running') FROM _max_syncs WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), running), ("interrupted", 0));
    assert!(alive(daemon), "the daemon outlives the sync it stopped");
    project.max().args(["daemon", "stop"]).assert().success();
}

/// `max ARGS` run to its end as a person would (no `CI`): exit code, stdout, stderr.
fn run(project: &TestProject, args: &[&str]) -> (Option<i32>, String, String) {
    let output = project.spawn(args).wait_with_output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn search_and_status_go_through_the_daemon_which_keeps_connectors_and_databases_warm() {
    use max_fake_saas::acme::Size;
    let project = project();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    let size =
        Size { workspaces: 1, users: 5, projects: 3, tasks_per_project: 40, files_per_project: 2, history: false };
    let (fake, server) = acme_fake(size, Duration::ZERO);
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    json(&project, &["daemon", "start"]);
    let warm = |project: &TestProject| json(project, &["daemon", "status"])["status"]["warm"].clone();

    // Two syncs through the daemon: the second runs on the connector the first left warm.
    for _ in 0..2 {
        let (code, _, stderr) = run(&project, &["sync", "acme"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stderr.contains("through the project's daemon"), "{stderr}");
    }
    project.assert_acme_synced(&fake);
    let stats = warm(&project);
    assert_eq!(stats["connectors"], serde_json::json!(["acme/default"]), "{stats}");
    assert_eq!((stats["connectors_built"].as_u64(), stats["connectors_reused"].as_u64()), (Some(1), Some(1)));

    // Searches and status read the same through the daemon as in this process, in every format,
    // their failures included.
    let same = [
        vec!["search", "acme", "Task", "--filter", "priority >= 2", "--order-by", "title", "--limit", "7"],
        vec!["search", "acme", "task", "--fields", "id,title,project.name", "--all", "-o", "json"],
        vec!["search", "acme", "Task", "--all", "-o", "ndjson"],
        vec!["search", "acme", "User", "--all", "-o", "csv"],
        vec!["search", "acme", "Task", "--limit", "5", "--after", "not-a-cursor"],
        vec!["search", "acme", "Task", "--filter", "nope = 1"],
        vec!["search", "acme/missing", "Task"],
        vec!["status", "-o", "json"],
        vec!["status"],
        vec!["status", "acme", "--last", "1", "-o", "json"],
    ];
    for args in &same {
        let through = run(&project, args);
        let here = run(&project, &[args.as_slice(), &["--no-daemon"]].concat());
        assert_eq!(through, here, "max {}", args.join(" "));
    }
    let (_, rows, _) = run(&project, &["search", "acme", "Task", "--all", "-o", "ndjson"]);
    assert_eq!(rows.lines().count(), 3 * 40, "every task came through the daemon");
    let stats = warm(&project);
    assert_eq!(stats["readers_opened"], 1, "one connection to the database served every read: {stats}");
    assert!(stats["readers_reused"].as_u64().unwrap() >= same.len() as u64 - 1, "{stats}");

    // Credentials changed behind the daemon's back: the next sync builds the connector with them
    // (a wrong key fails), and the right key again builds it afresh.
    let credentials = project.path().join(".max/installations/acme/default/credentials.json");
    let right = std::fs::read_to_string(&credentials).unwrap();
    std::fs::write(&credentials, right.replace(max_fake_saas::acme::DEFAULT_API_KEY, "a-wrong-key")).unwrap();
    let (code, _, stderr) = run(&project, &["sync", "acme"]);
    assert_ne!(code, Some(0), "a sync with a wrong key fails: {stderr}");
    assert_eq!(warm(&project)["connectors"], serde_json::json!([]), "a failed sync leaves nothing warm");
    std::fs::write(&credentials, right).unwrap();
    let (code, _, stderr) = run(&project, &["sync", "acme"]);
    assert_eq!(code, Some(0), "{stderr}");
    let stats = warm(&project);
    assert_eq!((stats["connectors_built"].as_u64(), stats["connectors_reused"].as_u64()), (Some(3), Some(1)));
    project.max().args(["daemon", "stop"]).assert().success();
}
