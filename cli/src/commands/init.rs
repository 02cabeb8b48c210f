//! `max init`: creates a project.

use std::path::PathBuf;

use clap::Args;
use max_host::project::{Project, StorageSetting};

use crate::args::GlobalArgs;
use crate::output::Printer;

/// Create a Max project: a `.max/` folder for connectors, installations and their data.
#[derive(Debug, Args)]
#[command(
    after_help = "Data is stored in a SQLite file per installation, or in one PostgreSQL database (a schema per \
installation) that workers on other machines can share.\n\nPostgreSQL URLs take libpq's TLS settings: \
`sslmode` (disable, prefer — the default —, require, verify-ca, verify-full), `sslrootcert` (a PEM file, or `system` \
for the roots browsers trust, with verify-full; verify-ca and verify-full otherwise use ~/.postgresql/root.crt when it exists, else \
those roots) and `sslcert` with `sslkey` for a client certificate. As with psql, prefer and require encrypt without \
checking the server's certificate unless `sslrootcert` is given. A URL without a password takes \
`PGPASSWORD`, else the matching line of ~/.pgpass (or `PGPASSFILE`), as psql does.\n\nExamples:\n  max init\n  max -C ~/work-data init\n  \
max init --storage postgres://max@db.internal:5432/max\n  \
max init --storage 'postgres://max:PASSWORD@db.example.com/max?sslmode=verify-full&sslrootcert=system'"
)]
pub struct InitCommand {
    /// The folder to create the project in (default: `-C DIR`, or the current directory).
    dir: Option<PathBuf>,
    /// Where synced data lives: `sqlite` (the default), or a `postgres://user[:password]@host[:port]/database`
    /// URL (the database must exist; it is checked now).
    #[arg(long, value_name = "sqlite|postgres://…", default_value = "sqlite")]
    storage: String,
}

impl InitCommand {
    /// Runs it.
    pub fn run(self, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<()> {
        let dir = match self.dir.or_else(|| global.project.clone()) {
            Some(dir) => dir,
            None => std::env::current_dir()?,
        };
        let root = std::path::absolute(&dir)?;
        let storage = StorageSetting::parse(&self.storage)?;
        max_host::check_storage(&storage)?;
        let project = Project::init_with(&root, &storage)?;
        if printer.is_json() {
            return printer.json(&serde_json::json!({
                "root": project.root(), "max_dir": project.max_dir(), "storage": storage.describe(),
            }));
        }
        let mut created = format!("Created a Max project in {}", project.max_dir().display());
        if storage != StorageSetting::Sqlite {
            created.push_str(&format!("; its data goes to {}", storage.describe()));
        }
        printer.text(&created)?;
        crate::prompt::note(&printer.on_stderr().dim("Next: max connector install <connector.wasm>"));
        Ok(())
    }
}
