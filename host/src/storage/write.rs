//! Writing synced data: merge-upsert of entity batches (storing some fields never erases the others),
//! collection links, deletions, per-field-set sync metadata; all in the transaction that completes the
//! task they came from.

use std::collections::BTreeMap;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, params, params_from_iter};

use super::fulltext::IndexWriter;
use super::versions::VersionRecorder;
use super::schema::{link_table, quote};
use super::sqlite::{SqliteStorage, db_error};
use super::{membership, tasks, values};
use crate::data::{EntityBatch, EntityRef, FieldValue};
use crate::manifest::{ConnectorInfo, EntityDef, FieldDef, FieldType};
use crate::task::FeedCursor;
use crate::task::{Links, SyncId, Task, TaskOutcome};
use crate::{Error, Result};

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn invalid(entity: &str, id: &str, field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidData {
        entity: entity.to_string(),
        id: id.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

pub(super) fn ensure_rows(storage: &mut SqliteStorage, refs: &[EntityRef]) -> Result<()> {
    let conn = &storage.conn;
    for r in refs {
        let sql = format!("INSERT INTO {} (id) VALUES (?1) ON CONFLICT (id) DO NOTHING", quote(&r.entity));
        let inserted = conn.execute(&sql, [&r.id]).map_err(db_error(conn))?;
        let searchable = storage.info.as_ref().map(|info| info.schema.searchable_fields(&r.entity)).unwrap_or_default();
        if let (1, Some(mut index)) = (inserted, IndexWriter::new(conn, &r.entity, &searchable)?) {
            index.after(&r.id)?;
        }
    }
    Ok(())
}

pub(super) fn ids_of(storage: &SqliteStorage, entity: &str) -> Result<Vec<String>> {
    let conn = &storage.conn;
    let sql = format!("SELECT id FROM {} WHERE _deleted_at IS NULL ORDER BY id", quote(entity));
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error(conn))?;
    let ids = stmt.query_map([], |r| r.get(0)).map_err(db_error(conn))?.collect::<rusqlite::Result<Vec<String>>>();
    ids.map_err(db_error(conn))
}

pub(super) fn collection_holds(
    storage: &SqliteStorage,
    parent: &EntityRef,
    field: &str,
    ids: &[String],
) -> Result<u64> {
    let conn = &storage.conn;
    // One pass over the parent's links (its primary-key range, read once as the IN list), whatever
    // the indexes; each of `ids` counts, repeats too.
    let sql = format!(
        "SELECT COUNT(*) FROM json_each(?2) WHERE value IN (SELECT child_id FROM {} WHERE parent_id = ?1)",
        link_table(&parent.entity, field)
    );
    let ids = serde_json::to_string(ids).expect("ids serialize");
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error(conn))?;
    let held: i64 = stmt.query_row(params![parent.id, ids], |r| r.get(0)).map_err(db_error(conn))?;
    Ok(held as u64)
}

pub(super) fn counts(storage: &SqliteStorage) -> Result<BTreeMap<String, u64>> {
    let conn = &storage.conn;
    let Some(info) = &storage.info else { return Ok(BTreeMap::new()) };
    let mut counts = BTreeMap::new();
    for entity in &info.schema.entities {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE _deleted_at IS NULL", quote(&entity.name));
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(db_error(conn))?;
        counts.insert(entity.name.clone(), n as u64);
    }
    Ok(counts)
}

pub(super) fn complete_task(
    storage: &mut SqliteStorage,
    sync: SyncId,
    task: &Task,
    outcome: TaskOutcome,
) -> Result<BTreeMap<String, u64>> {
    let SqliteStorage { conn, info, .. } = storage;
    let info = info.as_ref().ok_or_else(|| Error::Runtime("the storage has no schema yet".into()))?;
    let tx = conn.savepoint().map_err(|e| super::sqlite::sqlite_error("", e))?;
    let synced_at = now();
    let bulk = super::bulk::active(&tx)?;
    let mut stored = BTreeMap::new();
    for batch in &outcome.batches {
        let n = write_batch(&tx, info, batch, &synced_at, sync, bulk)?;
        *stored.entry(batch.entity.clone()).or_insert(0) += n;
    }
    if let Some(links) = &outcome.links {
        write_links(&tx, info, links, &synced_at)?;
    }
    for deleted in &outcome.deletions {
        super::ownership::deleted(&tx, info, &deleted.entity, &deleted.id, &synced_at, 0)?;
    }
    if outcome.from_change_feed {
        membership::follow(&tx, info, &outcome.batches, &outcome.deletions)?;
    }
    for deleted in &outcome.deletions {
        if info.entity(&deleted.entity).is_none() {
            return Err(invalid(
                &deleted.entity,
                &deleted.id,
                "",
                "the connector reported a deletion of an undeclared entity",
            ));
        }
        let sql = format!("UPDATE {} SET _deleted_at = ?1 WHERE id = ?2", quote(&deleted.entity));
        tx.execute(&sql, params![synced_at, deleted.id]).map_err(db_error(&tx))?;
        tasks::forget_feeds(&tx, &deleted.entity, &deleted.id)?;
    }
    match &outcome.cursor {
        Some(FeedCursor { loader, scope: None, cursor }) => {
            tx.execute(
                "INSERT INTO _max_cursors (loader, cursor, updated_at, sync_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (loader) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
                 sync_id = excluded.sync_id",
                params![loader, cursor, synced_at, sync],
            )
            .map_err(db_error(&tx))?;
        }
        // A scoped feed's cursor, unless its entity was deleted meanwhile (by this very page, say).
        Some(FeedCursor { loader, scope: Some(scope), cursor }) => {
            let sql = format!(
                "INSERT INTO _max_scoped_cursors (loader, entity, parent_id, cursor, updated_at, sync_id)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS
                     (SELECT 1 FROM {} WHERE id = ?3 AND _deleted_at IS NOT NULL)
                 ON CONFLICT (loader, parent_id) DO UPDATE SET cursor = excluded.cursor,
                 updated_at = excluded.updated_at, sync_id = excluded.sync_id",
                quote(&scope.entity)
            );
            tx.execute(&sql, params![loader, scope.entity, scope.id, cursor, synced_at, sync])
                .map_err(db_error(&tx))?;
        }
        None => {}
    }
    tasks::insert_tasks(&tx, sync, &outcome.spawn)?;
    tasks::finish(&tx, task.id)?;
    tx.commit().map_err(|e| super::sqlite::sqlite_error("", e))?;
    Ok(stored)
}

