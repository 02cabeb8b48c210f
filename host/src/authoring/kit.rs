//! `max connector test`: the checks an author runs before publishing a connector.
//!
//! Lint (always): the component loads (its contract and imports), `describe` is valid as an install
//! checks it, and every collection has a loader. `--record DIR` then syncs against the real API once
//! with the settings given, writing every exchange at the host's HTTP boundary to `DIR/cassette.json`
//! (responses with secrets redacted; secrets are attached inside the host and never recorded).
//! `--replay DIR` syncs twice from the cassette with no network and checks the sync completed
//! (types and ids are checked as every sync checks them), that both replays stored the same tables,
//! that references resolve, that no request was missing from the cassette, that no undeclared host
//! was asked for, and reports declared hosts never asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;

use super::build::Scratch;

use crate::http::{
    CASSETTE_FORMAT, Cassette, Exchange, HttpCapability, HttpLimits, Outcome, Tape, authority, host_matches,
};
use crate::manifest::{ConnectorInfo, CredentialInjection, FieldType, OnboardingStep};
use crate::runtime::{InstancePool, InstanceSetup, Limits, LoadedConnector, Runtime, RuntimeConfig};
use crate::storage::{SqliteStorage, TableDigest};
use crate::sync::{SyncContext, SyncOptions, run_sync};
use crate::{Error, Result};

/// What `max connector test` does beyond the lint.
#[derive(Debug, Clone)]
pub enum KitMode {
    /// Only the checks that need no API.
    Lint,
    /// Sync against the real API once, recording into this folder.
    Record(PathBuf),
    /// Sync from the cassette in this folder, twice, with no network.
    Replay(PathBuf),
}

/// What to test and how.
#[derive(Debug, Clone)]
pub struct KitOptions {
    /// The component.
    pub component: PathBuf,
    /// Lint, record or replay.
    pub mode: KitMode,
    /// Onboarding answers, `key=value` (secrets among them when recording); on replay they override
    /// the recorded config.
    pub settings: Vec<(String, String)>,
    /// Where compiled components are cached.
    pub cache_dir: Option<PathBuf>,
}

/// How one check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It doesn't: the test fails.
    Fail,
    /// Worth a look; the test still passes.
    Warn,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (`describe`, `determinism`, …).
    pub name: String,
    /// How it went.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
}

/// The whole report, as `-o json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct KitReport {
    /// The component tested.
    pub component: PathBuf,
    /// Its name and version, when `describe` worked.
    pub connector: Option<String>,
    /// The contract it was built against, when it loaded.
    pub contract: Option<String>,
    /// `lint`, `record` or `replay`.
    pub mode: &'static str,
    /// No check failed.
    pub passed: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Requests the connector made (per sync, on replay).
    pub requests: usize,
    /// What the (first) sync stored: rows and a digest of them per table (two runs that store the
    /// same data have the same digests).
    pub tables: BTreeMap<String, TableDigest>,
    /// The cassette written or read.
    pub cassette: Option<PathBuf>,
}

impl KitReport {
    fn check(&mut self, name: &str, verdict: Verdict, detail: impl Into<String>) {
        if verdict == Verdict::Fail {
            self.passed = false;
        }
        self.checks.push(Check { name: name.to_string(), verdict, detail: detail.into() });
    }

    /// A pass saying `fine` when `found` is empty, else a warning `say`s about them.
    fn warn_unless_empty(&mut self, name: &str, found: &[String], fine: &str, say: impl FnOnce(&str) -> String) {
        match found {
            [] => self.check(name, Verdict::Pass, fine),
            found => self.check(name, Verdict::Warn, say(&found.join(", "))),
        }
    }
}

/// The file a cassette folder holds.
pub const CASSETTE_FILE: &str = "cassette.json";

/// Runs the checks `options` ask for. A connector that fails them gives a report that says so; an
/// error is for what stops the test itself (an unreadable cassette, a missing setting).
pub async fn test(options: &KitOptions) -> Result<KitReport> {
    let mode = match options.mode {
        KitMode::Lint => "lint",
        KitMode::Record(_) => "record",
        KitMode::Replay(_) => "replay",
    };
    let mut report = KitReport {
        component: options.component.clone(),
        connector: None,
        contract: None,
        mode,
        passed: true,
        checks: Vec::new(),
        requests: 0,
        tables: BTreeMap::new(),
        cassette: None,
    };
    let runtime = Runtime::new(RuntimeConfig { cache_dir: options.cache_dir.clone() })?;
    let loaded = match runtime.load_file(&options.component) {
        Ok(loaded) => loaded,
        Err(error) => {
            report.check("component", Verdict::Fail, error.to_string());
            return Ok(report);
        }
    };
    report.contract = Some(loaded.contract().to_string());
    report.check("component", Verdict::Pass, format!("a component of max:connector@{}", loaded.contract()));
    let info = match loaded.describe().await {
        Ok(info) => info,
        Err(error) => {
            report.check("describe", Verdict::Fail, error.to_string());
            return Ok(report);
        }
    };
    report.connector = Some(format!("{} {}", info.name, info.version));
    report.check(
        "describe",
        Verdict::Pass,
        format!(
            "{} entity types, {} loaders, valid as an install checks it",
            info.schema.entities.len(),
            info.loaders.len()
        ),
    );
    lint_collections(&info, &mut report);
    match &options.mode {
        KitMode::Lint => {}
        KitMode::Record(dir) => record(&loaded, &info, options, dir, &mut report).await?,
        KitMode::Replay(dir) => replay(&loaded, &info, options, dir, &mut report).await?,
    }
    Ok(report)
}

