//! The GitHub connector (Python, componentize-py) end to end: the real `max` binary and github.wasm
//! against `fake-saas github`. Every list spread over at least three pages is checked against the
//! fake's own data (counts, references, collections); a second sync after changes asks conditionally
//! (unchanged repositories answer 304) and stores what a fresh full sync stores; deletions and
//! transfers go as the API reveals them; and secondary rate limits cost time, not data.

use std::collections::{BTreeMap, BTreeSet};

use max_fake_saas::RunningServer;
use max_fake_saas::github::{DEFAULT_TOKEN, FINE_GRAINED_TOKEN, GitHub, GitHubConfig, Mutation, Size};
use max_tests::{TestProject, connector};
use serde_json::{Value, json};

/// A new project with github installed and connected to `server` with `token`, `--set`ting `extra`.
fn connected(server: &RunningServer, token: &str, extra: &[&str]) -> (TestProject, String) {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("github")).assert().success();
    let mut connect = project.max();
    connect.args(["connect", "github", "--set"]).arg(format!("base_url={}", server.base_url()));
    connect.args(["--set", &format!("token={token}")]);
    if !extra.iter().any(|s| s.starts_with("repositories=")) {
        connect.args(["--set", "repositories="]);
    }
    for setting in extra {
        connect.args(["--set", setting]);
    }
    let output = connect.assert().success().get_output().clone();
    (project, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn data_db(project: &TestProject) -> rusqlite::Connection {
    rusqlite::Connection::open(project.path().join(".max/installations/github/default/data.db")).unwrap()
}

fn count(db: &rusqlite::Connection, sql: &str) -> usize {
    db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize
}

/// `max sync github -o json` (with `args`), checked completed: its record.
fn sync(project: &TestProject, args: &[&str]) -> Value {
    let output =
        project.max().args(["sync", "github", "-o", "json"]).args(args).assert().success().get_output().clone();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sync"]["record"]["status"], "completed", "{summary}");
    summary["sync"].clone()
}

/// The fake's `/_fake/stats`.
fn stats(fake: &GitHub) -> Value {
    fake.stats()
}

/// Rows of every entity table (live ones) and every collection as a set of (parent, child): what two
/// syncs of the same data must agree on (a collection's order follows the order items were found).
fn contents(project: &TestProject) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let db = data_db(project);
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'fts:%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let sql = if columns.iter().any(|c| c == "child_id") {
            format!("SELECT parent_id, child_id FROM \"{table}\"")
        } else {
            let kept: Vec<String> =
                columns.iter().filter(|c| !c.starts_with('_')).map(|c| format!("quote(\"{c}\")")).collect();
            format!("SELECT {} FROM \"{table}\" WHERE _deleted_at IS NULL", kept.join(", "))
        };
        let mut stmt = db.prepare(&sql).unwrap();
        let width = stmt.column_count();
        let rows: BTreeSet<Vec<String>> = stmt
            .query_map([], |r| {
                (0..width).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.insert(table, rows);
    }
    out
}

/// Every list of the fake over at least three pages of five (the connector's `page_size=5`): eleven
/// repositories, and in each at least eleven issues, pull requests, labels, milestones, comments of
/// both kinds, and pull requests with over ten reviews.
fn paged() -> GitHubConfig {
    let size = Size {
        users: 12,
        org_repos: 10,
        user_repos: 1,
        issues: 12,
        pulls: 11,
        labels: 11,
        milestones: 11,
        comments: 3,
        reviews: 24,
        review_comments: 4,
    };
    GitHubConfig { size, ..GitHubConfig::default() }
}

