//! `max ls` and `max status` as a user meets them after something went wrong: a corrupt or empty
//! `data.db` reported for that installation only (and never overwritten), a stopped sync's real
//! progress, and the root row that a full sync never writes not shown as stale.

use max_fake_saas::RunningServer;
use max_fake_saas::acme::Size;
use max_tests::TestProject;

fn acme_project(size: Size) -> (TestProject, RunningServer) {
    max_tests::acme_installed(size)
}

fn connect(project: &TestProject, server: &RunningServer, name: &str, extra: &[&str]) {
    max_tests::connect_acme_to(project, server, name, extra);
}

fn small() -> Size {
    Size { workspaces: 1, users: 2, projects: 1, tasks_per_project: 5, files_per_project: 1, history: false }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_corrupt_or_empty_database_is_reported_for_its_installation_only_and_left_as_it_is() {
    let (project, server) = acme_project(small());
    connect(&project, &server, "default", &[]);
    connect(&project, &server, "work", &[]);
    project.max().args(["sync", "--all"]).assert().success();
    let db = project.path().join(".max/installations/acme/work/data.db");
    for damage in [b"this is not a database, whatever its name says".repeat(200), Vec::new()] {
        std::fs::write(&db, &damage).unwrap();
        for command in [&["ls"][..], &["status"]] {
            let output = project.max().args(command).assert().code(1).get_output().clone();
            let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
            assert!(stdout.contains("acme/default") && stdout.contains("acme/work"), "{command:?}: {stdout}");
            assert!(stdout.contains("corrupt"), "{command:?}: {stdout}");
            assert!(stderr.contains("acme/work") && stderr.contains("is corrupt"), "{command:?}: {stderr}");
            assert!(stderr.contains(".corrupt`) and sync again"), "how to recover: {stderr}");
            assert!(!stderr.contains("SELECT"), "no SQL: {stderr}");
        }
        let json = project.max().args(["ls", "-o", "json"]).assert().code(1).get_output().stdout.clone();
        let listed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(listed[1]["error"]["code"], "corrupt_database", "{listed}");
        assert!(listed[0]["rows"]["Task"].as_u64().unwrap() > 0, "the other installation is listed as usual");
        project.max().args(["status", "acme/default"]).assert().success();
        let search = project.max().args(["search", "acme/work", "Task"]).assert().code(1).get_output().clone();
        assert!(text(&search.stderr).contains("is corrupt"), "{}", text(&search.stderr));
        assert_eq!(std::fs::read(&db).unwrap(), damage, "the damaged file is never overwritten");
    }
}

#[test]
fn status_shows_a_stopped_syncs_real_progress_and_how_to_resume_it() {
    let size =
        Size { workspaces: 1, users: 20, projects: 4, tasks_per_project: 1500, files_per_project: 2, history: false };
    let (project, server) = acme_project(size);
    connect(&project, &server, "default", &["--limit", "database-mib=1"]);
    let full = project.max().args(["sync", "acme"]).assert().code(1).get_output().clone();
    assert!(text(&full.stderr).contains("is full"), "{}", text(&full.stderr));
    let status = project.max().args(["status"]).assert().success().get_output().stdout.clone();
    let status = text(&status);
    assert!(status.contains("interrupted"), "{status}");
    assert!(status.contains("Sync #1 stopped before its end (") && status.contains("tasks done)"), "{status}");
    assert!(status.contains("`max sync acme/default` resumes it"), "{status}");
    let json = project.max().args(["status", "-o", "json"]).assert().success().get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let unfinished = &json[0]["unfinished"];
    assert_eq!(unfinished["running"], false, "{json}");
    assert!(unfinished["done"].as_u64().unwrap() < unfinished["total"].as_u64().unwrap(), "{json}");
}

#[test]
fn after_a_full_sync_nothing_is_stale_not_even_the_root_row() {
    let (project, server) = acme_project(small());
    connect(&project, &server, "default", &[]);
    project.max().args(["sync", "acme", "--full"]).assert().success();
    let status = project.max().args(["status"]).assert().success().get_output().stdout.clone();
    assert!(!text(&status).contains("STALE: rows"), "{}", text(&status));
    let json = project.max().args(["status", "-o", "json"]).assert().success().get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    for entity in json[0]["entities"].as_array().unwrap() {
        assert_eq!(entity["stale"], 0, "{entity}");
    }
}
