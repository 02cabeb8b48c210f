//! The Google Drive connector end to end: the real `max` binary and gdrive.wasm against
//! `fake-saas gdrive`, with every listing over at least three pages, nested folders, files shared with
//! the user and two shared drives. Files, parents, paths, folders' children, permissions and text are
//! checked against the fake's own data; the fake answers only the fields a request names.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use max_fake_saas::gdrive::{Body, DOCUMENT, Dataset, DriveConfig, File, GoogleDrive, Mutation, Size};
use max_fake_saas::{Faults, RunningServer};
use max_tests::{TestProject, connector, full_text_problems};
use serde_json::Value;

/// A project with gdrive installed and connected to `server` with the fake's OAuth tokens.
fn connected(server: &RunningServer, extra: &[&str]) -> TestProject {
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("gdrive")).assert().success();
    let mut connect = project.max();
    connect.args(["connect", "gdrive", "--set", &format!("base_url={}", server.base_url())]);
    for setting in [
        "oauth_access_token=ya29_oauth_initial",
        "oauth_refresh_token=ya29_refresh_initial",
        "oauth_client_id=fake-client",
        "oauth_client_secret=fake-secret",
    ]
    .iter()
    .chain(extra)
    {
        connect.args(["--set", setting]);
    }
    connect.assert().success();
    project
}

fn data_db(project: &TestProject) -> std::path::PathBuf {
    project.path().join(".max/installations/gdrive/default/data.db")
}

