//! No work the data doesn't need, and no waiting it doesn't require: with the real `max` binary, the real
//! acme.wasm and the Acme fake's request log, a full sync takes the change feed's position instead of
//! replaying its log, and a project's tasks are requested while other projects are still being listed.

use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Kind, Size};
use max_fake_saas::{Faults, RunningServer};
use max_tests::{TestProject, connector};

/// A project with acme connected (with `settings`) to a fake with `size`.
fn connected(size: Size, faults: Faults, settings: &[&str]) -> (TestProject, Acme, RunningServer) {
    let fake = Acme::new(AcmeConfig { size, faults, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    let mut connect = project.max();
    connect.args(["connect", "acme", "--set"]).arg(format!("base_url={}", server.base_url()));
    connect.args(["--set", &format!("api_key={DEFAULT_API_KEY}")]);
    for setting in settings {
        connect.args(["--set", setting]);
    }
    connect.assert().success();
    (project, fake, server)
}

fn count(project: &TestProject, table: &str) -> i64 {
    let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap();
    db.query_row(&format!("SELECT COUNT(*) FROM \"{table}\" WHERE _deleted_at IS NULL"), [], |r| r.get(0)).unwrap()
}

/// Requests of the log from `from` on that read the change feed's events (not its position).
fn replays(log: &[String]) -> usize {
    log.iter().filter(|line| line.starts_with("/api/changes?")).count()
}

#[test]
fn a_full_sync_against_a_long_change_log_takes_its_position_instead_of_replaying_it() {
    let size =
        |history| Size { workspaces: 1, users: 5, projects: 3, tasks_per_project: 400, files_per_project: 2, history };
    let (plain, plain_fake, _plain_server) = connected(size(false), Faults::default(), &[]);
    let (logged, logged_fake, _logged_server) = connected(size(true), Faults::default(), &[]);
    assert!(logged_fake.with_data(|d| d.latest_sequence()) > 1200, "the fake logged every seeded object");
    plain.max().args(["sync", "acme"]).assert().success();
    logged.max().args(["sync", "acme"]).assert().success();
    assert_eq!(count(&logged, "Task"), 1200);
    let log = logged_fake.request_log();
    assert_eq!(replays(&log), 0, "no event of the log was read: {log:?}");
    assert_eq!(log.iter().filter(|l| *l == "/api/changes/cursor").count(), 1);
    assert_eq!(logged_fake.request_count(), plain_fake.request_count(), "a long log costs no request more");

    // The position taken is where the next sync continues: it sees exactly the changes made since.
    let (renamed, deleted, created) = max_tests::change_three_tasks(&logged_fake, "Created after");
    logged.max().args(["sync", "acme"]).assert().success();
    let after_first = logged_fake.request_log().len();
    assert_eq!(replays(&logged_fake.request_log()[log.len()..]), 1, "one page of changes");
    let db = rusqlite::Connection::open(logged.path().join(".max/installations/acme/default/data.db")).unwrap();
    let title =
        |id: &str| -> String { db.query_row("SELECT title FROM Task WHERE id = ?1", [id], |r| r.get(0)).unwrap() };
    assert_eq!((title(&renamed), title(&created)), ("Renamed".to_string(), "Created after".to_string()));
    let gone: Option<String> =
        db.query_row("SELECT _deleted_at FROM Task WHERE id = ?1", [&deleted], |r| r.get(0)).unwrap();
    assert!(gone.is_some(), "the deletion was followed");

    // `--full` follows the feed from its cursor (one page here), for the deletions since, never from
    // the log's start.
    max_tests::change_three_tasks(&logged_fake, "Before the full sync");
    logged.max().args(["sync", "acme", "--full"]).assert().success();
    assert_eq!(replays(&logged_fake.request_log()[after_first..]), 1);
    assert_eq!(count(&logged, "Task"), logged_fake.with_data(|d| d.counts()["Task"]) as i64);
}

#[test]
fn a_projects_tasks_are_requested_before_the_last_projects_are_listed() {
    // Eight projects, two per page: four pages of projects, one after the other.
    let size =
        Size { workspaces: 1, users: 2, projects: 8, tasks_per_project: 3, files_per_project: 1, history: false };
    // Latency makes the order of requests the order of the work, not of who is scheduled first.
    let faults = Faults { latency: std::time::Duration::from_millis(50), ..Faults::default() };
    let (project, fake, _server) = connected(size, faults, &["page_size=2"]);
    project.max().args(["sync", "acme", "--workers", "4"]).assert().success();
    let log = fake.request_log();
    let first_tasks = log.iter().position(|l| l.starts_with("/api/tasks?")).expect("tasks were listed");
    let last_projects = log.iter().rposition(|l| l.starts_with("/api/projects?")).expect("projects were listed");
    assert!(first_tasks < last_projects, "tasks waited for every project: {log:#?}");
    let tasks_lists = log.iter().filter(|l| l.starts_with("/api/tasks?")).count();
    assert_eq!(tasks_lists, 8 * 2, "each project's tasks listed once (two pages of two, then one)");
    assert_eq!(count(&project, "Task"), fake.with_data(|d| d.counts()[Kind::Task.entity()]) as i64);
    assert_eq!(count(&project, "File"), 8);
    let db = rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap();
    let linked: i64 = db.query_row("SELECT COUNT(*) FROM \"Project.tasks\"", [], |r| r.get(0)).unwrap();
    assert_eq!(linked, 24, "every project's collection holds its tasks");
}

/// `max sync acme -o json` with `args`; the sync's report.
fn synced(project: &TestProject, args: &[&str]) -> serde_json::Value {
    let output = project.max().args(["sync", "acme", "-o", "json"]).args(args).assert().success().get_output().clone();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    summary["sync"].clone()
}

#[test]
fn concurrency_grows_while_the_api_keeps_up_and_halves_after_429s() {
    let size =
        Size { workspaces: 1, users: 2, projects: 24, tasks_per_project: 3, files_per_project: 1, history: false };
    // Pages of two behind 40 ms: tasks spend most of their time waiting for the API, even in a debug
    // build on a busy machine, which is when more at once helps.
    let steady = Faults { latency: std::time::Duration::from_millis(40), ..Faults::default() };
    let (project, fake, _server) = connected(size.clone(), steady.clone(), &["page_size=2"]);
    let report = synced(&project, &["--workers", "48"]);
    let pace = &report["concurrency"];
    assert_eq!((pace["start"].as_u64(), pace["max"].as_u64(), pace["backoffs"].as_u64()), (Some(4), Some(48), Some(0)));
    assert!(pace["peak"].as_u64().unwrap() > 4, "steady latency, no 429, tasks waiting: it grew ({pace})");
    assert_eq!(count(&project, "Task"), fake.with_data(|d| d.counts()["Task"]) as i64);

    // Each 429 says `Retry-After: 1`, which every worker waits out: a smaller data set keeps it short.
    let throttling = Faults { throttle_rate: 0.08, ..steady };
    let (project, fake, _server) = connected(Size { projects: 8, ..size }, throttling, &["page_size=2"]);
    let report = synced(&project, &["--workers", "48"]);
    let pace = &report["concurrency"];
    assert!(pace["backoffs"].as_u64().unwrap() >= 1, "429s halved it ({pace})");
    assert_eq!(count(&project, "Task"), fake.with_data(|d| d.counts()["Task"]) as i64, "and nothing was lost");
}

#[test]
fn a_rolling_window_announced_only_by_its_headers_is_kept_without_a_429() {
    // HubSpot's way: `X-HubSpot-RateLimit-Max` requests per `-Interval-Milliseconds`, no reset header.
    // Eleven requests (the position, workspaces, users, projects, then each project's tasks and files)
    // and the connect's check, against six per second: a client that only reads `remaining` sends the
    // seventh into a full window.
    let size =
        Size { workspaces: 1, users: 2, projects: 3, tasks_per_project: 4, files_per_project: 1, history: false };
    let window = max_fake_saas::window::WindowLimit { max: 6, interval: std::time::Duration::from_secs(1) };
    let (project, fake, _server) = connected(size, Faults { window: Some(window), ..Faults::default() }, &[]);
    let report = synced(&project, &[]);
    assert_eq!(fake.rate_limited(), 0, "no request went over the window ({report})");
    assert!(report["rate_limit_wait_ms"].as_u64().unwrap() > 0, "requests were held back ({report})");
    assert_eq!(count(&project, "Task"), 12);
    assert_eq!(count(&project, "File"), 3);
}