/// Merge-upserts one batch (its sync metadata staged during a bulk load); returns the rows written.
fn write_batch(
    tx: &Connection,
    info: &ConnectorInfo,
    batch: &EntityBatch,
    synced_at: &str,
    sync: SyncId,
    bulk: bool,
) -> Result<u64> {
    let BatchColumns { entity, scalars, collections } = batch_columns(info, batch)?;
    let names: Vec<String> = scalars.iter().map(|(_, f, _)| quote(&f.name)).collect();
    let mut sql = format!("INSERT INTO {} (id", quote(&entity.name));
    for name in &names {
        sql.push_str(", ");
        sql.push_str(name);
    }
    sql.push_str(", _synced_at, _sync_id, _deleted_at) VALUES (?1");
    for i in 0..names.len() + 2 {
        sql.push_str(&format!(", ?{}", i + 2));
    }
    sql.push_str(", NULL) ON CONFLICT (id) DO UPDATE SET ");
    for name in &names {
        sql.push_str(&format!("{name} = excluded.{name}, "));
    }
    sql.push_str("_synced_at = excluded._synced_at, _sync_id = excluded._sync_id, _deleted_at = NULL");
    let field_set = field_set_id(tx, &entity.name, &batch.columns)?;
    let searchable = info.schema.searchable_fields(&entity.name);
    // Each indexed column the batch sets: its position in the index, and in a row's values.
    let text_columns: Vec<(usize, usize)> = scalars
        .iter()
        .enumerate()
        .filter_map(|(at, (_, f, _))| IndexWriter::column_of(&searchable, &f.name).map(|column| (column, at + 1)))
        .collect();
    let mut index = IndexWriter::new(tx, &entity.name, &searchable)?;
    let mut versions = VersionRecorder::new(tx, &entity.name, &batch.columns, &info.schema.versioned)?;
    let mut upsert = tx.prepare_cached(&sql).map_err(db_error(tx))?;
    let mut meta = tx
        .prepare_cached(if bulk {
            "INSERT INTO _max_sync_meta_staged (field_set, id, synced_at, sync_id) VALUES (?1, ?2, ?3, ?4)"
        } else {
            "INSERT INTO _max_sync_meta (field_set, id, synced_at, sync_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (field_set, id) DO UPDATE SET synced_at = excluded.synced_at, sync_id = excluded.sync_id"
        })
        .map_err(db_error(tx))?;
    let mut values: Vec<ToSqlOutput<'_>> = Vec::with_capacity(names.len() + 3);
    for row in &batch.rows {
        if row.id.is_empty() {
            return Err(invalid(&entity.name, "", "id", "a row without an id"));
        }
        if row.values.len() != batch.columns.len() {
            return Err(invalid(
                &entity.name,
                &row.id,
                "",
                format!("{} values for {} columns", row.values.len(), batch.columns.len()),
            ));
        }
        values.clear();
        values.push(ToSqlOutput::Borrowed(ValueRef::Text(row.id.as_bytes())));
        for (index, field, ty) in &scalars {
            let value = values::to_sql(&row.values[*index], ty)
                .map_err(|reason| invalid(&entity.name, &row.id, &field.name, reason))?;
            values.push(value);
        }
        values.push(ToSqlOutput::Borrowed(ValueRef::Text(synced_at.as_bytes())));
        values.push(ToSqlOutput::Owned(Value::Integer(sync)));
        let reindex = match &mut index {
            Some(index) => {
                let text: Vec<(usize, ValueRef<'_>)> =
                    text_columns.iter().map(|&(column, at)| (column, value_ref(&values[at]))).collect();
                index.before(&row.id, &text)?
            }
            None => false,
        };
        upsert.execute(params_from_iter(values.iter())).map_err(db_error(tx))?;
        if let (true, Some(index)) = (reindex, &mut index) {
            index.after(&row.id)?;
        }
        if let Some(versions) = &mut versions {
            versions.record(&entity.name, &row.id)?;
        }
        meta.execute(params![field_set, row.id, synced_at, sync]).map_err(db_error(tx))?;
        for (index, field) in &collections {
            write_links(tx, info, &collection_links(entity, row, *index, field)?, synced_at)?;
        }
    }
    Ok(batch.rows.len() as u64)
}

/// A batch's entity and its columns, split by kind.
pub(super) struct BatchColumns<'a> {
    /// The entity declared.
    pub entity: &'a EntityDef,
    /// The columns stored in the entity's table: position in a row, field, type.
    pub scalars: Vec<(usize, &'a FieldDef, &'a FieldType)>,
    /// The collections, stored as links: position in a row, field.
    pub collections: Vec<(usize, &'a FieldDef)>,
}

/// The columns of `batch`, each a declared field of a declared entity (else refused).
pub(super) fn batch_columns<'a>(info: &'a ConnectorInfo, batch: &EntityBatch) -> Result<BatchColumns<'a>> {
    let entity = info.entity(&batch.entity).ok_or_else(|| {
        invalid(&batch.entity, "", "", format!("`{}` is not an entity this connector declared", batch.entity))
    })?;
    let mut scalars = Vec::new();
    let mut collections = Vec::new();
    for (index, column) in batch.columns.iter().enumerate() {
        let field = entity.field(column).ok_or_else(|| {
            invalid(&entity.name, "", column, format!("{}.{column} is not a declared field", entity.name))
        })?;
        match &field.field_type {
            FieldType::Collection(_) => collections.push((index, field)),
            ty => scalars.push((index, field, ty)),
        }
    }
    Ok(BatchColumns { entity, scalars, collections })
}

