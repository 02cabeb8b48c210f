//! The `max` binary: init, connector install/list/inspect/remove, and how it fails.

use max_tests::{TestProject, connector, guest};
use serde_json::Value;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn initialised() -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project
}

#[test]
fn init_creates_a_project_and_refuses_to_clobber_it() {
    let project = TestProject::new();
    let out = project.max().arg("init").assert().success().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&out).contains("Created a Max project"));
    assert!(project.path().join(".max/project.json").is_file());
    let before = std::fs::read(project.path().join(".max/project.json")).unwrap();
    let output = project.max().arg("init").assert().failure().get_output().clone();
    assert!(stderr_of(&output).starts_with("error: "), "{}", stderr_of(&output));
    assert!(stderr_of(&output).contains("already holds a Max project"));
    assert_eq!(std::fs::read(project.path().join(".max/project.json")).unwrap(), before);
}

#[test]
fn commands_outside_a_project_say_how_to_make_one() {
    let project = TestProject::new();
    let output = project.max().args(["connector", "list"]).assert().failure().get_output().clone();
    let stderr = stderr_of(&output);
    assert!(stderr.contains("no Max project in") && stderr.contains("hint: run `max init`"), "{stderr}");
}

#[test]
fn install_then_inspect_shows_entities_fields_loaders_and_hosts() {
    let project = initialised();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    let output =
        project.max().args(["connector", "inspect", "acme", "-o", "json"]).assert().success().get_output().clone();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["name"], "acme");
    assert_eq!(json["contract"], max_host::CONTRACT_VERSION.to_string());
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
    let entities: Vec<&str> =
        json["info"]["schema"]["entities"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(entities, ["Account", "Workspace", "User", "Project", "Task", "File"]);
    let task = json["info"]["schema"]["entities"].as_array().unwrap().iter().find(|e| e["name"] == "Task").unwrap();
    let assignee = task["fields"].as_array().unwrap().iter().find(|f| f["name"] == "assignee").unwrap();
    assert_eq!((assignee["type"].as_str(), assignee["target"].as_str()), (Some("ref"), Some("User")));
    let loaders = json["info"]["loaders"].as_array().unwrap();
    let tasks_by_id = loaders.iter().find(|l| l["name"] == "tasks-by-id").unwrap();
    assert_eq!((tasks_by_id["kind"].as_str(), tasks_by_id["max_batch"].as_u64()), (Some("batched"), Some(50)));
    let project_tasks = loaders.iter().find(|l| l["name"] == "project-tasks").unwrap();
    assert_eq!(project_tasks["kind"], "collection");
    assert_eq!(json["granted"]["hosts"][0]["host"], "api.acme.dev");
    assert_eq!(json["granted"]["base_url_key"], "base_url");
    assert_eq!(json["granted"]["credentials"][0]["name"], "api_key");
    assert_eq!(json["granted"]["credentials"][0]["inject"], "bearer");
    let installed = project.path().join(".max/connectors").join(json["file"].as_str().unwrap());
    assert_eq!(std::fs::read(installed).unwrap(), std::fs::read(connector("acme")).unwrap());
}

