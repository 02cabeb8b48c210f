//! `max connector build`: a connector project into a component, with the language's pinned tool.
//!
//! Rust: `cargo build --release --target wasm32-wasip2`, the cdylib copied out. Python: componentize-py
//! against the contract and the SDK Max carries (a project's own `max_connector/` comes first).
//! JavaScript: componentize-js against the contract, with `wasi:http` and the fetch event disabled,
//! so every request goes through Max's host. The tools are found through `MAX_COMPONENTIZE_PY` /
//! `MAX_COMPONENTIZE_JS`, the project's `.venv/` or `node_modules/`, or `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::Language;
use super::embedded;
use crate::{Error, Result};

/// componentize-py, as Max pins it.
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// componentize-js, as Max pins it.
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// What a build made.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The project's language.
    pub language: Language,
    /// The component written.
    pub component: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long the build took.
    pub elapsed: Duration,
}

/// Builds the connector project in `dir` into `out` (default: `<dir>/<dir's name>.wasm`).
pub fn build(dir: &Path, out: Option<&Path>) -> Result<BuildOutput> {
    let dir = std::path::absolute(dir).map_err(|e| io_error(dir, e))?;
    let language = Language::of_project(&dir)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "connector".into());
    let out = match out {
        Some(out) => std::path::absolute(out).map_err(|e| io_error(out, e))?,
        None => dir.join(format!("{name}.wasm")),
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let started = Instant::now();
    match language {
        Language::Rust => build_rust(&dir, &out)?,
        Language::Python => build_python(&dir, &out)?,
        Language::JavaScript => build_js(&dir, &out)?,
    }
    let bytes = std::fs::metadata(&out).map_err(|e| io_error(&out, e))?.len();
    Ok(BuildOutput { language, component: out, bytes, elapsed: started.elapsed() })
}

fn build_rust(dir: &Path, out: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(dir).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--message-format=json-render-diagnostics",
    ]);
    let stdout = run(
        &mut command,
        "cargo",
        "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`",
    )?;
    // The last cdylib cargo reports is the component.
    let artifact = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| Error::BuildFailed {
            dir: dir.to_path_buf(),
            tool: "cargo".into(),
            output: "cargo built no .wasm: is the crate's type `cdylib` (`[lib] crate-type = [\"cdylib\"]`)?".into(),
        })?;
    std::fs::copy(&artifact, out).map_err(|e| io_error(out, e))?;
    Ok(())
}

fn build_python(dir: &Path, out: &Path) -> Result<()> {
    let tool = find_tool("MAX_COMPONENTIZE_PY", &[dir.join(".venv/bin/componentize-py")], "componentize-py")
        .ok_or_else(|| Error::ToolMissing {
            tool: format!("componentize-py {COMPONENTIZE_PY}"),
            install: format!(
                "pip install componentize-py=={COMPONENTIZE_PY} (in a virtualenv, or set MAX_COMPONENTIZE_PY)"
            ),
        })?;
    let scratch = Scratch::new()?;
    let wit = scratch.write("wit", embedded::WIT)?;
    let sdk = scratch.write("sdk/max_connector", embedded::PYTHON_SDK)?;
    let mut command = Command::new(&tool);
    command
        .current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "connector", "componentize", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(sdk.parent().unwrap_or(&sdk))
        .args(["app", "-o"])
        .arg(out);
    run(&mut command, "componentize-py", &format!("pip install componentize-py=={COMPONENTIZE_PY}"))?;
    Ok(())
}

fn build_js(dir: &Path, out: &Path) -> Result<()> {
    let tool = find_tool("MAX_COMPONENTIZE_JS", &[dir.join("node_modules/.bin/componentize-js")], "componentize-js")
        .ok_or_else(|| Error::ToolMissing {
            tool: format!("componentize-js {COMPONENTIZE_JS}"),
            install: format!(
                "npm install --save-dev @bytecodealliance/componentize-js@{COMPONENTIZE_JS} (in the project, or set MAX_COMPONENTIZE_JS)"
            ),
        })?;
    let scratch = Scratch::new()?;
    let wit = scratch.write("wit", embedded::WIT)?;
    // componentize-js reads modules only under the folder it runs in.
    let root = module_root(&dir.join("app.js"));
    let app = dir.join("app.js");
    let mut command = Command::new(&tool);
    command
        .current_dir(&root)
        .arg(app.strip_prefix(&root).unwrap_or(&app))
        .arg("--wit")
        .arg(&wit)
        .args(["-n", "connector", "-d", "http", "-d", "fetch-event", "-o"])
        .arg(out);
    run(&mut command, "componentize-js", &format!("npm install @bytecodealliance/componentize-js@{COMPONENTIZE_JS}"))?;
    Ok(())
}

