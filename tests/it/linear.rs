//! The Linear connector end to end: the real `max` binary and linear.wasm against `fake-saas linear`
//! with every list spread over at least three pages. Counts, references, collections and a search
//! are checked against the fake's own data.

use std::collections::{BTreeMap, BTreeSet};

use max_fake_saas::RunningServer;
use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig, Size};
use max_tests::{TestProject, connector};
use serde_json::Value;

/// A project with linear installed and connected to a fresh fake with `config` by API key,
/// `--set`ting `extra` too.
fn linear_project(config: LinearConfig, extra: &[&str]) -> (TestProject, Linear, RunningServer) {
    let fake = Linear::new(config);
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let key = format!("api_key={DEFAULT_API_KEY}");
    let sets: Vec<&str> = ["auth=api_key", key.as_str()].into_iter().chain(extra.iter().copied()).collect();
    (connected(&server, &sets), fake, server)
}

/// A new project with linear installed and connected to `server`, `--set`ting each of `sets`.
fn connected(server: &RunningServer, sets: &[&str]) -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("linear")).assert().success();
    let mut connect = project.max();
    connect.args(["connect", "linear", "--set"]).arg(format!("base_url={}", server.base_url()));
    for setting in sets {
        connect.args(["--set", setting]);
    }
    connect.assert().success();
    project
}

