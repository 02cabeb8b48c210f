//! `max schema`, `max ls` and `max status`: what a connector offers, which installations exist, and how
//! their syncs went.

use clap::Args;
use max_host::format::thousands;
use max_host::manifest::FieldType;
use max_host::project::Installation;
use max_host::task::SyncRecord;
use max_host::{Host, Progress};

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::daemon::protocol::StatusParams;
use crate::failure::Failure;
use crate::output::{Printer, printable};

/// Show the entities, fields, types and relations of a connector or installation.
#[derive(Debug, Args)]
#[command(after_help = "An installation that has synced shows its tables' schema: fields the connector discovered in \
the account (custom properties) are marked `discovered`, fields no longer there `retired`. Fields \
`max search --match` searches by their words are `searchable`, with how much their matches count (×N).\n\nExamples:\n  max \
schema linear\n  max schema hubspot/sales\n  max schema linear -o json")]
pub struct SchemaCommand {
    /// The installed connector, or one of its installations (`connector/name`).
    connector: String,
}

impl SchemaCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let view = host(global)?.schema(&self.connector)?;
        if printer.is_json() {
            return printer.json(&view);
        }
        let schema = &view.schema;
        let mut out = Vec::new();
        for entity in &schema.entities {
            let root = if schema.roots.iter().any(|r| r.entity == entity.name) { "  (root)" } else { "" };
            let description =
                entity.description.as_deref().map(|d| format!("  {}", printer.dim(d))).unwrap_or_default();
            out.push(format!("{}{root}{description}", printer.bold(&entity.name)));
            let retired: Vec<_> = view.retired.iter().filter(|r| r.entity == entity.name).collect();
            let marked = !retired.is_empty() || entity.fields.iter().any(|f| f.discovered);
            let mut rows = vec![vec!["id".to_string(), "string".to_string(), String::new(), "Unique id".to_string()]];
            for field in &entity.fields {
                let relation = match &field.field_type {
                    FieldType::Ref(target) => format!("→ {target}"),
                    FieldType::Collection(target) => format!("→ many {target}"),
                    _ => String::new(),
                };
                let mut kind = match &field.field_type {
                    FieldType::Ref(_) => "ref".to_string(),
                    FieldType::Collection(_) => "collection".to_string(),
                    other => other.to_string(),
                };
                if let Some(searchable) =
                    schema.searchable.iter().find(|s| s.entity == entity.name && s.field == field.name)
                {
                    kind.push_str(&format!(", searchable ×{}", searchable.weight));
                }
                let mut row = vec![field.name.clone(), kind, relation, field.description.clone().unwrap_or_default()];
                if marked {
                    row.insert(3, if field.discovered { "discovered".to_string() } else { String::new() });
                }
                rows.push(row);
            }
            for field in &retired {
                rows.push(vec![
                    field.field.clone(),
                    field.field_type.clone(),
                    String::new(),
                    "retired".to_string(),
                    String::new(),
                ]);
            }
            let headers: &[&str] = if marked {
                &["FIELD", "TYPE", "RELATION", "ORIGIN", "DESCRIPTION"]
            } else {
                &["FIELD", "TYPE", "RELATION", "DESCRIPTION"]
            };
            if marked {
                rows[0].insert(3, String::new());
            }
            for line in printer.table(headers, &rows).lines() {
                out.push(format!("  {line}"));
            }
            out.push(String::new());
        }
        printer.text(out.join("\n").trim_end())
    }
}

/// List installations with their row counts and last sync.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  max ls\n  max ls -o json")]
pub struct LsCommand {}

impl LsCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let installations = listed(&host, None)?;
        let items: Vec<_> =
            installations.iter().map(|i| (i, host.overview(i).map_err(|e| Failure::of_host(&e)))).collect();
        let unreadable = unreadable(items.iter().map(|(i, overview)| (i.label(), overview.as_ref().err())));
        if printer.is_json() {
            let json: Vec<_> = items
                .iter()
                .map(|(i, overview)| {
                    let mut entry = serde_json::json!({
                        "installation": i.label(), "connector": i.file.connector, "name": i.file.name,
                        "data": host.data_location(i),
                    });
                    match overview {
                        Ok(o) => {
                            entry["rows"] = serde_json::json!(o.rows);
                            entry["last_sync"] = serde_json::json!(o.last_sync);
                        }
                        Err(error) => entry["error"] = error.json(),
                    }
                    entry
                })
                .collect();
            printer.json(&json)?;
            return unreadable;
        }
        if items.is_empty() {
            return printer.text("No installations. Connect one with `max connect <connector>`.");
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|(i, overview)| {
                let (rows, last) = match overview {
                    Ok(o) => {
                        (thousands(o.rows.values().sum()), o.last_sync.as_ref().map_or("never".into(), describe_sync))
                    }
                    Err(error) => ("-".to_string(), problem(error)),
                };
                vec![i.label(), rows, last, host.data_location(i)]
            })
            .collect();
        printer.text(&printer.table(&["INSTALLATION", "ROWS", "LAST SYNC", "DATA"], &rows))?;
        unreadable
    }
}

