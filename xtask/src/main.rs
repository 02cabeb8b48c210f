//! `cargo xtask <task>`: everything beyond a plain `cargo build`, with nothing to install by hand.
//!
//! - `build`: adds the wasm32-wasip2 target if missing, builds the connectors and test guests as
//!   components (`<target>/connectors/<name>.wasm`, `<target>/guests/<name>.wasm`), and builds `max`
//!   and `fake-saas`; then installs the pinned Python and JavaScript toolchains when missing
//!   (`toolchains.rs`) and builds the connectors written in those languages with `max connector build`.
//! - `test`: the checks a reviewer runs first (`cargo fmt --check` of every workspace, then clippy with
//!   warnings as errors on the host workspace and, for wasm32-wasip2, on the connectors and guests),
//!   `build` together with every test target (one build of the host), then every test of the workspace.
//! - `demo`: `build`, then starts the Acme fake API and shows Max connecting, syncing and searching it.
//! - `bench [--quick] [-o json] [--against URL]`: release builds, then `max-bench` (see BENCHMARKS.md).
//!
//! The target directory is `CARGO_TARGET_DIR` when set, else `target/` in the workspace.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "xtask talks to the developer")]

mod demo;
mod toolchains;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The guest workspaces and where their components go.
const GUEST_WORKSPACES: &[(&str, &str)] = &[("connectors", "connectors"), ("tests/guests", "guests")];
const WASM_TARGET: &str = "wasm32-wasip2";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(Targets::Bins),
        Some("test") => test(&args[1..]),
        Some("demo") => build(Targets::Bins).and_then(|()| demo::run(&target_dir())),
        Some("bench") => bench(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("usage: cargo xtask <build|test|demo>\n");
            println!(
                "  build   build max, fake-saas, the connectors and test guests (components in <target>/connectors/)"
            );
            println!("  test    build, then run every test (extra arguments go to `cargo test`)");
            println!("  demo    build, start the Acme fake API, and show Max syncing and searching it");
            println!("  bench   release build, then every benchmark scenario (--quick, -o json, --against URL)");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::absolute(PathBuf::from(dir)).unwrap_or_else(|_| workspace_root().join("target")),
        None => workspace_root().join("target"),
    }
}

/// Runs a command, failing with its name when it fails.
pub fn exec(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed ({status})")) }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) => Ok(()),
        Ok(_) => {
            eprintln!("xtask: adding the {WASM_TARGET} target");
            exec(Command::new("rustup").args(["target", "add", WASM_TARGET]))
        }
        Err(_) => {
            eprintln!("xtask: rustup not found; assuming the {WASM_TARGET} target is installed");
            Ok(())
        }
    }
}

/// Which of the workspace's targets `build` compiles besides the guests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Targets {
    /// `max` and `fake-saas`.
    Bins,
    /// The binaries and every test target, in one cargo invocation. Test targets bring the
    /// dev-dependencies' features (tokio's `test-util`), so binaries built without them would be a
    /// second build of the host and everything below it; built together, `cargo test` reuses both.
    BinsAndTests,
}

fn build(targets: Targets) -> Result<(), String> {
    ensure_wasm_target()?;
    let root = workspace_root();
    let target = target_dir();
    for (workspace, out) in GUEST_WORKSPACES {
        let manifest = root.join(workspace).join("Cargo.toml");
        exec(
            cargo()
                .args(["build", "--release", "--target", WASM_TARGET, "--manifest-path"])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target),
        )?;
        copy_components(&root.join(workspace), &target, out)?;
    }
    let mut host = cargo();
    host.current_dir(&root).args(["build", "--workspace", "--bins"]);
    if targets == Targets::BinsAndTests {
        host.arg("--tests");
    }
    exec(&mut host)?;
    build_other_languages(&root, &target)
}

/// Builds the connectors and test guests written in Python and JavaScript (`<workspace>/*/app.py`,
/// `app.js` of each guest workspace) with the `max` just built and the pinned toolchains, into
/// `<target>/<out>/<name>.wasm`; one whose sources, SDK and `max` are older than its component is left
/// as it is.
fn build_other_languages(root: &Path, target: &Path) -> Result<(), String> {
    let tools = toolchains::ensure(target)?;
    for (workspace, out) in GUEST_WORKSPACES {
        build_other_languages_in(root, &root.join(workspace), &target.join(out), &tools)?;
    }
    Ok(())
}

