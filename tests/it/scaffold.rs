//! `max connector new` in each language: the project it writes passes its own unit tests natively,
//! builds with `max connector build`, and passes `max connector test --replay` on the cassette it
//! carries, with no edits.

use std::path::Path;
use std::process::Command;

use max_tests::TestProject;

/// A tool `cargo xtask test` installed and named in the environment.
fn tool(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the tests with `cargo xtask test`"))
}

fn succeeds(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

fn new_builds_and_replays(lang: &str, unit_tests: impl FnOnce(&Path)) {
    let project = TestProject::new();
    let name = format!("demo-{lang}");
    let made = project.max().args(["connector", "new", &name, "--lang", lang, "-o", "json"]).assert().success();
    let made: serde_json::Value = serde_json::from_slice(&made.get_output().stdout).unwrap();
    let dir = project.path().join(&name);
    assert_eq!(made["language"], lang);
    for file in made["files"].as_array().unwrap() {
        assert!(dir.join(file.as_str().unwrap()).is_file(), "{file}");
    }
    assert!(dir.join("README.md").is_file() && dir.join("cassettes/cassette.json").is_file());
    unit_tests(&dir);

    project
        .max()
        .args(["connector", "build"])
        .arg(&dir)
        .env("MAX_COMPONENTIZE_PY", tool("MAX_COMPONENTIZE_PY"))
        .env("MAX_COMPONENTIZE_JS", tool("MAX_COMPONENTIZE_JS"))
        .env("CARGO_TARGET_DIR", max_tests::artifacts_dir().join("scaffold"))
        .env("CARGO_NET_OFFLINE", "true")
        .assert()
        .success();
    let component = dir.join(format!("{name}.wasm"));
    let tested = project
        .max()
        .args(["connector", "test", "-o", "json"])
        .arg(&component)
        .arg("--replay")
        .arg(dir.join("cassettes"))
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&tested.get_output().stdout).unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["tables"]["Item"]["rows"], 4, "{report}");
    assert!(report["checks"].as_array().unwrap().iter().all(|c| c["verdict"] == "pass"), "{report}");
    // And it installs as any connector does.
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(&component).assert().success();
}

#[test]
fn a_new_python_connector_tests_builds_and_replays_as_it_is() {
    new_builds_and_replays("python", |dir| {
        let out = succeeds(Command::new("python3").args(["-m", "unittest", "-v"]).current_dir(dir));
        assert!(out.contains("Ran 2 tests"), "{out}");
    });
}

#[test]
fn a_new_javascript_connector_tests_builds_and_replays_as_it_is() {
    new_builds_and_replays("js", |dir| {
        let out = succeeds(Command::new("node").arg("--test").current_dir(dir));
        assert!(out.contains("# pass 2"), "{out}");
    });
}

#[test]
fn a_new_rust_connector_tests_builds_and_replays_as_it_is() {
    new_builds_and_replays("rust", |dir| {
        let out = succeeds(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["test"])
                .current_dir(dir)
                .env("CARGO_TARGET_DIR", max_tests::artifacts_dir().join("scaffold"))
                .env("CARGO_NET_OFFLINE", "true"),
        );
        assert!(out.contains("2 passed"), "{out}");
    });
}

/// A name that is no connector name, or a folder already holding something, is refused; nothing written.
#[test]
fn new_refuses_bad_names_and_busy_folders() {
    let project = TestProject::new();
    let refused = project.max().args(["connector", "new", "My API", "--lang", "python"]).assert().code(1);
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("is not a connector name"));
    std::fs::create_dir(project.path().join("busy")).unwrap();
    std::fs::write(project.path().join("busy/notes.txt"), "mine").unwrap();
    let refused = project.max().args(["connector", "new", "busy", "--lang", "js"]).assert().code(1);
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("not empty"));
    assert_eq!(std::fs::read_dir(project.path().join("busy")).unwrap().count(), 1);
    project.max().args(["connector", "new", "x", "--lang", "go"]).assert().code(2);
}
