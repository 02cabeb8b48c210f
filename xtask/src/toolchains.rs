//! The pinned toolchains of the Python and JavaScript connector SDKs, installed under
//! `<target>/toolchains/` when missing or of another version: componentize-py from PyPI in a virtual
//! environment, componentize-js from npm. Tests and `max connector build` find them through
//! `MAX_COMPONENTIZE_PY` and `MAX_COMPONENTIZE_JS`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exec;

/// componentize-py, pinned (WASI 0.2.12; links with wasmtime 48).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// @bytecodealliance/componentize-js, pinned (WASI 0.2.10).
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// Where the installed tools are.
pub struct Toolchains {
    /// The `componentize-py` executable.
    pub componentize_py: PathBuf,
    /// componentize-js's command-line script (run with `node`).
    pub componentize_js: PathBuf,
}

impl Toolchains {
    /// The environment variables that point `max connector build` and the tests at these tools.
    pub fn env(&self) -> [(&'static str, &Path); 2] {
        [("MAX_COMPONENTIZE_PY", &self.componentize_py), ("MAX_COMPONENTIZE_JS", &self.componentize_js)]
    }
}

/// Installs both toolchains under `<target>/toolchains/` unless the pinned versions are there.
pub fn ensure(target: &Path) -> Result<Toolchains, String> {
    let root = target.join("toolchains");
    Ok(Toolchains { componentize_py: python(&root.join("python"))?, componentize_js: javascript(&root.join("js"))? })
}

fn python(venv: &Path) -> Result<PathBuf, String> {
    let tool = venv.join("bin").join("componentize-py");
    let installed = Command::new(&tool).arg("--version").output();
    if matches!(&installed, Ok(out) if String::from_utf8_lossy(&out.stdout).trim().ends_with(COMPONENTIZE_PY)) {
        return Ok(tool);
    }
    eprintln!("xtask: installing componentize-py {COMPONENTIZE_PY} into {}", venv.display());
    let make_venv = || exec(Command::new("python3").args(["-m", "venv"]).arg(venv));
    if !venv.join("bin").join("pip").is_file() && make_venv().is_err() {
        apt_install(&["python3-venv"])?;
        make_venv()?;
    }
    exec(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("componentize-py=={COMPONENTIZE_PY}")),
    )?;
    Ok(tool)
}

fn javascript(dir: &Path) -> Result<PathBuf, String> {
    let package = dir.join("node_modules/@bytecodealliance/componentize-js");
    let cli = package.join("src/cli.js");
    let version = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|manifest| manifest["version"].as_str().map(str::to_string));
    if version.as_deref() == Some(COMPONENTIZE_JS) && cli.is_file() {
        return Ok(cli);
    }
    eprintln!("xtask: installing componentize-js {COMPONENTIZE_JS} into {}", dir.display());
    if Command::new("npm").arg("--version").output().is_err() {
        apt_install(&["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    exec(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(dir)
            .arg(format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS}")),
    )?;
    Ok(cli)
}

/// Installs Debian packages (as root, or through sudo), reading the package lists first when the
/// machine has none yet.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    eprintln!("xtask: installing {} with apt-get", packages.join(", "));
    let root =
        Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let apt = || {
        let mut command = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            command.arg("apt-get");
        }
        command
    };
    if exec(apt().args(["install", "-y", "--no-install-recommends"]).args(packages)).is_ok() {
        return Ok(());
    }
    exec(apt().args(["update", "-q"]))?;
    exec(apt().args(["install", "-y", "--no-install-recommends"]).args(packages))
}

/// The distribution `registry` server the tests publish connectors to (Debian's `docker-registry`),
/// installed when missing.
pub fn ensure_registry() -> Result<PathBuf, String> {
    let find = || on_path("docker-registry");
    if let Some(found) = find() {
        return Ok(found);
    }
    apt_install(&["docker-registry"])?;
    find().ok_or_else(|| "docker-registry is still not on PATH after installing it".to_string())
}

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`, `postgres`) the tests start
/// throwaway clusters with: on `PATH`, or Debian's `/usr/lib/postgresql/<version>/bin` (the newest),
/// installing Debian's `postgresql` when neither has them.
pub fn ensure_postgres() -> Result<PathBuf, String> {
    let find = || {
        let linked = on_path("initdb").and_then(|initdb| std::fs::canonicalize(initdb).ok());
        linked.and_then(|initdb| initdb.parent().map(Path::to_path_buf)).or_else(|| {
            let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect();
            versions.sort_by_key(|bin| {
                bin.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or_default()
            });
            versions.pop()
        })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    apt_install(&["postgresql"])?;
    find().ok_or_else(|| "PostgreSQL's initdb is still missing after installing postgresql".to_string())
}

/// `name` in a folder of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
