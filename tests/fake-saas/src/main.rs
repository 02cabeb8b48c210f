//! `fake-saas <api> --listen 127.0.0.1:0 [flags]`: serves a fake API until interrupted and prints its
//! base URL as the first line on stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use max_fake_saas::Faults;
use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Size};
use max_fake_saas::gdrive::{self, DriveConfig, GoogleDrive};
use max_fake_saas::github::{self, GitHub, GitHubConfig};
use max_fake_saas::hubspot::{self, HubSpot, HubSpotConfig};
use max_fake_saas::linear::{self, Linear, LinearConfig};

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
    /// Linear's GraphQL API (teams, users, workflow states, labels, projects, cycles, issues, comments),
    /// with its rate limits and OAuth token endpoint.
    Linear(LinearArgs),
    /// HubSpot's CRM API (contacts, companies, deals, tickets, notes with standard and custom properties,
    /// associations, owners, pipelines), with its rolling rate limit and error bodies.
    Hubspot(HubSpotArgs),
    /// Google Drive's API v3 (My Drive's folder tree, files shared with the user, shared drives,
    /// permissions, export and downloads, the changes feed, partial responses) and Google's OAuth token
    /// endpoint; throttled requests are answered 403 `userRateLimitExceeded` or 429 `rateLimitExceeded`.
    Gdrive(DriveArgs),
    /// GitHub's REST API (repositories, issues and pull requests, comments, reviews, labels, milestones,
    /// users), with `Link` pagination, ETags and 304s, and its primary and secondary rate limits.
    Github(GitHubArgs),
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
    /// Share of responses whose connection drops after the headers (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Share of responses cut off halfway through the body (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    truncate_rate: f64,
    /// At most this many requests in any `--window-ms` (HubSpot's rolling limit, with its
    /// `X-HubSpot-RateLimit-*` headers and 429 body); acme and hubspot.
    #[arg(long, requires = "window_ms")]
    window_max: Option<u64>,
    /// The rolling window's length in milliseconds (HubSpot's is 10000).
    #[arg(long, requires = "window_max")]
    window_ms: Option<u64>,
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
    /// Start the change log with a `create` event for every generated object, as a real API's audit
    /// log would.
    #[arg(long)]
    history: bool,
}

#[derive(Debug, Args)]
struct LinearArgs {
    #[command(flatten)]
    common: Common,
    /// The accepted personal API key (`Authorization: <key>`).
    #[arg(long, default_value = linear::DEFAULT_API_KEY)]
    api_key: String,
    /// Teams.
    #[arg(long, default_value_t = 3)]
    teams: usize,
    /// Users.
    #[arg(long, default_value_t = 12)]
    users: usize,
    /// Labels per team.
    #[arg(long, default_value_t = 4)]
    labels_per_team: usize,
    /// Projects.
    #[arg(long, default_value_t = 5)]
    projects: usize,
    /// Cycles per team.
    #[arg(long, default_value_t = 3)]
    cycles_per_team: usize,
    /// Issues per team.
    #[arg(long, default_value_t = 40)]
    issues_per_team: usize,
    /// Comments per issue, at most.
    #[arg(long, default_value_t = 3)]
    comments_per_issue: usize,
    /// The largest `first` a connection accepts.
    #[arg(long, default_value_t = 250)]
    max_first: usize,
    /// Requests allowed per rate-limit period.
    #[arg(long, default_value_t = 5_000)]
    requests_limit: u64,
    /// Complexity points allowed per rate-limit period.
    #[arg(long, default_value_t = 3_000_000)]
    complexity_limit: u64,
    /// The rate-limit period in milliseconds.
    #[arg(long, default_value_t = 3_600_000)]
    limit_period_ms: u64,
    /// The most complexity one query may have.
    #[arg(long, default_value_t = 10_000)]
    max_query_complexity: u64,
    #[command(flatten)]
    oauth: OAuthArgs,
}

