//! What the host refuses to load, and how it says so: not WebAssembly, a core module, a truncated
//! component, a component of an unsupported contract version. A refused component leaves nothing in
//! the compile cache.

use max_host::Error;
use max_host::runtime::{Runtime, RuntimeConfig};
use max_tests::{connector, guest};

fn fresh_runtime() -> (Runtime, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_path_buf()) }).unwrap(), cache)
}

fn cache_is_empty(cache: &tempfile::TempDir) -> bool {
    walk_files(cache.path()) == 0
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| if e.path().is_dir() { walk_files(&e.path()) } else { 1 })
        .sum()
}

#[test]
fn a_component_of_an_unsupported_contract_version_is_refused_naming_both_versions() {
    let (runtime, cache) = fresh_runtime();
    let error = runtime.load_file(&guest("future-contract")).unwrap_err();
    let Error::IncompatibleContract { found, supported, .. } = &error else { panic!("{error:?}") };
    assert_eq!(found.to_string(), "1.0.0");
    assert_eq!(supported, "0.1.x, 0.2.x, 0.3.x or 0.4.x");
    let message = error.to_string();
    assert!(
        message.contains("max:connector@1.0.0") && message.contains("max:connector 0.1.x, 0.2.x, 0.3.x or 0.4.x"),
        "{message}"
    );
    assert!(*found > max_host::CONTRACT_VERSION, "a newer contract: the advice is to upgrade max");
    assert!(cache_is_empty(&cache), "a refused component must not be cached");
}

#[test]
fn bytes_that_are_not_webassembly_are_refused() {
    let (runtime, _cache) = fresh_runtime();
    let error = runtime.load("notes.txt", b"hello, I am not a component").unwrap_err();
    assert!(matches!(error, Error::NotWasm { .. }), "{error:?}");
    assert!(matches!(runtime.load("empty", b"").unwrap_err(), Error::NotWasm { .. }));
}

#[test]
fn a_core_module_is_refused_as_not_a_component() {
    let (runtime, _cache) = fresh_runtime();
    let error = runtime.load("module.wasm", b"\0asm\x01\0\0\0").unwrap_err();
    assert!(matches!(error, Error::CoreModule { .. }), "{error:?}");
}

#[test]
fn a_truncated_component_is_refused_and_not_cached() {
    let (runtime, cache) = fresh_runtime();
    let bytes = std::fs::read(connector("acme")).unwrap();
    let error = runtime.load("acme-truncated.wasm", &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error, Error::InvalidComponent { .. }), "{error:?}");
    assert!(cache_is_empty(&cache));
}

#[test]
fn the_host_reads_the_contract_version_of_a_good_component() {
    let (runtime, _cache) = fresh_runtime();
    let loaded = runtime.load_file(&connector("acme")).unwrap();
    assert_eq!(loaded.contract(), &max_host::CONTRACT_VERSION);
    let old = runtime.load_file(&max_tests::contract_0_1_fixture()).unwrap();
    assert_eq!(old.contract().to_string(), "0.1.0");
    let old = runtime.load_file(&max_tests::contract_0_2_fixture()).unwrap();
    assert_eq!(old.contract().to_string(), "0.2.0");
    let old = runtime.load_file(&max_tests::contract_0_3_fixture()).unwrap();
    assert_eq!(old.contract().to_string(), "0.3.0");
}