fn data_db(project: &TestProject) -> rusqlite::Connection {
    rusqlite::Connection::open(project.path().join(".max/installations/linear/default/data.db")).unwrap()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

/// A size where every list, at two objects a page, takes at least three pages, and some teams have
/// more members than one nested page holds.
fn paged_size() -> Size {
    Size {
        teams: 5,
        users: 70,
        labels_per_team: 1,
        projects: 5,
        cycles_per_team: 1,
        issues_per_team: 5,
        comments_per_issue: 2,
    }
}

#[test]
fn a_synced_workspace_matches_the_api_exactly() {
    let (project, fake, _server) =
        linear_project(LinearConfig { size: paged_size(), ..LinearConfig::default() }, &["page_size=2"]);
    let output = project.max().args(["sync", "linear", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");

    let db = data_db(&project);
    let count = |table: &str| -> usize {
        db.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get::<_, i64>(0)).unwrap() as usize
    };
    let expected = fake.counts();
    for (entity, n) in &expected {
        assert!(*n >= 5, "{entity}: {n} objects make at least three pages of two");
        assert_eq!(count(entity), *n, "{entity} rows");
    }
    assert_eq!(count("Organization"), 1);

    // Every reference resolves to a stored row.
    for (entity, field, target) in [
        ("Issue", "team", "Team"),
        ("Issue", "state", "WorkflowState"),
        ("Issue", "assignee", "User"),
        ("Issue", "creator", "User"),
        ("Issue", "project", "Project"),
        ("Issue", "cycle", "Cycle"),
        ("Issue", "parent", "Issue"),
        ("Comment", "issue", "Issue"),
        ("Comment", "user", "User"),
        ("WorkflowState", "team", "Team"),
        ("Cycle", "team", "Team"),
        ("IssueLabel", "team", "Team"),
        ("Project", "lead", "User"),
    ] {
        let sql = format!(
            "SELECT COUNT(*) FROM \"{entity}\" e WHERE e.\"{field}\" IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM \"{target}\" t WHERE t.id = e.\"{field}\")"
        );
        let dangling: i64 = db.query_row(&sql, [], |r| r.get(0)).unwrap();
        assert_eq!(dangling, 0, "{entity}.{field} → {target}");
    }
    let parents: i64 = db.query_row("SELECT COUNT(*) FROM Issue WHERE parent IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert!(parents > 0, "the data has sub-issues");

    // Every collection link exists, and only those.
    let links = |table: &str| max_tests::links(&db, table);
    let api = |type_name: &str, key: &str| -> BTreeMap<String, BTreeSet<String>> {
        fake.with_data(|d| {
            d.all(type_name)
                .iter()
                .map(|o| (o["id"].as_str().unwrap().to_string(), strings(&o[key])))
                .filter(|(_, ids)| !ids.is_empty())
                .collect()
        })
    };
    assert_eq!(links("Issue.labels"), api("Issue", "labelIds"));
    assert_eq!(links("Issue.children"), api("Issue", "_childIds"));
    assert_eq!(links("Project.teams"), api("Project", "_teamIds"));
    let members = api("Team", "_memberIds");
    assert!(members.values().any(|m| m.len() > 25), "a team has more members than one nested page");
    assert_eq!(links("Team.members"), members);
    // Issues and comments are listed team by team, into each team's issues and comments (a comment's
    // team is its issue's).
    let by_team = |type_name: &str| {
        fake.with_data(|d| {
            let mut teams: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for object in d.all(type_name) {
                let issue = object.get("issueId").and_then(|i| d.get(i.as_str().unwrap())).unwrap_or(object);
                let team = issue["teamId"].as_str().unwrap().to_string();
                teams.entry(team).or_default().insert(object["id"].as_str().unwrap().to_string());
            }
            teams
        })
    };
    assert_eq!(links("Team.issues"), by_team("Issue"));
    assert_eq!(links("Team.comments"), by_team("Comment"));
    let comment_teams: i64 = db
        .query_row("SELECT COUNT(*) FROM Comment c JOIN Issue i ON i.id = c.issue AND i.team = c.team", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(comment_teams as usize, expected["Comment"], "a comment's team is its issue's");

    // The search from the issue: exactly the issues the API has with priority ≤ 2 in a started state.
    let want: BTreeSet<String> = fake.with_data(|d| {
        d.all("Issue")
            .iter()
            .filter(|i| i["priority"].as_f64().unwrap() <= 2.0)
            .filter(|i| d.get(i["stateId"].as_str().unwrap()).unwrap()["type"] == "started")
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    });
    assert!(!want.is_empty());
    let output = project
        .max()
        .args(["search", "linear", "Issue", "--filter", "priority <= 2 AND state.type = \"started\""])
        .args(["--all", "--fields", "id", "-o", "ndjson"])
        .assert()
        .success()
        .get_output()
        .clone();
    let got: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn the_schema_documents_every_entity_and_field() {
    let (project, _fake, _server) = linear_project(LinearConfig::default(), &[]);
    let output = project.max().args(["schema", "linear", "-o", "json"]).assert().success().get_output().clone();
    let schema: Value = serde_json::from_slice(&output.stdout).unwrap();
    let entities = schema["schema"]["entities"].as_array().unwrap();
    let names: BTreeSet<&str> = entities.iter().map(|e| e["name"].as_str().unwrap()).collect();
    for entity in
        ["Organization", "Team", "User", "WorkflowState", "IssueLabel", "Project", "Cycle", "Issue", "Comment"]
    {
        assert!(names.contains(entity), "{entity} in {names:?}");
    }
    for entity in entities {
        assert!(entity["description"].as_str().is_some_and(|d| !d.is_empty()), "{entity}");
        for field in entity["fields"].as_array().unwrap() {
            assert!(field["description"].as_str().is_some_and(|d| !d.is_empty()), "{} {field}", entity["name"]);
        }
    }
    let text = project.max().args(["schema", "linear"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("DESCRIPTION") && text.contains("0 none, 1 urgent, 2 high, 3 medium, 4 low"), "{text}");
}

#[test]
fn each_team_s_issues_and_comments_are_read_as_chains_of_pages_side_by_side() {
    // Two teams (one page of teams) of eight issues, in pages of two: four pages per team, each after
    // the one before.
    let size = Size { teams: 2, issues_per_team: 8, ..paged_size() };
    // Latency makes the order of requests the order of the work, not of who is scheduled first.
    let faults = max_fake_saas::Faults { latency: std::time::Duration::from_millis(40), ..Default::default() };
    let (project, fake, _server) =
        linear_project(LinearConfig { size, faults, ..LinearConfig::default() }, &["page_size=2"]);
    project.max().args(["sync", "linear", "--workers", "16"]).assert().success();
    let log = fake.request_log();
    let teams: Vec<String> =
        fake.with_data(|d| d.all("Team").iter().map(|t| t["id"].as_str().unwrap().into()).collect());
    for list in ["issues(", "comments("] {
        // Each team's pages of the list, by their position in the log.
        let pages: Vec<Vec<usize>> = teams
            .iter()
            .map(|team| {
                let of_team =
                    |l: &String| l.contains(&format!("{list}first")) && l.contains(&format!("\"eq\":\"{team}\""));
                log.iter().enumerate().filter(|(_, l)| of_team(l)).map(|(i, _)| i).collect()
            })
            .collect();
        assert!(pages.iter().all(|p| p.len() >= 3), "{list}: every team's list takes pages: {pages:?}");
        let (first_starts, last_ends) =
            (pages.iter().map(|p| p[0]).max().unwrap(), pages.iter().map(|p| p[p.len() - 1]).min().unwrap());
        assert!(first_starts < last_ends, "{list}: every team's list starts before any ends: {pages:?}\n{log:#?}");
    }
    let count = |table: &str| {
        data_db(&project).query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(count("Issue") as usize, fake.counts()["Issue"]);
    assert_eq!(count("Comment") as usize, fake.counts()["Comment"]);
}

#[test]
fn a_team_selection_narrows_issues_states_cycles_and_comments() {
    let fake_probe = Linear::new(LinearConfig::default());
    let (team, key) = fake_probe.with_data(|d| {
        let team = &d.all("Team")[1];
        (team["id"].as_str().unwrap().to_string(), team["key"].as_str().unwrap().to_string())
    });
    // Chosen by its key, as onboarding offers teams (`ENG — Engineering`).
    let (project, fake, _server) = linear_project(LinearConfig::default(), &[&format!("teams={key}")]);
    project.max().args(["sync", "linear"]).assert().success();
    let db = data_db(&project);
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize;
    let of_team =
        |type_name: &str| fake.with_data(|d| d.all(type_name).iter().filter(|o| o["teamId"] == team.as_str()).count());
    assert_eq!(count("SELECT COUNT(*) FROM Team"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM Issue"), of_team("Issue"));
    assert_eq!(count(&format!("SELECT COUNT(*) FROM Issue WHERE team != '{team}'")), 0);
    assert_eq!(count("SELECT COUNT(*) FROM WorkflowState"), of_team("WorkflowState"));
    assert_eq!(count("SELECT COUNT(*) FROM Cycle"), of_team("Cycle"));
    assert_eq!(
        count("SELECT COUNT(*) FROM Comment c JOIN Issue i ON i.id = c.issue"),
        count("SELECT COUNT(*) FROM Comment")
    );
    assert_eq!(count("SELECT COUNT(*) FROM User"), fake.counts()["User"], "users are not narrowed");
    // Pages as large as Linear's 10,000 points per query allow, less the connector's margin of a tenth.
    let complexity = fake.stats()["max_complexity"].as_u64().unwrap();
    assert!((8_000..=9_000).contains(&complexity), "the costliest page took {complexity} points of 10,000");
}

#[test]
fn pages_shrink_when_linear_calls_a_query_too_complex() {
    use max_fake_saas::linear::RateLimits;
    // A server that counts points stricter than the connector's estimate: its largest pages (~9,000
    // points) are refused, half of them (~4,500) too, a quarter goes through.
    let limits = RateLimits { max_query_complexity: 3_000, ..RateLimits::default() };
    let (project, fake, _server) = linear_project(LinearConfig { limits, ..LinearConfig::default() }, &[]);
    let output = project.max().args(["sync", "linear", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert_eq!(summary["sync"]["record"]["tasks_failed"], 0, "{summary}");
    let db = data_db(&project);
    for (entity, n) in fake.counts() {
        let stored: i64 = db.query_row(&format!("SELECT COUNT(*) FROM \"{entity}\""), [], |r| r.get(0)).unwrap();
        assert_eq!(stored as usize, n, "{entity} rows");
    }
}

#[test]
fn under_hard_rate_limits_the_sync_completes_within_the_budget_and_waits_for_resets() {
    use max_fake_saas::linear::RateLimits;
    use std::time::{Duration, Instant};
    // Ten requests and 6,000 complexity points a second; the sync needs about fifty requests.
    let limits =
        RateLimits { requests: 10, complexity: 6_000, period: Duration::from_secs(1), ..RateLimits::default() };
    let (project, fake, _server) =
        linear_project(LinearConfig { limits, ..LinearConfig::default() }, &["page_size=10"]);
    let before = fake.request_count();
    let started = Instant::now();
    let output = project.max().args(["sync", "linear", "-o", "json"]).assert().success().get_output().clone();
    let elapsed = started.elapsed();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    let requests = fake.request_count() - before;
    let stats = fake.stats();
    assert!(requests > 30, "{requests} requests");
    assert_eq!(stats["rate_limited"], 0, "the budget was never exceeded: {stats}");
    assert_eq!(stats["early_requests"], 0, "no request before an announced reset: {stats}");
    assert!(summary["sync"]["rate_limit_wait_ms"].as_u64().unwrap() > 0, "the summary says it waited: {summary}");
    // At ten a second, the requests beyond the first ten took at least that long.
    let floor = Duration::from_millis((requests - 10) * 100 * 8 / 10);
    assert!(elapsed >= floor, "{requests} requests in {elapsed:?}: faster than the budget allows");
    let db = data_db(&project);
    let issues: i64 = db.query_row("SELECT COUNT(*) FROM Issue", [], |r| r.get(0)).unwrap();
    assert_eq!(issues as usize, fake.counts()["Issue"]);
}

#[test]
fn an_oauth_token_expiring_mid_sync_is_refreshed_once_and_the_rotated_tokens_are_stored() {
    use max_fake_saas::Faults;
    use max_fake_saas::linear::OAuth;
    use std::time::Duration;
    // The first token dies half a second in; the sync takes longer (latency on every request).
    let oauth = OAuth { initial_token_ttl: Duration::from_millis(500), ..OAuth::default() };
    let faults = Faults { latency: Duration::from_millis(40), ..Faults::default() };
    let fake = Linear::new(LinearConfig { oauth, faults, ..LinearConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = connected(
        &server,
        &[
            "auth=oauth",
            "oauth_access_token=lin_oauth_initial",
            "oauth_refresh_token=lin_refresh_initial",
            "oauth_client_id=fake-client",
            "oauth_client_secret=fake-secret",
            "page_size=5",
        ],
    );
    let output =
        project.max().args(["sync", "linear", "--workers", "4", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert_eq!(fake.stats()["refreshes"], 1, "one refresh for all four workers: {}", fake.stats());
    let db = data_db(&project);
    let issues: i64 = db.query_row("SELECT COUNT(*) FROM Issue", [], |r| r.get(0)).unwrap();
    assert_eq!(issues as usize, fake.counts()["Issue"]);

    // The rotated refresh token and the new access token are what the credential store now holds.
    let path = project.path().join(".max/installations/linear/default/credentials.json");
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored["secrets"]["oauth_refresh_token"], "lin_refresh_000001");
    assert_eq!(stored["secrets"]["oauth_access_token"], "lin_oauth_000001");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    // A second sync uses the stored tokens: no refresh (the old refresh token would be refused).
    project.max().args(["sync", "linear"]).assert().success();
    assert_eq!(fake.stats()["refreshes"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_by_id_loaders_fetch_many_objects_in_one_query_archived_ones_included() {
    use max_host::data::{EntityRef, FieldValue};
    use max_host::runtime::{InstancePool, Limits};
    let fake = Linear::new(LinearConfig::default());
    let server = fake.start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let runtime = max_tests::runtime();
    let loaded = max_tests::load(&runtime, &connector("linear"));
    let info = loaded.describe().await.unwrap();
    let config = [("base_url", server.base_url()), ("auth", "api_key")];
    let setup = max_tests::setup(&info.permissions, &config, &[("api_key", DEFAULT_API_KEY)], Limits::default());
    let pool = InstancePool::new("linear", loaded, setup, 1);
    let (ids, archived) = fake.with_data(|d| {
        let ids: Vec<String> = d.all("Issue")[..30].iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
        let archive = serde_json::json!({"op": "archive", "type": "Issue", "id": ids[3]});
        d.mutate(&serde_json::from_value(archive).unwrap()).unwrap();
        (ids.clone(), ids[3].clone())
    });
    let refs: Vec<EntityRef> = ids.iter().map(|id| EntityRef { entity: "Issue".into(), id: id.clone() }).collect();
    let before = fake.request_count();
    let batches = pool.get().await.unwrap().load("issues-by-id", &refs).await.unwrap();
    assert_eq!(fake.request_count() - before, 1, "thirty issues in one query");
    let rows = &batches[0].rows;
    let got: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect());
    let column = batches[0].columns.iter().position(|c| c == "archivedAt").unwrap();
    let archived_row = rows.iter().find(|r| r.id == archived).unwrap();
    assert!(matches!(archived_row.values[column], FieldValue::Datetime(_)), "{:?}", archived_row.values[column]);
}

#[test]
fn after_a_full_sync_only_changes_are_read_and_the_tables_equal_a_fresh_full_sync() {
    let (project, fake, server) = linear_project(LinearConfig::default(), &[]);
    project.max().args(["sync", "linear"]).assert().success();
    let mutate = |op: &str, type_name: &str, id: Option<&str>, fields: Value| {
        let mutation = serde_json::json!({"op": op, "type": type_name, "id": id, "fields": fields});
        fake.with_data(|d| d.mutate(&serde_json::from_value(mutation).unwrap()).unwrap())
    };
    let issues: Vec<Value> =
        fake.with_data(|d| d.all("Issue")[..3].iter().map(|i| Value::Object((**i).clone())).collect());
    let (edited, parent, archived) = (&issues[0], &issues[1], &issues[2]);
    mutate("update", "Issue", edited["id"].as_str(), serde_json::json!({"title": "Renamed", "priority": 1.0}));
    let created = mutate(
        "create",
        "Issue",
        None,
        serde_json::json!({
            "title": "A new sub-issue", "identifier": "NEW-1", "number": 999.0, "priority": 2.0,
            "priorityLabel": "High", "url": "https://linear.app/acme/issue/NEW-1", "branchName": "new-1",
            "sortOrder": 1.0, "teamId": parent["teamId"], "stateId": parent["stateId"], "parentId": parent["id"],
        }),
    );
    mutate("archive", "Issue", archived["id"].as_str(), serde_json::json!({}));
    mutate("create", "Comment", None, serde_json::json!({"body": "Looks good", "url": "u", "issueId": edited["id"]}));

    let before = fake.request_count();
    let output = project.max().args(["sync", "linear", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    assert_eq!(summary["sync"]["record"]["full"], false, "{summary}");
    assert_eq!(fake.request_count() - before, 8, "one query per entity type, each change fits its first page");

    let db = data_db(&project);
    let deleted: Option<String> = db
        .query_row("SELECT _deleted_at FROM Issue WHERE id = ?1", [archived["id"].as_str().unwrap()], |r| r.get(0))
        .unwrap();
    assert!(deleted.is_some(), "the archived issue is kept, marked deleted");
    let child: String = db
        .query_row(
            "SELECT child_id FROM \"Issue.children\" WHERE parent_id = ?1 ORDER BY position DESC LIMIT 1",
            [parent["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(child, created["id"].as_str().unwrap(), "the new sub-issue joined its parent's children");

    let fresh = connected(&server, &["auth=api_key", &format!("api_key={DEFAULT_API_KEY}")]);
    fresh.max().args(["sync", "linear"]).assert().success();
    let db_of = |p: &TestProject| p.path().join(".max/installations/linear/default/data.db");
    let (incremental, full) = (max_tests::tables(&db_of(&project), true), max_tests::tables(&db_of(&fresh), true));
    for (table, rows) in &full {
        assert!(rows == &incremental[table], "{table} differs from a fresh full sync's");
    }

    // Nothing changed since: eight queries, nothing written.
    let before = fake.request_count();
    let output = project.max().args(["sync", "linear", "-o", "json"]).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(fake.request_count() - before, 8);
    assert!(summary["sync"]["record"]["entities"].as_object().unwrap().values().all(|n| n == 0), "{summary}");
}
