//! Latency-bound syncs: `fake-saas acme --latency-ms L` answers every request after L ms, so a sync's
//! time is how many requests wait on one another. Each run is compared with two bounds measured from
//! the data: the critical path (the longest chain of dependent requests × L: the change position, then
//! workspaces, then a workspace's projects, then a project's tasks, page by page) and the fewest
//! requests (every collection's items ÷ the API's largest page, 1,000).

use super::end_to_end::sync_row;
use super::{Env, connected_project};
use crate::fake::{Api, Size};
use crate::report::Row;

/// The API's largest page.
const PAGE: u64 = 1000;

fn pages(items: u64) -> u64 {
    items.div_ceil(PAGE).max(1)
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

/// Syncs [`Size::LATENCY`] at each latency in `latencies_ms`.
pub fn run(env: &Env, latencies_ms: &[u64]) -> anyhow::Result<Vec<Row>> {
    let size = Size::LATENCY;
    let (chain, fewest) = (critical_path(&size), fewest_requests(&size));
    let mut rows = Vec::new();
    for &latency in latencies_ms {
        let api = Api::start_with(&env.bin, size, &["--latency-ms", &latency.to_string()])?;
        let project = connected_project(env, &format!("latency-{latency}"), &api)?;
        let row = sync_row(env, &project, &format!("sync at {latency} ms latency"), "")?;
        let bound = (chain * latency) as f64 / 1000.0;
        let wall = row.seconds.unwrap_or_default();
        let requests = (row.requests_per_second.unwrap_or_default() * wall).round() as u64;
        let note = format!(
            "× {:.2} the critical path ({chain} × {latency} ms); requests × {:.2} the fewest ({fewest}){}",
            wall / bound,
            requests as f64 / fewest as f64,
            if latency == 100 { "; targets ≤ 1.5× and ≤ 1.1×" } else { "" }
        );
        rows.push(Row { scenario: "latency".into(), note, ..row });
    }
    Ok(rows)
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
}
