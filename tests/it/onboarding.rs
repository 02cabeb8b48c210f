//! `max connect` and `max disconnect` as a new user meets them: prompts that ask again instead of
//! aborting, answers checked when they are given, reconnecting without retyping secrets, and removing
//! an installation with its data.

use max_fake_saas::RunningServer;
use max_fake_saas::acme::{DEFAULT_API_KEY, Size};
use max_tests::{Terminal, TestProject};

fn acme_project() -> (TestProject, RunningServer) {
    max_tests::acme_installed(Size {
        workspaces: 1,
        users: 2,
        projects: 1,
        tasks_per_project: 5,
        files_per_project: 1,
        history: false,
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn at_the_prompt_a_dead_base_url_and_a_refused_key_are_asked_again_not_fatal() {
    let (project, server) = acme_project();
    let mut terminal = Terminal::max(&project, &["connect", "acme"]);
    terminal.expect("Acme API URL");
    // Nothing listens on port 9: refused before any secret is asked.
    terminal.send("http://127.0.0.1:9");
    terminal.expect("can't reach 127.0.0.1:9");
    terminal.expect("Acme API URL");
    terminal.send(server.base_url());
    terminal.expect("Acme API key: ");
    terminal.send("not-the-key");
    terminal.expect("Invalid API key");
    terminal.expect("Try again? [Y/n]");
    terminal.send("");
    // The answers given are the defaults now: Enter keeps the URL, the key is typed again.
    terminal.expect(&format!("Acme API URL [{}]", server.base_url()));
    terminal.send("");
    terminal.expect("Acme API key [unchanged]: ");
    terminal.send(DEFAULT_API_KEY);
    terminal.expect("ok: 1 workspace");
    terminal.expect("Items per request [1000]");
    terminal.send("");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Connected acme/default"), "{screen}");
    project.max().args(["sync", "acme"]).assert().success();
}

#[test]
fn without_a_terminal_a_dead_base_url_is_refused_before_secrets_are_asked() {
    let (project, _server) = acme_project();
    let output = project
        .max()
        .args(["connect", "acme", "--set", "base_url=http://127.0.0.1:9"])
        .write_stdin("")
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = stderr(&output);
    assert!(err.contains("can't reach 127.0.0.1:9") && !err.contains("api_key"), "{err}");
    let output = project
        .max()
        .args(["connect", "acme", "--set", "base_url=ftp://example.com"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(stderr(&output).contains("must start with https://"), "{}", stderr(&output));
    assert!(!project.path().join(".max/installations/acme").exists(), "nothing was written");
}

#[test]
fn an_answer_the_connector_refuses_fails_at_connect_not_at_the_next_sync() {
    let (project, server) = acme_project();
    let output = project
        .max()
        .args(["connect", "acme", "--set", &format!("base_url={}", server.base_url())])
        .args(["--set", &format!("api_key={DEFAULT_API_KEY}"), "--set", "page_size=abc"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = stderr(&output);
    assert!(err.contains("page_size `abc`: a number from 1 to 1000"), "{err}");
    assert!(err.contains("check the value of `page_size`") && err.contains("nothing was saved"), "{err}");
    assert!(!project.path().join(".max/installations/acme").exists(), "nothing was written");
}

#[test]
fn replace_changes_one_answer_and_keeps_the_stored_secrets() {
    let (project, server) = acme_project();
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    let output = project.max().args(["connect", "acme", "--replace", "--set", "page_size=50"]).assert().success();
    assert!(String::from_utf8_lossy(&output.get_output().stdout).contains("Reconnected acme/default"));
    let dir = project.path().join(".max/installations/acme/default");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("installation.json")).unwrap()).unwrap();
    assert_eq!(file["config"]["page_size"], "50");
    assert_eq!(file["config"]["base_url"], server.base_url(), "the base URL given before is kept");
    let credentials = std::fs::read_to_string(dir.join("credentials.json")).unwrap();
    assert!(credentials.contains(DEFAULT_API_KEY), "the secret is kept");
    project.max().args(["sync", "acme"]).assert().success();
}

#[test]
fn disconnect_removes_the_installation_and_its_data_after_confirmation() {
    let (project, server) = acme_project();
    max_tests::connect_acme_to(&project, &server, "default", &[]);
    project.max().args(["sync", "acme"]).assert().success();
    let dir = project.path().join(".max/installations/acme/default");
    let refused = project.max().args(["disconnect", "acme"]).write_stdin("").assert().failure().get_output().clone();
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(dir.join("data.db").is_file(), "nothing is removed without confirmation");
    let mut terminal = Terminal::max(&project, &["disconnect", "acme"]);
    terminal.expect("Remove acme/default and the data it synced");
    terminal.send("n");
    assert_ne!(terminal.finish().0, 0);
    assert!(dir.join("data.db").is_file(), "declined: kept");
    project.max().args(["disconnect", "acme", "--yes"]).assert().success();
    assert!(!dir.exists(), "the installation's folder is gone");
    project.max().args(["connector", "remove", "acme"]).assert().success();
}
