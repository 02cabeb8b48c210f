//! The attacks of an independent review, by `rogue`, a connector written straight against the WIT
//! (not with the SDK), through the real `max` binary. Each case ends with another installation (acme)
//! syncing completely: in the same `max sync` process where there is a sync.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::HeaderMap;
use axum::routing::get;
use max_tests::{TestProject, rogue_as};

/// A project with the rogue connector (its `normal` description) installed and acme connected.
struct Arena {
    project: TestProject,
    acme: max_fake_saas::acme::Acme,
    _acme_server: max_fake_saas::RunningServer,
    _component: tempfile::TempDir,
}

/// The secret the rogue installations hold as `token` (the `key` secret is `KEY`).
const TOKEN: &str = "tok-9d1f-secret-77aa";
const KEY: &str = "key-5c2e-secret-31bb";

impl Arena {
    fn new() -> Arena {
        Arena::described_as("normal")
    }

    /// The arena with the rogue's description `variant` installed.
    fn described_as(variant: &str) -> Arena {
        let project = TestProject::new();
        project.max().arg("init").assert().success();
        let (component, path) = rogue_as(variant);
        project.max().args(["connector", "install", "--yes"]).arg(&path).assert().success();
        let (acme, acme_server) = project.connect_acme();
        Arena { project, acme, _acme_server: acme_server, _component: component }
    }

    /// `max connect rogue --name NAME` with `attack`, pointed at `base_url`, with `extra` flags.
    fn connect(&self, name: &str, attack: &str, base_url: &str, extra: &[&str]) {
        self.project
            .max()
            .args(["connect", "rogue", "--name", name, "--set", &format!("base_url={base_url}")])
            .args(["--set", &format!("attack={attack}"), "--set", &format!("token={TOKEN}")])
            .args(["--set", &format!("key={KEY}")])
            .args(extra)
            .assert()
            .success();
    }

    /// `max sync rogue/NAME acme` (bounded in time: a sync that hangs fails the test), then checks that
    /// acme synced completely. Returns stdout and stderr.
    fn sync_then_acme(&self, name: &str, extra: &[&str]) -> (bool, String, String) {
        let (status, stdout, stderr) = self.sync_both(name, extra);
        (status == Some(0), stdout, stderr)
    }

