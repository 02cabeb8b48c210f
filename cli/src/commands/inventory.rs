//! `max schema`, `max ls` and `max status`: what a connector offers, which installations exist, and how
//! their syncs went.

use clap::Args;
use max_host::manifest::FieldType;
use max_host::project::Installation;
use max_host::storage::{SqliteStorage, Storage, SyncRecord};

use crate::args::GlobalArgs;
use crate::commands::project;
use crate::output::Printer;
use max_host::format::thousands;

/// Show a connector's entities, fields, types and relations.
#[derive(Debug, Args)]
pub struct SchemaCommand {
    /// The installed connector.
    connector: String,
}

impl SchemaCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let connector = project(global)?.connectors().get(&self.connector)?;
        let schema = &connector.info.schema;
        if printer.is_json() {
            return printer.json(
                &serde_json::json!({ "connector": connector.name, "version": connector.version, "schema": schema }),
            );
        }
        let mut out = Vec::new();
        for entity in &schema.entities {
            let root = if schema.roots.iter().any(|r| r.entity == entity.name) { "  (root)" } else { "" };
            let description =
                entity.description.as_deref().map(|d| format!("  {}", printer.dim(d))).unwrap_or_default();
            out.push(format!("{}{root}{description}", printer.bold(&entity.name)));
            let mut rows = vec![vec!["id".to_string(), "string".to_string(), String::new(), "Unique id".to_string()]];
            for field in &entity.fields {
                let relation = match &field.field_type {
                    FieldType::Ref(target) => format!("→ {target}"),
                    FieldType::Collection(target) => format!("→ many {target}"),
                    _ => String::new(),
                };
                let kind = match &field.field_type {
                    FieldType::Ref(_) => "ref".to_string(),
                    FieldType::Collection(_) => "collection".to_string(),
                    other => other.to_string(),
                };
                rows.push(vec![field.name.clone(), kind, relation, field.description.clone().unwrap_or_default()]);
            }
            for line in printer.table(&["FIELD", "TYPE", "RELATION", "DESCRIPTION"], &rows).lines() {
                out.push(format!("  {line}"));
            }
            out.push(String::new());
        }
        printer.text(out.join("\n").trim_end())
    }
}

/// List installations with their row counts and last sync.
#[derive(Debug, Args)]
pub struct LsCommand {}

fn open(installation: &Installation) -> Option<SqliteStorage> {
    let path = installation.data_db();
    path.is_file().then(|| SqliteStorage::open_read_only(&path).ok()).flatten()
}

impl LsCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let store = project(global)?.installations();
        let installations = store.list()?;
        super::warn_damaged(&store);
        let mut items = Vec::new();
        for installation in &installations {
            let storage = open(installation);
            let counts = storage.as_ref().map(|s| s.counts()).transpose()?.unwrap_or_default();
            let last = storage.as_ref().map(|s| s.syncs(1)).transpose()?.and_then(|mut s| s.pop());
            items.push((installation, counts, last));
        }
        if printer.is_json() {
            let json: Vec<_> = items
                .iter()
                .map(|(i, counts, last)| {
                    serde_json::json!({
                        "installation": i.label(), "connector": i.file.connector, "name": i.file.name,
                        "data": i.data_db(), "rows": counts, "last_sync": last,
                    })
                })
                .collect();
            return printer.json(&json);
        }
        if items.is_empty() {
            return printer.text("No installations. Connect one with `max connect <connector>`.");
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|(i, counts, last)| {
                vec![
                    i.label(),
                    thousands(counts.values().sum()),
                    last.as_ref().map_or("never".to_string(), describe_sync),
                    i.data_db().display().to_string(),
                ]
            })
            .collect();
        printer.text(&printer.table(&["INSTALLATION", "ROWS", "LAST SYNC", "DATA"], &rows))
    }
}

fn describe_time(t: &max_host::storage::Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn describe_sync(sync: &SyncRecord) -> String {
    format!("{} ({})", sync.started_at.format("%Y-%m-%d %H:%M:%S UTC"), sync.status)
}

/// Show recent syncs and how current each entity type is.
///
/// Per installation: the last syncs (kind, status, rows, requests, failed tasks), when the last
/// complete full and incremental syncs ran, and per entity type its live and deleted rows, the rows
/// the last full sync didn't see again (STALE), and when a row was last written.
#[derive(Debug, Args)]
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
        let store = project(global)?.installations();
        let installations = match &self.target {
            Some(target) => vec![store.find(target)?],
            None => {
                super::warn_damaged(&store);
                store.list()?
            }
        };
        let mut report = Vec::new();
        for installation in &installations {
            let storage = open(installation);
            let syncs = storage.as_ref().map(|s| s.syncs(self.last.max(1))).transpose()?.unwrap_or_default();
            let (last, freshness) = storage.as_ref().map(|s| s.freshness()).transpose()?.unwrap_or_default();
            report.push((installation.label(), syncs, freshness, last));
        }
        if printer.is_json() {
            let json: Vec<_> = report
                .iter()
                .map(|(label, syncs, entities, last)| {
                    serde_json::json!({ "installation": label, "syncs": syncs, "entities": entities, "last_completed": last })
                })
                .collect();
            return printer.json(&json);
        }
        if report.is_empty() {
            return printer.text("No installations. Connect one with `max connect <connector>`.");
        }
        let mut out = Vec::new();
        for (label, syncs, freshness, last) in report {
            out.push(printer.bold(&label));
            if syncs.is_empty() {
                out.push("  never synced".to_string());
                continue;
            }
            let rows: Vec<Vec<String>> = syncs
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
            let when = |t: Option<&_>| match t {
                Some(t) => describe_time(t),
                None => "never".to_string(),
            };
            out.push(String::new());
            out.push(format!(
                "  Last complete full sync: {} · incremental: {}",
                when(last.full.as_ref()),
                when(last.incremental.as_ref())
            ));
            let rows: Vec<Vec<String>> = freshness
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
            if freshness.iter().any(|f| f.stale > 0) {
                out.push(
                    printer
                        .dim("  STALE: rows the last full sync didn't see again; `max sync <c> --full` refreshes them"),
                );
            }
        }
        printer.text(&out.join("\n"))
    }
}
