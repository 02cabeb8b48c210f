//! Test support: where the built components are, a runtime with a shared compile cache, installation
//! setups, projects driven through the real `max` binary, a real OCI registry and a real PostgreSQL
//! server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use max_host::http::{HttpCapability, HttpLimits, SecretSource};
use max_host::manifest::Permissions;
use max_host::runtime::{InstanceSetup, Limits, LoadedConnector, Runtime, RuntimeConfig};

mod postgres;
pub use postgres::{PgCluster, ServerTls};

/// The cargo target directory holding the components `cargo xtask build` made.
pub fn artifacts_dir() -> PathBuf {
    for var in ["MAX_TEST_ARTIFACTS", "CARGO_TARGET_DIR"] {
        if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target")
}

fn artifact(folder: &str, name: &str) -> PathBuf {
    let path = artifacts_dir().join(folder).join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing: run `cargo xtask test` (or `cargo xtask build` first)", path.display());
    path
}

/// A connector from `connectors/`, e.g. `connector("acme")`.
pub fn connector(name: &str) -> PathBuf {
    artifact("connectors", name)
}

/// A test guest from `tests/guests/`, e.g. `guest("hostile")`.
pub fn guest(name: &str) -> PathBuf {
    artifact("guests", name)
}

/// The `rogue` guest with `describe` returning the description `variant` names (see its source): a
/// copy of the built component, its 64-byte marker patched, in a folder that lives as long as the
/// returned guard.
pub fn rogue_as(variant: &str) -> (tempfile::TempDir, PathBuf) {
    const MARKER: &[u8] = b"MAX-ROGUE-DESCRIBE:";
    let mut bytes = std::fs::read(guest("rogue")).expect("read the rogue guest");
    let at: Vec<usize> =
        bytes.windows(MARKER.len()).enumerate().filter(|(_, w)| *w == MARKER).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the marker appears once in the component");
    let slot = &mut bytes[at[0] + MARKER.len()..at[0] + 64];
    assert!(variant.len() <= slot.len(), "variant name too long");
    slot.fill(b' ');
    slot[..variant.len()].copy_from_slice(variant.as_bytes());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("rogue-{variant}.wasm"));
    std::fs::write(&path, bytes).expect("write the patched component");
    (dir, path)
}

/// A compile cache shared by the tests of this process (so each component compiles once).
pub fn shared_cache_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path().to_path_buf()
}

/// A runtime using the shared compile cache.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(shared_cache_dir()) }).expect("runtime")
}

