//! The scenarios, each adding rows to the report.

pub mod boundary;
pub mod end_to_end;
pub mod github;
pub mod languages;
pub mod latency;
pub mod limit;
pub mod postgres;
pub mod query;
pub mod rate;
pub mod startup;

use std::path::PathBuf;

/// Where things are.
#[derive(Debug, Clone)]
pub struct Env {
    /// The release binaries (`max`, `fake-saas`).
    pub bin: PathBuf,
    /// The acme component.
    pub acme: PathBuf,
    /// The linear component.
    pub linear: PathBuf,
    /// A scratch folder for projects and databases.
    pub work: PathBuf,
    /// Fewer repetitions.
    pub quick: bool,
}

impl Env {
    /// Repetitions of a short measurement.
    pub fn repeats(&self) -> usize {
        if self.quick { 5 } else { 15 }
    }

    /// A fresh project folder named `name`.
    pub fn project(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.work.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// A project with linear installed and connected by API key to the fake at `base_url`, `--set`ting
/// `extra` too.
pub fn linear_project(env: &Env, name: &str, base_url: &str, extra: &[&str]) -> anyhow::Result<PathBuf> {
    let dir = env.project(name)?;
    let max = |args: &[&str]| crate::measure::run(&mut crate::measure::max(&env.bin, &dir, args));
    max(&["init"])?;
    max(&["connector", "install", "--yes", env.linear.to_str().unwrap_or_default()])?;
    let (base_url, key) =
        (format!("base_url={base_url}"), format!("api_key={}", max_fake_saas::linear::DEFAULT_API_KEY));
    let mut connect = vec!["connect", "linear", "--set", &base_url, "--set", "auth=api_key", "--set", &key];
    for setting in extra {
        connect.extend(["--set", setting]);
    }
    max(&connect)?;
    Ok(dir)
}

/// A project with acme installed and connected to `api`.
pub fn connected_project(env: &Env, name: &str, api: &crate::fake::Api) -> anyhow::Result<PathBuf> {
    connected_project_with(env, name, api, &env.acme)
}

/// A project with the acme build `component` installed and connected to `api`.
pub fn connected_project_with(
    env: &Env,
    name: &str,
    api: &crate::fake::Api,
    component: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let dir = env.project(name)?;
    let max = |args: &[&str]| crate::measure::run(&mut crate::measure::max(&env.bin, &dir, args));
    max(&["init"])?;
    max(&["connector", "install", "--yes", component.to_str().unwrap_or_default()])?;
    max(&[
        "connect",
        "acme",
        "--set",
        &format!("base_url={}", api.base_url),
        "--set",
        &format!("api_key={}", api.api_key),
    ])?;
    Ok(dir)
}
