//! Field staleness by age: when a connector has no change feed for some data, a sync after a recent
//! one does not load fields again while they are younger than the maximum age; `--full` and an age of
//! zero load them anyway.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use max_host::runtime::{InstancePool, Limits};
use max_host::storage::SqliteStorage;
use max_host::sync::{SyncContext, SyncOptions, run_sync};
use max_tests::{Quiet, guest, load, runtime, setup};

#[tokio::test(flavor = "multi_thread")]
async fn fields_younger_than_the_maximum_age_are_not_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let loaded = load(&runtime, &guest("hostile"));
    let info = loaded.describe().await.unwrap();
    let setup = setup(&info.permissions, &[("base_url", "http://127.0.0.1:9")], &[], Limits::default());
    let http = setup.http.clone();
    let pool = InstancePool::new("hostile", loaded, setup, 1);
    let storage = SqliteStorage::open(&dir.path().join("data.db")).unwrap();
    let context = SyncContext { info, pool, http, storage: Arc::new(Mutex::new(storage)) };
    // The plan loads Probe p1's `result` through a batched loader: an expand task and a load task.
    let tasks = |options: SyncOptions| {
        let context = &context;
        async move {
            let report = run_sync(context, &options, &Quiet).await.unwrap();
            let probes = report.record.entities.get("Probe").copied().unwrap_or(0);
            (report.record.tasks_total, probes, report.record.full)
        }
    };
    // (tasks, Probe rows stored, recorded as a full sync)
    assert_eq!(tasks(SyncOptions::default()).await, (2, 1, false), "the first sync loads p1");
    assert_eq!(tasks(SyncOptions::default()).await, (1, 0, false), "an hour hasn't passed: nothing to load");
    let full = SyncOptions { full: true, ..SyncOptions::default() };
    assert_eq!(tasks(full).await, (2, 1, true), "--full loads it");
    let no_age = SyncOptions { max_age: Duration::ZERO, ..SyncOptions::default() };
    assert_eq!(tasks(no_age).await, (2, 1, true), "an age of zero loads it every time");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let one_second = SyncOptions { max_age: Duration::from_secs(1), ..SyncOptions::default() };
    assert_eq!(tasks(one_second).await, (2, 1, false), "older than the maximum age: loaded again");
}
