//! Versioned fields (contract 0.3.0's `field-versions`): when a batch stores fields of a group, the
//! values its version fields hold then are recorded per row (`_max_versions`, in the transaction that
//! stores the row), and a `load-fields` step of the group loads only the rows whose version fields
//! hold other values now, or that have no record.

use std::collections::HashSet;

use rusqlite::Connection;

use super::schema::quote;
use super::sqlite::{SqliteStorage, db_error};
use crate::Result;
use crate::manifest::VersionedFields;

/// The key a group is recorded under: its fields, sorted, as JSON.
pub(super) fn key(group: &VersionedFields) -> String {
    let mut fields = group.fields.clone();
    fields.sort();
    serde_json::to_string(&fields).expect("field names serialize")
}

/// `json_array("v1", "v2")` over a row of the group's entity table aliased `alias`: the version as
/// recorded and compared.
fn basis(group: &VersionedFields, alias: &str) -> String {
    let columns: Vec<String> = group.versions.iter().map(|v| format!("{alias}.{}", quote(v))).collect();
    format!("json_array({})", columns.join(", "))
}

/// Records, for the rows a batch of `entity` stores, the version of each group whose fields it carries.
pub(super) struct VersionRecorder<'c> {
    statements: Vec<rusqlite::CachedStatement<'c>>,
    keys: Vec<String>,
}

impl<'c> VersionRecorder<'c> {
    /// A recorder for a batch of `entity` carrying `columns`, given the schema's `groups` (none when the
    /// batch carries no versioned field).
    pub(super) fn new(
        conn: &'c Connection,
        entity: &str,
        columns: &[String],
        groups: &[VersionedFields],
    ) -> Result<Option<Self>> {
        let mut recorder = VersionRecorder { statements: Vec::new(), keys: Vec::new() };
        for group in groups.iter().filter(|g| g.entity == entity && g.fields.iter().any(|f| columns.contains(f))) {
            let sql = format!(
                "INSERT INTO _max_versions (entity, fields, id, basis) SELECT ?1, ?2, t.id, {} FROM {} AS t \
                 WHERE t.id = ?3 ON CONFLICT (entity, fields, id) DO UPDATE SET basis = excluded.basis",
                basis(group, "t"),
                quote(entity)
            );
            recorder.statements.push(conn.prepare_cached(&sql).map_err(db_error(conn))?);
            recorder.keys.push(key(group));
        }
        Ok((!recorder.statements.is_empty()).then_some(recorder))
    }

    /// Records the version of row `id` of `entity`, as stored now.
    pub(super) fn record(&mut self, entity: &str, id: &str) -> Result<()> {
        for (statement, key) in self.statements.iter_mut().zip(&self.keys) {
            statement.execute(rusqlite::params![entity, key, id]).map_err(|e| super::sqlite::sqlite_error("", e))?;
        }
        Ok(())
    }
}

/// The live rows of the group's entity whose version fields hold other values than when its fields
/// were last stored, or whose fields were never stored.
pub(super) fn changed(storage: &SqliteStorage, group: &VersionedFields) -> Result<HashSet<String>> {
    let conn = &storage.conn;
    let sql = format!(
        "SELECT t.id FROM {} AS t LEFT JOIN _max_versions v ON v.entity = ?1 AND v.fields = ?2 AND v.id = t.id \
         WHERE t._deleted_at IS NULL AND (v.basis IS NULL OR v.basis IS NOT {})",
        quote(&group.entity),
        basis(group, "t")
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error(conn))?;
    stmt.query_map(rusqlite::params![group.entity, key(group)], |r| r.get::<_, String>(0))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))
}
