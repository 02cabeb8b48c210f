//! Connectors in other languages: the acme connector written in Python (componentize-py) and in
//! JavaScript (componentize-js), each on Max's SDK for its language, against the Rust one.

use max_tests::{TestProject, connector};

/// The three builds of acme as their installations' projects, each connected to `server` with small
/// pages (so every collection takes several).
fn three_acmes(server: &max_fake_saas::RunningServer) -> Vec<(&'static str, TestProject)> {
    ["acme", "acme-python", "acme-js"]
        .into_iter()
        .map(|build| {
            let project = TestProject::new();
            project.max().arg("init").assert().success();
            project.max().args(["connector", "install", "--yes"]).arg(connector(build)).assert().success();
            max_tests::connect_acme_to(&project, server, "default", &["--set", "page_size=7"]);
            (build, project)
        })
        .collect()
}

fn db(project: &TestProject) -> std::path::PathBuf {
    project.path().join(".max/installations/acme/default/data.db")
}

/// The acme connector in Python and in JavaScript passes the Rust one's acceptance test: a full sync
/// stores the fake's objects, the tables equal the Rust connector's row for row (references,
/// collections and the full-text index included), and after a rename, a deletion and a creation the
/// incremental syncs (the change feed) leave equal tables again.
#[test]
fn acme_in_python_and_javascript_stores_what_the_rust_acme_stores() {
    let fake = max_tests::small_acme();
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let acmes = three_acmes(&server);
    let contracts: Vec<String> = acmes
        .iter()
        .map(|(_, project)| {
            let listed = project.max().args(["connector", "list", "-o", "json"]).assert().success();
            let listed: serde_json::Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
            listed[0]["contract"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(contracts.iter().all(|c| *c == max_host::CONTRACT_VERSION.to_string()), "{contracts:?}");

    for (_, project) in &acmes {
        project.max().args(["sync", "acme"]).assert().success();
        project.assert_acme_synced(&fake);
    }
    let (_, rust) = &acmes[0];
    let reference = max_tests::tables(&db(rust), true);
    for (build, project) in &acmes[1..] {
        assert_eq!(max_tests::tables(&db(project), true), reference, "{build} after a full sync");
        max_tests::assert_same_task_matches(rust, project);
    }

    let (renamed, deleted, created) = max_tests::change_three_tasks(&fake, "Written in three languages");
    for (build, project) in &acmes {
        let sync = project.max().args(["sync", "acme", "-o", "json"]).assert().success();
        let report: serde_json::Value = serde_json::from_slice(&sync.get_output().stdout).unwrap();
        assert_eq!(report["sync"]["record"]["full"], false, "{build} follows the change feed: {report}");
        project.assert_acme_synced(&fake);
    }
    let reference = max_tests::tables(&db(rust), true);
    let titles = rusqlite::Connection::open(db(rust)).unwrap();
    let title = |id: &str| {
        titles
            .query_row("SELECT title FROM Task WHERE id = ?1 AND _deleted_at IS NULL", [id], |r| r.get::<_, String>(0))
            .ok()
    };
    assert_eq!(title(&renamed).as_deref(), Some("Renamed"));
    assert_eq!(title(&deleted), None);
    assert_eq!(title(&created).as_deref(), Some("Written in three languages"));
    for (build, project) in &acmes[1..] {
        assert_eq!(max_tests::tables(&db(project), true), reference, "{build} after an incremental sync");
    }
}

/// The Python and JavaScript SDKs pass their own unit tests (packed rows, entity tables, HTTP status
/// mapping and helpers, the fake HTTP host), run natively; so does the GitHub connector (on the
/// Python SDK's fake host).
#[test]
fn the_python_and_javascript_sdks_pass_their_own_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (dir, program, args, passed) in [
        ("connector-sdk-python", "python3", &["-m", "unittest", "discover", "-s", "tests"][..], "OK"),
        ("connector-sdk-js", "node", &["--test", "test/"][..], "# fail 0"),
        ("connectors/github", "python3", &["-m", "unittest", "discover", "-s", "tests"][..], "OK"),
    ] {
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(root.join(dir))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success() && text.contains(passed), "{dir}:\n{text}");
    }
}