/// The OAuth app of a fake with a token endpoint, and the tokens valid at start.
#[derive(Debug, Args)]
struct OAuthArgs {
    /// OAuth client id.
    #[arg(long, default_value = "fake-client")]
    client_id: String,
    /// OAuth client secret.
    #[arg(long, default_value = "fake-secret")]
    client_secret: String,
    /// The OAuth access token valid at start [default: <api>_oauth_initial, `lin`, `hs` or `ya29`].
    #[arg(long)]
    access_token: Option<String>,
    /// The OAuth refresh token valid at start [default: <api>_refresh_initial].
    #[arg(long)]
    refresh_token: Option<String>,
    /// Seconds the access token valid at start lives [default: Linear's 86399, HubSpot's 1800, Google's 3599].
    #[arg(long)]
    initial_token_ttl_secs: Option<u64>,
    /// Seconds an access token issued by a refresh lives [default: as the API issues them].
    #[arg(long)]
    token_ttl_secs: Option<u64>,
}

impl OAuthArgs {
    /// The settings, with `prefix` naming the default tokens and `ttl` their lifetime.
    fn oauth(self, prefix: &str, ttl: Duration) -> max_fake_saas::oauth::OAuth {
        let defaults = max_fake_saas::oauth::OAuth::named(prefix, ttl);
        max_fake_saas::oauth::OAuth {
            client_id: self.client_id,
            client_secret: self.client_secret,
            access_token: self.access_token.unwrap_or(defaults.access_token),
            refresh_token: self.refresh_token.unwrap_or(defaults.refresh_token),
            initial_token_ttl: self.initial_token_ttl_secs.map_or(ttl, Duration::from_secs),
            token_ttl: self.token_ttl_secs.map_or(ttl, Duration::from_secs),
            rotates: defaults.rotates,
        }
    }
}

#[derive(Debug, Args)]
struct DriveArgs {
    #[command(flatten)]
    common: Common,
    /// Folders in My Drive.
    #[arg(long, default_value_t = 8)]
    folders: usize,
    /// Files in My Drive (not folders).
    #[arg(long, default_value_t = 40)]
    files: usize,
    /// Files others shared with the user.
    #[arg(long, default_value_t = 4)]
    shared_with_me: usize,
    /// Shared drives.
    #[arg(long, default_value_t = 1)]
    drives: usize,
    /// Folders in each shared drive.
    #[arg(long, default_value_t = 3)]
    drive_folders: usize,
    /// Files in each shared drive.
    #[arg(long, default_value_t = 12)]
    drive_files: usize,
    /// The largest export in bytes.
    #[arg(long, default_value_t = 10 << 20)]
    export_limit: usize,
    #[command(flatten)]
    oauth: OAuthArgs,
}

#[derive(Debug, Args)]
struct GitHubArgs {
    #[command(flatten)]
    common: Common,
    /// Users (all members of the organization `acme-corp`; the token belongs to the first).
    #[arg(long, default_value_t = 8)]
    users: usize,
    /// Repositories of the organization.
    #[arg(long, default_value_t = 3)]
    org_repos: usize,
    /// Repositories of the token's owner.
    #[arg(long, default_value_t = 1)]
    user_repos: usize,
    /// Issues per repository (pull requests not counted).
    #[arg(long, default_value_t = 40)]
    issues: usize,
    /// Pull requests per repository.
    #[arg(long, default_value_t = 15)]
    pulls: usize,
    /// Requests per hour before the primary limit.
    #[arg(long, default_value_t = 5000)]
    hourly_limit: u64,
    /// Requests in flight before a secondary limit.
    #[arg(long, default_value_t = 100)]
    max_concurrent: usize,
    /// `Retry-After` of a secondary limit, in seconds.
    #[arg(long, default_value_t = 60)]
    retry_after: u64,
}

#[derive(Debug, Args)]
struct HubSpotArgs {
    #[command(flatten)]
    common: Common,
    /// The accepted private-app token (`Authorization: Bearer <token>`).
    #[arg(long, default_value = hubspot::DEFAULT_TOKEN)]
    token: String,
    /// Contacts.
    #[arg(long, default_value_t = 30)]
    contacts: usize,
    /// Companies.
    #[arg(long, default_value_t = 12)]
    companies: usize,
    /// Deals.
    #[arg(long, default_value_t = 20)]
    deals: usize,
    /// Tickets.
    #[arg(long, default_value_t = 10)]
    tickets: usize,
    /// Notes (engagements with an HTML body).
    #[arg(long, default_value_t = 15)]
    notes: usize,
    /// Owners.
    #[arg(long, default_value_t = 5)]
    owners: usize,
    /// Search requests allowed in any second (search has its own limit, without the window's headers).
    #[arg(long, default_value_t = 4)]
    search_per_second: u64,
    /// Requests a day for the private-app token (its `X-HubSpot-RateLimit-Daily*` headers).
    #[arg(long, default_value_t = 250_000)]
    daily_limit: u64,
    #[command(flatten)]
    oauth: OAuthArgs,
}

