//! PostgreSQL storage against a real server (one throwaway cluster per test binary, a database per
//! test), through the real `max` binary: what a sync stores there equals what the same sync stores in
//! SQLite, row for row, and search, status and incremental syncs read and write it alike.

use std::time::Duration;

use max_fake_saas::acme::{Acme, AcmeConfig, Size};
use max_tests::{PgCluster, TestProject};
use serde_json::Value;

fn json(project: &TestProject, args: &[&str]) -> Value {
    let output = project.max().args(args).args(["-o", "json"]).assert().success();
    serde_json::from_slice(&output.get_output().stdout).unwrap()
}

/// A project storing its data in a new database of the cluster, and the database's URL.
fn postgres_project() -> (TestProject, String) {
    let url = PgCluster::shared().database();
    let project = TestProject::new();
    project.max().args(["init", "--storage", &url]).assert().success();
    (project, url)
}

fn sqlite_project() -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project
}

/// Every entity type's rows as `max search --all -o json` returns them, in id order.
fn everything(project: &TestProject) -> Vec<(String, Value)> {
    let status = json(project, &["status", "acme"]);
    let entities: Vec<String> =
        status[0]["entities"].as_array().unwrap().iter().map(|e| e["entity"].as_str().unwrap().to_string()).collect();
    assert!(entities.len() >= 4, "{status}");
    entities
        .into_iter()
        .map(|entity| {
            let rows = json(project, &["search", "acme", &entity, "--all", "--order-by", "id"]);
            (entity, rows)
        })
        .collect()
}

#[test]
fn a_sync_into_postgres_equals_the_same_sync_into_sqlite_and_so_do_incremental_ones() {
    let size =
        Size { workspaces: 2, users: 6, projects: 4, tasks_per_project: 120, files_per_project: 3, history: true };
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (postgres, url) = postgres_project();
    let sqlite = sqlite_project();
    for project in [&postgres, &sqlite] {
        project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
        max_tests::connect_acme_to(project, &server, "default", &["--set", "page_size=50"]);
        project.max().args(["sync", "acme"]).assert().success();
    }
    let stored = everything(&postgres);
    assert_eq!(stored, everything(&sqlite), "a full sync stores the same rows in both");
    let tasks =
        stored.iter().find(|(entity, _)| entity == "Task").map(|(_, rows)| rows["rows"].as_array().unwrap().len());
    assert_eq!(tasks, fake.counts().get("Task").copied(), "every task was synced");
    assert!(
        !postgres.path().join(".max/installations/acme/default/data.db").exists(),
        "a PostgreSQL project writes no SQLite file"
    );
    let cluster = PgCluster::shared();
    let database = url.rsplit('/').next().unwrap();
    let links = cluster.psql(database, "SELECT COUNT(*) FROM acme.\"Project.tasks\"");
    assert!(links.parse::<u64>().unwrap() > 0, "the link tables are in the installation's schema: {links}");

    // Changes upstream (an update, a deletion, a new task): an incremental sync of each stores the same.
    max_tests::change_three_tasks(&fake, "Changed");
    for project in [&postgres, &sqlite] {
        let report = json(project, &["sync", "acme"]);
        assert_eq!(report["sync"]["record"]["full"], false, "{report}");
    }
    assert_eq!(everything(&postgres), everything(&sqlite), "incremental syncs store the same rows in both");
    let status = |project: &TestProject| {
        let mut status = json(project, &["status", "acme"])[0].clone();
        for sync in status["syncs"].as_array_mut().unwrap() {
            for key in ["started_at", "finished_at", "requests"] {
                sync[key] = Value::Null;
            }
        }
        status["entities"].as_array_mut().unwrap().iter_mut().for_each(|e| e["last_written"] = Value::Null);
        status["last_completed"] = Value::Null;
        status
    };
    assert_eq!(status(&postgres), status(&sqlite), "status reads the same from both");
}

#[test]
fn searches_filter_order_and_page_alike_on_postgres_and_sqlite() {
    let size =
        Size { workspaces: 1, users: 5, projects: 3, tasks_per_project: 90, files_per_project: 2, history: false };
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (postgres, _) = postgres_project();
    let sqlite = sqlite_project();
    for project in [&postgres, &sqlite] {
        project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
        max_tests::connect_acme_to(project, &server, "default", &[]);
        project.max().args(["sync", "acme"]).assert().success();
    }
    let searches: [&[&str]; 6] = [
        &["--filter", "priority >= 2 AND status != done", "--order-by", "title:desc", "--limit", "17"],
        &[
            "--filter",
            "title ~= \"TASK\" OR assignee.displayName ~= \"a\"",
            "--order-by",
            "assignee.displayName,dueDate:desc",
            "--limit",
            "23",
        ],
        &["--filter", "assignee = null", "--order-by", "priority", "--limit", "9"],
        &["--fields", "id,title,project.name,assignee.email", "--order-by", "project.name:desc,title", "--limit", "40"],
        &["--filter", "dueDate > \"2024-03-01\"", "--order-by", "dueDate", "--limit", "31"],
        &["--filter", "tags ~= \"bug\"", "--limit", "50"],
    ];
    for search in searches {
        // Every page, following the cursors to the end.
        let pages = |project: &TestProject| {
            let mut pages = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let mut args = vec!["search", "acme", "Task"];
                args.extend_from_slice(search);
                if let Some(cursor) = &after {
                    args.extend(["--after", cursor.as_str()]);
                }
                let page = json(project, &args);
                pages.push(page["rows"].clone());
                match page["next"].as_str() {
                    Some(next) => after = Some(next.to_string()),
                    None => break pages,
                }
                assert!(pages.len() < 100, "pages end");
            }
        };
        let (on_postgres, on_sqlite) = (pages(&postgres), pages(&sqlite));
        assert_eq!(on_postgres, on_sqlite, "search {search:?}");
        assert!(on_postgres.iter().map(|p| p.as_array().unwrap().len()).sum::<usize>() > 0, "{search:?} finds rows");
    }
    let bad = postgres.max().args(["search", "acme", "Task", "--filter", "nope = 1"]).assert().failure();
    let stderr = String::from_utf8_lossy(&bad.get_output().stderr).into_owned();
    assert!(stderr.contains("nope") && !stderr.contains("SELECT"), "{stderr}");
}

#[test]
fn a_postgres_project_says_clearly_when_its_database_is_unreachable_or_the_url_is_wrong() {
    let project = TestProject::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("postgres://max:hunter2@127.0.0.1:{port}/max?connect_timeout=2");
    let started = std::time::Instant::now();
    let output = project.max().args(["init", "--storage", &dead]).assert().failure();
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stderr.contains("can't connect") && !stderr.contains("hunter2"), "the password is never shown: {stderr}");
    assert!(!project.path().join(".max").exists(), "nothing is created when the database can't be reached");
    let output = project.max().args(["init", "--storage", "mysql://nowhere"]).assert().failure();
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stderr.contains("not a storage"), "{stderr}");
    let output = project.max().args(["init", "--storage", "postgres://max@127.0.0.1"]).assert().failure();
    assert!(String::from_utf8_lossy(&output.get_output().stderr).contains("names no database"));
}
