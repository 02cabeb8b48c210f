//! The Acme API the end-to-end scenarios sync from: a `fake-saas acme` process of a given size (stopped
//! when dropped), or an already running server given with `--against`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// How big the fake's data set is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Workspaces.
    pub workspaces: u32,
    /// Users per workspace.
    pub users: u32,
    /// Projects per workspace.
    pub projects: u32,
    /// Tasks per project.
    pub tasks: u32,
    /// Files per project.
    pub files: u32,
}

impl Size {
    /// 50 projects × 1,000 tasks, as in the reference implementation's measurement.
    pub const DEMO: Size = Size { workspaces: 5, users: 20, projects: 10, tasks: 1000, files: 5 };
    /// 20 projects × 1,000 tasks in one workspace: a sync whose time is the API's latency.
    pub const LATENCY: Size = Size { workspaces: 1, users: 10, projects: 20, tasks: 1000, files: 5 };
    /// Over a million entities.
    pub const MILLION: Size = Size { workspaces: 10, users: 50, projects: 25, tasks: 4000, files: 10 };

    /// Every entity the fake serves.
    pub fn entities(&self) -> u64 {
        let (w, u, p, t, f) =
            (self.workspaces as u64, self.users as u64, self.projects as u64, self.tasks as u64, self.files as u64);
        w + w * u + w * p + w * p * t + w * p * f
    }
}

/// An Acme API to sync from.
pub struct Api {
    /// Its base URL.
    pub base_url: String,
    /// The API key it accepts.
    pub api_key: String,
    child: Option<Child>,
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Api {
    /// Starts `fake-saas acme` with `size` and waits until it serves.
    pub fn start(bin: &Path, size: Size) -> anyhow::Result<Api> {
        Self::start_with(bin, size, &[])
    }

    /// Starts `fake-saas acme` with `size` and more of its flags (`--latency-ms 100`, `--history`).
    pub fn start_with(bin: &Path, size: Size, flags: &[&str]) -> anyhow::Result<Api> {
        let mut child = Command::new(bin.join("fake-saas"))
            .args(["acme", "--listen", "127.0.0.1:0"])
            .args(["--workspaces", &size.workspaces.to_string(), "--users", &size.users.to_string()])
            .args(["--projects", &size.projects.to_string(), "--tasks-per-project", &size.tasks.to_string()])
            .args(["--files-per-project", &size.files.to_string()])
            .args(flags)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting fake-saas")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("fake-saas stdout")?).read_line(&mut line)?;
        Ok(Api {
            base_url: line.trim().to_string(),
            api_key: max_fake_saas::acme::DEFAULT_API_KEY.to_string(),
            child: Some(child),
        })
    }

    /// A server someone else runs.
    pub fn external(base_url: &str, api_key: &str) -> Api {
        Api { base_url: base_url.trim_end_matches('/').to_string(), api_key: api_key.to_string(), child: None }
    }
}