#[test]
fn list_and_remove_work_in_text_and_json() {
    let project = initialised();
    let empty = project.max().args(["connector", "list"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&empty).contains("No connectors installed"));
    project.max().args(["connector", "install", "-y"]).arg(connector("acme")).assert().success();
    let text = project.max().args(["connector", "list"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8_lossy(&text);
    assert!(text.lines().next().unwrap().starts_with("NAME"), "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("acme "), "{text}");
    let json = project.max().args(["connector", "list", "-o", "json"]).assert().success().get_output().stdout.clone();
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json[0]["name"], "acme");
    project.max().args(["connector", "remove", "acme"]).assert().success();
    assert!(project.files_under(&project.path().join(".max/connectors")).iter().all(|f| f == "manifest.json"));
    let output = project.max().args(["connector", "inspect", "acme"]).assert().failure().get_output().clone();
    assert!(stderr_of(&output).contains("no connector named `acme` is installed"));
}

/// Installing `bytes` fails with one `error:` line, a non-zero exit, and changes nothing.
fn refused(bytes: &[u8], expect: &str) {
    let project = initialised();
    let file = project.path().join("candidate.wasm");
    std::fs::write(&file, bytes).unwrap();
    let before = project.files_under(&project.path().join(".max"));
    let output =
        project.max().args(["connector", "install", "--yes"]).arg(&file).assert().failure().get_output().clone();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(expect), "expected `{expect}` in: {stderr}");
    assert!(stderr.lines().count() <= 2, "one error line and at most one hint: {stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(project.files_under(&project.path().join(".max")), before, "nothing was left behind");
    let cached = project.files_under(&project.home());
    assert!(cached.iter().all(|f| !f.ends_with(".cwasm")), "a refused component was cached: {cached:?}");
}

#[test]
fn installing_a_file_that_is_not_a_component_fails_cleanly() {
    refused(b"#!/bin/sh\necho not wasm\n", "is not a WebAssembly file");
    refused(b"\0asm\x01\0\0\0", "core module, not a component");
}

#[test]
fn installing_a_truncated_component_fails_cleanly() {
    let bytes = std::fs::read(connector("acme")).unwrap();
    refused(&bytes[..bytes.len() * 2 / 3], "is not a valid WebAssembly component");
}

#[test]
fn installing_a_component_of_an_unsupported_contract_fails_cleanly() {
    let bytes = std::fs::read(guest("future-contract")).unwrap();
    refused(
        &bytes,
        "was built against max:connector@1.0.0, but this max runs max:connector 0.1.x, 0.2.x, 0.3.x or 0.4.x",
    );
}

#[test]
fn install_without_yes_and_without_a_terminal_asks_for_yes() {
    let project = initialised();
    let output = project
        .max()
        .args(["connector", "install"])
        .arg(connector("acme"))
        .write_stdin("")
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = stderr_of(&output);
    assert!(stderr.contains("Permissions it asks for"), "the permissions are shown first: {stderr}");
    assert!(stderr.contains("re-run with --yes"), "{stderr}");
    assert!(project.files_under(&project.path().join(".max/connectors")).is_empty());
}

#[test]
fn errors_in_json_mode_are_one_json_object() {
    let project = initialised();
    let output =
        project.max().args(["connector", "inspect", "nope", "-o", "json"]).assert().failure().get_output().clone();
    let json: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(json["error"]["code"], "connector_not_installed");
    assert!(json["error"]["message"].as_str().unwrap().contains("nope"));
}

#[test]
fn help_teaches_the_commands() {
    let output = TestProject::new().max().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8_lossy(&output);
    for word in ["init", "connector", "limits", "--output", "--json", "--project"] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
    // Each command's long help is its whole guide, not just its one-line summary.
    for (command, guide) in [("search", "Filters:"), ("sync", "resumed where it stopped"), ("limits", "Examples:")] {
        let output = TestProject::new().max().args([command, "--help"]).assert().success().get_output().stdout.clone();
        let help = String::from_utf8_lossy(&output);
        assert!(help.contains(guide), "`max {command} --help` lacks {guide:?}:\n{help}");
    }
}

#[test]
fn a_tampered_installed_component_is_refused_before_it_runs() {
    let project = initialised();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    let dir = project.path().join(".max/connectors");
    let installed = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .unwrap();
    let mut bytes = std::fs::read(&installed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff; // one flipped byte, the size unchanged
    std::fs::write(&installed, bytes).unwrap();
    let output = project
        .max()
        .args(["connect", "acme", "--set", &format!("base_url={}", max_tests::listening_url()), "--set", "api_key=k"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = stderr_of(&output);
    assert!(stderr.contains("was modified after install") && stderr.contains("sha256"), "{stderr}");
    assert!(stderr.contains("reinstall `acme` from a trusted file"), "its own advice, not the API's: {stderr}");
}

#[test]
fn signed_components_install_only_with_a_trusted_key_and_an_intact_file() {
    let project = initialised();
    let dir = project.path();
    let component = dir.join("acme.wasm");
    std::fs::copy(connector("acme"), &component).unwrap();
    for who in ["publisher", "stranger"] {
        project.max().args(["connector", "keygen", "--out"]).arg(dir.join(who)).assert().success();
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(dir.join("publisher.key")).unwrap().permissions().mode() & 0o777, 0o600);
    // A second keygen never overwrites a secret key.
    project.max().args(["connector", "keygen", "--out"]).arg(dir.join("publisher")).assert().failure();

    let install = |extra: &[&str]| {
        let mut command = project.max();
        command.args(["connector", "install", "--yes", "--require-signed"]).arg(&component).args(extra);
        command.assert()
    };
    let refused = |extra: &[&str], expected: &str| {
        let output = install(extra).failure().get_output().clone();
        let stderr = stderr_of(&output);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
    };
    let trust_publisher = ["--trust", "publisher.pub"];
    refused(&trust_publisher, "the component is not signed");

    // A public key is not a secret key: refused, and nothing is written.
    let wrong = project.max().args(["connector", "sign", "acme.wasm", "--key", "publisher.pub"]).assert().failure();
    assert!(stderr_of(wrong.get_output()).contains("this is a public key"), "{}", stderr_of(wrong.get_output()));
    assert!(!dir.join("acme.wasm.sig").exists());
    project.max().args(["connector", "sign", "acme.wasm", "--key", "publisher.key"]).assert().success();
    // Signing again with the same key is fine; another key's signature is kept unless --force.
    project.max().args(["connector", "sign", "acme.wasm", "--key", "publisher.key"]).assert().success();
    let signed = std::fs::read(dir.join("acme.wasm.sig")).unwrap();
    let kept = project.max().args(["connector", "sign", "acme.wasm", "--key", "stranger.key"]).assert().failure();
    assert!(stderr_of(kept.get_output()).contains("--force"), "{}", stderr_of(kept.get_output()));
    assert_eq!(std::fs::read(dir.join("acme.wasm.sig")).unwrap(), signed);
    project.max().args(["connector", "sign", "acme.wasm", "--key", "stranger.key", "--force"]).assert().success();
    project.max().args(["connector", "sign", "acme.wasm", "--key", "publisher.key", "--force"]).assert().success();
    let verified =
        project.max().args(["connector", "verify", "acme.wasm", "--trust", "publisher.pub"]).assert().success();
    assert!(String::from_utf8_lossy(&verified.get_output().stdout).contains("signed by"));
    refused(&["--trust", "stranger.pub"], "signed by a key you don't trust");

    // One flipped byte after signing: refused, even with the right key.
    let original = std::fs::read(&component).unwrap();
    let mut tampered = original.clone();
    tampered[100] ^= 1;
    std::fs::write(&component, &tampered).unwrap();
    refused(&trust_publisher, "signs a different file");
    project.max().args(["connector", "verify", "acme.wasm", "--trust", "publisher.pub"]).assert().failure();

    std::fs::write(&component, &original).unwrap();
    let output = install(&trust_publisher).success().get_output().clone();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Installed acme"));
    project.max().args(["connector", "list"]).assert().success();
}

/// A new version that asks for more than the installed one was granted shows what it adds and asks
/// again; unanswered, nothing changes. (The older, narrower version is made by taking a host out of the
/// installed grant.)
#[test]
fn an_upgrade_asking_for_more_shows_what_it_adds_and_asks_again() {
    let project = initialised();
    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    let manifest = project.path().join(".max/connectors/manifest.json");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    json["connectors"][0]["granted"]["hosts"].as_array_mut().unwrap().retain(|h| h["host"] != "second.example");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let before = std::fs::read(&manifest).unwrap();

    let output = project.max().args(["connector", "install"]).arg(guest("hostile")).write_stdin("").assert().failure();
    let stderr = stderr_of(output.get_output());
    assert!(stderr.contains("It asks for more than the installed version was granted:"), "{stderr}");
    assert!(stderr.contains("+ HTTPS to second.example"), "{stderr}");
    assert!(!stderr.contains("+ HTTPS to allowed.example"), "only what is new is marked: {stderr}");
    assert!(stderr.contains("re-run with --yes to confirm"), "{stderr}");
    assert_eq!(std::fs::read(&manifest).unwrap(), before, "nothing changed without an answer");

    project.max().args(["connector", "install", "--yes"]).arg(guest("hostile")).assert().success();
    let output = project.max().args(["connector", "inspect", "hostile", "-o", "json"]).assert().success();
    let inspected: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert!(inspected.to_string().contains("second.example"), "the grant now includes it: {inspected}");
}

/// `max … | head -1`: a reader that goes away early is not an error (exit 0, nothing on stderr), the
/// way every Unix tool behaves.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let project = initialised();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    for args in [&["limits"][..], &["limits", "--json"], &["connector", "inspect", "acme"]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("max"))
            .args(args)
            .current_dir(project.path())
            .env("MAX_HOME", project.home())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before max writes (it starts in milliseconds; this runs at once).
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{args:?}: {:?} {}", output.status, stderr_of(&output));
        assert_eq!(stderr_of(&output), "", "{args:?}");
    }
}

/// Filters too long, too deep or with too many terms, and page sizes out of range, get a normal error:
/// `invalid filter` with a short excerpt (exit 1) or a usage error (exit 2). Never a panic, a stack
/// overflow, or generated SQL.
#[test]
fn oversized_filters_and_limits_are_plain_errors() {
    let project = initialised();
    let (_fake, _server) = project.connect_acme();
    project.max().args(["sync", "acme"]).assert().success();
    let deep = format!("{}title = x{}", "(".repeat(5000), ")".repeat(5000));
    let nested = format!("{}title = x{}", "(".repeat(100), ")".repeat(100));
    let many = (0..300).map(|n| format!("title = t{n}")).collect::<Vec<_>>().join(" OR ");
    let thousand = (0..1000).map(|n| format!("title = t{n}")).collect::<Vec<_>>().join(" OR ");
    let long = format!("title = \"{}\"", "x".repeat(100_000));
    for (filter, says) in [
        (deep.as_str(), "longer than 10000 characters"),
        (nested.as_str(), "parentheses nested more than 64 deep"),
        (many.as_str(), "more than 200 comparisons"),
        (thousand.as_str(), "longer than 10000 characters"),
        (long.as_str(), "longer than 10000 characters"),
    ] {
        let output = project.max().args(["search", "acme", "Task", "--filter", filter]).assert().code(1);
        let stderr = stderr_of(output.get_output());
        assert!(stderr.contains("invalid filter") && stderr.contains(says), "{says}: {stderr:.300}");
        assert!(stderr.len() < 1000, "a short excerpt, not the whole filter: {} bytes", stderr.len());
        assert!(!stderr.contains("SELECT") && !stderr.contains("panicked"), "{stderr:.300}");
    }
    for limit in ["18446744073709551615", "0", "-1"] {
        let output = project.max().args(["search", "acme", "Task", &format!("--limit={limit}")]).assert().code(2);
        assert!(stderr_of(output.get_output()).contains("--limit"), "{limit}");
    }
    project.max().args(["search", "acme", "Task", "--limit", "1000000"]).assert().success();
    // A cursor continues only the order it was made under.
    let first = project.max().args(["search", "acme", "Task", "--limit", "1", "--order-by", "title"]).assert();
    let stderr = stderr_of(first.get_output());
    let cursor = stderr.split("--after ").nth(1).expect("a next page").trim().to_string();
    let next = ["search", "acme", "Task", "--limit", "1", "--after", &cursor];
    project.max().args(next).args(["--order-by", "title"]).assert().success();
    for other in ["priority", "title:desc"] {
        let refused = project.max().args(next).args(["--order-by", other]).assert().code(1);
        assert!(stderr_of(refused.get_output()).contains("different --order-by"), "{other}");
    }
}

/// Usage errors (exit 2) for what can't be right: a `-C` directory that doesn't exist, an empty
/// `--fields` or `--order-by`, and `-o ndjson|csv` asked of a command that only writes text or JSON.
#[test]
fn impossible_options_are_usage_errors() {
    let project = initialised();
    let missing = project.path().join("missing");
    let output = project.max().arg("-C").arg(&missing).arg("ls").assert().code(2);
    assert!(stderr_of(output.get_output()).contains("does not exist"), "{}", stderr_of(output.get_output()));
    for args in [
        &["search", "acme", "Task", "--fields", ""][..],
        &["search", "acme", "Task", "--order-by", " , "],
        &["ls", "-o", "csv"],
        &["status", "-o", "ndjson"],
        &["connector", "list", "-o", "csv"],
    ] {
        let output = project.max().args(args).assert().code(2);
        let stderr = stderr_of(output.get_output());
        assert!(stderr.contains("error:") && !stderr.contains('{'), "{args:?}: {stderr}");
        assert!(output.get_output().stdout.is_empty(), "{args:?}");
    }
    project.max().args(["ls", "-o", "json"]).assert().success();
}

/// A credential store others can read is said at every sync, with the fix.
#[test]
fn a_sync_warns_when_others_can_read_the_credentials() {
    use std::os::unix::fs::PermissionsExt;
    let project = initialised();
    let (_fake, _server) = project.connect_acme();
    let credentials = project.path().join(".max/installations/acme/default/credentials.json");
    assert_eq!(std::fs::metadata(&credentials).unwrap().permissions().mode() & 0o777, 0o600);
    let quiet = project.max().args(["sync", "acme"]).assert().success();
    assert!(!stderr_of(quiet.get_output()).contains("warning"), "{}", stderr_of(quiet.get_output()));
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = project.max().args(["sync", "acme"]).assert().success();
    let stderr = stderr_of(warned.get_output());
    assert!(stderr.contains("can be read by other users (mode 644)") && stderr.contains("chmod 600"), "{stderr}");
}

/// `max connector inspect ./file.wasm` shows a component before it is installed, checked as an install
/// checks it, outside any project, writing nothing.
#[test]
fn a_component_file_can_be_inspected_before_installing() {
    let outside = TestProject::new();
    let shown = outside.max().args(["connector", "inspect"]).arg(connector("acme")).assert().success();
    let text = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(text.contains("acme 0.1.0") && text.contains("Entities") && text.contains("Loaders"), "{text}");
    let json = outside.max().args(["connector", "inspect", "--json"]).arg(connector("acme")).assert().success();
    let json: Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(json["name"], "acme");
    assert!(!outside.path().join(".max").exists(), "no project was made or written");
    let (_dir, wide) = max_tests::rogue_as("wide");
    let refused = outside.max().args(["connector", "inspect"]).arg(&wide).assert().failure();
    assert!(stderr_of(refused.get_output()).contains("install limit `fields`"));
}

/// The default search table fits an 80-column terminal: the id and a few columns that fit, ids whole,
/// a note of what was left out; picked columns are cut to fit rather than wrap.
#[test]
fn the_default_search_table_fits_eighty_columns_and_never_cuts_ids() {
    let project = initialised();
    let (_fake, _server) = project.connect_acme();
    project.max().args(["sync", "acme"]).assert().success();
    let json = project.max().args(["search", "acme", "Task", "--limit", "20", "-o", "json"]).assert().success();
    let all: Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    let ids: Vec<&str> = all["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for fields in [None, Some("all")] {
        let mut command = project.max();
        command.args(["search", "acme", "Task", "--limit", "20"]).env("COLUMNS", "80");
        if let Some(fields) = fields {
            command.args(["--fields", fields]);
        }
        let output = command.assert().success().get_output().clone();
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{fields:?}:\n{table}");
        assert!(table.starts_with("id "), "{table}");
        for (line, id) in table.lines().skip(1).zip(&ids) {
            assert!(line.starts_with(&format!("{id} ")), "the id is whole: {line}");
        }
        if fields.is_none() {
            let columns = table.lines().next().unwrap().split_whitespace().count();
            assert!((3..all["columns"].as_array().unwrap().len()).contains(&columns), "{table}");
            assert!(stderr_of(&output).contains("left out to fit: --fields all"), "{}", stderr_of(&output));
        }
    }
}

/// `--quiet` leaves notes out; stderr carries no colour codes when redirected, even without
/// `NO_COLOR`; among several installations each error names its installation.
#[test]
fn quiet_means_results_only_and_redirected_stderr_is_plain() {
    let project = initialised();
    let (_fake, _server) = project.connect_acme();
    let synced = project.max().args(["-q", "sync", "acme"]).assert().success();
    assert_eq!(stderr_of(synced.get_output()), "");
    let searched = project.max().args(["search", "acme", "Task", "-q", "--limit", "3"]).assert().success();
    assert_eq!(stderr_of(searched.get_output()), "", "no row count, no cursor note");
    assert_eq!(String::from_utf8_lossy(&searched.get_output().stdout).lines().count(), 4);
    let logged = project.max().env_remove("NO_COLOR").args(["-vv", "sync", "acme"]).assert().success();
    let stderr = stderr_of(logged.get_output());
    assert!(stderr.contains("DEBUG") && !stderr.contains('\x1b'), "{stderr:?}");
    let failed =
        project.max().env_remove("NO_COLOR").args(["search", "acme", "Task", "--filter", "nope = 1"]).assert().code(1);
    let stderr = stderr_of(failed.get_output());
    assert!(stderr.contains("error:") && !stderr.contains('\x1b'), "{stderr:?}");
    // A second installation whose server went away: `--all` says whose error it is.
    let config = project.path().join(".max/installations/acme/default/installation.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let mut file: Value = serde_json::from_str(&text).unwrap();
    file["name"] = "gone".into();
    file["config"]["base_url"] = "http://127.0.0.1:9".into();
    let gone = project.path().join(".max/installations/acme/gone");
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::write(gone.join("installation.json"), file.to_string()).unwrap();
    let all = project.max().args(["sync", "--all"]).assert().code(3);
    let stderr = stderr_of(all.get_output());
    assert!(stderr.contains("error: acme/gone: can't reach 127.0.0.1:9"), "{stderr}");
    assert!(stderr.contains("1 of 2 installations did not sync completely: acme/gone"), "{stderr}");
}

/// Every command's help ends with examples; shell completions come from the same command line.
#[test]
fn every_command_has_examples_and_shells_get_completions() {
    let project = TestProject::new();
    let commands = [
        "init",
        "connector install",
        "connector list",
        "connector inspect",
        "connector remove",
        "connector keygen",
        "connector sign",
        "connector verify",
        "connect",
        "disconnect",
        "sync",
        "search",
        "schema",
        "ls",
        "status",
        "limits",
        "completions",
    ];
    for command in commands {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let help = project.max().args(&args).assert().success().get_output().stdout.clone();
        let help = String::from_utf8_lossy(&help);
        let examples = help.split("Examples:\n").nth(1).unwrap_or_else(|| panic!("`max {command} --help`:\n{help}"));
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("max {}", command.split(' ').next().unwrap()))),
            "{help}"
        );
        assert_eq!(help.matches("Global options:").count(), 1, "{help}");
    }
    for (shell, marker) in [("bash", "complete -F _max"), ("zsh", "#compdef max"), ("fish", "complete -c max")] {
        let script = project.max().args(["completions", shell]).assert().success().get_output().stdout.clone();
        let script = String::from_utf8_lossy(&script);
        assert!(script.contains(marker) && script.contains("disconnect") && script.contains("retry-failed"), "{shell}");
    }
}

/// `max -v sync` shows what the connector did: each loader call (which loader, on what, the rows it
/// returned, how long it took, how many requests) and, at debug level, the URLs it asked for.
#[test]
fn verbose_sync_logs_every_loader_call_and_its_requests() {
    let project = initialised();
    let (_fake, server) = project.connect_acme();
    let output = project.max().args(["sync", "acme", "-v"]).assert().success();
    let stderr = stderr_of(output.get_output());
    let call = stderr
        .lines()
        .find(|l| l.contains("load-page returned") && l.contains("loader=workspaces"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(call.contains("rows=") && call.contains("requests=1") && call.contains("elapsed_ms="), "{call}");
    let request = format!("GET {}/api/workspaces?limit=", server.base_url());
    assert!(stderr.lines().any(|l| l.contains(&request) && l.contains("→ 200")), "{stderr}");
    assert!(!stderr.contains(max_fake_saas::acme::DEFAULT_API_KEY), "no secret in the log");
}
