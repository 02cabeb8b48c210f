//! Full-text search (`max search --match`): the fields connectors mark searchable are indexed in the
//! transaction that writes their rows, found by their words with the real `max` binary, ranked by the
//! fields' weights, combined with filters, kept current by incremental syncs, and consistent with the
//! rows after a connector upgrade adds them.

use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig};
use max_tests::{TestProject, connector, full_text_problems};
use serde_json::{Value, json};

/// A project with linear installed and connected to `fake` by API key.
fn linear_project(fake: &Linear) -> (TestProject, max_fake_saas::RunningServer) {
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("linear")).assert().success();
    project
        .max()
        .args(["connect", "linear", "--set", &format!("base_url={}", server.base_url())])
        .args(["--set", "auth=api_key", "--set", &format!("api_key={DEFAULT_API_KEY}")])
        .assert()
        .success();
    (project, server)
}

/// Sets `fields` of the `index`th object of `type_name` in the fake; returns its id.
fn edit(fake: &Linear, type_name: &str, index: usize, fields: Value) -> String {
    fake.with_data(|d| {
        let id = d.all(type_name)[index]["id"].as_str().unwrap().to_string();
        let mutation = json!({"op": "update", "type": type_name, "id": id, "fields": fields});
        d.mutate(&serde_json::from_value(mutation).unwrap()).unwrap();
        id
    })
}

/// `max search linear <entity> --match <words>` with `args`, as JSON rows.
fn matches(project: &TestProject, entity: &str, words: &str, args: &[&str]) -> Vec<Value> {
    let output = project
        .max()
        .args(["search", "linear", entity, "--match", words, "-o", "json", "--all"])
        .args(args)
        .assert()
        .success();
    let rows: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    rows["rows"].as_array().cloned().unwrap()
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

fn data_db(project: &TestProject) -> std::path::PathBuf {
    project.path().join(".max/installations/linear/default/data.db")
}

#[test]
fn issues_and_comments_are_found_by_their_words_ranked_by_field_and_kept_current() {
    let fake = Linear::new(LinearConfig::default());
    let in_title = edit(&fake, "Issue", 0, json!({"title": "Quarterly plan review", "description": "Agenda"}));
    let in_body = edit(
        &fake,
        "Issue",
        1,
        json!({"title": "Fix the login page", "description": "It blocks the quarterly plan; needed before Q3."}),
    );
    let near_miss =
        edit(&fake, "Issue", 2, json!({"title": "Planning", "description": "The plans for this quarter, roughly"}));
    let comment = edit(&fake, "Comment", 0, json!({"body": "Rollout checklist attached"}));
    let (project, _server) = linear_project(&fake);
    let first = project.max().args(["sync", "linear", "-o", "json"]).assert().success();
    let first: Value = serde_json::from_slice(&first.get_output().stdout).unwrap();
    assert_eq!(first["sync"]["schema"]["indexed"], json!(["Issue", "Comment"]), "{first}");

    // A phrase: both issues that have it, the one with it in the title (weight 10) first; the issue
    // with the words apart is not among them. Each has its relevance and a snippet of the match.
    let found = matches(&project, "Issue", "\"quarterly plan\"", &["--fields", "id,title,.match"]);
    assert_eq!(ids(&found), [in_title.clone(), in_body.clone()], "{found:?}");
    assert!(found[0]["_score"].as_f64().unwrap() > found[1]["_score"].as_f64().unwrap(), "{found:?}");
    assert!(found[1]["_snippet"].as_str().unwrap().contains("quarterly plan"), "{found:?}");
    // Stems: `plans` finds every form of the word, the near miss too; a word no issue has, nothing.
    let stems = ids(&matches(&project, "Issue", "plans", &[]));
    for id in [&in_title, &in_body, &near_miss] {
        assert!(stems.contains(id), "{id} in {stems:?}");
    }
    assert!(matches(&project, "Issue", "zebra", &[]).is_empty());
    // Combined: an exclusion, a field, a filter.
    assert!(!ids(&matches(&project, "Issue", "plan -login", &[])).contains(&in_body));
    assert_eq!(ids(&matches(&project, "Issue", "title:quarterly", &[])), [in_title.as_str()]);
    let filter = format!("id = \"{near_miss}\" OR id = \"{in_body}\"");
    assert_eq!(ids(&matches(&project, "Issue", "plan", &["--filter", &filter, "--order-by", "id"])), {
        let mut both = vec![in_body.clone(), near_miss.clone()];
        both.sort();
        both
    });
    assert_eq!(ids(&matches(&project, "Comment", "checklist", &[])), [comment.as_str()]);

    // The table shows the snippet beside the id, its marks taken out when there's no colour.
    let table = project.max().args(["search", "linear", "Issue", "--match", "\"quarterly plan\""]).assert().success();
    let text = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
    assert!(text.lines().next().unwrap().starts_with("id") && text.contains("_snippet"), "{text}");
    assert!(text.contains("Quarterly plan review") && !text.contains('\u{E000}'), "{text}");

    // An incremental sync keeps the index current: the edited issue is found by its new words only.
    edit(&fake, "Issue", 1, json!({"description": "Nothing about it any more"}));
    let report = project.max().args(["sync", "linear", "-o", "json"]).assert().success();
    let report: Value = serde_json::from_slice(&report.get_output().stdout).unwrap();
    assert_eq!(report["sync"]["record"]["full"], false, "{report}");
    assert!(report["sync"]["schema"]["indexed"].is_null(), "an index in step is left alone: {report}");
    assert_eq!(ids(&matches(&project, "Issue", "\"quarterly plan\"", &[])), [in_title.as_str()]);
    assert_eq!(ids(&matches(&project, "Issue", "\"any more\"", &[])), [in_body.as_str()]);
    assert_eq!(full_text_problems(&data_db(&project)), Vec::<String>::new());
    // A full sync writes every row again: the index stays exact, and finds the same.
    project.max().args(["sync", "linear", "--full"]).assert().success();
    assert_eq!(full_text_problems(&data_db(&project)), Vec::<String>::new());
    assert_eq!(ids(&matches(&project, "Issue", "\"quarterly plan\"", &[])), [in_title.as_str()]);

    // Pages of one row by relevance never skip or repeat a row.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut command = project.max();
        command.args(["search", "linear", "Issue", "--match", "plan", "-o", "json", "--limit", "1"]);
        if let Some(cursor) = &after {
            command.args(["--after", cursor]);
        }
        let page: Value = serde_json::from_slice(&command.assert().success().get_output().stdout).unwrap();
        paged.extend(ids(page["rows"].as_array().unwrap()));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
        assert!(paged.len() < 100, "pages end");
    }
    assert_eq!(paged, ids(&matches(&project, "Issue", "plan", &[])));
}

