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
    assert_eq!(supported, "0.1.x");
    let message = error.to_string();
    assert!(message.contains("max:connector@1.0.0") && message.contains("max:connector@0.1.x"), "{message}");
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
}
