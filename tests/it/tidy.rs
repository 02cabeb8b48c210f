//! Repository rules checked as tests: module docs everywhere, the architecture invariants (only
//! `host/src/runtime` touches wasmtime, only `host/src/storage` touches SQLite, the host prints nothing),
//! and no WIT change without a changelog entry.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files_under(dirs: &[&str]) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for dir in dirs {
        rust_files(&root().join(dir), &mut paths);
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(root()).unwrap().display().to_string(), text)
        })
        .collect()
}

#[test]
fn every_module_says_what_it_is_for() {
    let missing: Vec<String> =
        files_under(&["host/src", "cli/src", "connector-sdk/src", "tests", "xtask/src", "connectors"])
            .into_iter()
            .filter(|(_, text)| !text.trim_start().starts_with("//!"))
            .map(|(path, _)| path)
            .collect();
    assert!(missing.is_empty(), "files without a `//!` module doc: {missing:?}");
}

/// Files under `dirs`, outside `allowed` (a path prefix), whose text contains any of `needles`.
fn files_using(dirs: &[&str], allowed: Option<&str>, needles: &[&str]) -> Vec<String> {
    files_under(dirs)
        .into_iter()
        .filter(|(path, _)| allowed.is_none_or(|prefix| !path.starts_with(prefix)))
        .filter(|(_, text)| needles.iter().any(|needle| text.contains(needle)))
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn only_the_runtime_module_uses_wasmtime() {
    let offenders = files_using(&["host/src", "cli/src"], Some("host/src/runtime"), &["wasmtime::", "use wasmtime"]);
    assert!(offenders.is_empty(), "wasmtime used outside host/src/runtime: {offenders:?}");
}

#[test]
fn only_the_storage_module_uses_sqlite_and_postgres() {
    let offenders =
        files_using(&["host/src", "cli/src"], Some("host/src/storage"), &["rusqlite", "tokio_postgres", "deadpool"]);
    assert!(offenders.is_empty(), "a database client used outside host/src/storage: {offenders:?}");
}

#[test]
fn the_cli_goes_through_the_hosts_front_door() {
    let engine = [
        "SqliteStorage",
        "PgStorage",
        "max_host::storage",
        "max_host::runtime",
        "max_host::live",
        "max_host::http",
        "run_sync",
        "SyncContext",
        "live_connector",
        "lock_for_sync",
    ];
    let offenders = files_using(&["cli/src"], None, &engine);
    assert!(offenders.is_empty(), "the CLI assembles what `max_host::Host` owns: {offenders:?}");
    let manifest = std::fs::read_to_string(root().join("cli/Cargo.toml")).unwrap();
    assert!(!manifest.contains("internals"), "the CLI must not open the engine's modules (feature `internals`)");
}

#[test]
fn the_host_library_prints_nothing_and_parses_no_command_line() {
    let offenders =
        files_using(&["host/src"], None, &["println!", "eprintln!", "print!(", "eprint!(", "dbg!(", "clap::"]);
    assert!(offenders.is_empty(), "printing or clap in host/: {offenders:?}");
}

/// The sha256 of the `.wit` files of `dir` (names and contents, by name), as CHANGELOG.md records it.
fn wit_hash(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    names.sort();
    let mut hasher = Sha256::new();
    for path in &names {
        hasher.update(path.file_name().unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(path).unwrap());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The frozen 0.1.0 contract the host runs old components with is byte for byte what 0.1.0 shipped
/// (its last recorded hash).
#[test]
fn the_frozen_contract_0_1_is_what_0_1_shipped() {
    assert_eq!(
        wit_hash(&root().join("wit/frozen/0.1.0")),
        "294f9414e496a5fa547c95f7373eeb26659179c9d9df0f15d2280e9a7b61b3b1",
        "wit/frozen/0.1.0/ must not change: components built against 0.1.0 are bound by it"
    );
}

/// Likewise 0.2.0, frozen when 0.3.0 added searchable fields.
#[test]
fn the_frozen_contract_0_2_is_what_0_2_shipped() {
    assert_eq!(
        wit_hash(&root().join("wit/frozen/0.2.0")),
        "32aa774be32ac6ec063f8fe1b0daedb690a73949f95852b03b736d48d7abc4fe",
        "wit/frozen/0.2.0/ must not change: components built against 0.2.0 are bound by it"
    );
}

/// Likewise 0.3.0, frozen when 0.4.0 added change feeds scoped to entities.
#[test]
fn the_frozen_contract_0_3_is_what_0_3_shipped() {
    assert_eq!(
        wit_hash(&root().join("wit/frozen/0.3.0")),
        "89f0519a5c75b354ea0bedc581bc8ef8eca1cc66ba914ab6a0564198e096307d",
        "wit/frozen/0.3.0/ must not change: components built against 0.3.0 are bound by it"
    );
}

#[test]
fn the_contract_does_not_change_without_a_changelog_entry() {
    let hash = wit_hash(&root().join("wit"));
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("wit sha256: {hash}")),
        "wit/ changed without a CHANGELOG.md entry: describe the change and record `wit sha256: {hash}`"
    );
}

/// The names of the files under `dir` (relative, `/`-separated) with one of `extensions`, caches left out.
fn source_files(dir: &Path, extensions: &[&str]) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, extensions: &[&str], out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "__pycache__" | "node_modules" | "frozen") {
                    walk(base, &path, extensions, out);
                }
            } else if extensions.iter().any(|e| name.ends_with(e)) {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, extensions, &mut out);
    out.sort();
    out
}