fn build_other_languages_in(
    root: &Path,
    workspace: &Path,
    out_dir: &Path,
    tools: &toolchains::Toolchains,
) -> Result<(), String> {
    let max = target_dir().join("debug").join("max");
    let entries = std::fs::read_dir(workspace).map_err(|e| format!("reading {}: {e}", workspace.display()))?;
    let mut projects: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| !p.join("Cargo.toml").is_file() && (p.join("app.py").is_file() || p.join("app.js").is_file()))
        .collect();
    projects.sort();
    for project in projects {
        let name = project.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let out = out_dir.join(format!("{name}.wasm"));
        let sources = [
            project.as_path(),
            &root.join("connector-sdk-python"),
            &root.join("connector-sdk-js"),
            &root.join("wit"),
            &max,
        ];
        let built = modified(&out);
        if built.is_some() && sources.iter().filter_map(|s| newest(s)).max() <= built {
            continue;
        }
        let mut command = Command::new(&max);
        command.args(["connector", "build"]).arg(&project).arg("--out").arg(&out);
        for (key, value) in tools.env() {
            command.env(key, value);
        }
        exec(&mut command)?;
    }
    Ok(())
}

/// When `path` was last modified, if it exists.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of `path` and, for a folder, of everything under it.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let own = modified(path);
    let Ok(entries) = std::fs::read_dir(path) else { return own };
    entries.filter_map(Result::ok).map(|e| newest(&e.path())).fold(own, std::cmp::max)
}

/// Copies the cdylib of every member of a guest workspace to `<target>/<out>/<name>.wasm`.
fn copy_components(workspace: &Path, target: &Path, out: &str) -> Result<(), String> {
    let built = target.join(WASM_TARGET).join("release");
    let dest = target.join(out);
    std::fs::create_dir_all(&dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let entries = std::fs::read_dir(workspace).map_err(|e| format!("reading {}: {e}", workspace.display()))?;
    for entry in entries.filter_map(Result::ok) {
        if !entry.path().join("Cargo.toml").is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let artifact = built.join(format!("{}.wasm", name.replace('-', "_")));
        let copy = dest.join(format!("{name}.wasm"));
        std::fs::copy(&artifact, &copy)
            .map_err(|e| format!("copying {} to {}: {e}", artifact.display(), copy.display()))?;
    }
    Ok(())
}

fn bench(extra: &[String]) -> Result<(), String> {
    build(Targets::Bins)?;
    exec(cargo().current_dir(workspace_root()).args([
        "build",
        "--release",
        "-p",
        "max-cli",
        "-p",
        "max-fake-saas",
        "-p",
        "max-bench",
    ]))?;
    let tools = toolchains::ensure(&target_dir())?;
    let postgres = toolchains::ensure_postgres()?;
    let mut bench = Command::new(target_dir().join("release").join("max-bench"));
    bench.env("MAX_BENCH_TARGET", target_dir()).env("MAX_POSTGRES_BIN", postgres).args(extra);
    for (key, value) in tools.env() {
        bench.env(key, value);
    }
    exec(&mut bench)
}

/// Formatting of every workspace (the host's and the guests'), then clippy on each of them with
/// warnings as errors: what a reviewer checks before reading.
fn lint() -> Result<(), String> {
    let root = workspace_root();
    for workspace in std::iter::once(".").chain(GUEST_WORKSPACES.iter().map(|(w, _)| *w)) {
        let manifest = root.join(workspace).join("Cargo.toml");
        exec(cargo().args(["fmt", "--all", "--check", "--manifest-path"]).arg(&manifest))
            .map_err(|e| format!("{e}: run `cargo fmt --all` in {workspace}"))?;
    }
    exec(cargo().current_dir(&root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    ensure_wasm_target()?;
    for (workspace, _) in GUEST_WORKSPACES {
        exec(
            cargo()
                .args(["clippy", "--release", "--target", WASM_TARGET, "--manifest-path"])
                .arg(root.join(workspace).join("Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir())
                .args(["--", "-D", "warnings"]),
        )?;
    }
    Ok(())
}

fn test(extra: &[String]) -> Result<(), String> {
    lint()?;
    build(Targets::BinsAndTests)?;
    // The connectors' own unit tests (their parsing and naming rules), run natively, in a directory of
    // their own: built without the `native` feature the benchmarks build them with.
    exec(
        cargo()
            .args(["test", "--workspace", "--manifest-path"])
            .arg(workspace_root().join("connectors").join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir().join("connector-tests")),
    )?;
    let tools = toolchains::ensure(&target_dir())?;
    let registry = toolchains::ensure_registry()?;
    let postgres = toolchains::ensure_postgres()?;
    let mut tests = cargo();
    tests
        .current_dir(workspace_root())
        .env("MAX_TEST_ARTIFACTS", target_dir())
        .env("MAX_OCI_REGISTRY", registry)
        .env("MAX_POSTGRES_BIN", postgres);
    for (key, value) in tools.env() {
        tests.env(key, value);
    }
    exec(tests.args(["test", "--workspace"]).args(extra))
}
