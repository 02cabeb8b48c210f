//! Latency-bound syncs: the fake answers every request after L ms, so a sync's time is how many
//! requests wait on one another. Each run is compared with two bounds measured from the data: the
//! critical path (the longest chain of dependent requests × L) and the fewest requests (every
//! collection's items ÷ the API's largest page).
//! - `fake-saas acme --latency-ms L`: the change position, then workspaces, then a workspace's
//!   projects, then a project's tasks, page by page; pages of 1,000.
//! - `fake-saas linear` with L of latency: a whole list page by page (users, labels, projects), or
//!   the teams page and then one team's issues or the comments on its issues page by page (Linear
//!   filters both by team, so a client can read teams side by side); pages of 250.

use std::collections::BTreeMap;
use std::time::Duration;

use max_fake_saas::linear::{Linear, LinearConfig};

use super::end_to_end::sync_row;
use super::rate::synced_row;
use super::{Env, connected_project, linear_project};
use crate::fake::{Api, Size};
use crate::measure;
use crate::report::Row;

/// The Acme API's largest page.
const PAGE: u64 = 1000;
/// Linear's largest `first`.
const LINEAR_PAGE: u64 = 250;

fn pages(items: u64) -> u64 {
    items.div_ceil(PAGE).max(1)
}

fn linear_pages(items: u64) -> u64 {
    items.div_ceil(LINEAR_PAGE).max(1)
}

/// Requests that depend on one another, at least, before the last page arrives.
fn critical_path(size: &Size) -> u64 {
    1 + pages(u64::from(size.workspaces)) + pages(u64::from(size.projects)) + pages(u64::from(size.tasks))
}

/// The fewest requests that read everything.
fn fewest_requests(size: &Size) -> u64 {
    let (w, u, p, t, f) = (
        u64::from(size.workspaces),
        u64::from(size.users),
        u64::from(size.projects),
        u64::from(size.tasks),
        u64::from(size.files),
    );
    1 + pages(w) + w * (pages(u) + pages(p)) + w * p * (pages(t) + pages(f))
}

/// Syncs [`Size::LATENCY`] at each latency in `latencies_ms`, then the Linear fake's
/// [`LINEAR_SIZE`] at the same latencies.
pub fn run(env: &Env, latencies_ms: &[u64]) -> anyhow::Result<Vec<Row>> {
    let mut rows = acme(env, latencies_ms)?;
    for &latency in latencies_ms {
        rows.push(linear(env, latency)?);
    }
    Ok(rows)
}

fn ratios(wall: f64, chain: u64, latency: u64, requests: u64, fewest: u64) -> String {
    format!(
        "× {:.2} the critical path ({chain} × {latency} ms); requests × {:.2} the fewest ({fewest}){}",
        wall / ((chain * latency) as f64 / 1000.0),
        requests as f64 / fewest as f64,
        if latency == 100 { "; targets ≤ 1.5× and ≤ 1.1×" } else { "" }
    )
}

/// Syncs [`Size::LATENCY`] from the Acme fake at each latency.
fn acme(env: &Env, latencies_ms: &[u64]) -> anyhow::Result<Vec<Row>> {
    let size = Size::LATENCY;
    let (chain, fewest) = (critical_path(&size), fewest_requests(&size));
    let mut rows = Vec::new();
    for &latency in latencies_ms {
        let api = Api::start_with(&env.bin, size, &["--latency-ms", &latency.to_string()])?;
        let project = connected_project(env, &format!("latency-{latency}"), &api)?;
        let row = sync_row(env, &project, &format!("sync at {latency} ms latency"), "")?;
        let wall = row.seconds.unwrap_or_default();
        let requests = (row.requests_per_second.unwrap_or_default() * wall).round() as u64;
        let note = ratios(wall, chain, latency, requests, fewest);
        rows.push(Row { scenario: "latency".into(), note, ..row });
    }
    Ok(rows)
}

/// The Linear workspace of the latency scenario: four teams of 1,000 issues with up to two comments
/// each, a few pages of everything else.
pub const LINEAR_SIZE: max_fake_saas::linear::Size = max_fake_saas::linear::Size {
    teams: 4,
    users: 20,
    labels_per_team: 5,
    projects: 10,
    cycles_per_team: 4,
    issues_per_team: 1000,
    comments_per_issue: 2,
};

