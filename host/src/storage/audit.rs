//! What `max connector test` checks in the tables a sync stored: a digest of each table's rows (two
//! syncs of the same answers must store the same), and references that point at no stored entity.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::SqliteStorage;
use super::schema::{link_table, quote};
use crate::manifest::{ConnectorInfo, FieldType};
use crate::format::hex;
use crate::{Error, Result};

/// One table's live rows: how many, and a sha256 of them in a stable order (without the columns that
/// say when a row was synced).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableDigest {
    /// Live rows.
    pub rows: u64,
    /// sha256 (hex) of every live row, sorted.
    pub sha256: String,
}

/// A reference (or collection item) to an entity that isn't stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dangling {
    /// `Entity.field`.
    pub field: String,
    /// The entity type it should point at.
    pub target: String,
    /// How many values point nowhere.
    pub count: u64,
    /// One of them.
    pub example: String,
}

fn failed(error: rusqlite::Error) -> Error {
    Error::Runtime(format!("reading the synced tables: {error}"))
}

impl SqliteStorage {
    /// A digest of every entity and link table of `info`'s schema.
    pub fn digests(&self, info: &ConnectorInfo) -> Result<BTreeMap<String, TableDigest>> {
        let mut out = BTreeMap::new();
        for entity in &info.schema.entities {
            let mut columns = vec!["id".to_string()];
            for field in &entity.fields {
                match &field.field_type {
                    FieldType::Collection(_) => {
                        let table = link_table(&entity.name, &field.name);
                        let sql = format!(
                            "SELECT parent_id, child_id, ROW_NUMBER() OVER (PARTITION BY parent_id ORDER BY position) \
                             FROM {table} ORDER BY 1, 3"
                        );
                        out.insert(format!("{}.{}", entity.name, field.name), self.digest(&sql, 3)?);
                    }
                    _ => columns.push(quote(&field.name)),
                }
            }
            let sql = format!(
                "SELECT {} FROM {} WHERE _deleted_at IS NULL ORDER BY id",
                columns.join(", "),
                quote(&entity.name)
            );
            out.insert(entity.name.clone(), self.digest(&sql, columns.len())?);
        }
        Ok(out)
    }

    fn digest(&self, sql: &str, width: usize) -> Result<TableDigest> {
        let exists = self.conn.prepare(sql);
        let Ok(mut statement) = exists else {
            // A table the sync never created (a schema it never got to) holds nothing.
            return Ok(TableDigest { rows: 0, sha256: hex(&Sha256::new().finalize()) });
        };
        let mut hasher = Sha256::new();
        let mut rows = 0u64;
        let mut cursor = statement.query([]).map_err(failed)?;
        while let Some(row) = cursor.next().map_err(failed)? {
            rows += 1;
            for i in 0..width {
                let value: rusqlite::types::Value = row.get(i).map_err(failed)?;
                hasher.update(format!("{value:?}").as_bytes());
                hasher.update([0x1f]);
            }
            hasher.update([0x1e]);
        }
        Ok(TableDigest { rows, sha256: hex(&hasher.finalize()) })
    }

    /// Every reference and collection of `info`'s schema whose values name no stored entity of their
    /// target type.
    pub fn dangling_references(&self, info: &ConnectorInfo) -> Result<Vec<Dangling>> {
        let mut out = Vec::new();
        for entity in &info.schema.entities {
            for field in &entity.fields {
                let (sql, target) = match &field.field_type {
                    FieldType::Ref(target) => (
                        format!(
                            "SELECT COUNT(*), MIN(v) FROM (SELECT {f} AS v FROM {e} WHERE {f} IS NOT NULL \
                             AND _deleted_at IS NULL) WHERE v NOT IN (SELECT id FROM {t})",
                            f = quote(&field.name),
                            e = quote(&entity.name),
                            t = quote(target.as_str())
                        ),
                        target,
                    ),
                    FieldType::Collection(target) => (
                        format!(
                            "SELECT COUNT(*), MIN(child_id) FROM {l} WHERE child_id NOT IN (SELECT id FROM {t})",
                            l = link_table(&entity.name, &field.name),
                            t = quote(target.as_str())
                        ),
                        target,
                    ),
                    _ => continue,
                };
                let Ok(mut statement) = self.conn.prepare(&sql) else { continue };
                let found: Option<(i64, Option<String>)> =
                    statement.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(failed)?;
                if let Some((count, Some(example))) = found
                    && count > 0
                {
                    out.push(Dangling {
                        field: format!("{}.{}", entity.name, field.name),
                        target: target.clone(),
                        count: count as u64,
                        example,
                    });
                }
            }
        }
        Ok(out)
    }
}

