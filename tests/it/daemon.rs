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