/// Every collection field has a loader, else it is filled only by batches that carry it.
fn lint_collections(info: &ConnectorInfo, report: &mut KitReport) {
    let loaded: BTreeSet<(&str, &str)> = info
        .loaders
        .iter()
        .filter_map(|l| match &l.kind {
            crate::manifest::LoaderKind::Collection { parent, field, .. } => Some((parent.as_str(), field.as_str())),
            _ => None,
        })
        .collect();
    let unloaded: Vec<String> = info
        .schema
        .entities
        .iter()
        .flat_map(|e| e.fields.iter().map(move |f| (e, f)))
        .filter(|(e, f)| {
            matches!(f.field_type, FieldType::Collection(_)) && !loaded.contains(&(e.name.as_str(), f.name.as_str()))
        })
        .map(|(e, f)| format!("{}.{}", e.name, f.name))
        .collect();
    report.warn_unless_empty("collections", &unloaded, "every collection has a loader", |fields| {
        format!("no collection loader fills {fields}: only batches that carry them do")
    });
}

/// Key/value pairs.
type Pairs = Vec<(String, String)>;

/// Splits `settings` into config and secrets by the onboarding steps, adding input defaults; an
/// error names required answers missing.
fn answers(info: &ConnectorInfo, settings: &[(String, String)]) -> Result<(Pairs, Pairs)> {
    let mut config = Vec::new();
    let mut secrets = Vec::new();
    let mut missing = Vec::new();
    let given = |key: &str| settings.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    for step in &info.onboarding {
        match step {
            OnboardingStep::Input(input) | OnboardingStep::Secret(input) => {
                let secret = matches!(step, OnboardingStep::Secret(_));
                let shown = input
                    .shown_when
                    .as_ref()
                    .is_none_or(|(key, value)| config.iter().any(|(k, v): &(String, String)| k == key && v == value));
                let value = given(&input.key).or_else(|| input.default_value.clone().filter(|_| !secret));
                match value {
                    Some(value) if secret => secrets.push((input.key.clone(), value)),
                    Some(value) => config.push((input.key.clone(), value)),
                    None if shown && input.required => missing.push(input.key.clone()),
                    None => {}
                }
            }
            OnboardingStep::Select(select) => match given(&select.key) {
                Some(value) => config.push((select.key.clone(), value)),
                None => missing.push(select.key.clone()),
            },
            OnboardingStep::Validate { .. } => {}
        }
    }
    if !missing.is_empty() {
        return Err(Error::TestSetup {
            reason: format!("no value for {}: give each with --set KEY=VALUE", missing.join(", ")),
        });
    }
    Ok((config, secrets))
}

/// One sync through `tape` into a fresh database: what it stored, its failures, and its requests.
struct SyncRun {
    digests: BTreeMap<String, TableDigest>,
    dangling: Vec<crate::storage::Dangling>,
    failures: Vec<String>,
    exchanges: Vec<Exchange>,
    validated: Option<std::result::Result<String, String>>,
}