/// Max carries the contract and the Python and JavaScript SDKs for `max connector new` and `build`:
/// every file of those folders, as they are in the repository. The Rust SDK keeps a copy of the
/// contract of its own (so the crate packages and builds on its own): the same files.
#[test]
fn max_carries_every_file_of_the_contract_and_the_sdks() {
    use max_host::authoring::embedded;
    for (dir, extensions, carried) in [
        ("wit", &[".wit"][..], embedded::WIT),
        ("connector-sdk/wit", &[".wit"][..], embedded::WIT),
        ("connector-sdk-python/max_connector", &[".py", "py.typed"][..], embedded::PYTHON_SDK),
        ("connector-sdk-js/src", &[".js"][..], embedded::JS_SDK),
        ("connector-sdk/src", &[".rs"][..], embedded::RUST_SDK),
    ] {
        let names: Vec<String> = carried.iter().map(|(name, _)| name.to_string()).collect();
        assert_eq!(names, source_files(&root().join(dir), extensions), "the files Max carries from {dir}/");
        for (name, text) in carried {
            assert_eq!(std::fs::read_to_string(root().join(dir).join(name)).unwrap(), *text, "{dir}/{name}");
        }
    }
}

/// `xtask` installs the toolchain versions `max connector build` asks authors to install.
#[test]
fn xtask_pins_the_toolchains_max_asks_for() {
    let xtask = std::fs::read_to_string(root().join("xtask/src/toolchains.rs")).unwrap();
    for (name, version) in [
        ("COMPONENTIZE_PY", max_host::authoring::COMPONENTIZE_PY),
        ("COMPONENTIZE_JS", max_host::authoring::COMPONENTIZE_JS),
    ] {
        assert!(xtask.contains(&format!("pub const {name}: &str = \"{version}\";")), "xtask pins {name} {version}");
    }
}

/// The Rust SDK packages on its own (`cargo package`): its bindings read the contract from the crate's
/// own `wit/`, which goes into the package, so authors depend on it by version.
#[test]
fn the_rust_sdk_packages_with_its_contract() {
    let bindings = std::fs::read_to_string(root().join("connector-sdk/src/bindings.rs")).unwrap();
    assert!(bindings.contains("path: \"wit\""), "the bindings read the crate's own wit/");
    let listed = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["package", "--list", "--allow-dirty", "--offline", "-p", "max-connector-sdk"])
        .current_dir(root())
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    for (name, _) in max_host::authoring::embedded::WIT {
        assert!(files.lines().any(|f| f == format!("wit/{name}")), "wit/{name} is packaged: {files}");
    }
}