#[test]
fn a_synced_account_matches_the_api_exactly() {
    let fake = GitHub::new(paged());
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (project, said) = connected(&server, DEFAULT_TOKEN, &["page_size=5"]);
    assert!(said.contains("ada-0 (Ada Example0) with a classic token with scopes repo, read:org, read:user"), "{said}");
    let before = stats(&fake)["requests"].as_u64().unwrap();
    let record = sync(&project, &[]);
    let asked = stats(&fake)["requests"].as_u64().unwrap() - before;
    assert_eq!(record["record"]["requests"].as_u64().unwrap(), asked, "the summary counts every request: {record}");
    let db = data_db(&project);
    let expected = stats(&fake)["objects"].clone();
    let fake_count = |kind: &str| expected[kind].as_u64().unwrap() as usize;
    // Counts: a pull request is an issue too (GitHub's model), and both kinds of comments are comments.
    for (entity, count_of) in [
        ("Repository", fake_count("Repository")),
        ("Issue", fake_count("Issue") + fake_count("PullRequest")),
        ("PullRequest", fake_count("PullRequest")),
        ("Label", fake_count("Label")),
        ("Milestone", fake_count("Milestone")),
        ("Review", fake_count("Review")),
        ("Comment", fake_count("IssueComment") + fake_count("ReviewComment")),
    ] {
        assert!(count_of >= 11, "{entity}: {count_of} make three pages of five");
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM {entity} WHERE _deleted_at IS NULL")),
            count_of,
            "{entity}"
        );
    }
    // Three pages of every list were read (the fake logs `page=3` of each).
    let log = fake.request_log();
    for list in [
        "/user/repos",
        "/issues?",
        "/pulls?",
        "/labels",
        "/milestones",
        "/issues/comments",
        "/pulls/comments",
        "/reviews",
    ] {
        assert!(log.iter().any(|line| line.contains(list) && line.contains("page=3")), "no third page of {list}");
    }
    // A pull request with over ten reviews read them over three pages.
    assert!(count(&db, "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM Review GROUP BY pullRequest)") > 10);
    // Every reference resolves.
    for (entity, field, target) in [
        ("Repository", "owner", "User"),
        ("Issue", "repository", "Repository"),
        ("Issue", "author", "User"),
        ("Issue", "milestone", "Milestone"),
        ("Issue", "pullRequest", "PullRequest"),
        ("PullRequest", "issue", "Issue"),
        ("PullRequest", "headRepository", "Repository"),
        ("PullRequest", "baseRepository", "Repository"),
        ("Review", "pullRequest", "PullRequest"),
        ("Review", "author", "User"),
        ("Comment", "issue", "Issue"),
        ("Comment", "pullRequest", "PullRequest"),
        ("Comment", "review", "Review"),
        ("Label", "repository", "Repository"),
        ("Milestone", "repository", "Repository"),
    ] {
        let dangling = count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM \"{entity}\" e WHERE e.\"{field}\" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \"{target}\" t WHERE t.id = e.\"{field}\")"
            ),
        );
        assert_eq!(dangling, 0, "{entity}.{field} → {target}");
    }
    // Collections equal the fake's: each issue's labels and assignees, each repository's lists.
    let (labels, assignees, reviews) = fake.with_data(|data| {
        let name = |repo: u64| {
            let r = data.repos.iter().find(|r| r.id == repo).unwrap();
            format!("{}/{}", r.owner, r.name)
        };
        let label_sets: BTreeSet<(String, String)> = data
            .issues
            .iter()
            .flat_map(|i| i.labels.iter().map(move |l| (format!("{}#{}", name(i.repo), i.number), l.to_string())))
            .collect();
        let assignee_sets: BTreeSet<(String, String)> = data
            .issues
            .iter()
            .flat_map(|i| i.assignees.iter().map(move |u| (format!("{}#{}", name(i.repo), i.number), u.to_string())))
            .collect();
        let review_sets: BTreeSet<(String, String)> =
            data.reviews.iter().map(|r| (format!("{}#{}", name(r.repo), r.pull), r.id.to_string())).collect();
        (label_sets, assignee_sets, review_sets)
    });
    let pairs = |sql: &str| -> BTreeSet<(String, String)> {
        db.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(pairs("SELECT parent_id, child_id FROM \"Issue.labels\""), labels);
    assert_eq!(pairs("SELECT parent_id, child_id FROM \"Issue.assignees\""), assignees);
    assert_eq!(pairs("SELECT parent_id, child_id FROM \"PullRequest.reviews\""), reviews);
    for (field, entity) in [
        ("issues", "Issue"),
        ("pullRequests", "PullRequest"),
        ("labels", "Label"),
        ("milestones", "Milestone"),
        ("comments", "Comment"),
    ] {
        let linked = count(&db, &format!("SELECT COUNT(DISTINCT child_id) FROM \"Repository.{field}\""));
        assert_eq!(
            linked,
            count(&db, &format!("SELECT COUNT(*) FROM {entity}")),
            "Repository.{field} holds every {entity}"
        );
    }
    // The component is a componentize-py one.
    let bytes = std::fs::read(connector("github")).unwrap();
    assert!(bytes.windows(b"componentize-py".len()).any(|w| w == b"componentize-py"), "built by componentize-py");
}

