//! `max sql`: read-only SQL across the project's installations.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::time::Duration;

use clap::Args;
use max_host::SqlOptions;
use serde_json::Value;

use crate::args::{GlobalArgs, OutputFormat};
use crate::commands::host;
use crate::export::{RowWriter, cell};
use crate::output::{Printer, printable};
use crate::prompt;

/// Run read-only SQL across the project's installations.
///
/// Each installation's tables are read under its name: `linear.Issue`, `hubspot.Contact` (a
/// connector's second installation: `"linear/work".Issue`); a query that names none reads every
/// synced installation, its tables unqualified. Tables are entity types (`max schema linear`),
/// collections are link tables (`linear."Issue.labels"`: parent_id, position, child_id), and rows a
/// sync saw deleted are kept with `_deleted_at` set. Only reading is allowed: writes, ATTACH,
/// transactions and pragmas other than table_info and its kin are refused. `max sql --tables`
/// lists the names.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  max sql \"SELECT s.name, count(*) FROM linear.Issue i JOIN linear.WorkflowState s ON s.id = i.state WHERE i._deleted_at IS NULL GROUP BY 1\"
  max sql \"SELECT c.email, u.name FROM hubspot.Contact c JOIN linear.User u ON u.email = c.email\"
  max sql \"SELECT * FROM github.Repository\" -o csv > repositories.csv
  max sql --tables")]
pub struct SqlCommand {
    /// The query (one SELECT, WITH or describing PRAGMA).
    #[arg(required_unless_present = "tables")]
    query: Option<String>,
    /// Rows returned at most; a query with more says it was cut.
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_rows: u64,
    /// How long the query may run (`30s`, `5m`).
    #[arg(long, default_value = "30s", value_name = "TIME", value_parser = crate::args::parse_duration)]
    timeout: Duration,
    /// List the names each installation's tables are read under, and its tables.
    #[arg(long, conflicts_with = "query")]
    tables: bool,
}

impl SqlCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let Some(query) = self.query.filter(|_| !self.tables) else { return tables(&host, printer) };
        if self.timeout.is_zero() {
            return Err(crate::failure::Failure::new(
                "usage",
                "--timeout 0 would stop every query",
                "give a time: --timeout 30s",
            )
            .into());
        }
        let options = SqlOptions { max_rows: self.max_rows, timeout: self.timeout };
        let format = printer.format();
        let outcome = if format == OutputFormat::Text {
            table(&host, &query, &options, printer)?
        } else {
            stream(&host, &query, &options, format)?
        };
        if outcome.truncated {
            prompt::warn(&format!(
                "stopped at {} rows, the row cap: raise it with --max-rows, or narrow the query (LIMIT, WHERE)",
                outcome.rows
            ));
        }
        Ok(())
    }
}

/// The rows as a table fitted to the terminal.
fn table(
    host: &max_host::Host,
    query: &str,
    options: &SqlOptions,
    printer: &Printer,
) -> anyhow::Result<max_host::SqlOutcome> {
    let mut columns = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let outcome = host.sql_each(query, options, &mut |c| columns = c.to_vec(), &mut |row| {
        rows.push(row.iter().map(|v| printable(&cell(v))).collect());
        ControlFlow::Continue(())
    })?;
    if rows.is_empty() {
        prompt::note(&printer.on_stderr().dim("No rows."));
        return Ok(outcome);
    }
    let fitted = crate::layout::fit(&columns, rows, crate::layout::terminal_width(), true);
    let headers: Vec<&str> = fitted.headers.iter().map(String::as_str).collect();
    printer.text(&printer.table(&headers, &fitted.rows))?;
    let mut shown = format!("{} row{}", outcome.rows, if outcome.rows == 1 { "" } else { "s" });
    if fitted.hidden > 0 {
        shown.push_str(&format!(
            " ({} more column{} left out to fit: -o csv or -o json show them)",
            fitted.hidden,
            if fitted.hidden == 1 { "" } else { "s" }
        ));
    }
    prompt::note(&printer.on_stderr().dim(&shown));
    Ok(outcome)
}

/// The rows as JSON, NDJSON or CSV while they are read.
fn stream(
    host: &max_host::Host,
    query: &str,
    options: &SqlOptions,
    format: OutputFormat,
) -> anyhow::Result<max_host::SqlOutcome> {
    let writer =
        RefCell::new(RowWriter::new(format, std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())));
    let failed: RefCell<Option<std::io::Error>> = RefCell::new(None);
    let outcome = host.sql_each(
        query,
        options,
        &mut |columns| {
            if let Err(error) = writer.borrow_mut().start(None, columns) {
                failed.borrow_mut().get_or_insert(error);
            }
        },
        &mut |row| {
            if failed.borrow().is_some() {
                return ControlFlow::Break(());
            }
            match writer.borrow_mut().row(&row) {
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    failed.borrow_mut().get_or_insert(error);
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    if let Some(error) = failed.into_inner() {
        return Err(error.into());
    }
    writer.into_inner().finish(&[("truncated", Value::from(outcome.truncated))])?;
    Ok(outcome)
}

/// The names installations are read under, and their tables.
fn tables(host: &max_host::Host, printer: &Printer) -> anyhow::Result<()> {
    let mut listed = Vec::new();
    for schema in host.sql_schemas()? {
        let tables: Vec<String> = if schema.synced {
            host.schema(&schema.installation)?.schema.entities.into_iter().map(|e| e.name).collect()
        } else {
            Vec::new()
        };
        listed.push((schema, tables));
    }
    if printer.is_json() {
        let json: Vec<Value> = listed
            .iter()
            .map(|(s, tables)| {
                serde_json::json!({ "name": s.name, "installation": s.installation, "synced": s.synced, "tables": tables })
            })
            .collect();
        return printer.json(&json);
    }
    if listed.is_empty() {
        prompt::note("No installations yet: connect one with `max connect CONNECTOR`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|(schema, tables)| {
            let tables = if schema.synced { tables.join(", ") } else { "(not synced yet)".to_string() };
            vec![sql_name(&schema.name), schema.installation.clone(), tables]
        })
        .collect();
    printer.text(printer.table(&["NAME", "INSTALLATION", "TABLES"], &rows).trim_end())
}

/// A schema name as a query writes it: quoted when it isn't a bare identifier.
fn sql_name(name: &str) -> String {
    let bare = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}