/// The installations a listing covers: the one `target` names, or all (saying which can't be read).
fn listed(host: &Host, target: Option<&str>) -> anyhow::Result<Vec<Installation>> {
    if let Some(target) = target {
        return Ok(vec![host.installation(target)?]);
    }
    let store = host.project().installations();
    super::warn_damaged(&store);
    Ok(store.list()?)
}

/// One word for what keeps an installation's data from being read.
fn problem(error: &Failure) -> String {
    match error.code.as_ref() {
        "corrupt_database" => "corrupt".to_string(),
        code => format!("unreadable ({code})"),
    }
}

/// Says on stderr, for each installation whose data can't be read, what happened and how to recover;
/// the listing fails when there was one (the others were listed as usual).
fn unreadable<'a>(items: impl Iterator<Item = (String, Option<&'a Failure>)>) -> anyhow::Result<()> {
    let failed: Vec<(String, &Failure)> = items.filter_map(|(label, error)| error.map(|e| (label, e))).collect();
    for (label, error) in &failed {
        let hint = error.hint.as_deref().map(|h| format!("\n  hint: {}", printable(h))).unwrap_or_default();
        crate::prompt::say(&format!("error: {label}: {}{hint}", printable(&error.message)));
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(label, error)] if error.code == "corrupt_database" => Err(Failure::new(
            "corrupt_database",
            format!("the data of {label} can't be read"),
            "see the error above; the other installations are fine",
        )
        .into()),
        _ => Err(Failure::new(
            "unreadable_data",
            format!(
                "the data of {} can't be read",
                failed.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(", ")
            ),
            "see the errors above; the other installations are fine",
        )
        .into()),
    }
}