/// The links a row's collection (at `index`) sends whole, replacing what was stored.
pub(super) fn collection_links(entity: &EntityDef, row: &crate::data::Row, index: usize, field: &FieldDef) -> Result<Links> {
    let child_ids = match &row.values[index] {
        FieldValue::Collection(ids) => ids.clone(),
        FieldValue::Null => Vec::new(),
        other => {
            let reason = format!("is a collection but the connector sent {other:?}");
            return Err(invalid(&entity.name, &row.id, &field.name, reason));
        }
    };
    let parent = EntityRef { entity: entity.name.clone(), id: row.id.clone() };
    Ok(Links { parent, field: field.name.clone(), position: 0, child_ids, replace: true, complete: true })
}

/// A value about to be bound, as SQLite will read it.
fn value_ref<'a>(value: &'a ToSqlOutput<'a>) -> ValueRef<'a> {
    match value {
        ToSqlOutput::Borrowed(value) => *value,
        ToSqlOutput::Owned(value) => ValueRef::from(value),
        // Not a value the batches bind: compared as different, so the row is indexed again.
        _ => ValueRef::Blob(&[]),
    }
}

/// The id of the set of fields a batch carries (one `_max_sync_meta` row per entity and field set).
fn field_set_id(tx: &Connection, entity: &str, columns: &[String]) -> Result<i64> {
    let mut sorted = columns.to_vec();
    sorted.sort();
    let key = (entity.to_string(), serde_json::to_string(&sorted).expect("field names serialize"));
    tx.execute(
        "INSERT INTO _max_field_sets (entity, fields) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![key.0, key.1],
    )
    .map_err(db_error(tx))?;
    let id: i64 = tx
        .query_row("SELECT id FROM _max_field_sets WHERE entity = ?1 AND fields = ?2", params![key.0, key.1], |r| {
            r.get(0)
        })
        .map_err(db_error(tx))?;
    Ok(id)
}

fn write_links(tx: &Connection, info: &ConnectorInfo, links: &Links, synced_at: &str) -> Result<()> {
    let table = link_table(&links.parent.entity, &links.field);
    let (entity, field) = (links.parent.entity.as_str(), links.field.as_str());
    let owned = info.schema.owns(entity, field);
    if links.replace {
        if owned {
            super::ownership::begin_listing(tx, (entity, field), &links.parent.id)?;
        }
        tx.execute(&format!("DELETE FROM {table} WHERE parent_id = ?1"), [&links.parent.id]).map_err(db_error(tx))?;
    }
    let sql = format!(
        "INSERT INTO {table} (parent_id, position, child_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (parent_id, position) DO UPDATE SET child_id = excluded.child_id"
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(db_error(tx))?;
    for (offset, child) in links.child_ids.iter().enumerate() {
        stmt.execute(params![links.parent.id, (links.position + offset as u64) as i64, child]).map_err(db_error(tx))?;
    }
    if owned && links.complete {
        super::ownership::end_listing(tx, info, (entity, field), &links.parent.id, synced_at)?;
    }
    Ok(())
}