async fn sync_through(
    loaded: &LoadedConnector,
    info: &ConnectorInfo,
    config: &[(String, String)],
    secrets: Vec<(String, String)>,
    tape: Arc<Tape>,
) -> Result<SyncRun> {
    let base_url = info
        .permissions
        .base_url_key
        .as_ref()
        .and_then(|key| config.iter().find(|(k, _)| k == key))
        .map(|(_, v)| v.clone());
    let secrets: Arc<dyn crate::http::SecretSource> =
        Arc::new(secrets.into_iter().collect::<std::collections::HashMap<_, _>>());
    let http = Arc::new(
        HttpCapability::new(&info.permissions, base_url.as_deref(), secrets, HttpLimits::default())
            .with_tape(tape.clone()),
    );
    let setup = InstanceSetup { config: config.to_vec(), http: http.clone(), limits: Limits::default() };
    let pool = InstancePool::new(&info.name, loaded.clone(), setup, 4);
    let validates = info.onboarding.iter().any(|s| matches!(s, OnboardingStep::Validate { .. }));
    let validated = match validates {
        true => Some(match pool.get().await {
            Ok(mut instance) => instance.validate().await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        }),
        false => None,
    };
    let scratch = Scratch::new()?;
    let storage = SqliteStorage::open(&scratch.path().join("data.db"))?;
    let storage = Arc::new(Mutex::new(storage));
    let context = SyncContext { info: info.clone(), pool, http, storage: storage.clone() };
    let options = SyncOptions { max_age: Duration::ZERO, max_attempts: 3, ..SyncOptions::default() };
    let (failures, digests, dangling) = match run_sync(&context, &options, &crate::sync::Unobserved).await {
        Ok(report) => {
            let storage = storage.lock().expect("storage lock");
            let failures = report.failures.iter().map(|f| format!("{}: {}", f.description, f.error)).collect();
            (failures, storage.digests(info)?, storage.dangling_references(info)?)
        }
        Err(error) => (vec![error.to_string()], BTreeMap::new(), Vec::new()),
    };
    Ok(SyncRun { digests, dangling, failures, exchanges: tape.exchanges(), validated })
}

async fn record(
    loaded: &LoadedConnector,
    info: &ConnectorInfo,
    options: &KitOptions,
    dir: &Path,
    report: &mut KitReport,
) -> Result<()> {
    let (config, secrets) = answers(info, &options.settings)?;
    let run = sync_through(loaded, info, &config, secrets, Arc::new(Tape::recording())).await?;
    let cassette = Cassette {
        format: CASSETTE_FORMAT,
        connector: info.name.clone(),
        version: info.version.clone(),
        config: config.clone(),
        credentials: credential_keys(info),
        exchanges: run.exchanges.clone(),
    };
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let path = dir.join(CASSETTE_FILE);
    let text =
        serde_json::to_string_pretty(&cassette).map_err(|e| Error::Runtime(format!("writing the cassette: {e}")))?;
    std::fs::write(&path, text).map_err(Error::io("write", &path))?;
    report.cassette = Some(path.clone());
    report.check("record", Verdict::Pass, format!("{} exchanges recorded in {}", run.exchanges.len(), path.display()));
    judge(info, &run, &config, report);
    Ok(())
}