/// How many objects of each type a team has (`None`: the organization's, not a team's), with the
/// team of a comment the team of its issue.
type Census = BTreeMap<&'static str, BTreeMap<Option<String>, u64>>;

fn census(fake: &Linear) -> Census {
    let types: Vec<&'static str> = fake.counts().into_keys().collect();
    fake.with_data(|data| {
        let mut census = Census::new();
        for type_name in types {
            let of_type = census.entry(type_name).or_default();
            for object in data.all(type_name) {
                let team = match type_name {
                    "Issue" => object["teamId"].as_str(),
                    "Comment" => {
                        object["issueId"].as_str().and_then(|i| data.get(i)).and_then(|i| i["teamId"].as_str())
                    }
                    _ => None,
                };
                *of_type.entry(team.map(str::to_string)).or_default() += 1;
            }
        }
        census
    })
}

/// The longest chain: a whole list page by page, or the teams page and then the longest of one
/// team's pages of issues or of comments.
fn linear_critical_path(census: &Census) -> u64 {
    census
        .iter()
        .map(|(type_name, by_team)| match *type_name {
            "Issue" | "Comment" => 1 + by_team.values().map(|&n| linear_pages(n)).max().unwrap_or(1),
            _ => linear_pages(by_team.values().sum()),
        })
        .max()
        .unwrap_or(1)
}

/// Every type's items in pages of 250, and the organization's own query.
fn linear_fewest(census: &Census) -> u64 {
    1 + census.values().map(|by_team| linear_pages(by_team.values().sum())).sum::<u64>()
}

/// Syncs [`LINEAR_SIZE`] from the Linear fake with `latency` ms on every response.
fn linear(env: &Env, latency: u64) -> anyhow::Result<Row> {
    let faults = max_fake_saas::Faults { latency: Duration::from_millis(latency), ..Default::default() };
    let fake = Linear::new(LinearConfig { size: LINEAR_SIZE, faults, ..LinearConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse()?)?;
    let census = census(&fake);
    let (chain, fewest) = (linear_critical_path(&census), linear_fewest(&census));
    let dir = linear_project(env, &format!("latency-linear-{latency}"), server.base_url(), &[])?;
    let before = fake.request_count();
    let run = measure::run(&mut measure::max(&env.bin, &dir, &["sync", "linear", "-o", "json"]))?;
    let requests = fake.request_count() - before;
    let note = ratios(run.wall.as_secs_f64(), chain, latency, requests, fewest);
    synced_row(&run, "latency", &format!("linear sync at {latency} ms latency"), requests, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_count_pages_of_the_api_s_largest_size() {
        let size = Size::LATENCY;
        assert_eq!(critical_path(&size), 4);
        assert_eq!(fewest_requests(&size), 1 + 1 + 2 + 40);
        let big = Size { tasks: 2500, ..size };
        assert_eq!((critical_path(&big), fewest_requests(&big)), (6, 1 + 1 + 2 + 20 * 3 + 20));
    }

    #[test]
    fn linear_s_critical_path_is_a_whole_list_or_a_team_s_longest() {
        let teams = |counts: &[u64]| -> BTreeMap<Option<String>, u64> {
            counts.iter().enumerate().map(|(i, &n)| (Some(format!("team-{i}")), n)).collect()
        };
        let mut census = Census::new();
        census.insert("Team", BTreeMap::from([(None, 4)]));
        census.insert("User", BTreeMap::from([(None, 600)]));
        census.insert("Issue", teams(&[1000, 251, 10]));
        census.insert("Comment", teams(&[300, 300, 300]));
        // Issues: the teams page, then 4 pages of the largest team's 1,000; users: 3 pages of 600.
        assert_eq!(linear_critical_path(&census), 5);
        assert_eq!(linear_fewest(&census), 1 + 1 + 3 + 6 + 4);
        census.insert("User", BTreeMap::from([(None, 2000)]));
        assert_eq!(linear_critical_path(&census), 8);
    }
}
