//! The compile cache: a second load of a component deserializes it instead of compiling; a damaged
//! entry, or one other users could have written, is replaced rather than trusted.

use max_host::runtime::{LoadOrigin, LoadStats, Runtime, RuntimeConfig};
use max_tests::connector;

fn runtime_with_cache(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(dir.to_path_buf()) }).unwrap()
}

fn cached_artifacts(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "cwasm") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn a_second_load_is_served_from_the_cache_without_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let first = runtime_with_cache(cache.path());
    let loaded = first.load_file(&connector("acme")).unwrap();
    assert_eq!(loaded.origin(), LoadOrigin::Compiled);
    assert_eq!(first.load_stats(), LoadStats { compiled: 1, from_cache: 0 });
    assert_eq!(cached_artifacts(cache.path()).len(), 1);

    // A new process (a new runtime) finds it.
    let second = runtime_with_cache(cache.path());
    let again = second.load_file(&connector("acme")).unwrap();
    assert_eq!(again.origin(), LoadOrigin::Cache);
    assert_eq!(second.load_stats(), LoadStats { compiled: 0, from_cache: 1 });
    assert_eq!(again.sha256(), loaded.sha256());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_cache_entry_is_recompiled_not_trusted() {
    let cache = tempfile::tempdir().unwrap();
    runtime_with_cache(cache.path()).load_file(&connector("acme")).unwrap();
    let artifact = cached_artifacts(cache.path()).pop().unwrap();
    let bytes = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &bytes[..bytes.len() / 3]).unwrap();

    let runtime = runtime_with_cache(cache.path());
    let loaded = runtime.load_file(&connector("acme")).unwrap();
    assert_eq!(loaded.origin(), LoadOrigin::Compiled);
    assert_eq!(loaded.describe().await.unwrap().name, "acme");
    assert_eq!(std::fs::read(&artifact).unwrap().len(), bytes.len(), "the entry was rewritten");
}

/// A cache entry, or a cache folder, that other users can write to is never loaded (it could be their
/// native code): the component is compiled afresh, and a folder others can write to gets nothing.
#[test]
fn a_cache_entry_others_could_have_written_is_compiled_afresh_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    runtime_with_cache(cache.path()).load_file(&connector("acme")).unwrap();
    let artifact = cached_artifacts(cache.path()).pop().unwrap();
    assert_eq!(std::fs::metadata(&artifact).unwrap().permissions().mode() & 0o777, 0o600, "written private");

    std::fs::set_permissions(&artifact, std::fs::Permissions::from_mode(0o666)).unwrap();
    let loaded = runtime_with_cache(cache.path()).load_file(&connector("acme")).unwrap();
    assert_eq!(loaded.origin(), LoadOrigin::Compiled, "a world-writable entry is not loaded");
    assert_eq!(std::fs::metadata(&artifact).unwrap().permissions().mode() & 0o777, 0o600, "and is replaced");
    assert_eq!(runtime_with_cache(cache.path()).load_file(&connector("acme")).unwrap().origin(), LoadOrigin::Cache);

    let folder = artifact.parent().unwrap();
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::remove_file(&artifact).unwrap();
    for _ in 0..2 {
        let loaded = runtime_with_cache(cache.path()).load_file(&connector("acme")).unwrap();
        assert_eq!(loaded.origin(), LoadOrigin::Compiled, "a world-writable folder is not used");
    }
    assert!(cached_artifacts(cache.path()).is_empty(), "nothing was written into it");
}