#[test]
fn what_full_text_search_can_not_do_is_refused_clearly() {
    let fake = Linear::new(LinearConfig::default());
    let (project, _server) = linear_project(&fake);
    project.max().args(["sync", "linear"]).assert().success();
    for (args, says) in [
        (vec!["Team", "--match", "design"], "`Team` has no fields searched by their words"),
        (vec!["Issue", "--fields", "id,_score"], "`_score` belongs to a full-text search"),
        (vec!["Issue", "--match", "x", "--order-by", "_snippet"], "`_snippet` is shown, not filtered or sorted on"),
        (vec!["Issue", "--match", "-draft"], "only excluded terms"),
        (vec!["Issue", "--match", "\"open"], "closing quote is missing"),
    ] {
        let failed = project.max().args(["search", "linear"]).args(&args).assert().failure();
        let stderr = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.to_lowercase().contains("fts5") && !stderr.contains("SELECT"), "{args:?}: {stderr}");
    }
}

/// Acme as published before it marked fields searchable (contract 0.1.0) syncs; the upgrade to the
/// current acme, which marks task and project titles and descriptions searchable, rebuilds their tables
/// with a named rowid and indexes the rows already stored, without a full sync: found by their words
/// exactly as a fresh project's, every other table unchanged.
#[test]
fn an_upgrade_that_marks_fields_searchable_indexes_the_rows_already_stored() {
    let acme = max_tests::small_acme();
    let server = acme.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(max_tests::contract_0_1_fixture()).assert().success();
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["sync", "acme"]).assert().success();
    let db = project.path().join(".max/installations/acme/default/data.db");
    let before = max_tests::tables(&db, true);

    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    let report = project.max().args(["sync", "acme", "-o", "json"]).assert().success();
    let report: Value = serde_json::from_slice(&report.get_output().stdout).unwrap();
    assert_eq!(report["sync"]["record"]["full"], false, "the index is built from what is stored: {report}");
    assert_eq!(report["sync"]["schema"]["indexed"], json!(["Project", "Task"]), "{report}");
    assert_eq!(max_tests::tables(&db, true), before, "the rebuilt tables hold the same rows");
    assert_eq!(full_text_problems(&db), Vec::<String>::new());
    let named: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT pk FROM pragma_table_info('Task') WHERE name = '_rowid'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(named, 1, "the rowid the index refers to is named, so VACUUM keeps it");

    let fresh = TestProject::new();
    fresh.max().arg("init").assert().success();
    fresh.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    max_tests::connect_acme_to(&fresh, &server, "default", &[]);
    fresh.max().args(["sync", "acme"]).assert().success();
    max_tests::assert_same_task_matches(&fresh, &project);
}