async fn replay(
    loaded: &LoadedConnector,
    info: &ConnectorInfo,
    options: &KitOptions,
    dir: &Path,
    report: &mut KitReport,
) -> Result<()> {
    let path = if dir.is_dir() { dir.join(CASSETTE_FILE) } else { dir.to_path_buf() };
    let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
    let cassette: Cassette = serde_json::from_str(&text)
        .map_err(|e| Error::TestSetup { reason: format!("{} is not a cassette Max can read: {e}", path.display()) })?;
    if cassette.format != CASSETTE_FORMAT {
        return Err(Error::TestSetup {
            reason: format!(
                "{} is a cassette of format {}; this Max reads {CASSETTE_FORMAT}",
                path.display(),
                cassette.format
            ),
        });
    }
    report.cassette = Some(path.clone());
    if cassette.connector != info.name {
        report.check(
            "cassette",
            Verdict::Warn,
            format!("recorded with connector `{}`, replayed with `{}`", cassette.connector, info.name),
        );
    }
    let mut config = cassette.config.clone();
    for (key, value) in &options.settings {
        config.retain(|(k, _)| k != key);
        config.push((key.clone(), value.clone()));
    }
    // The secrets were never recorded: placeholders let requests name their credentials.
    let secrets: Vec<(String, String)> =
        credential_keys(info).into_iter().map(|key| (key.clone(), format!("max-replay-placeholder-{key}"))).collect();
    let first = sync_through(loaded, info, &config, secrets.clone(), Arc::new(Tape::replaying(&cassette))).await?;
    let second_tape = Arc::new(Tape::replaying(&cassette));
    let second = sync_through(loaded, info, &config, secrets, second_tape.clone()).await?;
    judge(info, &first, &config, report);
    let missed: BTreeSet<String> =
        missed_requests(&first.exchanges).into_iter().chain(missed_requests(&second.exchanges)).collect();
    if missed.is_empty() {
        report.check("cassette", Verdict::Pass, format!("every request was answered from {}", path.display()));
    } else {
        report.check(
            "cassette",
            Verdict::Fail,
            format!("{} requests are not in the cassette (record again?): {}", missed.len(), excerpt(&missed)),
        );
    }
    if first.failures.is_empty() && first.digests == second.digests {
        report.check("determinism", Verdict::Pass, "two replays stored identical tables");
    } else if first.digests != second.digests {
        let differ: Vec<&String> = first
            .digests
            .keys()
            .chain(second.digests.keys())
            .filter(|t| first.digests.get(*t) != second.digests.get(*t))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        report.check(
            "determinism",
            Verdict::Fail,
            format!(
                "two replays of the same answers stored different {}",
                differ.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    Ok(())
}

/// The checks every sync run gets: validation, completion, references, hosts.
fn judge(info: &ConnectorInfo, run: &SyncRun, config: &[(String, String)], report: &mut KitReport) {
    report.requests = run.exchanges.len();
    report.tables = run.digests.clone();
    match &run.validated {
        Some(Ok(account)) => report.check("validate", Verdict::Pass, format!("validate answered: {account}")),
        Some(Err(error)) => report.check("validate", Verdict::Fail, error.clone()),
        None => {}
    }
    if run.failures.is_empty() {
        let rows: u64 = run.digests.values().map(|d| d.rows).sum();
        report.check(
            "sync",
            Verdict::Pass,
            format!(
                "completed: {rows} rows in {} tables, every value of its declared type, no duplicate ids",
                run.digests.len()
            ),
        );
    } else {
        report.check("sync", Verdict::Fail, format!("{} tasks failed: {}", run.failures.len(), excerpt(&run.failures)));
    }
    if run.dangling.is_empty() {
        report.check("references", Verdict::Pass, "every reference and collection item names a stored entity");
    } else {
        let lines: Vec<String> = run
            .dangling
            .iter()
            .map(|d| format!("{} → {} (e.g. `{}`)", d.field, plural(d.count, "unknown id"), d.example))
            .collect();
        report.check("references", Verdict::Fail, lines.join("; "));
    }
    check_hosts(info, &run.exchanges, config, report);
}

/// Undeclared hosts asked for fail; declared hosts never asked for are reported.
fn check_hosts(info: &ConnectorInfo, exchanges: &[Exchange], config: &[(String, String)], report: &mut KitReport) {
    let denied: BTreeSet<String> = exchanges
        .iter()
        .filter(|e| matches!(&e.outcome, Outcome::Error { kind, .. } if kind == "denied"))
        .map(|e| e.request.line())
        .collect();
    if denied.is_empty() {
        report.check("undeclared hosts", Verdict::Pass, "every request was to a declared host");
    } else {
        report.check("undeclared hosts", Verdict::Fail, format!("refused: {}", excerpt(&denied)));
    }
    // The URLs asked for, judged by the same rule as the grants (`http::host_matches`).
    let asked: Vec<Url> = exchanges.iter().filter_map(|e| Url::parse(&e.request.url).ok()).collect();
    // A declared host the base URL stands in for (its onboarding default) counts when the base URL
    // was asked for.
    let base_url_key = info.permissions.base_url_key.as_deref();
    let default_base = info.onboarding.iter().find_map(|s| match s {
        OnboardingStep::Input(i) if Some(i.key.as_str()) == base_url_key => {
            i.default_value.as_deref().and_then(|url| Url::parse(url).ok())
        }
        _ => None,
    });
    let configured_base = base_url_key
        .and_then(|key| config.iter().find(|(k, _)| k == key))
        .and_then(|(_, v)| Url::parse(v).ok())
        .map(|url| authority(&url));
    let base_asked = configured_base.is_some_and(|base| asked.iter().any(|url| authority(url) == base));
    let unused: Vec<String> = info
        .permissions
        .hosts
        .iter()
        .map(|h| h.host.clone())
        .filter(|declared| {
            let used = asked.iter().any(|url| host_matches(declared, url))
                || (base_asked && default_base.as_ref().is_some_and(|url| host_matches(declared, url)));
            !used
        })
        .collect();
    report.warn_unless_empty("permissions", &unused, "every declared host was asked for", |hosts| {
        format!("declared but never asked for: {hosts} (ask for the fewest hosts the calls need)")
    });
}

fn missed_requests(exchanges: &[Exchange]) -> Vec<String> {
    exchanges
        .iter()
        .filter(|e| matches!(&e.outcome, Outcome::Error { detail, .. } if detail.starts_with("not in the cassette")))
        .map(|e| e.request.line())
        .collect()
}

/// The keys of every secret the connector's credentials use.
fn credential_keys(info: &ConnectorInfo) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for credential in &info.permissions.credentials {
        keys.insert(credential.name.clone());
        if let CredentialInjection::OAuth2(oauth) = &credential.injection {
            keys.insert(oauth.refresh_token_key.clone());
            keys.extend(oauth.client_id_key.clone());
            keys.extend(oauth.client_secret_key.clone());
        }
    }
    keys.into_iter().collect()
}

fn excerpt<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<&String> = items.into_iter().collect();
    let shown: Vec<&str> = items.iter().take(5).map(|s| s.as_str()).collect();
    match items.len() {
        n if n > 5 => format!("{} and {} more", shown.join("; "), n - 5),
        _ => shown.join("; "),
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
