//! `cargo xtask demo`: starts the Acme fake API, creates a project in `<target>/demo`, installs the
//! acme connector and shows what it offers.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::exec;

/// Runs the demo (after `build`).
pub fn run(root: &Path, target: &Path) -> Result<(), String> {
    let _ = root;
    let bin = target.join("debug");
    let mut fake = Command::new(bin.join("fake-saas"))
        .args(["acme", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start fake-saas: {e}"))?;
    let stdout = fake.stdout.take().ok_or("fake-saas has no stdout")?;
    let mut base_url = String::new();
    BufReader::new(stdout).read_line(&mut base_url).map_err(|e| format!("reading fake-saas's URL: {e}"))?;
    let base_url = base_url.trim().to_string();
    println!("Acme fake API at {base_url}");
    let result = demo(&bin.join("max"), target, &base_url);
    let _ = fake.kill();
    let _ = fake.wait();
    result
}

fn demo(max: &Path, target: &Path, _base_url: &str) -> Result<(), String> {
    let project = target.join("demo");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).map_err(|e| format!("creating {}: {e}", project.display()))?;
    let max_cmd = |args: &[&str]| {
        let mut command = Command::new(max);
        command.current_dir(&project).env("MAX_HOME", target.join("demo-home")).args(args);
        command
    };
    exec(&mut max_cmd(&["init"]))?;
    let acme = target.join("connectors").join("acme.wasm");
    exec(max_cmd(&["connector", "install", "--yes"]).arg(&acme))?;
    exec(&mut max_cmd(&["connector", "list"]))?;
    exec(&mut max_cmd(&["connector", "inspect", "acme"]))?;
    println!("\nThe demo project is in {}; `max connect`, `max sync` and `max search` come next.", project.display());
    Ok(())
}
