//! End to end with the real `max` binary, the real acme.wasm and the Acme fake: connect without prompts,
//! sync, then compare with the fake; and how connect, sync and search fail on bad input.

use max_fake_saas::RunningServer;
use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Kind, Size};
use max_tests::{TestProject, connector};
use serde_json::Value;

/// A project with acme installed, and an Acme fake with `size` running on its own thread.
fn acme_project(size: Size) -> (TestProject, Acme, RunningServer) {
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    (project, fake, server)
}

fn connect(project: &TestProject, server: &RunningServer) {
    connect_named(project, server, "default");
}

/// Connects the installation `acme/name` to the fake behind `server`.
fn connect_named(project: &TestProject, server: &RunningServer, name: &str) {
    project
        .max()
        .args(["connect", "acme", "--name", name, "--set"])
        .arg(format!("base_url={}", server.base_url()))
        .args(["--set", &format!("api_key={DEFAULT_API_KEY}")])
        .assert()
        .success();
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn data_db(project: &TestProject) -> rusqlite::Connection {
    rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")).unwrap()
}

#[test]
fn a_synced_installation_matches_the_api_exactly() {
    // 2,100 tasks per project: three pages each at the connector's 1,000 per page.
    let size =
        Size { workspaces: 2, users: 6, projects: 2, tasks_per_project: 2100, files_per_project: 3, history: false };
    let (project, fake, server) = acme_project(size);
    connect(&project, &server);
    let credentials = project.path().join(".max/installations/acme/default/credentials.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&credentials).unwrap().permissions().mode() & 0o777, 0o600);

    let output = project.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed");
    let expected = fake.counts();
    let db = data_db(&project);
    for (entity, count) in &expected {
        let stored: i64 = db.query_row(&format!("SELECT COUNT(*) FROM \"{entity}\""), [], |r| r.get(0)).unwrap();
        assert_eq!(stored as usize, *count, "{entity} rows");
        assert_eq!(
            summary["sync"]["record"]["entities"][entity].as_u64(),
            Some(*count as u64),
            "{entity} in the summary"
        );
    }
    // Every reference points at a stored row.
    for (entity, field, target) in [
        ("User", "workspace", "Workspace"),
        ("Project", "workspace", "Workspace"),
        ("Project", "owner", "User"),
        ("Task", "project", "Project"),
        ("Task", "assignee", "User"),
        ("Task", "createdBy", "User"),
        ("Task", "lastModifiedBy", "User"),
        ("File", "project", "Project"),
        ("File", "uploadedBy", "User"),
    ] {
        let dangling: i64 = db
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM \"{entity}\" e WHERE e.\"{field}\" IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM \"{target}\" t WHERE t.id = e.\"{field}\")"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dangling, 0, "{entity}.{field} → {target}");
    }
    // Every collection link exists, in order, once.
    let links: i64 = db.query_row("SELECT COUNT(*) FROM \"Project.tasks\"", [], |r| r.get(0)).unwrap();
    assert_eq!(links as usize, expected["Task"]);
    let gaps: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT parent_id, MAX(position) + 1 - COUNT(*) AS gap FROM \"Project.tasks\" GROUP BY parent_id) WHERE gap != 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(gaps, 0);
    let first_project =
        fake.with_data(|d| d.list(Kind::Project, None, None, Some(1)).0[0]["id"].as_str().unwrap().to_string());
    let api_order: Vec<String> = fake.with_data(|d| {
        d.list(Kind::Task, Some(&first_project), None, None)
            .0
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    });
    let mut stmt = db.prepare("SELECT child_id FROM \"Project.tasks\" WHERE parent_id = ?1 ORDER BY position").unwrap();
    let stored_order: Vec<String> =
        stmt.query_map([&first_project], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(stored_order, api_order);

    // Search through the CLI agrees with the fake's data.
    let todo_in_api =
        fake.with_data(|d| d.list(Kind::Task, None, None, None).0.iter().filter(|t| t["status"] == "todo").count());
    let output = project
        .max()
        .args(["search", "acme", "Task", "--filter", "status = todo", "--all", "--fields", "id,status", "-o", "ndjson"])
        .assert()
        .success()
        .get_output()
        .clone();
    let rows: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), todo_in_api);
    assert!(rows.iter().all(|r| r["status"] == "todo"));

    // ls and status report it.
    let ls: Value =
        serde_json::from_slice(&project.max().args(["ls", "-o", "json"]).assert().success().get_output().stdout)
            .unwrap();
    assert_eq!(ls[0]["installation"], "acme/default");
    assert_eq!(ls[0]["rows"]["Task"].as_u64(), Some(expected["Task"] as u64));
    assert_eq!(ls[0]["last_sync"]["status"], "completed");
}

