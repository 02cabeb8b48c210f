//! `max sql`: read-only SQL across a project's installations, through the real binary, over real
//! synced databases (acme and Linear, from their fakes).

use std::collections::BTreeMap;

use max_fake_saas::RunningServer;
use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig, Size};
use max_tests::{TestProject, connect_acme_to, connector, small_acme};
use serde_json::Value;

/// A project with acme and Linear connected to their fakes and synced (keep the servers alive).
fn two_installations() -> (TestProject, Vec<RunningServer>) {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    let acme = small_acme().spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    connect_acme_to(&project, &acme, "default", &[]);
    let size = Size {
        teams: 2,
        users: 12,
        labels_per_team: 1,
        projects: 2,
        cycles_per_team: 1,
        issues_per_team: 6,
        comments_per_issue: 1,
    };
    let linear =
        Linear::new(LinearConfig { size, ..LinearConfig::default() }).spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    project.max().args(["connector", "install", "--yes"]).arg(connector("linear")).assert().success();
    project
        .max()
        .args(["connect", "linear", "--set", &format!("base_url={}", linear.base_url()), "--set", "auth=api_key"])
        .args(["--set", &format!("api_key={DEFAULT_API_KEY}")])
        .assert()
        .success();
    project.max().args(["sync", "acme"]).assert().success();
    project.max().args(["sync", "linear"]).assert().success();
    (project, vec![acme, linear])
}

fn sql_json(project: &TestProject, args: &[&str]) -> Value {
    let output = project.max().arg("sql").args(args).args(["-o", "json"]).assert().success();
    serde_json::from_slice(&output.get_output().stdout).unwrap()
}