fn describe_time(t: &max_host::Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn describe_sync(sync: &SyncRecord) -> String {
    format!("{} ({})", sync.started_at.format("%Y-%m-%d %H:%M:%S UTC"), sync.status)
}

/// The workers alive on a PostgreSQL project's database, in a line.
fn describe_workers(workers: &[max_host::WorkerSeen]) -> String {
    if workers.is_empty() {
        return "No workers are running: `max sync` drains its syncs itself (`max worker` starts one)".to_string();
    }
    let listed: Vec<String> = workers.iter().map(|w| printable(&w.owner)).collect();
    let count = workers.len();
    format!("{count} worker{} running: {}", if count == 1 { " is" } else { "s are" }, listed.join(", "))
}

/// What an unfinished sync is doing, in a line.
fn describe_unfinished(progress: &Progress, label: &str) -> String {
    let tasks = format!("{}/{} tasks done", thousands(progress.done), thousands(progress.total));
    if progress.running {
        let by: Vec<String> = progress
            .claims
            .iter()
            .map(|c| format!("{} ({} task{})", printable(&c.owner), c.tasks, if c.tasks == 1 { "" } else { "s" }))
            .collect();
        let by = if by.is_empty() { String::new() } else { format!("; running now in {}", by.join(", ")) };
        format!("Sync #{} is running: {tasks} so far{by}", progress.sync)
    } else {
        format!("Sync #{} stopped before its end ({tasks}); `max sync {label}` resumes it", progress.sync)
    }
}

/// The statuses a daemon read (`status`'s result), the installations it couldn't list said on
/// stderr as a local listing says them.
fn statuses_of(answer: serde_json::Value) -> anyhow::Result<Vec<(String, Result<max_host::Status, Failure>)>> {
    let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
    for damaged in answer["damaged"].as_array().into_iter().flatten() {
        super::warn_left_out(&text(&damaged["installation"]), &text(&damaged["message"]));
    }
    let mut statuses = Vec::new();
    for item in answer["installations"].as_array().into_iter().flatten() {
        let status = match item.get("status") {
            Some(status) => Ok(serde_json::from_value(status.clone())?),
            None => Err(Failure {
                message: text(&item["error"]["message"]),
                hint: item["error"]["hint"].as_str().map(str::to_string),
                code: text(&item["error"]["code"]).into(),
            }),
        };
        statuses.push((text(&item["installation"]), status));
    }
    Ok(statuses)
}

/// Show recent syncs and how current each entity type is.
///
/// Per installation: the last syncs (kind, status, rows, requests, failed tasks), the progress of a
/// sync that is running or was interrupted, when the last complete full and incremental syncs ran,
/// and per entity type its live and deleted rows, the rows the last full sync didn't see again
/// (STALE), and when a row was last written.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  max status\n  max status linear/work --last 20\n  max status -o json")]
pub struct StatusCommand {
    /// Only this installation (`connector` or `connector/name`).
    target: Option<String>,
    /// Syncs shown per installation.
    #[arg(long, default_value_t = 5)]
    last: usize,
}

impl StatusCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let report = match crate::daemon::client::serving(host.project().root(), global.no_daemon) {
            Some((mut client, _)) => {
                let params = StatusParams { target: self.target.clone(), last: self.last };
                statuses_of(client.status(&params)?)?
            }
            None => listed(&host, self.target.as_deref())?
                .iter()
                .map(|i| (i.label(), host.status(i, self.last).map_err(|e| Failure::of_host(&e))))
                .collect(),
        };
        let schedules = crate::commands::schedule::schedules(&host)?;
        let schedule_of = |label: &str| schedules.iter().find(|s| s["installation"] == label).cloned();
        let unreadable = unreadable(report.iter().map(|(label, status)| (label.clone(), status.as_ref().err())));
        if printer.is_json() {
            let json: Vec<_> = report
                .iter()
                .map(|(label, status)| match status {
                    Ok(status) => serde_json::json!({
                        "installation": label, "syncs": status.syncs, "unfinished": status.unfinished,
                        "entities": status.entities, "last_completed": status.last_completed,
                        "schedule": schedule_of(label),
                    }),
                    Err(error) => serde_json::json!({ "installation": label, "error": error.json() }),
                })
                .collect();
            printer.json(&json)?;
            return unreadable;
        }
        if report.is_empty() {
            return printer.text("No installations. Connect one with `max connect <connector>`.");
        }
        let mut out = Vec::new();
        if matches!(host.project().storage()?, max_host::project::StorageSetting::Postgres { .. }) {
            out.push(describe_workers(&host.workers()?));
            out.push(String::new());
        }
        for (label, status) in report {
            out.push(printer.bold(&label));
            if let Some(schedule) = schedule_of(&label) {
                out.push(format!("  {}", crate::commands::schedule::describe(&schedule)));
            }
            let status = match status {
                Ok(status) => status,
                Err(error) => {
                    out.push(format!("  {}: see the error below", problem(&error)));
                    continue;
                }
            };
            if status.syncs.is_empty() {
                out.push("  never synced".to_string());
                continue;
            }
            let rows: Vec<Vec<String>> = status
                .syncs
                .iter()
                .map(|s| {
                    let duration = s.finished_at.map_or("-".to_string(), |end| {
                        format!("{:.1} s", (end - s.started_at).num_milliseconds() as f64 / 1000.0)
                    });
                    vec![
                        format!("#{}", s.id),
                        s.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        duration,
                        if s.full { "full" } else { "incremental" }.to_string(),
                        s.status.to_string(),
                        thousands(s.entities.values().sum()),
                        thousands(s.requests),
                        format!("{}/{}", s.tasks_failed, s.tasks_total),
                    ]
                })
                .collect();
            let table = printer
                .table(&["SYNC", "STARTED (UTC)", "TOOK", "KIND", "STATUS", "ROWS", "REQUESTS", "FAILED TASKS"], &rows);
            out.extend(table.lines().map(|l| format!("  {l}")));
            if let Some(progress) = &status.unfinished {
                out.push(format!("  {}", describe_unfinished(progress, &label)));
            }
            let when = |t: Option<&_>| match t {
                Some(t) => describe_time(t),
                None => "never".to_string(),
            };
            out.push(String::new());
            out.push(format!(
                "  Last complete full sync: {} · incremental: {}",
                when(status.last_completed.full.as_ref()),
                when(status.last_completed.incremental.as_ref())
            ));
            let rows: Vec<Vec<String>> = status
                .entities
                .iter()
                .map(|f| {
                    vec![
                        f.entity.clone(),
                        thousands(f.rows),
                        thousands(f.deleted),
                        thousands(f.stale),
                        f.last_written.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                    ]
                })
                .collect();
            let table = printer.table(&["ENTITY", "ROWS", "DELETED", "STALE", "LAST WRITTEN (UTC)"], &rows);
            out.extend(table.lines().map(|l| format!("  {l}")));
            if status.entities.iter().any(|f| f.stale > 0) {
                out.push(printer.dim(&format!(
                    "  STALE: rows the last full sync didn't see again (deleted upstream, or out of scope); \
                     `max sync {label} --full` refreshes them"
                )));
            }
        }
        printer.text(&out.join("\n"))?;
        unreadable
    }
}