impl Common {
    fn faults(&self) -> Faults {
        Faults {
            latency: Duration::from_millis(self.latency_ms),
            throttle_rate: self.throttle_rate,
            error_rate: self.error_rate,
            drop_rate: self.drop_rate,
            truncate_rate: self.truncate_rate,
            window: self
                .window_max
                .zip(self.window_ms)
                .map(|(max, ms)| max_fake_saas::window::WindowLimit { max, interval: Duration::from_millis(ms) }),
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (server, listen) = match Cli::parse().api {
        Api::Acme(args) => {
            let config = AcmeConfig {
                seed: args.common.seed,
                size: Size {
                    workspaces: args.workspaces,
                    users: args.users,
                    projects: args.projects,
                    tasks_per_project: args.tasks_per_project,
                    files_per_project: args.files_per_project,
                    history: args.history,
                },
                api_key: args.api_key,
                faults: args.common.faults(),
            };
            (Acme::new(config).router(), args.common.listen)
        }
        Api::Linear(args) => {
            let config = LinearConfig {
                seed: args.common.seed,
                size: linear::Size {
                    teams: args.teams,
                    users: args.users,
                    labels_per_team: args.labels_per_team,
                    projects: args.projects,
                    cycles_per_team: args.cycles_per_team,
                    issues_per_team: args.issues_per_team,
                    comments_per_issue: args.comments_per_issue,
                },
                api_key: args.api_key,
                oauth: args.oauth.oauth("lin", Duration::from_secs(86_399)),
                limits: linear::RateLimits {
                    requests: args.requests_limit,
                    complexity: args.complexity_limit,
                    period: Duration::from_millis(args.limit_period_ms),
                    max_query_complexity: args.max_query_complexity,
                },
                max_first: args.max_first,
                faults: args.common.faults(),
            };
            (Linear::new(config).router(), args.common.listen)
        }
        Api::Hubspot(args) => {
            let config = HubSpotConfig {
                seed: args.common.seed,
                size: hubspot::Size {
                    contacts: args.contacts,
                    companies: args.companies,
                    deals: args.deals,
                    tickets: args.tickets,
                    notes: args.notes,
                    owners: args.owners,
                },
                token: args.token,
                faults: args.common.faults(),
                search_per_second: args.search_per_second,
                oauth: args.oauth.oauth("hs", Duration::from_secs(1800)),
                daily_limit: args.daily_limit,
            };
            (HubSpot::new(config).router(), args.common.listen)
        }
        Api::Gdrive(args) => {
            let defaults = gdrive::default_oauth();
            let config = DriveConfig {
                seed: args.common.seed,
                size: gdrive::Size {
                    folders: args.folders,
                    files: args.files,
                    shared_with_me: args.shared_with_me,
                    drives: args.drives,
                    drive_folders: args.drive_folders,
                    drive_files: args.drive_files,
                },
                oauth: max_fake_saas::oauth::OAuth {
                    rotates: false,
                    ..args.oauth.oauth("ya29", defaults.initial_token_ttl)
                },
                faults: args.common.faults(),
                export_limit: args.export_limit,
            };
            (GoogleDrive::new(config).router(), args.common.listen)
        }
        Api::Github(args) => {
            let config = GitHubConfig {
                seed: args.common.seed,
                size: github::Size {
                    users: args.users,
                    org_repos: args.org_repos,
                    user_repos: args.user_repos,
                    issues: args.issues,
                    pulls: args.pulls,
                    ..github::Size::default()
                },
                hourly_limit: args.hourly_limit,
                max_concurrent: args.max_concurrent,
                retry_after_seconds: args.retry_after,
                faults: args.common.faults(),
            };
            (GitHub::new(config).router(), args.common.listen)
        }
    };
    let server = max_fake_saas::RunningServer::start(server, listen).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.base_url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
