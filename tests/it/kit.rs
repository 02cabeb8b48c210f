//! `max connector test`: the lint, recording a sync at the host's HTTP boundary, and replaying it
//! offline, with the real `max` binary.

use max_tests::{TestProject, connector, rogue_as};

fn report_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn verdict<'a>(report: &'a serde_json::Value, check: &str) -> &'a str {
    let found = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == check);
    found.and_then(|c| c["verdict"].as_str()).unwrap_or_else(|| panic!("no `{check}` check: {report}"))
}

/// A cassette recorded from `fake-saas linear` replays with the fake gone (no network): both replays
/// store exactly what the recorded sync stored, the cassette holds no secret, and every check passes.
#[test]
fn a_cassette_recorded_from_the_linear_fake_replays_offline_with_identical_tables() {
    use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig};
    let project = TestProject::new();
    let cassettes = project.path().join("cassettes");
    let linear = Linear::new(LinearConfig::default());
    let server = linear.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let recorded = project
        .max()
        .args(["connector", "test", "-o", "json"])
        .arg(connector("linear"))
        .arg("--record")
        .arg(&cassettes)
        .args(["--set", &format!("base_url={}", server.base_url()), "--set", "auth=api_key"])
        .args(["--set", &format!("api_key={DEFAULT_API_KEY}"), "--set", "teams="])
        .assert()
        .success();
    let recorded = report_of(recorded.get_output());
    assert_eq!(recorded["passed"], true, "{recorded}");
    let requests = linear.request_count();
    assert!(requests > 5, "the recording synced for real");
    let cassette = std::fs::read_to_string(cassettes.join("cassette.json")).unwrap();
    assert!(!cassette.contains(DEFAULT_API_KEY), "the API key is never recorded");
    drop(server);

    let replay_report = project.path().join("report.json");
    let replayed = project
        .max()
        .args(["connector", "test", "-o", "json"])
        .arg(connector("linear"))
        .arg("--replay")
        .arg(&cassettes)
        .arg("--report")
        .arg(&replay_report)
        .assert()
        .success();
    let replayed = report_of(replayed.get_output());
    // `permissions` passes: api.linear.app is asked for through the base URL that stands in for it.
    for check in ["sync", "cassette", "determinism", "references", "undeclared hosts", "permissions"] {
        assert_eq!(verdict(&replayed, check), "pass", "{check}: {replayed}");
    }
    assert_eq!(replayed["tables"], recorded["tables"], "the replay stored what the recorded sync stored");
    assert!(replayed["tables"]["Issue"]["rows"].as_u64().unwrap() > 0);
    assert_eq!(linear.request_count(), requests, "the replay sent nothing to the API");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(replay_report).unwrap()).unwrap();
    assert_eq!(written, replayed, "--report writes the same report");
}

/// The acme connectors of all three languages make the same requests: each replays the Rust one's
/// cassette and stores the same tables.
#[test]
fn acme_in_every_language_replays_the_rust_acmes_cassette() {
    let project = TestProject::new();
    let fake = max_tests::small_acme();
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let cassettes = project.path().join("acme-cassette");
    let recorded = project
        .max()
        .args(["connector", "test", "-o", "json"])
        .arg(connector("acme"))
        .arg("--record")
        .arg(&cassettes)
        .args(["--set", &format!("base_url={}", server.base_url())])
        .args(["--set", &format!("api_key={}", max_fake_saas::acme::DEFAULT_API_KEY), "--set", "page_size=9"])
        .assert()
        .success();
    let recorded = report_of(recorded.get_output());
    drop(server);
    for build in ["acme", "acme-python", "acme-js"] {
        let replayed = project
            .max()
            .args(["connector", "test", "-o", "json"])
            .arg(connector(build))
            .arg("--replay")
            .arg(&cassettes)
            .assert()
            .success();
        let replayed = report_of(replayed.get_output());
        assert_eq!(replayed["tables"], recorded["tables"], "{build}");
    }
}

/// Failures are reported as failed checks with a non-zero exit: a description that can't sync, a
/// cassette missing the answers a sync needs, a replay pointed at another server than was recorded.
#[test]
fn failed_checks_exit_non_zero_with_a_report_saying_why() {
    let project = TestProject::new();
    let (_guard, rogue) = rogue_as("no-root");
    let lint = project.max().args(["connector", "test", "-o", "json"]).arg(&rogue).assert().code(1);
    let lint = report_of(lint.get_output());
    assert_eq!((lint["passed"].as_bool(), verdict(&lint, "describe")), (Some(false), "fail"), "{lint}");

    let fake = max_tests::small_acme();
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let cassettes = project.path().join("acme");
    project
        .max()
        .args(["connector", "test"])
        .arg(connector("acme"))
        .arg("--record")
        .arg(&cassettes)
        .args(["--set", &format!("base_url={}", server.base_url())])
        .args(["--set", &format!("api_key={}", max_fake_saas::acme::DEFAULT_API_KEY)])
        .assert()
        .success();
    drop(server);
    let file = cassettes.join("cassette.json");
    let mut cassette: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let exchanges = cassette["exchanges"].as_array_mut().unwrap();
    exchanges.retain(|e| !e["request"]["url"].as_str().unwrap().contains("/api/tasks"));
    std::fs::write(&file, cassette.to_string()).unwrap();
    let replayed = project
        .max()
        .args(["connector", "test", "-o", "json"])
        .arg(connector("acme"))
        .arg("--replay")
        .arg(&cassettes)
        .assert()
        .code(1);
    let replayed = report_of(replayed.get_output());
    assert_eq!(verdict(&replayed, "cassette"), "fail", "{replayed}");
    assert_eq!(verdict(&replayed, "sync"), "fail", "{replayed}");

    let elsewhere = project
        .max()
        .args(["connector", "test"])
        .arg(connector("acme"))
        .arg("--replay")
        .arg(&cassettes)
        .args(["--set", "base_url=http://127.0.0.1:9"])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&elsewhere.get_output().stdout).into_owned();
    assert!(text.contains("FAIL cassette") && text.contains("not in the cassette"), "{text}");
}
