//! `fake-saas <api> --listen 127.0.0.1:0 [flags]`: serves a fake API until interrupted and prints its
//! base URL as the first line on stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use max_fake_saas::Faults;
use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Size};

/// Loopback fakes of SaaS APIs, speaking their real wire formats, for tests, demos and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "fake-saas", version)]
struct Cli {
    #[command(subcommand)]
    api: Api,
}

#[derive(Debug, Subcommand)]
enum Api {
    /// The Acme demo API (workspaces, users, projects, tasks, files, change log).
    Acme(AcmeArgs),
}

/// Options shared by every fake.
#[derive(Debug, Args)]
struct Common {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds added to every response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of requests answered 429 with `Retry-After` (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of requests answered 500 or 503 (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
}

#[derive(Debug, Args)]
struct AcmeArgs {
    #[command(flatten)]
    common: Common,
    /// The accepted API key (`Authorization: Bearer <key>`).
    #[arg(long, default_value = DEFAULT_API_KEY)]
    api_key: String,
    /// Workspaces.
    #[arg(long, default_value_t = 2)]
    workspaces: usize,
    /// Users per workspace.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Projects per workspace.
    #[arg(long, default_value_t = 5)]
    projects: usize,
    /// Tasks per project.
    #[arg(long, default_value_t = 40)]
    tasks_per_project: usize,
    /// Files per project.
    #[arg(long, default_value_t = 3)]
    files_per_project: usize,
}

impl Common {
    fn faults(&self) -> Faults {
        Faults {
            latency: Duration::from_millis(self.latency_ms),
            throttle_rate: self.throttle_rate,
            error_rate: self.error_rate,
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Cli { api: Api::Acme(args) } = Cli::parse();
    let config = AcmeConfig {
        seed: args.common.seed,
        size: Size {
            workspaces: args.workspaces,
            users: args.users,
            projects: args.projects,
            tasks_per_project: args.tasks_per_project,
            files_per_project: args.files_per_project,
        },
        api_key: args.api_key,
        faults: args.common.faults(),
    };
    let server = Acme::new(config).start(args.common.listen).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.base_url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