#[test]
fn a_sync_after_a_completed_one_reads_only_the_change_feed() {
    let size =
        Size { workspaces: 1, users: 3, projects: 2, tasks_per_project: 1500, files_per_project: 2, history: false };
    let (project, fake, server) = acme_project(size);
    connect(&project, &server);
    project.max().args(["sync", "acme"]).assert().success();
    let after_full = fake.request_count();

    // Nothing changed: one request for the change feed, and nothing written.
    project.max().args(["sync", "acme"]).assert().success();
    assert_eq!(fake.request_count() - after_full, 1, "a no-op sync asks the change feed once");

    let (updated, deleted, created) = max_tests::change_three_tasks(&fake, "Brand new");
    let before = fake.request_count();
    let output = project.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    assert_eq!(fake.request_count() - before, 1, "three changes fit in one page of the change feed");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed");

    let db = data_db(&project);
    let title = |id: &str| -> (String, Option<String>) {
        db.query_row("SELECT title, _deleted_at FROM Task WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
    };
    assert_eq!(title(&updated), ("Renamed".to_string(), None));
    assert_eq!(title(&created), ("Brand new".to_string(), None));
    assert!(title(&deleted).1.is_some(), "a deleted task is kept, marked deleted");
    let live: i64 = db.query_row("SELECT COUNT(*) FROM Task WHERE _deleted_at IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(live as usize, fake.counts()["Task"]);

    // The tables now equal a fresh full sync's (rows marked deleted aside): the new task is in its
    // project's collection, the deleted one in none.
    let fresh = TestProject::new();
    fresh.max().arg("init").assert().success();
    fresh.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    connect(&fresh, &server);
    fresh.max().args(["sync", "acme"]).assert().success();
    let db_of = |p: &TestProject| p.path().join(".max/installations/acme/default/data.db");
    let (incremental, full) = (max_tests::tables(&db_of(&project), true), max_tests::tables(&db_of(&fresh), true));
    assert_eq!(incremental.keys().collect::<Vec<_>>(), full.keys().collect::<Vec<_>>());
    for (table, rows) in &full {
        assert!(rows == &incremental[table], "{table} differs from a fresh full sync's");
    }

    // Freshness: status shows the deleted row and when the syncs ran; search shows when rows were synced.
    let output = project.max().args(["status", "acme", "-o", "json"]).assert().success().get_output().clone();
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    let task = status[0]["entities"].as_array().unwrap().iter().find(|e| e["entity"] == "Task").unwrap().clone();
    assert_eq!((task["deleted"].as_u64(), task["rows"].as_u64()), (Some(1), Some(live as u64)), "{task}");
    assert_eq!(task["stale"], 0);
    assert!(status[0]["last_completed"]["full"].is_string() && status[0]["last_completed"]["incremental"].is_string());
    assert_eq!(status[0]["syncs"][0]["full"], false);
    let output = project
        .max()
        .args([
            "search",
            "acme",
            "Task",
            "--filter",
            &format!("id = \"{updated}\""),
            "--fields",
            "title,.meta",
            "-o",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows["rows"][0]["_sync_id"], status[0]["syncs"][0]["id"], "{rows}");
    assert!(rows["rows"][0]["_synced_at"].as_str().is_some_and(|t| t.starts_with("20")), "{rows}");

    // --full reads everything again.
    let before = fake.request_count();
    project.max().args(["sync", "acme", "--full"]).assert().success();
    assert!(fake.request_count() - before > 5, "a full sync lists every collection");
}

/// After a connector upgrade that adds a field, an incremental sync would fill it only for rows that
/// change. (The older version is made by taking the field out of the stored schema and its table.)
#[test]
fn a_sync_after_the_schema_gained_a_field_is_full_and_fills_it_for_every_row() {
    let size =
        Size { workspaces: 1, users: 3, projects: 2, tasks_per_project: 30, files_per_project: 2, history: false };
    let (project, fake, server) = acme_project(size);
    connect(&project, &server);
    project.max().args(["sync", "acme"]).assert().success();
    data_db(&project)
        .execute_batch(
            "DELETE FROM _max_schema WHERE entity = 'Task' AND field = 'dueDate';
             ALTER TABLE Task DROP COLUMN dueDate;",
        )
        .unwrap();

    let output = project.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["schema"]["added"], serde_json::json!(["Task.dueDate"]), "{summary}");
    assert_eq!(summary["sync"]["record"]["full"], true, "a sync that adds a column reads everything: {summary}");
    let db = data_db(&project);
    let stored: std::collections::BTreeMap<String, Option<String>> = db
        .prepare("SELECT id, dueDate FROM Task")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: std::collections::BTreeMap<String, Option<String>> = fake.with_data(|d| {
        d.list(Kind::Task, None, None, None)
            .0
            .iter()
            .map(|t| (t["id"].as_str().unwrap().to_string(), t["dueDate"].as_str().map(str::to_string)))
            .collect()
    });
    assert_eq!(stored.len(), want.len());
    let filled = stored.values().filter(|d| d.is_some()).count();
    assert_eq!(filled, want.values().filter(|d| d.is_some()).count(), "every task's due date is back");
    assert!(filled > 0);

    // Nothing new the time after: back to the change feed alone.
    let output = project.max().args(["sync", "acme", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["full"], false, "{summary}");
}

#[test]
fn several_installations_of_one_connector_coexist() {
    let (project, _fake, server) = acme_project(Size {
        workspaces: 1,
        users: 2,
        projects: 1,
        tasks_per_project: 3,
        files_per_project: 1,
        history: false,
    });
    connect(&project, &server);
    connect_named(&project, &server, "work");
    project.max().args(["sync", "acme/work"]).assert().success();
    let output = project.max().args(["sync", "acme"]).assert().success().get_output().clone();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Synced acme/default"));
    let again = project
        .max()
        .args(["connect", "acme", "--set", "base_url=http://127.0.0.1:9", "--set", "api_key=x"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(stderr(&again).contains("installation `acme/default` already exists"), "{}", stderr(&again));
    assert!(stderr(&again).contains("--replace"));
}

#[test]
fn a_wrong_api_key_at_connect_saves_nothing() {
    let (project, _fake, server) = acme_project(Size::default());
    let output = project
        .max()
        .args(["connect", "acme", "--set"])
        .arg(format!("base_url={}", server.base_url()))
        .args(["--set", "api_key=wrong"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("could not connect acme") && errors[0].contains("Invalid API key"), "{err}");
    assert!(err.contains("hint: ") && err.contains("nothing was saved"), "{err}");
    assert!(!project.path().join(".max/installations/acme").exists(), "no installation was written");
}

#[test]
fn connect_without_a_terminal_names_the_missing_value() {
    let (project, _fake, server) = acme_project(Size::default());
    let output = project
        .max()
        .args(["connect", "acme", "--set"])
        .arg(format!("base_url={}", server.base_url()))
        .write_stdin("")
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(
        stderr(&output).contains("no value for `api_key`") && stderr(&output).contains("--set api_key=VALUE"),
        "{}",
        stderr(&output)
    );
    let output =
        project.max().args(["connect", "acme", "--set", "colour=blue"]).assert().failure().get_output().clone();
    assert!(
        stderr(&output).contains("does not ask for `colour`") && stderr(&output).contains("base_url, api_key"),
        "{}",
        stderr(&output)
    );
    assert!(!project.path().join(".max/installations/acme").exists());
}

/// Runs `max args` in `project`, expecting exit code 1, one `error:` line, a hint, and every `expect`.
fn fails(project: &TestProject, args: &[&str], expect: &[&str]) {
    let output = project.max().args(args).assert().failure().get_output().clone();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{args:?}: {err}");
    assert!(err.contains("  hint: "), "{args:?} gives a hint: {err}");
    for text in expect {
        assert!(err.contains(text), "{args:?}: expected `{text}` in {err}");
    }
}

#[test]
fn bad_targets_fail_with_one_clear_error() {
    fails(&TestProject::new(), &["sync", "acme"], &["no Max project", "max init"]);
    let (project, _fake, server) = acme_project(Size::default());
    fails(&project, &["connect", "linear"], &["no connector named `linear` is installed", "installed: acme"]);
    fails(&project, &["sync", "acme"], &["no installation `acme`", "max connect"]);
    connect(&project, &server);
    fails(&project, &["sync", "acme/nope"], &["no installation `acme/nope`", "installations: acme/default"]);
    fails(&project, &["search", "acme", "Task"], &["acme/default has not been synced yet", "max sync acme"]);
    project.max().args(["sync", "acme"]).assert().success();
    fails(&project, &["search", "acme", "Ticket"], &["`acme` has no entity `Ticket`", "entities: Account, Workspace"]);
    fails(
        &project,
        &["search", "acme", "Task", "--filter", "status = "],
        &["invalid filter at column 10: expected a value after `=`"],
    );
    fails(&project, &["schema", "nope"], &["no connector named `nope`"]);
}

#[test]
fn a_dead_api_is_reported_within_seconds_and_no_sync_starts() {
    let (project, _fake, server) = acme_project(Size::default());
    connect(&project, &server);
    let url = server.base_url().to_string();
    drop(server);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let started = std::time::Instant::now();
    let output = project.max().args(["sync", "acme"]).assert().code(1).get_output().clone();
    // A bound against the old behaviour (every task retried with backoff for ~40 s), not a benchmark.
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    let err = stderr(&output);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("can't reach 127.0.0.1:") && errors[0].contains("did not start"), "{err}");
    assert!(err.contains(&format!("is the server at {url} running?")), "{err}");
    assert!(err.contains("--replace --set base_url="), "{err}");
    let syncs: i64 = match rusqlite::Connection::open(project.path().join(".max/installations/acme/default/data.db")) {
        Ok(db) => db.query_row("SELECT COUNT(*) FROM _max_syncs", [], |r| r.get(0)).unwrap_or(0),
        Err(_) => 0,
    };
    assert_eq!(syncs, 0, "no sync was recorded");
}

#[test]
fn failed_tasks_are_grouped_by_cause_on_stderr_with_the_command_that_retries_them() {
    let (project, _fake, server) = acme_project(Size::default());
    connect(&project, &server);
    let failing = Acme::new(AcmeConfig {
        faults: max_fake_saas::Faults { error_rate: 0.5, ..Default::default() },
        ..AcmeConfig::default()
    });
    let failing_server = failing.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let path = project.path().join(".max/installations/acme/default/installation.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["config"]["base_url"] = failing_server.base_url().into();
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    let output = project.max().args(["sync", "acme", "--max-attempts", "1"]).assert().code(3).get_output().clone();
    let (out, err) = (String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(!out.contains("Failed tasks"), "the failure list goes to stderr: {out}");
    assert!(err.contains("Failed tasks ("), "{err}");
    let groups: Vec<&str> = err
        .lines()
        .filter(|l| l.strip_prefix("  ").is_some_and(|g| g.starts_with(|c: char| c.is_ascii_digit())))
        .collect();
    assert!(!groups.is_empty() && groups.iter().all(|g| g.contains(" task") && g.contains("HTTP 50")), "{err}");
    let error = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(error.contains("acme/default: ") && error.contains("tasks failed"), "{err}");
    assert!(err.contains("`max sync acme --retry-failed` runs just the failed tasks again"), "{err}");
}

#[test]
fn several_installations_sync_in_one_command_and_one_failing_does_not_stop_the_rest() {
    let size =
        Size { workspaces: 1, users: 3, projects: 2, tasks_per_project: 30, files_per_project: 2, history: false };
    let (project, fake, server) = acme_project(size);
    connect(&project, &server);
    connect_named(&project, &server, "second");
    // A third whose API has gone away since it was connected (it sorts first).
    connect_named(&project, &server, "dead");
    let file = project.path().join(".max/installations/acme/dead/installation.json");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    json["config"]["base_url"] = "http://127.0.0.1:9".into();
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();

    let output = project.max().args(["sync", "--all", "--max-attempts", "1"]).assert().failure().get_output().clone();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Synced acme/default") && stdout.contains("Synced acme/second"), "{stdout}");
    let errors = stderr(&output);
    assert!(errors.contains("1 of 3 installations did not sync completely: acme/dead"), "{errors}");
    for name in ["default", "second"] {
        let stored = max_tests::tables(&project.path().join(format!(".max/installations/acme/{name}/data.db")), true);
        for (entity, count) in fake.counts() {
            assert_eq!(stored.get(entity).map(Vec::len), Some(count), "{entity} of acme/{name}");
        }
    }

    // Named ones, as one JSON document; a name given twice syncs once.
    let output = project.max().args(["sync", "acme", "acme/second", "acme/default", "-o", "json"]).assert().success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    let labels: Vec<&str> =
        json["syncs"].as_array().unwrap().iter().map(|s| s["installation"].as_str().unwrap()).collect();
    assert_eq!(labels, ["acme/default", "acme/second"]);
    assert!(json["syncs"].as_array().unwrap().iter().all(|s| s["sync"]["record"]["status"] == "completed"), "{json}");

    // Retrying failed tasks over several: those with none have nothing to do, which is no failure.
    let output = project.max().args(["sync", "acme", "acme/second", "--retry-failed"]).assert().success();
    let said = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(said.contains("acme/default: nothing to retry") && said.contains("acme/second: nothing to retry"));

    // A misspelt name syncs nothing; --resume takes one installation.
    let before = fake.request_count();
    let output = project.max().args(["sync", "acme/second", "acme/nope"]).assert().failure().get_output().clone();
    assert!(stderr(&output).contains("acme/nope"), "{}", stderr(&output));
    assert_eq!(fake.request_count(), before);
    let output = project.max().args(["sync", "acme", "acme/second", "--resume", "1"]).assert().failure();
    assert!(stderr(output.get_output()).contains("--resume names a sync of one installation"));
}

/// Connectors' requests never go through a proxy named in the environment (it could read or redirect
/// them): the sync works and the proxy sees no connection.
#[test]
fn a_proxy_in_the_environment_is_never_used() {
    let size =
        Size { workspaces: 1, users: 2, projects: 1, tasks_per_project: 5, files_per_project: 1, history: false };
    let (project, fake, server) = acme_project(size);
    connect(&project, &server);
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    // Were the proxy used, requests would hang on it: fail fast instead.
    project.max().args(["limits", "acme", "--set", "request-timeout-seconds=2"]).assert().success();
    let mut sync = project.max();
    sync.args(["sync", "acme", "--max-attempts", "1"]).env_remove("NO_PROXY").env_remove("no_proxy");
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        sync.env(name, &proxy_url);
    }
    sync.assert().success();
    assert!(proxy.accept().is_err(), "a request went to the proxy");
    assert!(fake.request_count() > 0, "the requests went to the API itself");
}