/// The changes between the first and second sync: a retitled issue, a new comment (which updates its
/// issue), a review (which updates its pull request), a deleted label (GitHub takes it off its issues
/// without updating them), and a new repository.
fn change(fake: &GitHub) {
    let (repo, pull) = fake.with_data(|d| {
        let r = d.repos.iter().find(|r| r.owner == d.org).unwrap();
        let pull = d.issues.iter().find(|i| i.repo == r.id && i.pull.is_some()).unwrap().number;
        (format!("{}/{}", r.owner, r.name), pull)
    });
    let changes = json!([
        {"op": "edit_issue", "repo": repo, "number": 2, "title": "Renamed by the second sync", "state": "closed"},
        {"op": "add_comment", "repo": repo, "number": 3, "body": "A new comment"},
        {"op": "add_review", "repo": repo, "number": pull, "state": "APPROVED", "body": "Ship it"},
        {"op": "delete_label", "repo": repo, "name": "bug"},
        {"op": "create_repo", "name": "brand-new"},
    ]);
    mutate(fake, changes);
}

/// Applies `changes` (what `/_fake/mutate` takes) to the fake, as edits on GitHub would.
fn mutate(fake: &GitHub, changes: Value) {
    for change in changes.as_array().unwrap() {
        let mutation: Mutation = serde_json::from_value(change.clone()).unwrap();
        fake.with_data(|data| data.apply(mutation)).unwrap();
    }
}

#[test]
fn a_second_sync_asks_conditionally_and_stores_what_a_fresh_full_sync_stores() {
    let fake = GitHub::new(GitHubConfig::default());
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (project, _) = connected(&server, DEFAULT_TOKEN, &[]);
    sync(&project, &[]);
    let repositories = stats(&fake)["objects"]["Repository"].as_u64().unwrap();
    change(&fake);
    let before = stats(&fake);
    let second = sync(&project, &[]);
    let after = stats(&fake);
    // Each unchanged repository answered its five conditional requests 304; the changed one fewer.
    let not_modified = after["not_modified"].as_u64().unwrap() - before["not_modified"].as_u64().unwrap();
    assert!(not_modified >= 5 * (repositories - 1), "{not_modified} 304s for {repositories} repositories");
    assert_eq!(second["not_modified"].as_u64().unwrap(), not_modified, "the summary counts them: {second}");
    let fresh = connected(&server, DEFAULT_TOKEN, &[]).0;
    sync(&fresh, &[]);
    assert_eq!(contents(&project), contents(&fresh), "the second sync stored what a fresh full sync stores");
    let db = data_db(&project);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM Issue WHERE title = 'Renamed by the second sync' AND state = 'closed'"),
        1
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM Label WHERE name = 'bug' AND _deleted_at IS NOT NULL"), 1);

    // Nothing changed since: every conditional request is a 304, and only the repository list counts.
    let before = stats(&fake);
    sync(&project, &[]);
    let after = stats(&fake);
    let asked = after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap();
    let counted = after["counted"].as_u64().unwrap() - before["counted"].as_u64().unwrap();
    assert_eq!(asked - counted, 5 * (repositories + 1), "five 304s per repository (one new since)");
    assert_eq!(counted, 1, "only the repository list counts against the limit");

    // A deleted repository goes with everything in it; a transferred one is read again under its new
    // name (its old one goes), as the listing reveals them.
    let (gone, moved) = fake.with_data(|d| {
        let mut org =
            d.repos.iter().filter(|r| r.owner == d.org && !r.deleted).map(|r| format!("{}/{}", r.owner, r.name));
        (org.next().unwrap(), org.next().unwrap())
    });
    let changes = json!([{"op": "delete_repo", "repo": gone}, {"op": "transfer_repo", "repo": moved, "to": "ada-0", "name": "moved"}]);
    mutate(&fake, changes);
    sync(&project, &[]);
    let db = data_db(&project);
    for old in [&gone, &moved] {
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM Repository WHERE id = '{old}' AND _deleted_at IS NULL")),
            0
        );
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM Issue WHERE repository = '{old}' AND _deleted_at IS NULL")),
            0
        );
    }
    assert!(count(&db, "SELECT COUNT(*) FROM Issue WHERE repository = 'ada-0/moved' AND _deleted_at IS NULL") > 0);
    let fresh = connected(&server, DEFAULT_TOKEN, &[]).0;
    sync(&fresh, &[]);
    assert_eq!(contents(&project), contents(&fresh), "after deletions and transfers too");
}