/// Users per first name (the part of the email before its first dot) in one installation's
/// database, read straight from its file.
fn users_by_first_name(project: &TestProject, installation: &str) -> BTreeMap<String, i64> {
    let db =
        rusqlite::Connection::open(project.path().join(format!(".max/installations/{installation}/data.db"))).unwrap();
    let mut statement = db
        .prepare(
            "SELECT substr(email, 1, instr(email, '.') - 1), count(*) FROM User WHERE _deleted_at IS NULL GROUP BY 1",
        )
        .unwrap();
    statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn one_query_joins_two_installations_tables() {
    let (project, _servers) = two_installations();
    let query = "WITH a AS (SELECT substr(email, 1, instr(email, '.') - 1) AS first, count(*) AS n FROM acme.User WHERE _deleted_at IS NULL GROUP BY 1),
                      l AS (SELECT substr(email, 1, instr(email, '.') - 1) AS first, count(*) AS n FROM linear.User WHERE _deleted_at IS NULL GROUP BY 1)
                 SELECT a.first, a.n AS acme_users, l.n AS linear_users FROM a JOIN l USING (first) ORDER BY a.first";
    let answer = sql_json(&project, &[query]);
    assert_eq!(answer["columns"], serde_json::json!(["first", "acme_users", "linear_users"]));
    assert_eq!(answer["truncated"], false);
    let (acme, linear) =
        (users_by_first_name(&project, "acme/default"), users_by_first_name(&project, "linear/default"));
    let expected: Vec<Value> = acme
        .iter()
        .filter_map(|(first, n)| {
            linear.get(first).map(|m| serde_json::json!({"first": first, "acme_users": n, "linear_users": m}))
        })
        .collect();
    assert!(!expected.is_empty(), "the two share first names: {acme:?} {linear:?}");
    assert_eq!(answer["rows"], Value::Array(expected));

    // The example `max sql --help` gives: issues per workflow state, through the reference.
    let by_state = sql_json(
        &project,
        &[
            "SELECT s.name, count(*) AS n FROM linear.Issue i JOIN linear.WorkflowState s ON s.id = i.state WHERE i._deleted_at IS NULL GROUP BY 1",
        ],
    );
    let total: i64 = by_state["rows"].as_array().unwrap().iter().map(|r| r["n"].as_i64().unwrap()).sum();
    assert_eq!(total, 2 * 6, "every issue of 2 teams × 6 has its state");

    // A second installation of acme, by its quoted name, beside the first.
    let server = small_acme().spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    connect_acme_to(&project, &server, "second", &[]);
    project.max().args(["sync", "acme/second"]).assert().success();
    let both = sql_json(
        &project,
        &[r#"SELECT (SELECT count(*) FROM acme.Task) AS first, (SELECT count(*) FROM "acme/second".Task) AS second"#],
    );
    assert_eq!(both["rows"][0]["first"], both["rows"][0]["second"]);
    assert!(both["rows"][0]["first"].as_i64().unwrap() > 0);

    // The names and tables, for people and models finding their way.
    let listed = project.max().args(["sql", "--tables", "-o", "json"]).assert().success();
    let listed: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme", "acme/second", "linear"]);
    assert!(listed[2]["tables"].as_array().unwrap().iter().any(|t| t == "Issue"));
}

#[test]
fn writes_and_attach_are_refused_and_the_caps_hold() {
    let (project, _servers) = two_installations();
    let tasks =
        |project: &TestProject| sql_json(project, &["SELECT count(*) AS n FROM acme.Task"])["rows"][0]["n"].clone();
    let before = tasks(&project);
    let elsewhere = project.path().join("elsewhere.db");
    for (query, says) in [
        ("DELETE FROM acme.Task", "only reads"),
        ("UPDATE linear.Issue SET title = 'x'", "only reads"),
        ("DROP TABLE acme.Task", "only reads"),
        (&format!("ATTACH DATABASE '{}' AS other", elsewhere.display()), "ATTACH and DETACH are not allowed"),
        ("PRAGMA acme.journal_mode = DELETE", "PRAGMA journal_mode is not allowed"),
        ("SELECT 1; DELETE FROM acme.Task", "the query is refused"),
    ] {
        let refused = project.max().args(["sql", query]).assert().code(1);
        let said = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(said.contains(says), "{query}: {said}");
        assert!(!said.contains("panicked"), "{said}");
    }
    assert_eq!(tasks(&project), before, "nothing was written");
    assert!(!elsewhere.exists());

    // The row cap: the rows up to it, and a word that more were left.
    let capped =
        project.max().args(["sql", "SELECT id FROM acme.Task", "--max-rows", "2", "-o", "json"]).assert().success();
    let answer: Value = serde_json::from_slice(&capped.get_output().stdout).unwrap();
    assert_eq!((answer["rows"].as_array().unwrap().len(), &answer["truncated"]), (2, &Value::Bool(true)));
    assert!(String::from_utf8_lossy(&capped.get_output().stderr).contains("stopped at 2 rows"));
    // The time limit.
    let forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n";
    let stopped = project.max().args(["sql", forever, "--timeout", "1s"]).assert().code(1);
    assert!(String::from_utf8_lossy(&stopped.get_output().stderr).contains("stopped after 1 s"));
    // SQLite's word on a mistake, and where to look.
    let wrong = project.max().args(["sql", "SELECT * FROM acme.Tasks"]).assert().code(1);
    let said = String::from_utf8_lossy(&wrong.get_output().stderr).into_owned();
    assert!(said.contains("no such table: acme.Tasks") && said.contains("max sql --tables"), "{said}");
    // CSV and NDJSON.
    let csv = project
        .max()
        .args(["sql", "SELECT id, title FROM acme.Task ORDER BY id LIMIT 2", "-o", "csv"])
        .assert()
        .success();
    let csv = String::from_utf8_lossy(&csv.get_output().stdout).into_owned();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(csv.lines().next(), Some("id,title"));
    let ndjson = project.max().args(["sql", "SELECT id FROM linear.Issue LIMIT 3", "-o", "ndjson"]).assert().success();
    assert_eq!(String::from_utf8_lossy(&ndjson.get_output().stdout).lines().count(), 3);
}
