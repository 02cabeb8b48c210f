//! Snapshots (insta) of what a user reads: the help of the main commands and the errors a new user
//! meets first. A change to any of them shows up in review as a diff of `tests/it/snapshots/`.

use max_tests::{TestProject, connector};

/// What `max ARGS` printed (stdout, then stderr), its exit code first; the project's temporary folder
/// shown as `[PROJECT]`.
fn run(project: &TestProject, args: &[&str]) -> String {
    let output = project.max().args(args).env("COLUMNS", "100").output().unwrap();
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let root = project.path().display().to_string();
    text.replace(&root, "[PROJECT]")
}

#[test]
fn help_of_the_main_commands() {
    let project = TestProject::new();
    for command in ["", "connect", "sync", "search", "status", "connector install", "completions"] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let name = if command.is_empty() { "help".to_string() } else { format!("help {command}") };
        insta::assert_snapshot!(name.replace(' ', "_"), run(&project, &args));
    }
}

#[test]
fn the_first_errors_a_new_user_meets() {
    let project = TestProject::new();
    insta::assert_snapshot!("no_project", run(&project, &["status"]));
    project.max().arg("init").assert().success();
    insta::assert_snapshot!("no_installation", run(&project, &["sync", "acme"]));
    insta::assert_snapshot!("not_a_component", {
        std::fs::write(project.path().join("notes.wasm"), b"hello").unwrap();
        run(&project, &["connector", "install", "--yes", "notes.wasm"])
    });
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    insta::assert_snapshot!("unknown_key", run(&project, &["connect", "acme", "--set", "colour=blue"]));
    insta::assert_snapshot!(
        "unreachable_base_url",
        run(&project, &["connect", "acme", "--set", "base_url=http://127.0.0.1:9"])
    );
    insta::assert_snapshot!("limit_out_of_range", run(&project, &["search", "acme", "Task", "--limit", "0"]));
}

#[test]
fn a_filter_error_points_at_its_column() {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    let (_fake, _server) = project.connect_acme();
    project.max().args(["sync", "acme"]).assert().success();
    insta::assert_snapshot!("bad_filter", run(&project, &["search", "acme", "Task", "--filter", "status = todo AND"]));
    insta::assert_snapshot!("unknown_field", run(&project, &["search", "acme", "Task", "--filter", "colour = red"]));
}
