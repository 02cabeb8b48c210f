//! A real PostgreSQL server for the tests: one throwaway cluster per test binary, made with the
//! installed server programs (`initdb`, `pg_ctl`; `cargo xtask test` installs Debian's `postgresql`
//! when they are missing and names their folder in `MAX_POSTGRES_BIN`), on a free port with its socket
//! in its own folder, run as the `postgres` user when the tests run as root (the server refuses root).
//! Each test gets a database of its own. The cluster stops when the test binary exits: a watchdog
//! shell waits for its standard input, which this process holds, to close.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A cluster that speaks TLS: what it is given.
pub struct ServerTls {
    /// Its certificate (PEM), with the chain up to the root when there is one.
    pub cert: String,
    /// Its private key (PEM).
    pub key: String,
    /// The roots the client certificates it checks must chain to (PEM).
    pub client_roots: String,
    /// Its `pg_hba.conf`: who may connect how (the tests' own `psql` uses the socket: keep `local` open).
    pub hba: String,
}

/// The cluster of this test binary.
pub struct PgCluster {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its folder (data, socket, log).
    pub dir: PathBuf,
    /// Closed when this process exits, which stops the cluster.
    _watchdog: std::process::ChildStdin,
}

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

impl PgCluster {
    /// The cluster, started on first use.
    pub fn shared() -> &'static PgCluster {
        CLUSTER.get_or_init(|| PgCluster::start(None))
    }

    /// A cluster of its own (stopped when the test binary exits) with TLS on as `tls` says.
    pub fn with_tls(tls: &ServerTls) -> PgCluster {
        PgCluster::start(Some(tls))
    }

    /// A new empty database, by its URL (`postgres://max@127.0.0.1:PORT/NAME`).
    pub fn database(&self) -> String {
        let name = format!("test_{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// The URL of the database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://max@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in the database `database` with `psql`, returning what it printed (unaligned, tuples
    /// only, `|` between columns).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.run_psql(database, &["-c", sql], sql)
    }

    /// Runs the psql script at `script` (SQL and meta-commands such as `\copy`) in `database`.
    pub fn psql_file(&self, database: &str, script: &Path) -> String {
        let path = script.display().to_string();
        self.run_psql(database, &["-f", &path], &path)
    }

    fn run_psql(&self, database: &str, input: &[&str], what: &str) -> String {
        let psql = Some(bin().join("psql")).filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from("psql"));
        let output = Command::new(psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "max", "-h"])
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", database])
            .args(input)
            .output()
            .expect("psql runs");
        assert!(output.status.success(), "psql {what}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim_end().to_string()
    }

    fn start(tls: Option<&ServerTls>) -> PgCluster {
        let dir = tempfile::Builder::new().prefix("max-pg-").tempdir().expect("a folder for the cluster").keep();
        let root = running_as_root();
        if root {
            let uid = user_id("postgres").expect("a postgres user (Debian's postgresql package makes it)");
            std::os::unix::fs::chown(&dir, Some(uid), None).expect("the cluster's folder given to postgres");
        }
        let data = dir.join("data");
        let as_server = |program: &str| {
            let mut command = if root {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(bin().join(program));
                command
            } else {
                Command::new(bin().join(program))
            };
            command.stdout(Stdio::null()).stderr(Stdio::piped());
            command
        };
        let run = |mut command: Command, what: &str| {
            let output = command.output().unwrap_or_else(|e| panic!("{what}: {e} (is PostgreSQL installed?)"));
            assert!(output.status.success(), "{what}: {}", String::from_utf8_lossy(&output.stderr));
        };
        let mut initdb = as_server("initdb");
        initdb.arg("-D").arg(&data).args(["-U", "max", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"]);
        run(initdb, "initdb");
        let port = free_port();
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            dir.display()
        );
        if let Some(tls) = tls {
            let files = [
                ("server.crt", &tls.cert),
                ("server.key", &tls.key),
                ("client_roots.crt", &tls.client_roots),
                ("pg_hba.conf", &tls.hba),
            ];
            for (name, text) in files {
                let path = data.join(name);
                std::fs::write(&path, text).expect("the cluster's TLS files");
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("private files");
                if root {
                    let uid = user_id("postgres").expect("a postgres user");
                    std::os::unix::fs::chown(&path, Some(uid), None).expect("files given to postgres");
                }
            }
            options.push_str(" -c ssl=on -c ssl_ca_file=client_roots.crt");
        }
        let mut start = as_server("pg_ctl");
        start.arg("-D").arg(&data).arg("-o").arg(&options).arg("-l").arg(dir.join("log")).args(["-w", "start"]);
        run(start, "pg_ctl start");
        let stop = format!(
            "cat >/dev/null; {} {} -D '{}' -m immediate stop >/dev/null 2>&1; rm -rf '{}'",
            if root { "runuser -u postgres --" } else { "" },
            bin().join("pg_ctl").display(),
            data.display(),
            dir.display()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watchdog")
            .stdin
            .take()
            .expect("its standard input");
        PgCluster { port, dir, _watchdog: watchdog }
    }
}

/// The folder of PostgreSQL's programs: `MAX_POSTGRES_BIN`, else where `initdb` is on `PATH`, else
/// Debian's newest `/usr/lib/postgresql/<version>/bin`.
fn bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("MAX_POSTGRES_BIN") {
        return PathBuf::from(dir);
    }
    // Where `initdb` really is: a link on PATH leads to the folder of the other programs.
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("initdb"))
        .find(|initdb| initdb.is_file())
        .and_then(|initdb| Some(std::fs::canonicalize(initdb).ok()?.parent()?.to_path_buf()));
    on_path.or_else(debian_bin).unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn debian_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| Path::new(bin).join("initdb").is_file())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn user_id(name: &str) -> Option<u32> {
    let output = Command::new("id").args(["-u", name]).output().ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}