/// The deepest folder holding `app` and every module it imports by a relative path, transitively.
fn module_root(app: &Path) -> PathBuf {
    let mut root = app.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    let mut pending = vec![app.to_path_buf()];
    while let Some(module) = pending.pop() {
        if !seen.insert(module.clone()) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(&module) else { continue };
        let base = module.parent().map(Path::to_path_buf).unwrap_or_default();
        for specifier in relative_imports(&source) {
            let Ok(target) = std::path::absolute(base.join(specifier)) else { continue };
            let target = normalise(&target);
            while !target.starts_with(&root) {
                match root.parent() {
                    Some(parent) => root = parent.to_path_buf(),
                    None => break,
                }
            }
            pending.push(target);
        }
    }
    root
}

/// The relative specifiers (`./x.js`, `../sdk/index.js`) of a module's `import … from` and
/// `export … from` statements.
fn relative_imports(source: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for quote in ['\'', '"'] {
        for piece in source.split("from").skip(1).chain(source.split("import").skip(1)) {
            let piece = piece.trim_start().trim_start_matches('(').trim_start();
            if let Some(rest) = piece.strip_prefix(quote)
                && let Some(end) = rest.find(quote)
                && (rest.starts_with("./") || rest.starts_with("../"))
            {
                found.push(&rest[..end]);
            }
        }
    }
    found
}

/// `path` with `.` and `..` resolved lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The tool named by `env`, else the first of `candidates` that exists, else `name` on `PATH`.
fn find_tool(env: &str, candidates: &[PathBuf], name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        // Relative to where Max was started, not to the project the tool runs in.
        return std::path::absolute(PathBuf::from(path)).ok();
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Some(found.clone());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Runs a build tool; its standard output on success, its last lines in the error otherwise.
fn run(command: &mut Command, tool: &str, install: &str) -> Result<String> {
    let dir = command.get_current_dir().map(Path::to_path_buf).unwrap_or_default();
    let output = command.env("RUST_BACKTRACE", "0").output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::ToolMissing { tool: tool.into(), install: install.into() },
        _ => Error::BuildFailed { dir: dir.clone(), tool: tool.into(), output: e.to_string() },
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = if stderr.trim().is_empty() { stdout.as_str() } else { &stderr };
    // What went wrong, without the tool's own stack trace.
    let lines: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim_start().to_ascii_lowercase().starts_with("stack backtrace"))
        .collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(Error::BuildFailed { dir, tool: tool.into(), output: crate::text::lines(&tail) })
}

/// A temporary folder (for the files a build reads, a test's database), removed when dropped.
pub(super) struct Scratch(PathBuf);

impl Scratch {
    pub(super) fn new() -> Result<Scratch> {
        let mut suffix = [0u8; 8];
        getrandom::getrandom(&mut suffix)
            .map_err(|e| Error::Runtime(format!("no randomness for a scratch folder: {e}")))?;
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("max-authoring-{hex}"));
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Ok(Scratch(dir))
    }

    /// The folder.
    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `files` under `<scratch>/<sub>`; returns that folder.
    fn write(&self, sub: &str, files: &[(&str, &str)]) -> Result<PathBuf> {
        let folder = self.0.join(sub);
        write_files(&folder, files)?;
        Ok(folder)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `files` (relative path, contents) under `folder`.
pub(crate) fn write_files(folder: &Path, files: &[(&str, &str)]) -> Result<()> {
    for (path, contents) in files {
        let file = folder.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::write(&file, contents).map_err(|e| io_error(&file, e))?;
    }
    Ok(())
}

fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::Io { action: "write", path: path.to_path_buf(), source: error }
}
