//! Tables: the execution tables, one typed table per entity, one link table per collection field, indexes
//! on references; and schema evolution (new fields add columns, removed fields are kept, a type change
//! is refused unless the caller asks for a rebuild).

use rusqlite::{Connection, OptionalExtension, params};

use super::SchemaReport;
use super::sqlite::db_error;
use crate::manifest::{ConnectorInfo, FieldType};
use crate::{Error, Result};

/// The execution tables, created with every database. `_max_sync_meta` keeps one row per entity row and
/// field set (the columns one batch carried, with its entity, in `_max_field_sets`; keyed by the set's
/// integer id so the key stays short); during a bulk load its rows are appended to
/// `_max_sync_meta_staged` instead and merged when the load ends. The view `_max_field_sync` reads both
/// per field: (entity, id, field, synced_at, sync_id). `_max_scoped_cursors` holds the cursors of
/// change feeds followed per entity, one per entity. `_max_relisting` remembers what an owned
/// collection listed while it is being listed anew, page by page.
const INTERNAL_TABLES: &str = "
CREATE TABLE IF NOT EXISTS _max_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _max_schema (
    entity TEXT NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL, retired INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _max_syncs (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    full INTEGER NOT NULL, tasks_total INTEGER NOT NULL DEFAULT 0, tasks_failed INTEGER NOT NULL DEFAULT 0,
    entities TEXT NOT NULL DEFAULT '{}', requests INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS _max_tasks (
    id INTEGER PRIMARY KEY, sync_id INTEGER NOT NULL, grp INTEGER NOT NULL, parent_id INTEGER,
    spec TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT,
    updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS _max_tasks_claim ON _max_tasks (sync_id, state, grp, id);
CREATE INDEX IF NOT EXISTS _max_tasks_parent ON _max_tasks (parent_id, state);
CREATE TABLE IF NOT EXISTS _max_field_sets (
    id INTEGER PRIMARY KEY, entity TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (entity, fields));
CREATE TABLE IF NOT EXISTS _max_sync_meta (
    field_set INTEGER NOT NULL, id TEXT NOT NULL, synced_at TEXT NOT NULL, sync_id INTEGER NOT NULL,
    PRIMARY KEY (field_set, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _max_sync_meta_staged (
    field_set INTEGER NOT NULL, id TEXT NOT NULL, synced_at TEXT NOT NULL, sync_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _max_versions (
    entity TEXT NOT NULL, fields TEXT NOT NULL, id TEXT NOT NULL, basis TEXT NOT NULL,
    PRIMARY KEY (entity, fields, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _max_cursors (
    loader TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL, sync_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _max_scoped_cursors (
    loader TEXT NOT NULL, entity TEXT NOT NULL, parent_id TEXT NOT NULL, cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL, sync_id INTEGER NOT NULL, PRIMARY KEY (loader, parent_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _max_scoped_cursors_parent ON _max_scoped_cursors (entity, parent_id);
CREATE TABLE IF NOT EXISTS _max_relisting (
    collection TEXT NOT NULL, parent_id TEXT NOT NULL, child_id TEXT NOT NULL,
    PRIMARY KEY (collection, parent_id, child_id)) WITHOUT ROWID;
";

/// The per-field view of the sync metadata, staged rows included.
const FIELD_SYNC_VIEW: &str = "CREATE VIEW _max_field_sync AS
    SELECT s.entity AS entity, m.id AS id, f.value AS field, m.synced_at AS synced_at, m.sync_id AS sync_id
    FROM (SELECT * FROM _max_sync_meta UNION ALL SELECT * FROM _max_sync_meta_staged) m
    JOIN _max_field_sets s ON s.id = m.field_set, json_each(s.fields) f";

/// Columns every entity table has besides its fields.
pub(super) const BOOKKEEPING_COLUMNS: &str = "_synced_at TEXT, _sync_id INTEGER, _deleted_at TEXT";

pub(super) fn create_internal_tables(conn: &Connection) -> Result<()> {
    conn.execute_batch(INTERNAL_TABLES).map_err(db_error(conn))?;
    // Created, or replaced when an older Max wrote another definition; left alone otherwise (changing
    // the schema on every open would make every reader prepare its statements again).
    let view: Option<String> = conn
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = '_max_field_sync'", [], |r| r.get(0))
        .optional()
        .map_err(db_error(conn))?;
    if view.as_deref() != Some(FIELD_SYNC_VIEW) {
        let sql = format!("DROP VIEW IF EXISTS _max_field_sync; {FIELD_SYNC_VIEW};");
        conn.execute_batch(&sql).map_err(db_error(conn))?;
    }
    Ok(())
}

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The link table of a collection field: `"Entity.field"`.
pub(crate) fn link_table(entity: &str, field: &str) -> String {
    quote(&format!("{entity}.{field}"))
}

/// The SQLite column type of a field (collections have no column).
pub(crate) fn column_type(ty: &FieldType) -> Option<&'static str> {
    match ty {
        FieldType::String | FieldType::Datetime | FieldType::Json | FieldType::Ref(_) => Some("TEXT"),
        FieldType::Integer | FieldType::Boolean => Some("INTEGER"),
        FieldType::Float => Some("REAL"),
        FieldType::Collection(_) => None,
    }
}

/// The connector description stored with the data (so readers know the field types).
/// Whether the database has the sync tables every Max database gets when it is created.
pub(super) fn has_internal_tables(conn: &Connection) -> Result<bool> {
    let found = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_max_syncs'", [], |_| Ok(true))
        .optional()
        .map_err(db_error(conn))?;
    Ok(found.unwrap_or(false))
}

pub(super) fn stored_info(conn: &Connection) -> Result<Option<ConnectorInfo>> {
    let exists: bool = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_max_info'", [], |_| Ok(true))
        .optional()
        .map_err(db_error(conn))?
        .unwrap_or(false);
    if !exists {
        return Ok(None);
    }
    let text: Option<String> = conn
        .query_row("SELECT value FROM _max_info WHERE key = 'connector'", [], |r| r.get(0))
        .optional()
        .map_err(db_error(conn))?;
    match text {
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| Error::Storage {
            path: conn.path().unwrap_or_default().to_string(),
            message: format!("damaged _max_info: {e}"),
        }),
        None => Ok(None),
    }
}

fn stored_type(conn: &Connection, entity: &str, field: &str) -> Result<Option<String>> {
    conn.query_row("SELECT type FROM _max_schema WHERE entity = ?1 AND field = ?2", params![entity, field], |r| {
        r.get(0)
    })
    .optional()
    .map_err(db_error(conn))
}

/// The names of every table, read once: looking each one up in `sqlite_master` (which has no index on
/// names) would make a schema of many entity types quadratic.
fn table_names(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").map_err(db_error(conn))?;
    let names = stmt.query_map([], |r| r.get(0)).map_err(db_error(conn))?.collect::<rusqlite::Result<_>>();
    names.map_err(db_error(conn))
}

/// Fields retired from the schema (their columns kept), by entity and name.
pub(super) fn retired_fields(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    let mut stmt = conn
        .prepare("SELECT entity, field, type FROM _max_schema WHERE retired = 1 ORDER BY entity, field")
        .map_err(db_error(conn))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(db_error(conn))?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_error(conn))
}

/// Brings the tables in line with `info`.
pub(super) fn apply(conn: &mut Connection, info: &ConnectorInfo, rebuild: bool) -> Result<SchemaReport> {
    let tx = conn.savepoint().map_err(|e| super::sqlite::sqlite_error("", e))?;
    let mut report = SchemaReport::default();
    let tables = table_names(&tx)?;
    for entity in &info.schema.entities {
        let mut conflicts = Vec::new();
        for field in &entity.fields {
            if let Some(stored) = stored_type(&tx, &entity.name, &field.name)?
                && stored != field.field_type.to_string()
            {
                conflicts.push((field.name.clone(), stored, field.field_type.to_string()));
            }
        }
        if let Some((field, stored, declared)) = conflicts.first() {
            if !rebuild {
                return Err(Error::SchemaConflict {
                    entity: entity.name.clone(),
                    field: field.clone(),
                    stored: stored.clone(),
                    declared: declared.clone(),
                });
            }
            drop_entity(&tx, &entity.name)?;
            report.rebuilt.push(entity.name.clone());
        }
        if report.rebuilt.contains(&entity.name) || !tables.contains(&entity.name) {
            let columns: Vec<String> = entity
                .fields
                .iter()
                .filter_map(|f| column_type(&f.field_type).map(|t| format!("{} {t}", quote(&f.name))))
                .collect();
            let key = if info.schema.searchable_fields(&entity.name).is_empty() {
                "id TEXT PRIMARY KEY NOT NULL".to_string()
            } else {
                super::fulltext::key_columns()
            };
            let mut sql = format!("CREATE TABLE {} ({key}", quote(&entity.name));
            for column in &columns {
                sql.push_str(", ");
                sql.push_str(column);
            }
            // A rowid table: measured faster than WITHOUT ROWID for these wide rows (see BENCHMARKS.md).
            sql.push_str(&format!(", {BOOKKEEPING_COLUMNS})"));
            tx.execute_batch(&sql).map_err(db_error(&tx))?;
            if !report.rebuilt.contains(&entity.name) {
                report.created.push(entity.name.clone());
            }
        } else {
            for field in &entity.fields {
                let known = stored_type(&tx, &entity.name, &field.name)?.is_some();
                if let (false, Some(ty)) = (known, column_type(&field.field_type)) {
                    let sql = format!("ALTER TABLE {} ADD COLUMN {} {ty}", quote(&entity.name), quote(&field.name));
                    tx.execute_batch(&sql).map_err(db_error(&tx))?;
                    report.added.push(format!("{}.{}", entity.name, field.name));
                }
            }
        }
        for field in &entity.fields {
            if let FieldType::Collection(_) = &field.field_type {
                let table = link_table(&entity.name, &field.name);
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {table} (parent_id TEXT NOT NULL, position INTEGER NOT NULL, \
                     child_id TEXT NOT NULL, PRIMARY KEY (parent_id, position)) WITHOUT ROWID"
                );
                tx.execute_batch(&sql).map_err(db_error(&tx))?;
            }
            tx.execute(
                "INSERT INTO _max_schema (entity, field, type, retired) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (entity, field) DO UPDATE SET type = excluded.type, retired = 0",
                params![entity.name, field.name, field.field_type.to_string()],
            )
            .map_err(db_error(&tx))?;
        }
        let declared: Vec<&str> = entity.fields.iter().map(|f| f.name.as_str()).collect();
        let mut stmt =
            tx.prepare("SELECT field FROM _max_schema WHERE entity = ?1 AND retired = 0").map_err(db_error(&tx))?;
        let stored: Vec<String> = stmt
            .query_map([&entity.name], |r| r.get(0))
            .map_err(db_error(&tx))?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_error(&tx))?;
        drop(stmt);
        for field in stored.into_iter().filter(|f| !declared.contains(&f.as_str())) {
            tx.execute(
                "UPDATE _max_schema SET retired = 1 WHERE entity = ?1 AND field = ?2",
                params![entity.name, field],
            )
            .map_err(db_error(&tx))?;
            report.retired.push(format!("{}.{field}", entity.name));
        }
        if super::fulltext::apply(&tx, &entity.name, &info.schema.searchable_fields(&entity.name))? {
            report.indexed.push(entity.name.clone());
        }
    }
    // A bulk load in progress builds them when it ends.
    if !super::bulk::active(&tx)? {
        create_indexes(&tx, info)?;
    }
    let text = serde_json::to_string(info).expect("connector info serializes");
    tx.execute("INSERT OR REPLACE INTO _max_info (key, value) VALUES ('connector', ?1)", [text])
        .map_err(db_error(&tx))?;
    tx.commit().map_err(|e| super::sqlite::sqlite_error("", e))?;
    Ok(report)
}

/// The secondary indexes of `info`'s tables: one per reference column, one on the children of each
/// link table; each as its name (`idx:…`, a prefix nothing else uses), its table and its column,
/// unquoted (each backend quotes them as it names them).
pub(super) fn secondary_indexes(info: &ConnectorInfo) -> Vec<(String, String, String)> {
    let mut indexes = Vec::new();
    for entity in &info.schema.entities {
        for field in &entity.fields {
            match &field.field_type {
                FieldType::Ref(_) => indexes.push((
                    format!("idx:{}.{}", entity.name, field.name),
                    entity.name.clone(),
                    field.name.clone(),
                )),
                FieldType::Collection(_) => indexes.push((
                    format!("idx:{}.{}.child", entity.name, field.name),
                    format!("{}.{}", entity.name, field.name),
                    "child_id".to_string(),
                )),
                _ => {}
            }
        }
    }
    indexes
}

/// Creates every secondary index of `info`'s tables that is missing.
pub(super) fn create_indexes(conn: &Connection, info: &ConnectorInfo) -> Result<()> {
    for (name, table, column) in secondary_indexes(info) {
        let sql = format!("CREATE INDEX IF NOT EXISTS {} ON {} ({})", quote(&name), quote(&table), quote(&column));
        conn.execute_batch(&sql).map_err(db_error(conn))?;
    }
    Ok(())
}

/// Drops every secondary index of the entity and link tables (whatever schema created them).
pub(super) fn drop_indexes(conn: &Connection) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx:%'")
        .map_err(db_error(conn))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))?;
    drop(stmt);
    for name in names {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {}", quote(&name))).map_err(db_error(conn))?;
    }
    Ok(())
}

fn drop_entity(conn: &Connection, entity: &str) -> Result<()> {
    let mut stmt = conn
        .prepare("SELECT field FROM _max_schema WHERE entity = ?1 AND type LIKE 'collection(%'")
        .map_err(db_error(conn))?;
    let collections: Vec<String> = stmt
        .query_map([entity], |r| r.get(0))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))?;
    for field in collections {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", link_table(entity, &field))).map_err(db_error(conn))?;
    }
    super::fulltext::drop_index(conn, entity)?;
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(entity))).map_err(db_error(conn))?;
    conn.execute("DELETE FROM _max_schema WHERE entity = ?1", [entity]).map_err(db_error(conn))?;
    conn.execute("DELETE FROM _max_versions WHERE entity = ?1", [entity]).map_err(db_error(conn))?;
    for meta in ["_max_sync_meta", "_max_sync_meta_staged"] {
        conn.execute(
            &format!("DELETE FROM {meta} WHERE field_set IN (SELECT id FROM _max_field_sets WHERE entity = ?1)"),
            [entity],
        )
        .map_err(db_error(conn))?;
    }
    Ok(())
}
