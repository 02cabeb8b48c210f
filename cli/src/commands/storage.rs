//! `max storage`: where the project's synced data lives, and moving it elsewhere.

use clap::Args;
use max_host::project::StorageSetting;

use crate::args::GlobalArgs;
use crate::commands::host;
use crate::output::Printer;

/// Show where the project stores its synced data, or store it elsewhere from now on.
///
/// A move neither copies nor deletes anything: each installation's next sync loads everything afresh into
/// the new storage, and what was stored stays where it was (each `data.db`, each schema), read again
/// if the project moves back. Refused while an installation syncs. PostgreSQL URLs take libpq's TLS
/// settings (see `max init --help`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  max storage
  max storage postgres://max@db.internal:5432/max
  max storage 'postgres://max:PASSWORD@db.example.com/max?sslmode=verify-full&sslrootcert=system'
  max storage sqlite")]
pub struct StorageCommand {
    /// Where to store the data from now on: `sqlite`, or a `postgres://` URL (checked now).
    #[arg(value_name = "sqlite|postgres://…")]
    to: Option<String>,
}

impl StorageCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let host = host(global)?;
        let Some(to) = self.to else {
            let storage = host.project().storage()?;
            if printer.is_json() {
                return printer.json(&serde_json::json!({ "storage": storage.describe() }));
            }
            return printer.text(&format!("Synced data is stored in {}.", storage.describe()));
        };
        let change = host.change_storage(&StorageSetting::parse(&to)?)?;
        if printer.is_json() {
            return printer.json(&change);
        }
        if !change.changed {
            return printer.text(&format!("Synced data is already stored in {}.", change.to));
        }
        printer.text(&format!("Synced data is stored in {} from now on (it was in {}).", change.to, change.from))?;
        if !change.afresh.is_empty() {
            printer.text(&format!("Their next sync loads everything afresh: {}.", change.afresh.join(", ")))?;
        }
        if !change.resumed.is_empty() {
            printer
                .text(&format!("Their next sync goes on from what is stored there: {}.", change.resumed.join(", ")))?;
        }
        crate::prompt::note(&printer.on_stderr().dim(&format!(
            "What was stored in {} stays there: `max storage` with it again reads it back.",
            change.from
        )));
        Ok(())
    }
}