fn query<T: rusqlite::types::FromSql>(project: &TestProject, sql: &str) -> Vec<(String, T)> {
    let db = rusqlite::Connection::open(data_db(project)).unwrap();
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

/// A drive where every listing, at ten files a page, takes three pages or more.
fn paged_size() -> Size {
    Size { folders: 12, files: 60, shared_with_me: 4, drives: 2, drive_folders: 4, drive_files: 22 }
}

/// The path Drive's data gives `file`: its drive's root name, then each folder down to it.
fn expected_path(data: &Dataset, file: &File) -> String {
    let mut parts = vec![file.name.clone()];
    let mut next = file.parent.clone();
    if next.is_none() {
        return format!("Shared with me/{}", file.name);
    }
    while let Some(id) = next {
        if id == data.root_id {
            parts.push("My Drive".into());
            break;
        }
        if let Some(drive) = data.drive(&id) {
            parts.push(drive.name.clone());
            break;
        }
        let folder = data.get(&id).expect("a known folder");
        parts.push(folder.name.clone());
        next = folder.parent.clone();
    }
    parts.reverse();
    parts.join("/")
}

/// `--match` in gdrive's files: the ids found.
fn matching(project: &TestProject, words: &str) -> Vec<String> {
    let output = project.max().args(["search", "gdrive", "File", "--match", words, "--all", "-o", "json"]).assert();
    let body: Value = serde_json::from_slice(&output.success().get_output().stdout).unwrap();
    body["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_synced_drive_matches_the_api_exactly() {
    let fake = GoogleDrive::new(DriveConfig { size: paged_size(), ..DriveConfig::default() });
    let doc = fake.with_data(|d| {
        let doc = d.all().iter().find(|f| f.mime_type == DOCUMENT && f.drive.is_none()).unwrap().id.clone();
        let text = "The quarterly plan for the northern region.\nBudget and hiring follow.".to_string();
        d.mutate(&Mutation::Edit { id: doc.clone(), text }).unwrap();
        doc
    });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = connected(&server, &["page_size=10"]);
    project.max().args(["sync", "gdrive"]).assert().success();

    // Every file, the roots of My Drive and of each shared drive included, once.
    let (files, root, drives): (Vec<File>, String, Vec<(String, String)>) = fake.with_data(|d| {
        let drives = d.drives.iter().map(|s| (s.id.clone(), s.name.clone())).collect();
        (d.all().iter().filter(|f| !f.removed).cloned().collect(), d.root_id.clone(), drives)
    });
    let stored: BTreeMap<String, Option<String>> =
        query(&project, "SELECT id, parent FROM File WHERE _deleted_at IS NULL").into_iter().collect();
    assert_eq!(stored.len(), files.len() + 1 + drives.len(), "files, My Drive's root and the shared drives' roots");
    // Listings took three pages and more each, and every list request named its fields.
    let log = fake.request_log();
    let lists: Vec<&String> = log.iter().filter(|r| r.starts_with("GET /drive/v3/files?")).collect();
    assert!(lists.iter().all(|r| r.contains("fields=")), "{lists:?}");
    for corpus in ["corpora=user", &format!("driveId={}", drives[0].0), &format!("driveId={}", drives[1].0)] {
        let pages = lists.iter().filter(|r| r.contains(corpus) && r.contains("trashed")).count();
        assert!(pages >= 3, "{corpus}: {pages} pages");
    }

    // Parents and paths are Drive's; folders' children are the files that name them.
    let paths: BTreeMap<String, String> = query(&project, "SELECT id, path FROM File").into_iter().collect();
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    fake.with_data(|d| {
        for file in &files {
            assert_eq!(stored[&file.id], file.parent, "{}'s parent", file.name);
            assert_eq!(paths[&file.id], expected_path(d, file), "{}'s path", file.name);
            if let Some(parent) = &file.parent {
                children.entry(parent.clone()).or_default().insert(file.id.clone());
            }
        }
    });
    assert_eq!(paths[&root], "My Drive");
    for (id, name) in &drives {
        assert_eq!(&paths[id], name, "a shared drive's root is named after it");
    }
    let db = rusqlite::Connection::open(data_db(&project)).unwrap();
    assert_eq!(max_tests::links(&db, "File.children"), children);
    let stored_drives: Vec<(String, String)> = query(&project, "SELECT id, name FROM Drive ORDER BY id");
    let mut expected_drives = drives.clone();
    expected_drives.sort();
    assert_eq!(stored_drives, expected_drives);

    // Permissions: as Drive lists them for files the user can share (My Drive's own and shared drives'),
    // none for files shared with the user read-only.
    let permissions: BTreeMap<String, BTreeSet<String>> = max_tests::links(&db, "File.permissions");
    {
        for file in &files {
            let expected: BTreeSet<String> = if file.owner.is_some_and(|o| o != 0) {
                BTreeSet::new()
            } else {
                file.permissions.iter().map(|p| format!("{}/{}", file.id, p.id)).collect()
            };
            let found = permissions.get(&file.id).cloned().unwrap_or_default();
            assert_eq!(found, expected, "{}'s permissions", file.name);
        }
    }
    let roles: Vec<(String, String)> = query(&project, "SELECT id, role FROM Permission WHERE type = 'anyone'");
    assert!(roles.iter().all(|(id, role)| id.ends_with("/anyoneWithLink") && role == "reader"), "{roles:?}");

    // Text: a document's as exported (no byte-order mark), a spreadsheet's as CSV, a text file's.
    let texts: BTreeMap<String, Option<String>> = query(&project, "SELECT id, content FROM File").into_iter().collect();
    for file in &files {
        let expected = match (&file.body, file.mime_type.as_str()) {
            (Body::Native(text), _) => Some(text.clone()),
            (Body::Blob(bytes), mime) if mime.starts_with("text/") => Some(String::from_utf8(bytes.clone()).unwrap()),
            _ => None,
        };
        assert_eq!(texts[&file.id], expected, "{}'s text", file.name);
    }
    // Text is asked for only where there is some: folders, images and PDFs got theirs (none) listed.
    let with_text = files.iter().filter(|f| texts[&f.id].is_some()).count();
    let asked = log
        .iter()
        .filter(|r| r.starts_with("GET /drive/v3/files/") && r.contains("fields=id%2CmimeType%2Csize&"))
        .count();
    assert_eq!(asked, with_text, "one read of the type and size per file with text, none for the others");
    assert_eq!(matching(&project, "\"quarterly plan\""), [doc.as_str()], "found by a phrase in its text");
    assert!(matching(&project, "\"quarterly region\"").is_empty(), "the words, but not that phrase");
    assert!(matching(&project, "zebra").is_empty());
    assert_eq!(full_text_problems(&data_db(&project)), Vec::<String>::new());
}

/// `max sync gdrive` as a child process, its output dropped.
fn spawn_sync(project: &TestProject) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("max"))
        .args(["sync", "gdrive", "--workers", "4"])
        .current_dir(project.path())
        .env("MAX_HOME", project.home())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn changes_made_during_a_full_sync_are_read_from_the_changes_feed_and_the_tables_equal_a_fresh_full_sync() {
    let faults = Faults { latency: Duration::from_millis(20), ..Faults::default() };
    let fake = GoogleDrive::new(DriveConfig { size: paged_size(), faults, ..DriveConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = connected(&server, &["page_size=5"]);
    let mut first = spawn_sync(&project);
    std::thread::sleep(Duration::from_millis(400));
    let (edited, created) = fake.with_data(|d| {
        let pick = |d: &Dataset, test: &dyn Fn(&File) -> bool| {
            d.all().iter().find(|f| !f.removed && test(f)).unwrap().id.clone()
        };
        let edited = pick(d, &|f| f.mime_type == DOCUMENT && f.drive.is_none());
        let folder =
            pick(d, &|f| f.is_folder() && f.drive.is_none() && f.parent.as_deref() != Some(d.root_id.as_str()));
        let other = pick(d, &|f| f.is_folder() && f.drive.is_none() && f.id != folder);
        let moved = pick(d, &|f| !f.is_folder() && f.mime_type != DOCUMENT && f.drive.is_none() && f.owner == Some(0));
        let trashed = pick(d, &|f| !f.is_folder() && f.id != moved && f.id != edited && f.drive.is_none());
        let removed =
            pick(d, &|f| !f.is_folder() && ![&moved, &trashed, &edited].contains(&&f.id) && f.drive.is_some());
        let mutations = [
            Mutation::Edit { id: edited.clone(), text: "Now about the lighthouse budget".into() },
            Mutation::Move { id: moved, parent: other },
            Mutation::Rename { id: folder.clone(), name: "Renamed folder".into() },
            Mutation::Trash { id: trashed },
            Mutation::Delete { id: removed },
        ];
        for mutation in &mutations {
            d.mutate(mutation).unwrap();
        }
        let created = d
            .mutate(&Mutation::Create {
                name: "Fresh notes".into(),
                mime_type: DOCUMENT.into(),
                parent: Some(folder),
                text: Some("A brand new lighthouse plan".into()),
            })
            .unwrap();
        (edited, created["id"].as_str().unwrap().to_string())
    });
    assert!(first.wait().unwrap().success(), "the first sync completes");

    let listed_before = fake.request_log().len();
    let exports_before = fake.stats()["exports"].as_u64().unwrap();
    let second = project.max().args(["sync", "gdrive", "-o", "json"]).assert().success();
    let report: Value = serde_json::from_slice(&second.get_output().stdout).unwrap();
    assert_eq!(report["sync"]["record"]["status"], "completed", "{report}");
    let requests: Vec<String> = fake.request_log()[listed_before..].to_vec();
    assert!(
        requests.iter().all(|r| !r.contains("corpora=user") && !r.contains("corpora=drive")),
        "the second sync lists nothing again: {requests:?}"
    );
    assert!(requests.iter().any(|r| r.starts_with("GET /drive/v3/changes?")), "{requests:?}");
    let exported = fake.stats()["exports"].as_u64().unwrap() - exports_before;
    assert!(exported <= 3, "only the changed documents' text is read again ({exported} exports)");

    // The tables equal a fresh full sync's.
    let fresh = connected(&server, &["page_size=5"]);
    fresh.max().args(["sync", "gdrive"]).assert().success();
    let want = same_data(&fresh);
    assert_same(&same_data(&project), &want);
    let mut found = matching(&project, "lighthouse");
    found.sort();
    let mut expected = vec![edited.clone(), created.clone()];
    expected.sort();
    assert_eq!(found, expected, "the edited and the new document, by their new words");
    assert_eq!(full_text_problems(&data_db(&project)), Vec::<String>::new());

    // A full sync lists every file again but reads no text whose version didn't change.
    let exports = fake.stats()["exports"].as_u64().unwrap();
    let full = project.max().args(["sync", "gdrive", "--full", "-o", "json"]).assert().success();
    let full: Value = serde_json::from_slice(&full.get_output().stdout).unwrap();
    assert_eq!(full["sync"]["record"]["full"], true, "{full}");
    assert_eq!(fake.stats()["exports"].as_u64().unwrap(), exports, "no document exported again");
    assert_same(&same_data(&project), &want);
}

/// Asserts two [`same_data`]s are equal, naming the rows that differ.
fn assert_same(got: &Data, want: &Data) {
    for (table, rows) in &want.0 {
        let other = &got.0[table];
        let missing: Vec<_> = rows.iter().filter(|r| !other.contains(r)).take(3).collect();
        let extra: Vec<_> = other.iter().filter(|r| !rows.contains(r)).take(3).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{table}: want {missing:?}\n got {extra:?}");
    }
    for (want, got) in want.1.iter().zip(&got.1) {
        let differing: Vec<_> = want.iter().filter(|(k, v)| got.get(*k) != Some(v)).take(3).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(3).collect();
        assert!(differing.is_empty() && extra.is_empty(), "links: want {differing:?}, extra parents {extra:?}");
    }
}

type Data = (BTreeMap<String, Vec<Vec<rusqlite::types::Value>>>, Vec<BTreeMap<String, BTreeSet<String>>>);

/// What two syncs of the same Drive must agree on: every live row, and each collection's members
/// (a change feed adds members in the order they change, a listing in the order it lists them).
fn same_data(project: &TestProject) -> Data {
    let mut tables = max_tests::tables(&data_db(project), true);
    let db = rusqlite::Connection::open(data_db(project)).unwrap();
    let links: Vec<String> = tables.keys().filter(|name| name.contains('.')).cloned().collect();
    let members = links.iter().map(|table| max_tests::links(&db, table)).collect();
    tables.retain(|name, _| !name.contains('.'));
    (tables, members)
}

#[test]
fn an_access_token_expiring_mid_sync_is_refreshed_once_and_never_reaches_the_data() {
    let oauth = max_fake_saas::oauth::OAuth {
        initial_token_ttl: Duration::from_millis(500),
        ..max_fake_saas::gdrive::default_oauth()
    };
    let faults = Faults { latency: Duration::from_millis(25), ..Faults::default() };
    let fake = GoogleDrive::new(DriveConfig { size: paged_size(), oauth, faults, ..DriveConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = connected(&server, &["page_size=5"]);
    let output = project.max().args(["sync", "gdrive", "-o", "json"]).assert().success();
    let report: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert_eq!(report["sync"]["record"]["status"], "completed", "{report}");
    assert_eq!(fake.stats()["refreshes"], 1, "{}", fake.stats());
    let stored: Value = serde_json::from_slice(
        &std::fs::read(project.path().join(".max/installations/gdrive/default/credentials.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored["secrets"]["oauth_access_token"], "ya29_oauth_000001");
    assert_eq!(stored["secrets"]["oauth_refresh_token"], "ya29_refresh_initial", "Google keeps the refresh token");
    let db = std::fs::read(data_db(&project)).unwrap();
    assert!(!db.windows(5).any(|w| w == b"ya29_"), "no token in the data");
}

#[test]
fn requests_drive_throttles_are_retried_with_backoff_until_the_sync_completes() {
    // A tenth of the requests answered 403 userRateLimitExceeded or 429 rateLimitExceeded, with no
    // header to say when to come back.
    let faults = Faults { throttle_rate: 0.1, ..Faults::default() };
    let fake = GoogleDrive::new(DriveConfig { faults, ..DriveConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let project = connected(&server, &["page_size=10"]);
    let output = project.max().args(["sync", "gdrive", "-o", "json"]).assert().success();
    let report: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert_eq!(report["sync"]["record"]["status"], "completed", "{report}");
    assert!(fake.stats()["throttled"].as_u64().unwrap() > 0, "{}", fake.stats());
    let live = fake.with_data(|d| d.all().iter().filter(|f| !f.removed).count()) + 1 + 1;
    let stored: Vec<(String, i64)> = query(&project, "SELECT 'files', COUNT(*) FROM File WHERE _deleted_at IS NULL");
    assert_eq!(stored[0].1 as usize, live, "every file, My Drive's root and the shared drive's");
}

#[test]
fn a_sync_killed_again_and_again_resumes_to_the_tables_and_full_text_index_of_an_uninterrupted_one() {
    let faults = Faults { latency: Duration::from_millis(15), ..Faults::default() };
    let fake = GoogleDrive::new(DriveConfig { size: paged_size(), faults, ..DriveConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().unwrap()).unwrap();
    let reference = connected(&server, &["page_size=5"]);
    reference.max().args(["sync", "gdrive"]).assert().success();

    let victim = connected(&server, &["page_size=5"]);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = max_fake_saas::Rng::new(seed);
    let mut moments = Vec::new();
    for _ in 0..4 {
        let mut child = spawn_sync(&victim);
        let moment = Duration::from_millis(150 + rng.below(400));
        std::thread::sleep(moment);
        if child.try_wait().unwrap().is_some() {
            break; // finished before this kill: what the kills left was resumed
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        moments.push(moment.as_millis());
        // Whatever was committed, the full-text index holds exactly its text.
        assert_eq!(full_text_problems(&data_db(&victim)), Vec::<String>::new(), "kills at {moments:?} ms");
    }
    assert!(!moments.is_empty(), "at least one kill landed (seed {seed})");
    victim.max().args(["sync", "gdrive"]).assert().success();
    assert_same(&same_data(&victim), &same_data(&reference));
    assert_eq!(full_text_problems(&data_db(&victim)), Vec::<String>::new());
    for words in ["budget", "\"roadmap review\"", "plan*"] {
        let (mut got, mut want) = (matching(&victim, words), matching(&reference, words));
        got.sort();
        want.sort();
        assert_eq!(got, want, "`--match {words}` (kills at {moments:?} ms, seed {seed})");
    }
}