    /// [`Arena::sync_then_acme`], with the exit status.
    fn sync_both(&self, name: &str, extra: &[&str]) -> (Option<i32>, String, String) {
        let output = self
            .project
            .max()
            .args(["sync", &format!("rogue/{name}"), "acme"])
            .args(extra)
            .env("MAX_LOG", "warn")
            .timeout(Duration::from_secs(120))
            .output()
            .expect("max sync runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(stdout.contains("Synced acme/default"), "acme was synced after rogue/{name}: {stdout}\n{stderr}");
        self.project.assert_acme_synced(&self.acme);
        (output.status.code(), stdout, stderr)
    }

    /// `max sync rogue/NAME acme` that must fail for rogue with a message containing each of `says`.
    fn refused(&self, name: &str, says: &[&str]) -> String {
        let (status, stdout, stderr) = self.sync_both(name, &[]);
        assert_eq!(status, Some(3), "rogue/{name} should not sync completely (exit 3): {stdout}");
        for expected in says {
            assert!(stderr.contains(expected), "rogue/{name}: `{expected}` missing from: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// Changes what `rogue/NAME` does from its next sync on.
    fn set_attack(&self, name: &str, attack: &str) {
        let settings = self.project.path().join(format!(".max/installations/rogue/{name}/installation.json"));
        let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
        file["config"]["attack"] = attack.into();
        std::fs::write(&settings, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    }

    fn data_db(&self, name: &str) -> std::path::PathBuf {
        self.project.path().join(format!(".max/installations/rogue/{name}/data.db"))
    }

    fn count(&self, name: &str, sql: &str) -> i64 {
        rusqlite::Connection::open(self.data_db(name)).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn search(&self, args: &[&str]) -> String {
        let output = self.project.max().arg("search").args(args).assert().success();
        String::from_utf8_lossy(&output.get_output().stdout).into_owned()
    }
}

/// Class 1: a connector declaring credentials injected as a named header and as a query parameter
/// installs, and the project stays usable; a damaged connector record or installation file stops only
/// the commands that need it, says which it is, and can be removed.
#[test]
fn no_declaration_can_brick_the_project() {
    let arena = Arena::new();
    let project = &arena.project;
    let inspect = project.max().args(["connector", "inspect", "rogue", "--json"]).assert().success();
    let inspected: serde_json::Value = serde_json::from_slice(&inspect.get_output().stdout).unwrap();
    let credentials = &inspected["granted"]["credentials"];
    assert_eq!(
        (credentials[0]["inject"].as_str(), credentials[0]["header"].as_str()),
        (Some("header"), Some("X-Token"))
    );
    assert_eq!((credentials[1]["inject"].as_str(), credentials[1]["parameter"].as_str()), (Some("query"), Some("key")));
    arena.connect("fine", "none", max_tests::listening_url(), &[]);
    let (succeeded, stdout, _) = arena.sync_then_acme("fine", &[]);
    assert!(succeeded && stdout.contains("Synced rogue/fine"), "{stdout}");
    let connectors = project.path().join(".max/connectors");

    // A damaged description: everything else goes on; the damage is named with the way out.
    let info = project
        .files_under(&connectors)
        .into_iter()
        .find(|f| f.starts_with("rogue-") && f.ends_with(".json"))
        .expect("rogue's description file");
    std::fs::write(connectors.join(&info), "{ not json").unwrap();
    let list = project.max().args(["connector", "list"]).assert().success();
    let listed = String::from_utf8_lossy(&list.get_output().stderr).into_owned();
    assert!(listed.contains("`rogue` is damaged") && listed.contains("max connector remove rogue"), "{listed}");
    assert!(String::from_utf8_lossy(&list.get_output().stdout).contains("acme"));
    let (succeeded, _, stderr) = arena.sync_then_acme("fine", &[]);
    assert!(!succeeded && stderr.contains("the installed connector `rogue` is damaged"), "{stderr}");
    assert!(stderr.contains("max connector remove rogue"), "{stderr}");
    project.max().args(["status"]).assert().success();
    project.max().args(["search", "acme", "Task", "--limit", "1"]).assert().success();

    // A damaged installation file stops only that installation.
    let file = project.path().join(".max/installations/rogue/fine/installation.json");
    std::fs::write(&file, "[").unwrap();
    let ls = project.max().args(["ls"]).assert().success();
    let warned = String::from_utf8_lossy(&ls.get_output().stderr).into_owned();
    assert!(warned.contains("installation rogue/fine is left out") && warned.contains("is damaged"), "{warned}");
    assert!(String::from_utf8_lossy(&ls.get_output().stdout).contains("acme/default"));
    project.max().args(["sync", "acme"]).assert().success();
    let refused = project.max().args(["sync", "rogue/fine"]).assert().failure();
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("installation.json is damaged"));

    // Removed (its installation first), it installs again and syncs.
    std::fs::remove_dir_all(project.path().join(".max/installations/rogue")).unwrap();
    let removed = project.max().args(["connector", "remove", "rogue"]).assert().success();
    assert!(String::from_utf8_lossy(&removed.get_output().stdout).contains("its record was damaged"));
    let (_dir, path) = rogue_as("normal");
    project.max().args(["connector", "install", "--yes"]).arg(&path).assert().success();
    arena.connect("again", "none", max_tests::listening_url(), &[]);
    assert!(arena.sync_then_acme("again", &[]).0);
}

/// Class 2: a rate-limit hint of `u64::MAX` ms is cut to `retry-wait-seconds` and counted against
/// `wait-budget-seconds`; the sync of several installations moves on.
#[test]
fn every_wait_a_connector_asks_for_is_capped_and_budgeted() {
    let arena = Arena::new();
    arena.connect("sleepy", "sleep-forever", max_tests::listening_url(), &["--limit", "retry-wait-seconds=1"]);
    let stderr = arena.refused("sleepy", &["rate limited"]);
    assert!(stderr.contains("1 of 2 installations did not sync completely: rogue/sleepy"), "{stderr}");
    arena.connect(
        "budget",
        "sleep-forever",
        max_tests::listening_url(),
        &["--limit", "retry-wait-seconds=1", "--limit", "wait-budget-seconds=2"],
    );
    arena.refused("budget", &["wait budget", "wait-budget-seconds"]);
}

/// Class 3: ids, values and JSON nesting are bounded at ingest with errors naming the limit; a long
/// text that is stored comes back whole through every output.
#[test]
fn whatever_is_stored_can_be_read_by_every_output() {
    let arena = Arena::new();
    arena.connect("big-id", "big-id", max_tests::listening_url(), &[]);
    arena.refused("big-id", &["id size limit", "id-bytes"]);
    arena.connect("deep", "deep-json", max_tests::listening_url(), &[]);
    arena.refused("deep", &["JSON depth limit", "json-depth"]);
    assert_eq!(arena.count("deep", "SELECT COUNT(*) FROM Item WHERE data IS NOT NULL"), 0);
    arena.connect("long", "long-text", max_tests::listening_url(), &[]);
    assert!(arena.sync_then_acme("long", &[]).0);
    // Not the last column, so the table pads it.
    let table = arena.search(&["rogue/long", "Item", "--fields", "text,score"]);
    assert!(table.contains("long long") && table.contains("END"), "{:.300}", table);
    let json: serde_json::Value = serde_json::from_str(&arena.search(&["rogue/long", "Item", "--json"])).unwrap();
    let text = json["rows"][0]["text"].as_str().expect("the text, not null");
    assert_eq!(text.len(), 14_000 * 5 + 3);
    assert!(arena.search(&["rogue/long", "Item", "-o", "csv"]).contains("END"));
}

/// Class 4: a description SQLite would refuse (names equal but for case, a field `ID`, an entity named
/// like SQLite's own tables, 10,000 fields, 50,000 entity types), request limits (contract 0.2.0)
/// past the contract's bounds (none allowed at all, an interval of days, too many, terminal escapes,
/// megabytes of them: none may stall an installation's requests), or searchable fields (contract
/// 0.3.0) the full-text index can't hold (an undeclared entity, a number, one named twice, a weight of
/// 0, too many, megabytes of names), or versioned fields (contract 0.3.0) the host couldn't keep (an
/// undeclared entity or field, a field versioned by itself, one no loader fills, none, megabytes), or
/// owned collections that aren't collections or are named twice, or scoped change feeds (contract
/// 0.4.0) that name no change feed or no entity type, twice or too many, is refused at install,
/// clearly, and leaves nothing behind.
#[test]
fn descriptions_sqlite_would_refuse_or_past_the_limits_are_refused_at_install() {
    let arena = Arena::new();
    let project = &arena.project;
    let connectors = project.path().join(".max/connectors");
    let before = project.files_under(&connectors);
    for (variant, says) in [
        ("case-entities", "entities `Probe` and `PROBE` differ only in case"),
        ("no-root", "it declares no root entity"),
        ("case-fields", "fields `Item.result` and `Item.RESULT` differ only in case"),
        ("id-field", "Item.ID is the implicit `id`"),
        ("sqlite-entity", "`sqlite_stat1` is reserved by SQLite"),
        ("wide", "declares 10004 fields on Item, more than the 1000 allowed (install limit `fields`)"),
        ("many-entities", "declares 50002 entity types, more than the 1000 allowed (install limit `entities`)"),
        ("limits-zero", "request limit `nothing` allows 0 requests; from 1 to 10000 may be declared"),
        ("limits-forever", "request limit `slow` has an interval of 360000000 ms; from 1 ms to an hour"),
        ("limits-many", "17 request limits; at most 16 may be declared"),
        ("limits-escape", "contains control characters (terminal escapes?)"),
        ("limits-huge", "request-limits"),
        ("search-stranger", "searchable field `Ghost.text`: `Ghost` is not a declared entity"),
        ("search-number", "searchable field `Item.score` is float; only string fields can be searched"),
        ("search-twice", "searchable field `Item.text` is named twice"),
        ("search-weightless", "searchable field `Item.text` has weight 0; weights are 1 to 100"),
        ("search-many", "Item has more than 32 searchable fields"),
        ("search-huge", "searchable-fields"),
        ("versions-stranger", "versioned fields of `Ghost`: not a declared entity"),
        ("versions-missing", "versioned field `Item.revision` is not a declared field"),
        ("versions-self", "`Item.data` can't be versioned by itself"),
        ("versions-unloaded", "versioned field `Item.root` is filled by no batched or single loader"),
        ("versions-empty", "versioned fields of Item: name at least one field and one version field"),
        ("versions-huge", "field-versions"),
        ("owns-stranger", "owned collection `Root.ghosts` is not a declared field"),
        ("owns-scalar", "owned collection `Item.text` is string, not a collection"),
        ("owns-twice", "owned collection `Root.items` is named twice"),
        ("scoped-stranger", "scoped change feed `ghost-feed` is not a declared change-feed loader"),
        ("scoped-collection", "scoped change feed `root-items` is not a declared change-feed loader"),
        ("scoped-nowhere", "scoped change feed `item-feed` is scoped to `Ghost`, which is not a declared entity"),
        ("scoped-twice", "scoped change feed `item-feed` is named twice"),
        ("scoped-many", "17 scoped change feeds: at most 16"),
    ] {
        let (_dir, path) = rogue_as(variant);
        let refused = project.max().args(["connector", "install", "--yes"]).arg(&path).assert().failure();
        let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(stderr.contains(says), "{variant}: {stderr}");
        assert!(!stderr.to_lowercase().contains("sqlite error") && !stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "{variant}: {stderr}");
        assert_eq!(project.files_under(&connectors), before, "{variant} left nothing behind");
    }
    // A limit raised for one install is still checked (and 10,004 fields are past what SQLite holds).
    let (_dir, path) = rogue_as("wide");
    let refused = project.max().args(["connector", "install", "--yes", "--limit", "fields=20000"]).arg(&path).assert();
    assert!(String::from_utf8_lossy(&refused.failure().get_output().stderr).contains("from 1 to 1990"));
    // Raised to its most, entity types install (listed in short) and sync.
    let (_dir, path) = rogue_as("entities-4998");
    let installed =
        project.max().args(["connector", "install", "--yes", "--limit", "entities=5000"]).arg(&path).assert();
    let summary = String::from_utf8_lossy(&installed.success().get_output().stderr).into_owned();
    assert!(summary.contains("Entities (5000): Root, Item, E0,") && summary.contains("… and 4988 more"), "{summary}");
    arena.connect("wide-schema", "none", max_tests::listening_url(), &[]);
    assert!(arena.sync_then_acme("wide-schema", &[]).0);
    assert_eq!(arena.count("wide-schema", "SELECT COUNT(*) FROM sqlite_master WHERE name GLOB 'E[0-9]*'"), 4998);
}

/// Class 5: a connector's description is bounded (`describe-kib`), and kept in a file of its own that
/// only the commands using that connector read: the index every command reads stays small.
#[test]
fn one_connectors_metadata_never_weighs_on_the_others() {
    let arena = Arena::new();
    let project = &arena.project;
    let connectors = project.path().join(".max/connectors");
    let before = project.files_under(&connectors);
    let (_dir, path) = rogue_as("huge-description");
    let refused = project.max().args(["connector", "install", "--yes"]).arg(&path).assert().failure();
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(stderr.contains("KiB, more than the 1024 allowed (install limit `describe-kib`)"), "{stderr}");
    assert!(stderr.contains("--limit describe-kib=<value>"), "{stderr}");
    assert_eq!(project.files_under(&connectors), before, "nothing was left behind");
    let index = std::fs::read_to_string(connectors.join("manifest.json")).unwrap();
    assert!(index.contains("\"rogue\"") && index.contains("\"acme\""), "{index}");
    assert!(!index.contains("\"schema\"") && index.len() < 8 << 10, "the index holds no description: {index}");
    arena.connect("fine", "none", max_tests::listening_url(), &[]);
    assert!(arena.sync_then_acme("fine", &[]).0);
}

/// Class 6: `Host` and the other headers a browser's fetch refuses to scripts never leave.
#[test]
fn a_connector_cannot_set_host_or_other_forbidden_headers() {
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = received.clone();
    let router = move || {
        let record = record.clone();
        Router::new().route(
            "/headers",
            get(move |headers: HeaderMap| async move {
                record.lock().unwrap().push(format!("{headers:?}"));
                "ok"
            }),
        )
    };
    let server = max_fake_saas::RunningServer::spawn(router, "127.0.0.1:0".parse().unwrap()).unwrap();
    let arena = Arena::new();
    arena.connect("headers", "forbidden-headers", server.base_url(), &[]);
    assert!(arena.sync_then_acme("headers", &[]).0);
    let report = arena.search(&["rogue/headers", "Item", "--fields", "text", "-o", "ndjson"]);
    for name in
        ["Host", "Connection", "Content-Length", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Cookie"]
    {
        assert!(report.contains(&format!("{name}: refused")), "{name}: {report}");
    }
    assert!(report.contains("is set by the host"), "{report}");
    assert!(received.lock().unwrap().is_empty(), "no forged request was sent: {:?}", received.lock().unwrap());
}

/// Class 7: an API that reflects the secret (as is, and hex-encoded) hands the connector only
/// `[redacted]`; the secret it decodes never reaches storage, the terminal, or a request it builds.
#[test]
fn secrets_an_api_reflects_never_reach_storage_or_leave_in_requests() {
    let collected = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = collected.clone();
    let router = move || {
        let record = record.clone();
        let echo = |headers: HeaderMap| async move {
            let token = headers.get("x-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
            format!("{token}\n{hex}")
        };
        Router::new().route("/echo", get(echo)).route(
            "/collect",
            get({
                let record = record.clone();
                move |headers: HeaderMap, RawQuery(query): RawQuery| async move {
                    record.lock().unwrap().push(format!("{query:?} {headers:?}"));
                }
            })
            .post(move |headers: HeaderMap, body: Bytes| async move {
                record.lock().unwrap().push(format!("{headers:?} {}", String::from_utf8_lossy(&body)));
            }),
        )
    };
    let server = max_fake_saas::RunningServer::spawn(router, "127.0.0.1:0".parse().unwrap()).unwrap();
    let arena = Arena::new();
    arena.connect("reflect", "reflect", server.base_url(), &[]);
    let (succeeded, stdout, stderr) = arena.sync_then_acme("reflect", &[]);
    assert!(succeeded, "{stdout}{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "{stdout}{stderr}");
    let sent = arena.search(&["rogue/reflect", "Item", "--fields", "text", "-o", "ndjson"]);
    assert!(sent.contains("url refused") && sent.contains("header refused") && sent.contains("body refused"), "{sent}");
    assert!(sent.contains("carries a secret of this installation"), "{sent}");
    assert!(
        collected.lock().unwrap().iter().all(|request| !request.contains(TOKEN)),
        "{:?}",
        collected.lock().unwrap()
    );
    let mut stored = Vec::new();
    for file in [arena.data_db("reflect"), arena.data_db("reflect").with_extension("db-wal")] {
        if let Ok(mut file) = std::fs::File::open(file) {
            file.read_to_end(&mut stored).unwrap();
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    let reversed: String = TOKEN.chars().rev().collect();
    assert!(!stored.contains(TOKEN), "the decoded secret was stored");
    assert!(!stored.contains(&reversed), "the connector saw the plain echo");
    assert!(stored.contains("[redacted]"));
}

/// Class 8: `wasi:cli/exit` is reported as the connector exiting, not as a WebAssembly backtrace.
/// (WASI 0.2 exits with success or failure only: `exit(3)` arrives as code 1.)
#[test]
fn a_connector_that_exits_is_reported_as_exiting() {
    let arena = Arena::new();
    arena.connect("quitter", "exit", max_tests::listening_url(), &[]);
    let stderr = arena.refused("quitter", &["the connector exited with code 1"]);
    assert!(!stderr.contains("wasm backtrace") && !stderr.contains("0x"), "{stderr}");
}

/// Class 9: a collection that never ends, one that repeats itself under new cursors, and a change feed
/// that always has more are stopped by named limits.
#[test]
fn endless_pagination_and_change_feeds_are_bounded() {
    let arena = Arena::new();
    arena.connect("endless", "pages", max_tests::listening_url(), &["--limit", "collection-pages=20"]);
    arena.refused("endless", &["collection Root.items of root has more than 20 pages", "collection-pages"]);
    assert!(arena.count("endless", "SELECT COUNT(*) FROM Item") <= 200);
    arena.connect("repeating", "pages-same", max_tests::listening_url(), &[]);
    arena.refused("repeating", &["50 pages of collection Root.items of root in a row added nothing new", "idle-pages"]);
    arena.connect("feed", "feed", max_tests::listening_url(), &["--limit", "idle-pages=5"]);
    arena.refused("feed", &["5 pages of change feed `item-feed` in a row added nothing new"]);
    arena.connect("long-feed", "feed", max_tests::listening_url(), &["--limit", "feed-pages=3"]);
    arena.refused("long-feed", &["change feed `item-feed` has more than 3 pages", "feed-pages"]);
}

/// Class 9, scoped (contract 0.4.0): a change feed followed per entity that always has more is stopped
/// by the same limits, naming the entity whose feed it is.
#[test]
fn an_endless_scoped_change_feed_is_bounded() {
    let arena = Arena::described_as("scoped-root");
    arena.connect("long-feed", "feed", max_tests::listening_url(), &["--limit", "feed-pages=3"]);
    arena.refused("long-feed", &["change feed `item-feed` of Root root has more than 3 pages", "feed-pages"]);
    arena.connect("idle-feed", "feed", max_tests::listening_url(), &["--limit", "idle-pages=5"]);
    arena.refused("idle-feed", &["5 pages of change feed `item-feed` of Root root in a row added nothing new"]);
}

/// Class 10: a cursor counts against the result limit and is capped before it is stored.
#[test]
fn a_huge_cursor_is_counted_and_capped() {
    let arena = Arena::new();
    arena.connect("cursor", "big-cursor", max_tests::listening_url(), &[]);
    arena.refused("cursor", &["cursor size limit", "cursor-kib"]);
    arena.connect(
        "counted",
        "big-cursor",
        max_tests::listening_url(),
        &["--limit", "cursor-kib=16384", "--limit", "result-mib=1"],
    );
    arena.refused("counted", &["result size limit", "result-mib"]);
    for name in ["cursor", "counted"] {
        assert_eq!(arena.count(name, "SELECT COUNT(*) FROM _max_tasks WHERE length(spec) > 65536"), 0);
    }
}

/// Class 11: five million rows without columns fit in 64 MiB on the wire but not in host memory; the
/// result limit counts them as held in memory.
#[test]
fn the_result_limit_bounds_host_memory() {
    let arena = Arena::new();
    arena.connect("empty-rows", "empty-rows", max_tests::listening_url(), &[]);
    arena.refused("empty-rows", &["result size limit", "counted as held in memory", "result-mib"]);
    assert_eq!(arena.count("empty-rows", "SELECT COUNT(*) FROM Item"), 0);
}

/// Class 12: NaN and infinities are malformed data, refused like a bad date.
#[test]
fn non_finite_numbers_are_refused_as_malformed_data() {
    let arena = Arena::new();
    for attack in ["nan", "infinity"] {
        arena.connect(attack, attack, max_tests::listening_url(), &[]);
        arena.refused(attack, &["invalid data for Item", "not a finite number"]);
        assert_eq!(arena.count(attack, "SELECT COUNT(*) FROM Item WHERE score IS NOT NULL"), 0);
    }
}

/// Class 13: fields a connector discovers in the account (contract 0.2.0) are checked before anything
/// is stored. A sync whose discovery breaks a promise of `discovery` (too many fields, a name that
/// collides or is too long, an undeclared entity, terminal escapes, a result past the size limit)
/// fails naming it and leaves the tables, their schema and their rows as they were.
#[test]
fn discovered_schemas_past_the_limits_change_nothing_stored() {
    let arena = Arena::new();
    arena.connect("found", "discover-ok", max_tests::listening_url(), &[]);
    let (ok, stdout, stderr) = arena.sync_then_acme("found", &[]);
    assert!(ok, "{stdout}\n{stderr}");
    let schema = |arena: &Arena| -> Vec<(String, String, String, i64)> {
        let db = rusqlite::Connection::open(arena.data_db("found")).unwrap();
        let mut stmt = db.prepare("SELECT entity, field, type, retired FROM _max_schema ORDER BY 1, 2").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
    };
    let before = schema(&arena);
    assert!(before.contains(&("Item".into(), "note".into(), "string".into(), 0)), "{before:?}");
    let rows = arena.count("found", "SELECT COUNT(*) FROM Item");
    for (attack, says) in [
        ("discover-many", "at most 2000"),
        ("discover-collide", "differ only in case"),
        ("discover-stranger", "which `describe` doesn't declare"),
        ("discover-escape", "control characters"),
        ("discover-long-name", "129 bytes"),
        ("discover-huge", "result size limit"),
    ] {
        arena.set_attack("found", attack);
        let stderr = arena.refused("found", &[says]);
        assert!(!stderr.contains('\u{1b}'), "{stderr}");
        assert_eq!(schema(&arena), before, "{attack} changed the stored schema");
        assert_eq!(arena.count("found", "SELECT COUNT(*) FROM Item"), rows, "{attack} changed the rows");
    }
}

/// Discovered fields become columns, `max schema` marks them, and one that disappears is retired. A
/// new one fills through incremental syncs unless the connector asks for rows to be read again, which
/// makes that sync full.
#[test]
fn discovered_fields_are_columns_marked_in_max_schema_and_retired_when_gone() {
    let arena = Arena::new();
    arena.connect("found", "", max_tests::listening_url(), &[]);
    let full = |arena: &Arena| {
        let output = arena.project.max().args(["sync", "rogue/found", "-o", "json"]).assert().success();
        let report: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
        report["sync"]["record"]["full"].as_bool().unwrap()
    };
    full(&arena);
    arena.set_attack("found", "discover-ok");
    assert!(!full(&arena), "a discovered field the API marks as changes doesn't make the sync full");
    let schema = arena.project.max().args(["schema", "rogue/found"]).assert().success();
    let text = String::from_utf8_lossy(&schema.get_output().stdout).into_owned();
    let note = text.lines().find(|l| l.trim_start().starts_with("note ")).unwrap_or_else(|| panic!("{text}"));
    assert!(note.contains("string") && note.contains("discovered"), "{text}");
    assert!(!text.lines().any(|l| l.trim_start().starts_with("text ") && l.contains("discovered")), "{text}");
    let declared = arena.project.max().args(["schema", "rogue", "-o", "json"]).assert().success();
    let declared: serde_json::Value = serde_json::from_slice(&declared.get_output().stdout).unwrap();
    assert!(declared["installation"].is_string(), "rogue's only installation is shown: {declared}");

    arena.set_attack("found", "discover-refill");
    assert!(full(&arena), "a field that needs every row read again makes the sync full");
    let json = arena.project.max().args(["schema", "rogue/found", "-o", "json"]).assert().success();
    let json: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    let item = json["schema"]["entities"].as_array().unwrap().iter().find(|e| e["name"] == "Item").unwrap();
    let tag = item["fields"].as_array().unwrap().iter().find(|f| f["name"] == "tag").unwrap();
    assert_eq!(tag["discovered"], true, "{json}");
    assert_eq!(json["retired"], serde_json::json!([{"entity": "Item", "field": "note", "type": "string"}]));
    assert_eq!(arena.count("found", "SELECT COUNT(*) FROM pragma_table_info('Item') WHERE name = 'note'"), 1);
}