/// GitHub's secondary limits (too many requests at once, and throttled ones, answered 403 or 429 with
/// `Retry-After`) cost time, not data: the sync completes and stores what a sync without them stores.
#[test]
fn secondary_rate_limits_cost_time_not_data() {
    let clean = GitHub::new(GitHubConfig::default());
    let clean_server = clean.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (reference, _) = connected(&clean_server, DEFAULT_TOKEN, &[]);
    sync(&reference, &[]);

    let faults = max_fake_saas::Faults { throttle_rate: 0.1, ..max_fake_saas::Faults::default() };
    let limited =
        GitHub::new(GitHubConfig { max_concurrent: 3, retry_after_seconds: 1, faults, ..GitHubConfig::default() });
    let server = limited.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (project, _) = connected(&server, DEFAULT_TOKEN, &[]);
    sync(&project, &[]);
    assert!(stats(&limited)["secondary_limited"].as_u64().unwrap() > 0, "{}", stats(&limited));
    assert_eq!(contents(&project), contents(&reference));
}

/// A fine-grained token is named as one (it has no scopes to show); a wrong one is refused at
/// `max connect` with GitHub's own words; the choice of repositories lists the organization, the
/// token owner's repositories and each repository.
#[test]
fn onboarding_checks_the_token_and_offers_organizations_and_repositories() {
    let fake = GitHub::new(GitHubConfig::default());
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let (_, said) = connected(&server, FINE_GRAINED_TOKEN, &[]);
    assert!(said.contains("with a fine-grained token"), "{said}");

    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("github")).assert().success();
    let refused = project
        .max()
        .args(["connect", "github", "--set", &format!("base_url={}", server.base_url()), "--set", "token=ghp_wrong"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(stderr.contains("Bad credentials"), "{stderr}");
    assert!(!stderr.contains("ghp_wrong"), "the token is never shown: {stderr}");

    // An organization and a single repository: only those are synced.
    let own = fake
        .with_data(|d| d.repos.iter().find(|r| r.owner != d.org).map(|r| format!("{}/{}", r.owner, r.name)).unwrap());
    let (project, _) = connected(&server, DEFAULT_TOKEN, &[&format!("repositories=org:acme-corp,repo:{own}")]);
    sync(&project, &[]);
    let db = data_db(&project);
    let synced: BTreeSet<String> = db
        .prepare("SELECT id FROM Repository")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: BTreeSet<String> =
        fake.with_data(|d| d.repos.iter().map(|r| format!("{}/{}", r.owner, r.name)).collect());
    assert_eq!(synced, expected);
}
