//! Scheduled syncs, run by the project's daemon: on time, keeping the data current, while hostile
//! installations in the same project trap and hang on every run.

use std::time::{Duration, Instant};

use max_tests::{TestProject, change_three_tasks, connect_acme_to, connector, guest, small_acme};
use serde_json::Value;

use crate::sandbox::connect_hostile;

fn titles(project: &TestProject) -> Vec<String> {
    let db = project.path().join(".max/installations/acme/default/data.db");
    let Ok(db) = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut statement) = db.prepare("SELECT title FROM Task WHERE _deleted_at IS NULL") else { return Vec::new() };
    statement.query_map([], |r| r.get(0)).map(|rows| rows.filter_map(Result::ok).collect()).unwrap_or_default()
}

fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} didn't happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn status(project: &TestProject, target: &str) -> Value {
    let output = project.max().args(["status", target, "-o", "json"]).assert().success();
    serde_json::from_slice::<Value>(&output.get_output().stdout).unwrap()[0].clone()
}

#[test]
fn scheduled_syncs_keep_data_current_while_hostile_installations_trap_and_hang() {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    let fake = small_acme();
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    // One spins until its CPU limit traps it; one panics.
    connect_hostile(&project, "spinner", max_tests::listening_url(), "t", "spin", &["--limit", "cpu-seconds=1"])
        .success();
    connect_hostile(&project, "panicky", max_tests::listening_url(), "t", "panic", &[]).success();

    for (target, every) in [("hostile/spinner", "1s"), ("hostile/panicky", "1s"), ("acme", "2s")] {
        project.max().args(["schedule", target, "--every", every]).assert().success();
    }
    let listed = project.max().args(["schedule", "-o", "json"]).assert().success();
    let listed: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert!(listed.as_array().unwrap().iter().all(|s| s["daemon"] == true), "the daemon runs them: {listed}");

    // The first run: every task of the fake's.
    let expected = fake.counts()["Task"];
    eventually("the first scheduled sync", Duration::from_secs(60), || titles(&project).len() == expected);
    // Changes upstream reach the data by the next runs, twice over.
    for round in ["Scheduled once", "Scheduled twice"] {
        change_three_tasks(&fake, round);
        let took = eventually(&format!("`{round}` arriving"), Duration::from_secs(60), || {
            titles(&project).iter().any(|t| t == round)
        });
        assert!(took < Duration::from_secs(45), "a 2s schedule brought the change in {took:?}");
    }

    // The hostile ones failed again and again, backing off; acme's last run completed.
    let spinner = status(&project, "hostile/spinner");
    assert!(spinner["schedule"]["failures"].as_u64().unwrap() >= 1, "{spinner}");
    assert!(spinner["schedule"]["last_outcome"].as_str().is_some_and(|o| !o.contains("completed")), "{spinner}");
    let panicky = status(&project, "hostile/panicky");
    assert!(panicky["schedule"]["failures"].as_u64().unwrap() >= 1, "{panicky}");
    let acme = status(&project, "acme");
    assert_eq!(acme["schedule"]["failures"], 0, "{acme}");
    assert!(acme["schedule"]["next_run"].is_string(), "{acme}");
    let text = project.max().args(["status", "acme"]).assert().success();
    assert!(String::from_utf8_lossy(&text.get_output().stdout).contains("Scheduled every 2s · next"));

    // A disconnected installation's schedule goes with it.
    project.max().args(["disconnect", "hostile/panicky", "--yes"]).assert().success();
    let listed = project.max().args(["schedule", "-o", "json"]).assert().success();
    let listed: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|s| s["installation"].as_str()).collect();
    assert_eq!(names, ["acme/default", "hostile/spinner"], "{listed}");

    // Unscheduled, it stays so; the daemon then stops when asked.
    project.max().args(["schedule", "acme", "--off"]).assert().success();
    assert!(status(&project, "acme")["schedule"].is_null());
    project.max().args(["daemon", "stop"]).assert().success();
}