/// The acme connector as published for contracts 0.1.0, 0.2.0 and 0.3.0, each installs, syncs in full
/// and then incrementally (its change feed), beside a current connector synced in the same command,
/// and stores what the current build of acme stores.
#[test]
fn connectors_built_against_earlier_contracts_install_and_sync_beside_current_ones() {
    use max_fake_saas::linear::{DEFAULT_API_KEY, Linear, LinearConfig};
    let acme = max_tests::small_acme();
    let acme_server = acme.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let linear = Linear::new(LinearConfig::default());
    let linear_server = linear.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    // The current build of acme, in a project of its own, is what the old ones must store.
    let current = max_tests::TestProject::new();
    current.max().arg("init").assert().success();
    current.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    max_tests::connect_acme_to(&current, &acme_server, "default", &[]);
    let current_tables = || {
        current.max().args(["sync", "acme", "--full"]).assert().success();
        max_tests::tables(&current.path().join(".max/installations/acme/default/data.db"), true)
    };

    for (fixture, version) in [
        (max_tests::contract_0_1_fixture(), "0.1.0"),
        (max_tests::contract_0_2_fixture(), "0.2.0"),
        (max_tests::contract_0_3_fixture(), "0.3.0"),
    ] {
        let project = max_tests::TestProject::new();
        project.max().arg("init").assert().success();
        project.max().args(["connector", "install", "--yes"]).arg(&fixture).assert().success();
        max_tests::connect_acme_to(&project, &acme_server, "default", &[]);
        project.max().args(["connector", "install", "--yes"]).arg(connector("linear")).assert().success();
        project
            .max()
            .args(["connect", "linear", "--set", &format!("base_url={}", linear_server.base_url())])
            .args(["--set", "auth=api_key", "--set", &format!("api_key={DEFAULT_API_KEY}")])
            .assert()
            .success();
        let listed = project.max().args(["connector", "list", "-o", "json"]).assert().success();
        let listed: serde_json::Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
        let contract_of = |name: &str| {
            listed.as_array().unwrap().iter().find(|c| c["name"] == name).map(|c| c["contract"].clone()).unwrap()
        };
        assert_eq!(contract_of("acme"), version);
        assert_eq!(contract_of("linear"), max_host::CONTRACT_VERSION.to_string());

        project.max().args(["sync", "acme", "linear"]).assert().success();
        project.assert_acme_synced(&acme);
        let db = project.path().join(".max/installations/acme/default/data.db");
        let old = max_tests::tables(&db, true);
        max_tests::change_three_tasks(&acme, &format!("Brand new for {version}"));
        let incremental = project.max().args(["sync", "acme", "-o", "json"]).assert().success();
        let report: serde_json::Value = serde_json::from_slice(&incremental.get_output().stdout).unwrap();
        assert_eq!(report["sync"]["record"]["full"], false, "the second sync follows the change feed: {report}");
        project.assert_acme_synced(&acme);
        let synced = max_tests::tables(&db, true);
        assert_eq!(synced, current_tables(), "the {version} connector's tables equal the current one's");
        assert_ne!(old, synced, "the incremental sync brought the changed tasks");
        // Searching by words needs a connector that marks fields searchable (contract 0.3.0).
        let search = project.max().args(["search", "acme", "Task", "--match", "new"]).assert();
        if version == "0.3.0" {
            search.success();
        } else {
            let stderr = String::from_utf8_lossy(&search.failure().get_output().stderr).into_owned();
            assert!(stderr.contains("`Task` has no fields searched by their words"), "{stderr}");
        }
    }
}

/// A component exporting the contract's `source` and importing `imports`, written by hand.
fn component_importing(imports: &[&str]) -> Vec<u8> {
    let imports: String = imports.iter().map(|name| format!("(import \"{name}\" (instance))\n")).collect();
    wat::parse_str(format!(
        "(component {imports} (instance $source) (export \"max:connector/source@0.4.0\" (instance $source)))"
    ))
    .unwrap()
}

/// Imports Max doesn't provide (wasi:http, a WASI other than 0.2, another package) are refused from
/// the component's bytes, naming them, before anything is compiled (a Python component takes 20 s
/// to compile); WASI 0.2 interfaces are provided.
#[test]
fn imports_max_does_not_provide_are_refused_before_compiling() {
    let (runtime, cache) = fresh_runtime();
    for import in ["wasi:http/outgoing-handler@0.2.3", "wasi:cli/environment@0.3.0", "acme:secrets/vault@1.0.0"] {
        let bytes = component_importing(&["wasi:clocks/monotonic-clock@0.2.3", import]);
        match runtime.load("hand-written.wasm", &bytes) {
            Err(Error::UnsupportedImports { imports, .. }) => assert_eq!(imports, import),
            other => panic!("{import}: {other:?}"),
        }
    }
    assert_eq!(runtime.load_stats().compiled, 0, "nothing was compiled");
    assert!(cache_is_empty(&cache));
}
