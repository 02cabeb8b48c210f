//! `cargo xtask demo`: starts the Acme fake API (50 projects × 1,000 tasks), creates a throw-away project
//! in `<target>/demo`, installs acme.wasm, connects without prompts, syncs with the progress display,
//! checks the synced counts against the API's own, runs three example searches, and stops the API.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::exec;

/// Stops the fake API however the demo ends.
struct FakeApi(Child);

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the demo (after `build`).
pub fn run(target: &Path) -> Result<(), String> {
    let bin = target.join("debug");
    let mut child = Command::new(bin.join("fake-saas"))
        .args(["acme", "--listen", "127.0.0.1:0", "--workspaces", "5", "--users", "20", "--projects", "10"])
        .args(["--tasks-per-project", "1000", "--files-per-project", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start fake-saas: {e}"))?;
    let stdout = child.stdout.take().ok_or("fake-saas has no stdout")?;
    let fake = FakeApi(child);
    let mut base_url = String::new();
    BufReader::new(stdout).read_line(&mut base_url).map_err(|e| format!("reading fake-saas's URL: {e}"))?;
    let base_url = base_url.trim().to_string();
    println!("== The Acme demo API is running at {base_url} (50 projects × 1,000 tasks)\n");
    let result = demo(&bin.join("max"), target, &base_url);
    drop(fake);
    result
}

fn demo(max: &Path, target: &Path, base_url: &str) -> Result<(), String> {
    let project = target.join("demo");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).map_err(|e| format!("creating {}: {e}", project.display()))?;
    let max_cmd = |args: &[&str]| {
        let mut command = Command::new(max);
        command.current_dir(&project).env("MAX_HOME", target.join("demo-home")).args(args);
        command
    };
    let step = |title: &str, args: &[&str]| {
        let shown: Vec<String> =
            args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.to_string() }).collect();
        println!("\n== max {}   # {title}", shown.join(" "));
        exec(&mut max_cmd(args))
    };
    step("create a project here", &["init"])?;
    let acme = target.join("connectors").join("acme.wasm");
    println!("\n== max connector install {} --yes   # check it, show its permissions, install", acme.display());
    exec(max_cmd(&["connector", "install", "--yes"]).arg(&acme))?;
    let base = format!("base_url={base_url}");
    step("connect without prompts", &["connect", "acme", "--set", &base, "--set", "api_key=acme-test-key"])?;
    step("sync it into SQLite", &["sync", "acme"])?;
    let ls = max_cmd(&["ls", "-o", "json"]).output().map_err(|e| format!("max ls: {e}"))?;
    check_counts(&ls.stdout, base_url)?;
    step(
        "tasks still to do, newest first",
        &[
            "search",
            "acme",
            "Task",
            "--filter",
            "status = todo",
            "--order-by",
            "updatedAt:desc",
            "--fields",
            "id,title,priority,updatedAt",
            "--limit",
            "5",
        ],
    )?;
    step(
        "urgent work and who owns it (a filter through a reference)",
        &[
            "search",
            "acme",
            "Task",
            "--filter",
            "priority = urgent AND assignee != null AND (status = in_progress OR status = in_review)",
            "--fields",
            "title,status,assignee.displayName,project.name",
            "--limit",
            "5",
        ],
    )?;
    step(
        "admins of each workspace, as CSV",
        &[
            "search",
            "acme",
            "User",
            "--filter",
            "role = admin",
            "--fields",
            "workspace.name,displayName,email",
            "--order-by",
            "workspace.name",
            "--limit",
            "5",
            "-o",
            "csv",
        ],
    )?;
    let db = project.join(".max/installations/acme/default/data.db");
    println!("\n== Done. The data is in {}", db.display());
    println!("Try next:");
    println!("  cd {} && alias max={}", project.display(), max.display());
    println!("  max search acme Task --filter 'title ~= sync' --fields title,assignee.email");
    println!("  max schema acme");
    println!("  max status");
    println!("  max sql \"SELECT status, COUNT(*) FROM acme.Task WHERE _deleted_at IS NULL GROUP BY status\"");
    println!("  max mcp                      # for an agent: add it to your MCP client's servers");
    Ok(())
}

/// Fails unless every entity count `max ls` reports equals the API's `/_fake/stats`.
fn check_counts(ls_json: &[u8], base_url: &str) -> Result<(), String> {
    let installations: serde_json::Value =
        serde_json::from_slice(ls_json).map_err(|e| format!("max ls -o json: {e}"))?;
    let stats = get_json(&format!("{base_url}/_fake/stats"))?;
    let synced = &installations[0]["rows"];
    let expected = stats["counts"].as_object().ok_or("stats without counts")?;
    for (entity, count) in expected {
        if synced[entity] != *count {
            return Err(format!("{entity}: synced {} but the API has {count}", synced[entity]));
        }
    }
    println!("\n== Checked: every entity count equals the API's /_fake/stats ({} types)", expected.len());
    Ok(())
}

/// A minimal HTTP/1.1 GET of a JSON document on loopback.
fn get_json(url: &str) -> Result<serde_json::Value, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(authority).map_err(|e| format!("connecting to {authority}: {e}"))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("malformed HTTP response")?;
    serde_json::from_str(body).map_err(|e| format!("{url}: {e}"))
}
