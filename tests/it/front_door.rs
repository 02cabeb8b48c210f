//! The host's front door driven the way a daemon drives it: no CLI code, only `max_host::Host`, from
//! installing a connector and onboarding an account to syncing, searching and reporting status, with
//! the sync lock and the database size limit held by the host.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use max_fake_saas::acme::{Acme, AcmeConfig, DEFAULT_API_KEY, Size};
use max_host::limits::InstallLimits;
use max_host::onboarding::{Ask, ConnectRequest};
use max_host::project::{Installation, Project};
use max_host::query::SearchRequest;
use max_host::sync::{Continuation, SyncObserver};
use max_host::task::SyncStatus;
use max_host::{Error, Host, SyncRequest};
use max_tests::connector;

/// Counts what a sync reports, as a daemon forwarding events would.
#[derive(Default)]
struct Events {
    stored: AtomicU64,
    started: Mutex<Vec<Continuation>>,
}

impl SyncObserver for Events {
    fn stored(&self, _entity: &str, rows: u64) {
        self.stored.fetch_add(rows, Ordering::Relaxed);
    }
    fn progress(&self, _done: u64, _total: u64) {}
    fn retrying(&self, _task: &str, _error: &str, _delay: std::time::Duration) {}
    fn started(&self, _sync: i64, continuation: Continuation) {
        self.started.lock().unwrap().push(continuation);
    }
}

/// Answers acme's onboarding as a front end would, from `answers` (key → value); unasked keys keep
/// their defaults.
async fn onboard(host: &Host, request: &ConnectRequest, answers: &[(&str, &str)]) -> Installation {
    let mut onboarding = host.onboard(request).expect("onboarding starts");
    let answer = |key: &str| answers.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
    loop {
        match onboarding.next().await.expect("the next step") {
            Ask::Input { step, .. } | Ask::Secret { step, .. } => {
                onboarding.answer(answer(&step.key).as_deref()).await.expect("the answer is taken")
            }
            Ask::Select { step, .. } => onboarding.answer(answer(&step.key).as_deref()).await.expect("a choice"),
            Ask::Validate { .. } => {
                onboarding.validate().await.expect("the API accepts the answers");
            }
            Ask::Done => return onboarding.finish().await.expect("the installation is written").installation,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_installs_connects_syncs_searches_and_reports_through_the_front_door() {
    let size =
        Size { workspaces: 1, users: 20, projects: 4, tasks_per_project: 1500, files_per_project: 2, history: false };
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Project::init(dir.path()).unwrap()).with_cache_dir(Some(max_tests::shared_cache_dir()));

    host.prepare_install(&connector("acme"), &InstallLimits::default()).await.unwrap().commit().unwrap();
    let request = ConnectRequest {
        connector: "acme".into(),
        name: "default".into(),
        replace: false,
        hosts: Vec::new(),
        limits: vec!["database-mib=1".into()],
    };
    let mut installation =
        onboard(&host, &request, &[("base_url", server.base_url()), ("api_key", DEFAULT_API_KEY)]).await;
    assert_eq!(installation.label(), "acme/default");

    // The lock: while another sync holds the installation, the host refuses to start one.
    let held = installation.lock_for_sync().unwrap();
    let busy = host.sync(&installation, &SyncRequest::default(), &Events::default()).await.unwrap_err();
    assert!(matches!(busy, Error::SyncBusy { .. }), "{busy:?}");
    assert!(host.status(&installation, 5).unwrap().syncs.is_empty(), "a refused sync leaves no trace");
    drop(held);

    // The database limit: 1 MiB is too small for 6,000 tasks; the sync stops, resumable.
    let full = host.sync(&installation, &SyncRequest::default(), &Events::default()).await.unwrap_err();
    assert!(matches!(full, Error::DatabaseFull { .. }), "{full:?}");
    let stopped = host.status(&installation, 5).unwrap();
    assert_eq!(stopped.syncs[0].status, SyncStatus::Interrupted);
    let progress = stopped.unfinished.expect("the stopped sync's progress");
    assert!(!progress.running && progress.done < progress.total, "{progress:?}");
    assert!(std::fs::metadata(installation.data_db()).unwrap().len() <= 1 << 20, "the file kept to its limit");

    // Raised, the next sync resumes the stopped one and completes it.
    installation.file.sandbox.limits.insert("database-mib".into(), 64);
    installation.save().unwrap();
    let events = Events::default();
    let report = host.sync(&installation, &SyncRequest::default(), &events).await.unwrap();
    assert_eq!(report.record.status, SyncStatus::Completed, "{:?}", report.failures);
    assert!(matches!(events.started.lock().unwrap()[..], [Continuation::Resumed { .. }]));
    assert!(events.stored.load(Ordering::Relaxed) > 0, "the observer saw rows stored");

    // Search: the entity in any case, a filter, a page and its cursor.
    let search = SearchRequest {
        entity: "task".into(),
        filter: Some("status = \"todo\"".into()),
        fields: Some(vec!["id".into(), "title".into(), "status".into()]),
        limit: Some(10),
        ..SearchRequest::default()
    };
    let first = host.search(&installation, &search).unwrap();
    assert_eq!(first.entity, "Task");
    assert_eq!(first.page.rows.len(), 10);
    assert!(first.page.rows.iter().all(|row| row[2] == "todo"), "{:?}", first.page.rows);
    let after = SearchRequest { after: first.page.next.clone(), ..search };
    let second = host.search(&installation, &after).unwrap();
    assert!(second.page.rows.iter().all(|row| !first.page.rows.contains(row)), "the next page follows the first");

    // Status: both syncs, nothing unfinished, every task of the fake stored and nothing stale.
    let status = host.status(&installation, 5).unwrap();
    assert_eq!(status.syncs.len(), 1, "the resumed sync is the same sync");
    assert_eq!(status.syncs[0].status, SyncStatus::Completed);
    assert_eq!(status.unfinished, None);
    let tasks = status.entities.iter().find(|f| f.entity == "Task").unwrap();
    assert_eq!(tasks.rows, fake.counts()["Task"] as u64);
    assert!(status.entities.iter().all(|f| f.stale == 0), "{:?}", status.entities);
    assert_eq!(host.overview(&installation).unwrap().rows["Task"], tasks.rows);
}
