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

/// The bytes the schema `schema` of `database` takes (tables with their indexes and TOAST), and
/// its relations over a page, largest first, for messages.
fn schema_size(database: &str, schema: &str) -> (u64, String) {
    let cluster = PgCluster::shared();
    let relations =
        format!("FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}'");
    let total = cluster.psql(
        database,
        &format!("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) {relations} AND c.relkind = 'r'"),
    );
    let parts = cluster.psql(
        database,
        &format!("SELECT c.relname, pg_relation_size(c.oid) AS size {relations} AND pg_relation_size(c.oid) > 8192 ORDER BY size DESC"),
    );
    (total.parse().unwrap(), parts.replace('\n', ", "))
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

/// An Acme fake of `size`, and a PostgreSQL and a SQLite project each with acme connected to it
/// (with `connect` added) and synced once: the fake, its server, the PostgreSQL project and its
/// URL, the SQLite project.
fn synced_twins(
    size: Size,
    connect: &[&str],
) -> (Acme, max_fake_saas::RunningServer, TestProject, String, TestProject) {
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (postgres, url) = postgres_project();
    let sqlite = sqlite_project();
    for project in [&postgres, &sqlite] {
        project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
        max_tests::connect_acme_to(project, &server, "default", connect);
        project.max().args(["sync", "acme"]).assert().success();
    }
    (fake, server, postgres, url, sqlite)
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
    let (fake, _server, postgres, url, sqlite) = synced_twins(size, &["--set", "page_size=50"]);
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
    let (_fake, _server, postgres, url, sqlite) = synced_twins(size, &[]);
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
    // SQL reads both alike (the same query text: quoted names mean the same in both), and only reads.
    let query = "SELECT p.\"name\" AS project, COUNT(*) AS tasks, MAX(t.\"title\") AS last_title \
                 FROM acme.\"Task\" t JOIN acme.\"Project\" p ON p.id = t.\"project\" GROUP BY p.\"name\" ORDER BY 1";
    let rows = json(&postgres, &["sql", query]);
    assert_eq!(rows, json(&sqlite, &["sql", query]), "max sql answers the same from both");
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(3), "{rows}");
    for write in ["DELETE FROM acme.\"Task\"", "CREATE TABLE acme.x (y int)", "SELECT 1; DELETE FROM acme.\"Task\""] {
        let refused = postgres.max().args(["sql", write]).assert().failure();
        let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(
            stderr.contains("sql_refused")
                || stderr.contains("only reading")
                || stderr.contains("cannot insert multiple"),
            "{write}: {stderr}"
        );
    }
    let counted = json(&postgres, &["sql", "SELECT COUNT(*) AS n FROM acme.\"Task\""]);
    assert_eq!(
        counted["rows"][0][0].as_u64().or(counted["rows"][0]["n"].as_u64()),
        Some(270),
        "nothing was deleted: {counted}"
    );
    let slow = postgres.max().args(["sql", "SELECT pg_sleep(5)", "--timeout", "1s"]).assert().failure();
    assert!(String::from_utf8_lossy(&slow.get_output().stderr).contains("1"), "the time limit holds");
    let bad = postgres.max().args(["search", "acme", "Task", "--filter", "nope = 1"]).assert().failure();
    let stderr = String::from_utf8_lossy(&bad.get_output().stderr).into_owned();
    assert!(stderr.contains("nope") && !stderr.contains("SELECT"), "{stderr}");
    // --match finds the same tasks on both (each ranks by its own engine's relevance), and pages
    // through every match on PostgreSQL, best first, with a snippet of each.
    let first = json(&sqlite, &["search", "acme", "Task", "--fields", "title", "--order-by", "id", "--limit", "1"]);
    let title = first["rows"][0]["title"].as_str().unwrap().to_lowercase();
    let words: Vec<&str> = title.split_whitespace().collect();
    let phrase = format!("\"{} {}\"", words[1], words[2]);
    let prefix = format!("{}*", &words[2][..3]);
    let field = format!("title:{}", words[1]);
    let either = format!("{} OR {}", words[1], words[2]);
    let excluding = format!("{} -{}", words[1], words[2]);
    // Every word is searched for, `the` and `in` too, as SQLite does.
    let texts =
        [words[2], phrase.as_str(), prefix.as_str(), field.as_str(), either.as_str(), excluding.as_str(), "linked"];
    for text in texts.into_iter().chain(["the", "\"details in the linked\""]) {
        let found = |project: &TestProject| {
            let page = json(project, &["search", "acme", "Task", "--match", text, "--fields", "id,.match", "--all"]);
            let rows = page["rows"].as_array().unwrap().clone();
            let mut ids: Vec<String> = rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
            ids.sort();
            (ids, rows)
        };
        let ((on_postgres, ranked), (on_sqlite, _)) = (found(&postgres), found(&sqlite));
        assert_eq!(on_postgres, on_sqlite, "--match {text}");
        assert!(!on_postgres.is_empty(), "--match {text} finds tasks");
        let scores: Vec<f64> = ranked.iter().map(|r| r["_score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
        assert!(ranked.iter().all(|r| r["_snippet"].as_str().is_some_and(|s| !s.is_empty())), "{ranked:?}");
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut args = vec!["search", "acme", "Task", "--match", text, "--fields", "id", "--limit", "7"];
            if let Some(cursor) = &after {
                args.extend(["--after", cursor.as_str()]);
            }
            let page = json(&postgres, &args);
            paged.extend(page["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
            assert!(paged.len() < 1_000, "pages end");
        }
        let all: Vec<String> = ranked.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(paged, all, "--match {text}: pages of 7 are the whole list, in its order");
    }
    // In a table, the matched words are marked.
    let shown = postgres
        .max()
        .args(["search", "acme", "Task", "--match", words[1], "--fields", "id,.match"])
        .assert()
        .success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).to_lowercase();
    assert!(shown.contains(words[1]) && !shown.contains('\u{1}'), "{shown}");
    let unsafe_text = postgres.max().args(["search", "acme", "Task", "--match", "it's & (x | !y):* \\"]).assert();
    let code = unsafe_text.get_output().status.code();
    assert_eq!(code, Some(0), "tsquery syntax in what users type is only text: {:?}", unsafe_text.get_output());

    // Disconnecting drops the installation's schema with its data.
    let database = url.rsplit('/').next().unwrap();
    let schema = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'acme'";
    assert_eq!(PgCluster::shared().psql(database, schema), "1");
    postgres.max().args(["disconnect", "acme", "--yes"]).assert().success();
    assert_eq!(PgCluster::shared().psql(database, schema), "0", "the schema went with the installation");
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

/// `max worker` in `project`, as a child (no `CI`, so it behaves as on a server), its output piped.
fn worker(project: &TestProject, args: &[&str]) -> std::process::Child {
    // A worker a failed test leaves behind stops by itself once its database is gone.
    project.spawn(&[&["worker", "--exit-when-idle", "2m"], args].concat())
}

/// Stops `child` with SIGTERM (after its tasks in flight) and returns what it said on stderr.
fn stop(child: std::process::Child) -> String {
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The rows a worker said it stored, over every sync it helped.
fn rows_stored(said: &str) -> u64 {
    said.lines()
        .filter_map(|line| line.split("stored ").nth(1)?.split(' ').next()?.replace(',', "").parse::<u64>().ok())
        .sum()
}

/// Waits (at most 120 s: ten debug processes start slowly on a busy machine) until all `workers` are alive
/// on `database`, failing with what a worker said if one exits first.
fn wait_for_workers(database: &str, workers: &mut [std::process::Child]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let cluster = PgCluster::shared();
    loop {
        for worker in workers.iter_mut() {
            if let Some(status) = worker.try_wait().unwrap() {
                let mut said = String::new();
                std::io::Read::read_to_string(&mut worker.stderr.take().unwrap(), &mut said).unwrap();
                panic!("a worker exited ({status}) before the sync: {said}");
            }
        }
        let table = cluster.psql(database, "SELECT to_regclass('\"_max\".workers') IS NOT NULL");
        if table == "t" {
            let alive = cluster
                .psql(database, "SELECT COUNT(*) FROM \"_max\".workers WHERE seen_at > now() - interval '5 seconds'");
            if alive.parse::<usize>().unwrap() >= workers.len() {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{} workers never started", workers.len());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn acme_with_latency(size: Size, latency: Duration) -> (Acme, max_fake_saas::RunningServer) {
    let faults = max_fake_saas::Faults { latency, ..max_fake_saas::Faults::default() };
    let fake = Acme::new(AcmeConfig { size, faults, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    (fake, server)
}

#[test]
fn a_sync_drained_by_three_worker_processes_equals_the_same_sync_into_sqlite() {
    let size =
        Size { workspaces: 2, users: 8, projects: 4, tasks_per_project: 150, files_per_project: 4, history: true };
    let (_fake, server) = acme_with_latency(size, Duration::from_millis(25));
    let (postgres, url) = postgres_project();
    let sqlite = sqlite_project();
    for project in [&postgres, &sqlite] {
        project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
        max_tests::connect_acme_to(project, &server, "default", &["--set", "page_size=10"]);
    }
    let mut workers: Vec<_> = (0..3).map(|_| worker(&postgres, &["--workers", "3"])).collect();
    let database = url.rsplit('/').next().unwrap();
    wait_for_workers(database, &mut workers);
    let status = postgres.max().args(["status"]).assert().success();
    let shown = String::from_utf8_lossy(&status.get_output().stdout).into_owned();
    assert!(shown.contains("3 workers are running"), "max status lists the workers: {shown}");
    // With workers alive, `max sync` starts the sync, leaves its tasks to them and follows it.
    let synced = json(&postgres, &["sync", "acme", "--workers", "2"]);
    assert_eq!(synced["sync"]["record"]["status"], "completed", "{synced}");
    let said: Vec<String> = workers.into_iter().map(stop).collect();
    for (i, said) in said.iter().enumerate() {
        assert!(rows_stored(said) > 0, "worker {i} ran some of the sync's tasks: {said}");
    }
    sqlite.max().args(["sync", "acme"]).assert().success();
    assert_eq!(everything(&postgres), everything(&sqlite), "the drained sync stored what one process stores");
    let owners = PgCluster::shared().psql(
        database,
        "SELECT COUNT(*) FILTER (WHERE state <> 'completed'), COUNT(DISTINCT owner) FROM acme._max_tasks",
    );
    assert_eq!(owners, "0|0", "every task completed, no claim left behind");
    let counted: u64 =
        synced["sync"]["record"]["entities"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    let by_workers: u64 = said.iter().map(|s| rows_stored(s)).sum();
    assert_eq!(counted, by_workers, "the workers stored every row, and the sync's counts add theirs up");
}

#[test]
fn workers_with_only_the_databases_url_run_what_the_project_publishes_and_follow_its_changes() {
    let size =
        Size { workspaces: 2, users: 6, projects: 3, tasks_per_project: 60, files_per_project: 2, history: false };
    let (fake, server) = acme_with_latency(size, Duration::from_millis(10));
    let (project, url) = postgres_project();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    max_tests::connect_acme_to(&project, &server, "default", &["--set", "page_size=10"]);
    // Two machines of their own: an empty folder and a home each, nothing of the project's.
    let machines = [TestProject::new(), TestProject::new()];
    let mut workers: Vec<_> = machines
        .iter()
        .map(|m| m.spawn(&["worker", "--storage", &url, "--workers", "3", "--exit-when-idle", "2m"]))
        .collect();
    let database = url.rsplit('/').next().unwrap();
    wait_for_workers(database, &mut workers);
    let synced = json(&project, &["sync", "acme"]);
    assert_eq!(synced["sync"]["record"]["status"], "completed", "{synced}");
    // A second installation, connected after the workers started, reaches them with its sync.
    max_tests::connect_acme_to(&project, &server, "second", &["--set", "page_size=10"]);
    let second = json(&project, &["sync", "acme/second"]);
    assert_eq!(second["sync"]["record"]["status"], "completed", "{second}");
    let said: Vec<String> = workers.into_iter().map(stop).collect();
    let by_workers: u64 = said.iter().map(|s| rows_stored(s)).sum();
    let counted: u64 = [&synced, &second]
        .iter()
        .flat_map(|s| s["sync"]["record"]["entities"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(by_workers, counted, "the workers stored every row of both syncs: {said:?}");
    assert!(said.iter().any(|s| s.contains("acme/second: helping")), "{said:?}");
    assert!(said.iter().all(|s| s.contains("Took the project as published")), "{said:?}");
    for installation in ["acme", "acme/second"] {
        let entities = json(&project, &["status", installation])[0]["entities"].clone();
        for (entity, count) in fake.counts() {
            let rows = entities.as_array().unwrap().iter().find(|e| e["entity"] == entity).map(|e| e["rows"].clone());
            assert_eq!(rows, Some(Value::from(count)), "{entity} of {installation}");
        }
    }

    // What the workers took: the connector and the installations, credentials readable by their
    // owner only; never the project's own storage.json, which each machine keeps.
    let copies: Vec<_> = std::fs::read_dir(machines[0].home().join("workers")).unwrap().collect();
    assert_eq!(copies.len(), 1);
    let copy = copies[0].as_ref().unwrap().path().join(".max");
    use std::os::unix::fs::PermissionsExt;
    let credentials = std::fs::metadata(copy.join("installations/acme/second/credentials.json")).unwrap();
    assert_eq!(credentials.permissions().mode() & 0o777, 0o600);
    let published =
        PgCluster::shared().psql(database, "SELECT string_agg(path, ' ' ORDER BY path) FROM \"_max\".published");
    assert!(published.contains("connectors/manifest.json") && !published.contains("storage.json"), "{published}");
    // A disconnected installation leaves the copies at the next version.
    project.max().args(["disconnect", "acme/second", "--yes"]).assert().success();
    project.max().args(["sync", "acme"]).assert().success();
    let again = machines[0].spawn(&["worker", "--storage", &url, "--exit-when-idle", "1s"]);
    let said = String::from_utf8_lossy(&again.wait_with_output().unwrap().stderr).into_owned();
    assert!(said.contains("Took the project as published") && said.contains("acme/default"), "{said}");
    assert!(!copy.join("installations/acme/second").exists(), "{said}");
}

#[test]
fn a_worker_killed_mid_task_loses_its_tasks_to_the_others_and_nothing_is_lost_or_stored_twice() {
    let size =
        Size { workspaces: 1, users: 4, projects: 6, tasks_per_project: 40, files_per_project: 2, history: false };
    let (_fake, server) = acme_with_latency(size, Duration::from_millis(400));
    let (postgres, url) = postgres_project();
    let sqlite = sqlite_project();
    for project in [&postgres, &sqlite] {
        project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
        max_tests::connect_acme_to(project, &server, "default", &["--set", "page_size=10"]);
    }
    let mut doomed = worker(&postgres, &["--workers", "4", "--lease", "4s"]);
    wait_for_workers(url.rsplit('/').next().unwrap(), std::slice::from_mut(&mut doomed));
    let mut sync = std::process::Command::new(assert_cmd::cargo::cargo_bin("max"));
    let sync = sync
        .args(["sync", "acme", "--workers", "2", "-o", "json"])
        .current_dir(postgres.path())
        .env("MAX_HOME", postgres.home())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the doomed worker holds tasks, kill it where it stands. It is frozen first and its claims
    // counted while frozen, so a task it finishes between the count and the kill can't empty its hands.
    let database = url.rsplit('/').next().unwrap().to_string();
    let held =
        format!("SELECT COUNT(*) FROM acme._max_tasks WHERE state = 'running' AND owner LIKE '%:{}:%'", doomed.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exists = "SELECT to_regclass('acme._max_tasks') IS NOT NULL";
    let signal = |name: &str| {
        let sent = std::process::Command::new("kill").args([name, &doomed.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill {name}");
    };
    loop {
        assert!(std::time::Instant::now() < deadline, "the worker never claimed a task");
        if PgCluster::shared().psql(&database, exists) == "t" && PgCluster::shared().psql(&database, &held) != "0" {
            signal("-STOP");
            // A commit already sent reaches the server before the count.
            std::thread::sleep(Duration::from_millis(300));
            if PgCluster::shared().psql(&database, &held) != "0" {
                break;
            }
            signal("-CONT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = format!(":{}:", doomed.id());
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let orphaned = PgCluster::shared().psql(&database, &held);
    assert_ne!(orphaned, "0", "the killed worker left claimed tasks behind");
    // `max status` shows who holds the sync's tasks: the dead worker, until its leases run out.
    let status = json(&postgres, &["status", "acme"]);
    let claims = status[0]["unfinished"]["claims"].as_array().cloned().unwrap_or_default();
    assert!(
        claims.iter().any(|c| c["owner"].as_str().unwrap().contains(&pid) && c["tasks"].as_u64() > Some(0)),
        "{status}"
    );
    assert_eq!(status[0]["unfinished"]["running"], true, "{status}");
    let output = sync.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sync"]["record"]["status"], "completed", "{report}");
    let taken_over = PgCluster::shared()
        .psql(&database, "SELECT COUNT(*) FROM acme._max_tasks WHERE attempts > 1 AND state = 'completed'");
    assert!(
        taken_over.parse::<u64>().unwrap() >= orphaned.parse::<u64>().unwrap(),
        "its tasks ran again: {taken_over}"
    );
    sqlite.max().args(["sync", "acme"]).assert().success();
    assert_eq!(everything(&postgres), everything(&sqlite), "nothing lost, nothing stored twice");
}

#[test]
fn a_late_commit_by_a_worker_whose_lease_expired_is_refused_by_its_fencing_token() {
    use max_host::data::FieldValue;
    use max_host::storage::{DataStore, PgStorage, Storage, TaskStore};
    use max_host::task::{Claim, NewTask, TaskOutcome, TaskSpec};
    let url = PgCluster::shared().database();
    let info = crate::storage::people_schema(serde_json::json!([]));
    let mut late = PgStorage::open(&url, "people").unwrap();
    late.apply_schema(&info, false).unwrap();
    late.set_lease(Duration::from_secs(1));
    let spec = TaskSpec::Load { loader: "test".into(), entity: "Person".into(), ids: vec![] };
    let sync = late.begin_sync(true, &[NewTask { group: 0, parent: None, spec }]).unwrap();
    let Claim::Task(first) = late.claim_task(sync).unwrap() else { panic!("a task to claim") };
    // The lease runs out (the process stalled); another worker takes the task over.
    let mut other = PgStorage::open(&url, "people").unwrap();
    other.apply_schema(&info, false).unwrap();
    assert!(matches!(other.claim_task(sync).unwrap(), Claim::Wait), "a live lease is never taken over");
    std::thread::sleep(Duration::from_millis(1500));
    let Claim::Task(second) = other.claim_task(sync).unwrap() else { panic!("the expired claim is taken over") };
    assert_eq!((second.id, second.attempts), (first.id, first.attempts + 1));
    assert!(!late.renew_claim(&first).unwrap(), "the old holder can't renew what it lost");
    let outcome = |name: &str| TaskOutcome {
        batches: vec![crate::storage::batch("Person", &["name"], vec![("p1", vec![FieldValue::Text(name.into())])])],
        ..TaskOutcome::default()
    };
    let refused = late.complete_task(sync, &first, outcome("from the late worker")).unwrap_err();
    assert!(matches!(refused, max_host::Error::LeaseLost { .. }), "{refused:?}");
    assert!(late.fail_task(&first, "late").is_err(), "nor can it fail the task");
    other.complete_task(sync, &second, outcome("from the worker holding it")).unwrap();
    let database = url.rsplit('/').next().unwrap();
    let stored = PgCluster::shared().psql(database, "SELECT name FROM people.\"Person\"");
    assert_eq!(stored, "from the worker holding it");
    let task = PgCluster::shared().psql(database, "SELECT state, attempts FROM people._max_tasks");
    assert_eq!(task, "completed|2");
}

#[test]
fn rows_that_grow_a_schema_past_its_limit_are_rolled_back_and_their_space_given_back() {
    use max_host::data::FieldValue;
    use max_host::storage::{DataStore, PgStorage, Storage, TaskStore};
    use max_host::task::{Claim, NewTask, TaskOutcome, TaskSpec};
    let url = PgCluster::shared().database();
    let database = url.rsplit('/').next().unwrap().to_string();
    let info = crate::storage::people_schema(serde_json::json!([]));
    let mut storage = PgStorage::open(&url, "people").unwrap();
    storage.apply_schema(&info, false).unwrap();
    // Small rows take several times their values' bytes (headers, bookkeeping, the id's index): the
    // estimate (8,000 × 53 bytes) lets them through, the schema's size after writing them does not.
    let (empty, _) = schema_size(&database, "people");
    storage.limit_size(empty + (600 << 10));
    let names: Vec<String> = (0..8000).map(|n| format!("p{n:05}")).collect();
    let rows = names.iter().map(|id| (id.as_str(), vec![FieldValue::Text("x".into())])).collect();
    let outcome =
        TaskOutcome { batches: vec![crate::storage::batch("Person", &["name"], rows)], ..TaskOutcome::default() };
    let spec = TaskSpec::Load { loader: "test".into(), entity: "Person".into(), ids: vec![] };
    let sync = storage.begin_sync(true, &[NewTask { group: 0, parent: None, spec }]).unwrap();
    let Claim::Task(task) = storage.claim_task(sync).unwrap() else { panic!("a task to claim") };
    let full = storage.complete_task(sync, &task, outcome).unwrap_err();
    assert!(matches!(full, max_host::Error::DatabaseFull { .. }), "{full:?}");
    assert_eq!(PgCluster::shared().psql(&database, "SELECT COUNT(*) FROM people.\"Person\""), "0");
    let (after, parts) = schema_size(&database, "people");
    assert!(after <= empty + (600 << 10), "vacuumed and reindexed within the limit: {after} from {empty}: {parts}");
}

#[test]
fn ten_workers_on_one_installation_keep_within_the_apis_rate_budget() {
    use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig, RateLimits};
    // Ten requests a second: the sync needs several times that, so the workers share each second's.
    let limits =
        RateLimits { requests: 10, complexity: 6_000, period: Duration::from_secs(1), ..RateLimits::default() };
    let faults = max_fake_saas::Faults { latency: Duration::from_millis(20), ..max_fake_saas::Faults::default() };
    let fake = Linear::new(LinearConfig { limits, faults, ..LinearConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (project, url) = postgres_project();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("linear")).assert().success();
    let (base, key) = (format!("base_url={}", server.base_url()), format!("api_key={DEFAULT_API_KEY}"));
    project
        .max()
        .args(["connect", "linear", "--set", &base, "--set", "auth=api_key", "--set", &key, "--set", "page_size=10"])
        .assert()
        .success();
    let mut workers: Vec<_> = (0..10).map(|_| worker(&project, &["--workers", "2"])).collect();
    wait_for_workers(url.rsplit('/').next().unwrap(), &mut workers);
    let before = fake.request_count();
    let synced = json(&project, &["sync", "linear", "--workers", "2"]);
    let said: Vec<String> = workers.into_iter().map(stop).collect();
    assert_eq!(synced["sync"]["record"]["status"], "completed", "{synced}");
    let stats = fake.stats();
    assert!(fake.request_count() - before > 30, "{stats}");
    assert!(said.iter().filter(|s| rows_stored(s) > 0).count() >= 3, "the workers shared the sync: {said:?}");
    assert_eq!(stats["rate_limited"], 0, "the budget was never exceeded, however many workers: {stats}");
    let issues = json(&project, &["status", "linear"])[0]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "Issue")
        .map(|e| e["rows"].as_u64().unwrap());
    assert_eq!(issues, Some(fake.counts()["Issue"] as u64));
}

#[test]
fn an_installations_size_limit_holds_in_postgresql_and_the_others_keep_syncing() {
    use crate::sandbox::connect_hostile;
    let (project, url) = postgres_project();
    let database = url.rsplit('/').next().unwrap();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::guest("hostile")).assert().success();
    // A connector that returns 8 MiB of rows at once, into a schema allowed 2 MiB.
    connect_hostile(&project, "bulky", max_tests::listening_url(), "t", "bulk:8", &["--limit", "database-mib=2"])
        .success();
    connect_hostile(&project, "calm", max_tests::listening_url(), "t", "p1", &[]).success();
    let full = project.max().args(["sync", "hostile/bulky"]).assert().failure().get_output().stderr.clone();
    let full = String::from_utf8_lossy(&full);
    assert!(full.contains("is full") && full.contains("--set database-mib="), "{full}");
    let (size, parts) = schema_size(database, "hostile/bulky");
    assert!(size <= 2 << 20, "the schema stayed within its limit: {size}: {parts}");
    let status = json(&project, &["status", "hostile/bulky"]);
    assert_eq!(status[0]["syncs"][0]["status"], "interrupted", "{status}");
    // The other installation in the same database is not held back.
    project.max().args(["sync", "hostile/calm"]).assert().success();
    // Raised, the limit lets the stopped sync resume and complete, every row stored once.
    project.max().args(["limits", "hostile/bulky", "--set", "database-mib=64"]).assert().success();
    let resumed = project.max().args(["sync", "hostile/bulky"]).assert().success();
    assert!(String::from_utf8_lossy(&resumed.get_output().stdout).contains("resumed, completed"));
    let rows = PgCluster::shared().psql(database, "SELECT COUNT(*) FROM \"hostile/bulky\".\"Probe\"");
    assert_eq!(rows, (8 * 1024 + 1).to_string(), "every row arrived once");
    assert!(schema_size(database, "hostile/bulky").0 > 2 << 20);
}

#[test]
fn names_past_postgresqls_63_bytes_stay_apart_installations_and_discovered_properties_alike() {
    use max_fake_saas::hubspot::{HubSpot, HubSpotConfig, Mutation};
    let (project, url) = postgres_project();
    let database = url.rsplit('/').next().unwrap();
    // Two installations whose schema names (`acme/…`) begin alike for more than 63 bytes, on two
    // accounts of different sizes: each keeps its own rows.
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    let smaller =
        Size { workspaces: 1, users: 2, projects: 1, tasks_per_project: 5, files_per_project: 1, history: false };
    let larger = Size { projects: 3, ..smaller };
    let accounts = [acme_with_latency(smaller, Duration::ZERO), acme_with_latency(larger, Duration::ZERO)];
    let names = [format!("{}-one", "x".repeat(60)), format!("{}-two", "x".repeat(60))];
    for ((_, server), name) in accounts.iter().zip(&names) {
        max_tests::connect_acme_to(&project, server, name, &[]);
        project.max().args(["sync", &format!("acme/{name}")]).assert().success();
    }
    for ((fake, _), name) in accounts.iter().zip(&names) {
        let entities = json(&project, &["status", &format!("acme/{name}")])[0]["entities"].clone();
        let tasks = entities.as_array().unwrap().iter().find(|e| e["entity"] == "Task").unwrap()["rows"].clone();
        assert_eq!(tasks.as_u64(), fake.counts().get("Task").map(|&n| n as u64), "acme/{name}");
    }
    let schemas = PgCluster::shared().psql(database, "SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'acme/%'");
    assert_eq!(schemas, "2");

    // Two custom properties of an account whose names begin alike for more than 63 bytes: two columns.
    let fake = HubSpot::new(HubSpotConfig::default());
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let long = |end: &str| format!("renewal_date_of_the_enterprise_contract_as_agreed_with_procurement_{end}");
    let (first, second) = (long("start"), long("end"));
    let contact = fake.with_data(|d| d.all(max_fake_saas::hubspot::ObjectType::Contacts)[0].id.to_string());
    let mutations: Vec<Mutation> = serde_json::from_value(serde_json::json!([
        { "op": "add_property", "type": "contacts", "name": first, "kind": "string" },
        { "op": "add_property", "type": "contacts", "name": second, "kind": "string" },
        { "op": "update", "type": "contacts", "id": contact, "properties": { first.clone(): "from", second.clone(): "to" } },
    ]))
    .unwrap();
    fake.with_data(|d| mutations.iter().for_each(|m| drop(d.mutate(m).unwrap())));
    crate::hubspot::install_and_connect(&project, &server, &[]);
    project.max().args(["sync", "hubspot"]).assert().success();
    let filter = format!("id = \"{contact}\"");
    let fields = format!("{first},{second}");
    let found = json(&project, &["search", "hubspot", "Contact", "--filter", &filter, "--fields", &fields]);
    assert_eq!(found["rows"][0][first.as_str()], "from", "{found}");
    assert_eq!(found["rows"][0][second.as_str()], "to", "{found}");
}

#[test]
fn a_project_moves_its_data_to_postgresql_and_back_and_each_storage_keeps_what_it_had() {
    let size =
        Size { workspaces: 1, users: 3, projects: 4, tasks_per_project: 30, files_per_project: 1, history: false };
    // Slow enough that the sync below is seen running, for seconds, before it ends.
    let (fake, server) = acme_with_latency(size, Duration::from_millis(600));
    let project = sqlite_project();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::connector("acme")).assert().success();
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["sync", "acme"]).assert().success();
    let tasks = |project: &TestProject| {
        let page = json(project, &["search", "acme", "Task", "--fields", "id", "--all"]);
        page["rows"].as_array().unwrap().len()
    };
    let expected = fake.counts()["Task"];
    assert_eq!(tasks(&project), expected);

    // A database that doesn't answer changes nothing.
    let refused = project.max().args(["storage", "postgres://max@127.0.0.1:1/nowhere"]).assert().failure();
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("can't connect"));
    assert!(json(&project, &["storage"])["storage"].as_str().unwrap().starts_with("SQLite"));

    // Moved: nothing there yet, so the next sync loads everything afresh.
    let url = PgCluster::shared().database();
    let moved = json(&project, &["storage", &url]);
    assert_eq!(
        (moved["changed"].as_bool(), moved["afresh"][0].as_str()),
        (Some(true), Some("acme/default")),
        "{moved}"
    );
    let unsynced = project.max().args(["search", "acme", "Task"]).assert().failure();
    assert!(String::from_utf8_lossy(&unsynced.get_output().stderr).contains("not been synced"));
    // While a sync runs, the project stays where it is.
    let mut sync = std::process::Command::new(assert_cmd::cargo::cargo_bin("max"));
    let sync = project.as_a_person(sync.args(["sync", "acme", "--no-daemon", "-o", "json"]));
    let sync = sync.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while json(&project, &["status", "acme"])[0]["unfinished"]["running"] != true {
        assert!(std::time::Instant::now() < deadline, "the sync started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let busy = project.max().args(["storage", "sqlite"]).assert().failure();
    assert!(String::from_utf8_lossy(&busy.get_output().stderr).contains("being synced"));
    let synced = sync.wait_with_output().unwrap();
    assert!(synced.status.success(), "{}", String::from_utf8_lossy(&synced.stderr));
    let synced: Value = serde_json::from_slice(&synced.stdout).unwrap();
    assert_eq!(synced["sync"]["record"]["full"], true, "{synced}");
    assert_eq!(tasks(&project), expected);
    let database = url.rsplit('/').next().unwrap();
    assert_eq!(PgCluster::shared().psql(database, "SELECT COUNT(*) FROM acme.\"Task\""), expected.to_string());

    // Back: the data.db is where it was, and the next sync goes on from it.
    let back = json(&project, &["storage", "sqlite"]);
    assert_eq!(back["resumed"][0], "acme/default", "{back}");
    assert_eq!(tasks(&project), expected);
    let again = json(&project, &["sync", "acme"]);
    assert_eq!(again["sync"]["record"]["full"], false, "{again}");
    let same = json(&project, &["storage", "sqlite"]);
    assert_eq!(same["changed"], false, "{same}");
}