/// Loads a component with [`runtime`].
pub fn load(runtime: &Runtime, path: &Path) -> LoadedConnector {
    runtime.load_file(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// An installation setup: `config` for `initialise`, HTTP granted per `permissions` plus `base_url`,
/// secrets from `secrets`, and `limits`.
pub fn setup(
    permissions: &Permissions,
    config: &[(&str, &str)],
    secrets: &[(&str, &str)],
    limits: Limits,
) -> InstanceSetup {
    let config: Vec<(String, String)> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let base_url =
        permissions.base_url_key.as_ref().and_then(|key| config.iter().find(|(k, _)| k == key)).map(|(_, v)| v.clone());
    let secrets: Arc<dyn SecretSource> = Arc::new(
        secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::HashMap<_, _>>(),
    );
    InstanceSetup {
        config,
        http: Arc::new(HttpCapability::new(permissions, base_url.as_deref(), secrets, HttpLimits::default())),
        limits,
    }
}

/// A temporary folder to run `max` in, with its own `MAX_HOME`.
pub struct TestProject {
    dir: tempfile::TempDir,
}

impl Default for TestProject {
    fn default() -> Self {
        Self::new()
    }
}

impl TestProject {
    /// An empty folder (no project yet).
    pub fn new() -> Self {
        TestProject { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `MAX_HOME` of the commands run here.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The real `max` binary, run in this folder.
    pub fn max(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("max").expect("the max binary is built (cargo xtask build)");
        command.current_dir(self.path()).env("MAX_HOME", self.home()).env("NO_COLOR", "1").env_remove("MAX_LOG");
        command
    }

    /// `command` run here as a person at a shell runs it: in this folder with this `MAX_HOME`, no
    /// colours, no `CI` (so it uses a running daemon), no `MAX_LOG`.
    pub fn as_a_person<'c>(&self, command: &'c mut std::process::Command) -> &'c mut std::process::Command {
        command
            .current_dir(self.path())
            .env("MAX_HOME", self.home())
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("MAX_LOG")
    }

    /// `max ARGS` started as a child, as a person at a shell would run it (no `CI` in its
    /// environment, so it uses a running daemon), its output piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.as_a_person(&mut std::process::Command::new(assert_cmd::cargo::cargo_bin("max")))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("max starts")
    }

    /// Every file under `dir` (relative paths), sorted: to show that a failed command left nothing.
    pub fn files_under(&self, dir: &Path) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    walk(base, &path, out);
                } else {
                    out.push(path.strip_prefix(base).unwrap_or(&path).display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    /// Installs acme and connects `acme/default` to a small Acme fake, for commands that show another
    /// installation still syncs (`max sync hostile/x acme`). Keep the fake and its server alive.
    pub fn connect_acme(&self) -> (max_fake_saas::acme::Acme, max_fake_saas::RunningServer) {
        let fake = small_acme();
        let server = fake.spawn("127.0.0.1:0".parse().expect("an address")).expect("the Acme fake starts");
        self.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
        self.max()
            .args(["connect", "acme", "--set", &format!("base_url={}", server.base_url())])
            .args(["--set", &format!("api_key={}", max_fake_saas::acme::DEFAULT_API_KEY)])
            .assert()
            .success();
        (fake, server)
    }

    /// Asserts `acme/default` holds exactly the fake's objects.
    pub fn assert_acme_synced(&self, fake: &max_fake_saas::acme::Acme) {
        let stored = tables(&self.path().join(".max/installations/acme/default/data.db"), true);
        for (entity, count) in fake.counts() {
            assert_eq!(stored.get(entity).map(Vec::len), Some(count), "{entity} of acme/default");
        }
    }
}

/// Every data table of an installation's `data.db` (entities and collection links) as sorted rows,
/// without the columns that say when a row was synced: what two syncs of the same data must agree on.
/// With `live_only`, rows marked deleted are left out and links are numbered by rank within their
/// parent (an incremental sync appends where a fresh one would number from zero). Full-text indexes
/// (whose layout depends on the order rows were written) and rowids are left out: check indexes with
/// [`full_text_problems`].
pub fn tables(db: &Path, live_only: bool) -> std::collections::BTreeMap<String, Vec<Vec<rusqlite::types::Value>>> {
    let db = rusqlite::Connection::open(db).expect("open data.db");
    let names: Vec<String> = db
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_max%' ESCAPE '\\' \
             AND name NOT LIKE 'fts:%'",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("list tables");
    let mut out = std::collections::BTreeMap::new();
    for name in names {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{name}') ORDER BY cid"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("list columns");
        let is_link = columns.iter().any(|c| c == "child_id");
        let kept: Vec<String> = columns
            .iter()
            .filter(|c| !matches!(c.as_str(), "_synced_at" | "_sync_id" | "_rowid"))
            .filter(|c| !(live_only && c.as_str() == "_deleted_at"))
            .map(|c| match (live_only && is_link, c.as_str()) {
                (true, "position") => "ROW_NUMBER() OVER (PARTITION BY parent_id ORDER BY position)".to_string(),
                _ => format!("\"{c}\""),
            })
            .collect();
        let filter = if live_only && !is_link { "WHERE _deleted_at IS NULL" } else { "" };
        let list = kept.join(", ");
        let order = (1..=kept.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {list} FROM \"{name}\" {filter} ORDER BY {order}");
        let mut stmt = db.prepare(&sql).expect("select rows");
        let rows = stmt
            .query_map([], |r| (0..kept.len()).map(|i| r.get::<_, rusqlite::types::Value>(i)).collect())
            .and_then(|rows| rows.collect::<Result<Vec<Vec<_>>, _>>())
            .expect("read rows");
        out.insert(name, rows);
    }
    out
}

/// What FTS5's integrity check finds wrong with each full-text index of `db` (`fts:Entity`), compared
/// with the rows of its entity table: empty when every index holds exactly the text of its rows.
pub fn full_text_problems(db: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(db).expect("open data.db");
    let names: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("list full-text indexes");
    assert!(!names.is_empty(), "no full-text index to check");
    names
        .iter()
        .filter_map(|name| {
            let check = format!("INSERT INTO \"{name}\" (\"{name}\", rank) VALUES ('integrity-check', 1)");
            db.execute_batch(&check).err().map(|e| format!("{name}: {e}"))
        })
        .collect()
}

/// Asserts that the acme installations of `reference` and `other` have exact full-text indexes and that
/// `--match` with a word of a task's title finds some tasks, the same in the same order in both.
pub fn assert_same_task_matches(reference: &TestProject, other: &TestProject) {
    let db = |project: &TestProject| project.path().join(".max/installations/acme/default/data.db");
    assert_eq!(full_text_problems(&db(other)), Vec::<String>::new());
    let title: String = rusqlite::Connection::open(db(reference))
        .expect("open data.db")
        .query_row("SELECT title FROM Task ORDER BY id LIMIT 1", [], |r| r.get(0))
        .expect("a task");
    let word = title.split_whitespace().last().expect("a word in the title").to_string();
    let found = |project: &TestProject| {
        let output = project.max().args(["search", "acme", "Task", "--match", &word, "--all", "-o", "csv"]).assert();
        String::from_utf8_lossy(&output.success().get_output().stdout).into_owned()
    };
    assert!(found(reference).lines().count() > 1, "`{word}` finds tasks");
    assert_eq!(found(other), found(reference), "`--match {word}` finds the same tasks, ranked the same");
}

/// The links of a collection's table (`Issue.labels`): each parent's children.
pub fn links(
    db: &rusqlite::Connection,
    table: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut stmt = db.prepare(&format!("SELECT parent_id, child_id FROM \"{table}\"")).expect("a link table");
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).expect("links") {
        let (parent, child) = row.expect("a link");
        map.entry(parent).or_default().insert(child);
    }
    map
}

/// Changes three tasks of an Acme fake the way a user would between syncs: renames the first,
/// deletes the second, creates one called `title` in the first project. Returns their ids
/// (renamed, deleted, created).
pub fn change_three_tasks(fake: &max_fake_saas::acme::Acme, title: &str) -> (String, String, String) {
    use max_fake_saas::acme::Kind;
    fake.with_data(|d| {
        let tasks = d.list(Kind::Task, None, None, Some(2)).0;
        let id = |t: &serde_json::Value| t["id"].as_str().expect("tasks have ids").to_string();
        let (renamed, deleted) = (id(&tasks[0]), id(&tasks[1]));
        let patch = serde_json::json!({"title": "Renamed"});
        d.update(Kind::Task, &renamed, serde_json::from_value(patch).expect("an object"));
        d.delete(Kind::Task, &deleted);
        let body = serde_json::json!({"title": title, "projectId": "prj_00000001"});
        let created = d.create(Kind::Task, serde_json::from_value(body).expect("an object"));
        (renamed, deleted, id(&created))
    })
}

/// A project with acme installed and an Acme fake of `size` running, not connected yet.
pub fn acme_installed(size: max_fake_saas::acme::Size) -> (TestProject, max_fake_saas::RunningServer) {
    use max_fake_saas::acme::{Acme, AcmeConfig};
    let fake = Acme::new(AcmeConfig { size, ..AcmeConfig::default() });
    let server = fake.spawn("127.0.0.1:0".parse().expect("an address")).expect("the Acme fake starts");
    let project = TestProject::new();
    project.max().arg("init").assert().success();
    project.max().args(["connector", "install", "--yes"]).arg(connector("acme")).assert().success();
    (project, server)
}

/// `max connect acme --name NAME` to the fake behind `server`, with its API key and `extra` flags.
pub fn connect_acme_to(project: &TestProject, server: &max_fake_saas::RunningServer, name: &str, extra: &[&str]) {
    project
        .max()
        .args(["connect", "acme", "--name", name, "--set", &format!("base_url={}", server.base_url())])
        .args(["--set", &format!("api_key={}", max_fake_saas::acme::DEFAULT_API_KEY)])
        .args(extra)
        .assert()
        .success();
}

/// The acme connector as built against contract 0.1.0 (kept in `tests/guests/fixtures/`, not rebuilt):
/// what a connector published before 0.2.0 is.
pub fn contract_0_1_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/fixtures/acme-contract-0.1.0.wasm")
}

/// The acme connector as built against contract 0.2.0 (kept like the 0.1.0 one): what a connector
/// published before 0.3.0 is.
pub fn contract_0_2_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/fixtures/acme-contract-0.2.0.wasm")
}

/// The acme connector as built against contract 0.3.0 (kept like the others): what a connector
/// published before 0.4.0 is.
pub fn contract_0_3_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/fixtures/acme-contract-0.3.0.wasm")
}

/// `http://127.0.0.1:PORT` of a loopback server that accepts every connection and closes it at once:
/// a base URL that onboarding's reachability check accepts, for guests that never call their API.
pub fn listening_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        url
    })
}

/// `max` run on a pseudo-terminal (through util-linux `script`), for the prompts a person answers:
/// [`Terminal::expect`] waits for text on the screen, [`Terminal::send`] types a line.
pub struct Terminal {
    child: std::process::Child,
    input: std::process::ChildStdin,
    screen: Arc<std::sync::Mutex<String>>,
    seen: usize,
}

impl Terminal {
    /// Starts `max ARGS` in `project` on a terminal of its own.
    pub fn max(project: &TestProject, args: &[&str]) -> Terminal {
        use std::io::Read;
        let binary = assert_cmd::cargo::cargo_bin("max");
        let quoted: Vec<String> = std::iter::once(binary.display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let mut child = project
            .as_a_person(&mut std::process::Command::new("script"))
            .args(["-qec", &quoted.join(" "), "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("util-linux `script` runs");
        let input = child.stdin.take().expect("its stdin");
        let mut output = child.stdout.take().expect("its stdout");
        let screen = Arc::new(std::sync::Mutex::new(String::new()));
        let filling = screen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = output.read(&mut buffer) {
                filling.lock().expect("screen").push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Terminal { child, input, screen, seen: 0 }
    }

    /// Waits (30 s at most) until `text` appears after what earlier calls matched.
    pub fn expect(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let screen = self.screen.lock().expect("screen").clone();
            if let Some(at) = screen[self.seen..].find(text) {
                self.seen += at + text.len();
                return;
            }
            assert!(std::time::Instant::now() < deadline, "waited for {text:?}; the terminal shows:\n{screen}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter.
    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        self.input.write_all(format!("{line}\r").as_bytes()).expect("the terminal takes input");
        self.input.flush().expect("flushed");
    }

    /// Waits (30 s at most) for `max` to exit; returns its exit code and everything it showed.
    pub fn finish(mut self) -> (i32, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                std::thread::sleep(std::time::Duration::from_millis(50));
                return (status.code().unwrap_or(-1), self.screen.lock().expect("screen").clone());
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("max did not exit; the terminal shows:\n{}", self.screen.lock().expect("screen"));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A sync observer that ignores everything (for syncs run through the library).
pub struct Quiet;

impl max_host::sync::SyncObserver for Quiet {
    fn stored(&self, _entity: &str, _rows: u64) {}
    fn progress(&self, _done: u64, _total: u64) {}
    fn retrying(&self, _task: &str, _error: &str, _delay: std::time::Duration) {}
    fn started(&self, _sync: i64, _continuation: max_host::sync::Continuation) {}
}

/// Shows the host stayed healthy after a hostile connector did its worst: another installation (acme,
/// on the same `runtime`: the same engine, epoch ticker and compile cache, in this process) syncs an
/// Acme fake to the end, and its tables hold exactly the fake's objects.
pub async fn another_installation_syncs(runtime: &Runtime) {
    use max_host::runtime::InstancePool;
    use max_host::storage::{DataStore, SqliteStorage};
    use max_host::sync::{SyncContext, SyncOptions, run_sync};
    let fake = small_acme();
    let server = fake.start("127.0.0.1:0".parse().expect("an address")).await.expect("the Acme fake starts");
    let loaded = load(runtime, &connector("acme"));
    let info = loaded.describe().await.expect("acme describes itself");
    let setup = setup(
        &info.permissions,
        &[("base_url", server.base_url())],
        &[("api_key", max_fake_saas::acme::DEFAULT_API_KEY)],
        Limits::default(),
    );
    let http = setup.http.clone();
    let pool = InstancePool::new("acme", loaded, setup, 2);
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = SqliteStorage::open(&dir.path().join("data.db")).expect("a fresh data.db");
    let storage = Arc::new(std::sync::Mutex::new(storage));
    let context = SyncContext { info, pool, http, storage: storage.clone() };
    let report = run_sync(&context, &SyncOptions::default(), &Quiet).await.expect("the other installation syncs");
    assert!(report.failures.is_empty(), "the other installation's sync failed: {:?}", report.failures);
    let stored = storage.lock().expect("storage lock").counts().expect("counts");
    for (entity, count) in fake.counts() {
        assert_eq!(stored.get(entity).copied(), Some(count as u64), "{entity} of the other installation");
    }
}

/// A small Acme fake: a workspace, a few users, two projects of 40 tasks.
pub fn small_acme() -> max_fake_saas::acme::Acme {
    use max_fake_saas::acme::{Acme, AcmeConfig, Size};
    let size =
        Size { workspaces: 1, users: 3, projects: 2, tasks_per_project: 40, files_per_project: 2, history: false };
    Acme::new(AcmeConfig { size, ..AcmeConfig::default() })
}

/// A real OCI registry on loopback: the distribution `registry` server (Debian's `docker-registry`
/// package, which `cargo xtask` installs when it is missing), on a free port, storing in a folder of
/// its own; stopped when dropped.
pub struct OciRegistry {
    child: std::process::Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl OciRegistry {
    /// The user a registry started with [`OciRegistry::start_with_login`] lets in.
    pub const USER: &'static str = "tester";
    /// That user's password.
    pub const PASSWORD: &'static str = "s3cret-registry-pass";

    /// Starts one open to anyone and waits until it answers `GET /v2/`.
    pub fn start() -> OciRegistry {
        OciRegistry::started(None)
    }

    /// Starts one that lets in only [`OciRegistry::USER`] with [`OciRegistry::PASSWORD`] (HTTP basic
    /// authentication from an htpasswd file, as a self-hosted registry is commonly run).
    pub fn start_with_login() -> OciRegistry {
        OciRegistry::started(Some(OciRegistry::USER))
    }

    fn started(user: Option<&str>) -> OciRegistry {
        let binary =
            std::env::var_os("MAX_OCI_REGISTRY").map_or_else(|| PathBuf::from("docker-registry"), PathBuf::from);
        let dir = tempfile::tempdir().expect("a folder for the registry");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let storage = dir.path().join("storage");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
            storage.display()
        );
        if let Some(user) = user {
            // The bcrypt hash of PASSWORD.
            let hash = "$2b$12$jPNgE12kJ3oR6B5s8FrdDOgnZf41/Q4zyZcBlBNUsCQNBv8bHYpW2";
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("the registry's htpasswd");
            text.push_str(&format!("auth:\n  htpasswd:\n    realm: max-test\n    path: {}\n", htpasswd.display()));
        }
        std::fs::write(&config, text).expect("the registry's config");
        let child = std::process::Command::new(&binary)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{}: {e} (install Debian's docker-registry, or `cargo xtask test` does)", binary.display())
            });
        let registry = OciRegistry { child, dir, address };
        for _ in 0..200 {
            if registry.get("/v2/").is_some_and(|(status, _)| status == 200 || (user.is_some() && status == 401)) {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the registry at {} never answered", registry.address);
    }

    /// `oci://127.0.0.1:PORT/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.address)
    }

    /// `GET path` with `accept`: the status and body (none when the registry can't be reached).
    pub fn get_with(&self, path: &str, accept: &str) -> Option<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n", self.address).ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, response[split + 4..].to_vec()))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        self.get_with(path, "*/*")
    }

    /// The file the registry keeps the blob `digest` in (`sha256:…`), to damage it as a tampered
    /// mirror would.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join("storage/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
