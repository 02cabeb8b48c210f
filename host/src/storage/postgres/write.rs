//! Writing synced data to PostgreSQL, with SQLite's rules (`storage/write.rs`): merge-upsert of
//! entity batches (only the columns a batch carries change), collection links, deletions and what
//! goes with them (owned items, memberships, scoped cursors), sync metadata per field set, cursors,
//! spawned tasks and the task's completion, in one transaction. A batch is one statement: its rows
//! as arrays, one per column, unnested.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::connection::failed;
use super::names::{ident, link_ident};
use super::tasks;
use crate::storage::membership::{Placement, placements};
use crate::storage::ownership::owned_item;
use crate::storage::write::{BatchColumns, batch_columns, collection_links, invalid};
use crate::data::{EntityBatch, EntityRef, FieldValue, normalized_datetime};
use crate::manifest::{ConnectorInfo, FieldType, VersionedFields};
use crate::task::{FeedCursor, Links, SyncId, Task, TaskOutcome};
use crate::Result;

/// How deep deleting an owned item's own owned items goes.
const MAX_DEPTH: usize = 8;

type Param = Box<dyn ToSql + Sync + Send>;

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One column of a batch, typed for its table.
enum Column {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Boolean(Vec<Option<bool>>),
    Json(Vec<Option<serde_json::Value>>),
}

impl Column {
    fn new(ty: &FieldType) -> Column {
        match ty {
            FieldType::Integer => Column::Integer(Vec::new()),
            FieldType::Float => Column::Float(Vec::new()),
            FieldType::Boolean => Column::Boolean(Vec::new()),
            FieldType::Json => Column::Json(Vec::new()),
            _ => Column::Text(Vec::new()),
        }
    }

    /// The array type its values are unnested from.
    fn array_type(&self) -> &'static str {
        match self {
            Column::Text(_) => "text[]",
            Column::Integer(_) => "bigint[]",
            Column::Float(_) => "float8[]",
            Column::Boolean(_) => "boolean[]",
            Column::Json(_) => "jsonb[]",
        }
    }

    /// Adds `value`, which must fit `ty` (the rules of SQLite's `values::to_sql`).
    fn push(&mut self, value: &FieldValue, ty: &FieldType) -> std::result::Result<(), String> {
        let null = matches!(value, FieldValue::Null);
        let wrong = || format!("is declared {ty} but the connector sent {}", crate::storage::values::describe(value));
        match (self, ty, value) {
            (Column::Text(v), _, _) if null => v.push(None),
            (Column::Integer(v), _, _) if null => v.push(None),
            (Column::Float(v), _, _) if null => v.push(None),
            (Column::Boolean(v), _, _) if null => v.push(None),
            (Column::Json(v), _, _) if null => v.push(None),
            (Column::Text(v), FieldType::String, FieldValue::Text(s)) => v.push(Some(s.clone())),
            (Column::Text(v), FieldType::Ref(_), FieldValue::Reference(s) | FieldValue::Text(s)) => v.push(Some(s.clone())),
            (Column::Text(v), FieldType::Datetime, FieldValue::Datetime(s) | FieldValue::Text(s)) => {
                v.push(Some(normalized_datetime(s)?.into_owned()));
            }
            (Column::Integer(v), FieldType::Integer, FieldValue::Integer(i)) => v.push(Some(*i)),
            (Column::Float(v), FieldType::Float, FieldValue::Float(f)) => v.push(Some(*f)),
            (Column::Float(v), FieldType::Float, FieldValue::Integer(i)) => v.push(Some(*i as f64)),
            (Column::Boolean(v), FieldType::Boolean, FieldValue::Boolean(b)) => v.push(Some(*b)),
            (Column::Json(v), FieldType::Json, FieldValue::Json(s) | FieldValue::Text(s)) => {
                let parsed: serde_json::Value =
                    serde_json::from_str(s).map_err(|e| format!("is not valid JSON ({e})"))?;
                v.push(Some(parsed));
            }
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn into_param(self) -> Param {
        match self {
            Column::Text(v) => Box::new(v),
            Column::Integer(v) => Box::new(v),
            Column::Float(v) => Box::new(v),
            Column::Boolean(v) => Box::new(v),
            Column::Json(v) => Box::new(v),
        }
    }
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

pub(super) async fn ensure_rows(tx: &impl GenericClient, refs_: &[EntityRef], place: &str) -> Result<()> {
    let mut by_entity: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in refs_ {
        by_entity.entry(&r.entity).or_default().push(&r.id);
    }
    for (entity, ids) in by_entity {
        let sql =
            format!("INSERT INTO {} (id) SELECT DISTINCT u FROM UNNEST($1::text[]) u ON CONFLICT (id) DO NOTHING", ident(entity));
        tx.execute(&sql, &[&ids]).await.map_err(failed(place))?;
    }
    Ok(())
}

/// Stores `outcome` and completes `task`, in the open transaction `tx`, after checking that `owner`
/// still holds the task's claim.
pub(super) async fn complete_task(
    tx: &impl GenericClient,
    info: &ConnectorInfo,
    sync: SyncId,
    task: &Task,
    outcome: &TaskOutcome,
    owner: &str,
    place: &str,
) -> Result<BTreeMap<String, u64>> {
    tasks::fence(tx, task, owner, place).await?;
    let synced_at = now();
    let mut stored = BTreeMap::new();
    for batch in &outcome.batches {
        let n = write_batch(tx, info, batch, &synced_at, sync, place).await?;
        *stored.entry(batch.entity.clone()).or_insert(0) += n;
    }
    if let Some(links) = &outcome.links {
        write_links(tx, info, links, &synced_at, place).await?;
    }
    for deleted in &outcome.deletions {
        Deletion { tx, info, at: &synced_at, place, pending: Vec::new() }.of(&deleted.entity, &deleted.id).await?;
    }
    if outcome.from_change_feed {
        follow(tx, info, &outcome.batches, &outcome.deletions, place).await?;
    }
    for deleted in &outcome.deletions {
        if info.entity(&deleted.entity).is_none() {
            return Err(invalid(&deleted.entity, &deleted.id, "", "the connector reported a deletion of an undeclared entity"));
        }
        let sql = format!("UPDATE {} SET _deleted_at = $1 WHERE id = $2", ident(&deleted.entity));
        tx.execute(&sql, &[&synced_at, &deleted.id]).await.map_err(failed(place))?;
        tasks::forget_feeds(tx, &deleted.entity, &deleted.id, place).await?;
    }
    match &outcome.cursor {
        Some(FeedCursor { loader, scope: None, cursor }) => {
            tx.execute(
                "INSERT INTO _max_cursors (loader, cursor, updated_at, sync_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (loader) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at,
                 sync_id = excluded.sync_id",
                &[loader, cursor, &synced_at, &sync],
            )
            .await
            .map_err(failed(place))?;
        }
        Some(FeedCursor { loader, scope: Some(scope), cursor }) => {
            let sql = format!(
                "INSERT INTO _max_scoped_cursors (loader, entity, parent_id, cursor, updated_at, sync_id)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS
                     (SELECT 1 FROM {} WHERE id = $3 AND _deleted_at IS NOT NULL)
                 ON CONFLICT (loader, parent_id) DO UPDATE SET cursor = excluded.cursor,
                 updated_at = excluded.updated_at, sync_id = excluded.sync_id",
                ident(&scope.entity)
            );
            tx.execute(&sql, &[loader, &scope.entity, &scope.id, cursor, &synced_at, &sync]).await.map_err(failed(place))?;
        }
        None => {}
    }
    tasks::insert_tasks(tx, sync, &outcome.spawn, place).await?;
    tasks::record_stored(tx, task.id, &stored, place).await?;
    tasks::finish(tx, task.id, place).await?;
    Ok(stored)
}

/// Merge-upserts one batch; returns the rows it carried.
async fn write_batch(
    tx: &impl GenericClient,
    info: &ConnectorInfo,
    batch: &EntityBatch,
    synced_at: &str,
    sync: SyncId,
    place: &str,
) -> Result<u64> {
    let BatchColumns { entity, scalars, collections } = batch_columns(info, batch)?;
    // A row sent twice in one batch is stored as its last copy says, as row-by-row writes would.
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(batch.rows.len());
    for (at, row) in batch.rows.iter().enumerate() {
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
        last.insert(&row.id, at);
    }
    let mut ids: Vec<&str> = Vec::with_capacity(last.len());
    let mut columns: Vec<Column> = scalars.iter().map(|(_, _, ty)| Column::new(ty)).collect();
    for (at, row) in batch.rows.iter().enumerate() {
        if last.get(row.id.as_str()) != Some(&at) {
            continue;
        }
        ids.push(&row.id);
        for ((index, field, ty), column) in scalars.iter().zip(&mut columns) {
            column.push(&row.values[*index], ty).map_err(|reason| invalid(&entity.name, &row.id, &field.name, reason))?;
        }
    }
    if !ids.is_empty() {
        let names: Vec<String> = scalars.iter().map(|(_, f, _)| ident(&f.name)).collect();
        let mut unnest = vec!["$1::text[]".to_string()];
        unnest.extend(columns.iter().enumerate().map(|(i, c)| format!("${}::{}", i + 2, c.array_type())));
        let n = names.len();
        let mut sql = format!("INSERT INTO {} (id", ident(&entity.name));
        for name in &names {
            sql.push_str(&format!(", {name}"));
        }
        sql.push_str(&format!(
            ", _synced_at, _sync_id, _deleted_at) SELECT u.*, ${}, ${}, NULL FROM UNNEST({}) AS u ON CONFLICT (id) DO UPDATE SET ",
            n + 2,
            n + 3,
            unnest.join(", ")
        ));
        for name in &names {
            sql.push_str(&format!("{name} = excluded.{name}, "));
        }
        sql.push_str("_synced_at = excluded._synced_at, _sync_id = excluded._sync_id, _deleted_at = NULL");
        let mut params: Vec<Param> = vec![Box::new(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>())];
        params.extend(columns.into_iter().map(Column::into_param));
        params.push(Box::new(synced_at.to_string()));
        params.push(Box::new(sync));
        tx.execute(&sql, &refs(&params)).await.map_err(failed(place))?;
        for group in info.schema.versioned.iter().filter(|g| g.entity == entity.name && g.fields.iter().any(|f| batch.columns.contains(f))) {
            record_versions(tx, group, &ids, place).await?;
        }
        let field_set = field_set_id(tx, &entity.name, &batch.columns, place).await?;
        tx.execute(
            "INSERT INTO _max_sync_meta (field_set, id, synced_at, sync_id)
             SELECT $1, u, $2, $3 FROM UNNEST($4::text[]) u
             ON CONFLICT (field_set, id) DO UPDATE SET synced_at = excluded.synced_at, sync_id = excluded.sync_id",
            &[&field_set, &synced_at, &sync, &ids],
        )
        .await
        .map_err(failed(place))?;
    }
    for row in &batch.rows {
        for (index, field) in &collections {
            write_links(tx, info, &collection_links(entity, row, *index, field)?, synced_at, place).await?;
        }
    }
    Ok(batch.rows.len() as u64)
}

/// The JSON array of a row's version values (`alias` the entity table's).
fn versions_basis(group: &VersionedFields, alias: &str) -> String {
    let columns: Vec<String> = group.versions.iter().map(|v| format!("{alias}.{}", ident(v))).collect();
    format!("jsonb_build_array({})", columns.join(", "))
}

/// Records, for the rows `ids`, the versions their fields were stored at.
async fn record_versions(tx: &impl GenericClient, group: &VersionedFields, ids: &[&str], place: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO _max_versions (entity, fields, id, basis) SELECT $1, $2, t.id, {} FROM {} AS t
         WHERE t.id = ANY($3::text[]) ON CONFLICT (entity, fields, id) DO UPDATE SET basis = excluded.basis",
        versions_basis(group, "t"),
        ident(&group.entity)
    );
    tx.execute(&sql, &[&group.entity, &crate::storage::versions::key(group), &ids]).await.map_err(failed(place))?;
    Ok(())
}

/// The ids of `group`'s entity whose version fields changed since its fields were stored.
pub(super) async fn versions_changed(
    client: &impl GenericClient,
    group: &VersionedFields,
    place: &str,
) -> Result<std::collections::HashSet<String>> {
    let sql = format!(
        "SELECT t.id FROM {} AS t LEFT JOIN _max_versions v ON v.entity = $1 AND v.fields = $2 AND v.id = t.id
         WHERE t._deleted_at IS NULL AND (v.basis IS NULL OR v.basis IS DISTINCT FROM {})",
        ident(&group.entity),
        versions_basis(group, "t")
    );
    let rows = client.query(&sql, &[&group.entity, &crate::storage::versions::key(group)]).await.map_err(failed(place))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The id of the set of fields a batch carries.
async fn field_set_id(tx: &impl GenericClient, entity: &str, columns: &[String], place: &str) -> Result<i64> {
    let mut sorted = columns.to_vec();
    sorted.sort();
    let fields = serde_json::to_string(&sorted).expect("field names serialize");
    tx.execute("INSERT INTO _max_field_sets (entity, fields) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&entity, &fields])
        .await
        .map_err(failed(place))?;
    let row = tx
        .query_one("SELECT id FROM _max_field_sets WHERE entity = $1 AND fields = $2", &[&entity, &fields])
        .await
        .map_err(failed(place))?;
    Ok(row.get(0))
}

async fn write_links(tx: &impl GenericClient, info: &ConnectorInfo, links: &Links, synced_at: &str, place: &str) -> Result<()> {
    let table = link_ident(&links.parent.entity, &links.field);
    let (entity, field) = (links.parent.entity.as_str(), links.field.as_str());
    let owned = info.schema.owns(entity, field);
    if links.replace {
        if owned {
            let sql = format!(
                "INSERT INTO _max_relisting (collection, parent_id, child_id)
                 SELECT $1, parent_id, child_id FROM {table} WHERE parent_id = $2 ON CONFLICT DO NOTHING"
            );
            tx.execute(&sql, &[&format!("{entity}.{field}"), &links.parent.id]).await.map_err(failed(place))?;
        }
        tx.execute(&format!("DELETE FROM {table} WHERE parent_id = $1"), &[&links.parent.id]).await.map_err(failed(place))?;
    }
    if !links.child_ids.is_empty() {
        let positions: Vec<i64> = (0..links.child_ids.len()).map(|i| (links.position + i as u64) as i64).collect();
        let sql = format!(
            "INSERT INTO {table} (parent_id, position, child_id) SELECT $1, p, c FROM UNNEST($2::bigint[], $3::text[]) AS u(p, c)
             ON CONFLICT (parent_id, position) DO UPDATE SET child_id = excluded.child_id"
        );
        tx.execute(&sql, &[&links.parent.id, &positions, &links.child_ids]).await.map_err(failed(place))?;
    }
    if owned && links.complete {
        let mut deletion = Deletion { tx, info, at: synced_at, place, pending: Vec::new() };
        deletion.unlisted((entity, field), &links.parent.id).await?;
    }
    Ok(())
}

async fn listed(tx: &impl GenericClient, entity: &str, field: &str, parent: &str, place: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT child_id FROM {} WHERE parent_id = $1", link_ident(entity, field));
    Ok(tx.query(&sql, &[&parent]).await.map_err(failed(place))?.iter().map(|r| r.get(0)).collect())
}

/// Deleting what goes with a deletion, in one transaction: an owned collection's items with their
/// parent or when it lists them no more, theirs in turn (to [`MAX_DEPTH`]), and every deleted item out
/// of every collection.
struct Deletion<'a, C> {
    tx: &'a C,
    info: &'a ConnectorInfo,
    at: &'a str,
    place: &'a str,
    /// Items marked deleted whose own owned items and memberships are still to go, with their depth.
    pending: Vec<(String, String, usize)>,
}

impl<C: GenericClient> Deletion<'_, C> {
    /// `entity` `id` is being deleted: its owned collections' items go with it, and theirs.
    async fn of(&mut self, entity: &str, id: &str) -> Result<()> {
        self.release_owned(entity, id, 0).await?;
        self.cascade().await
    }

    /// An owned listing of `parent` ended: what it listed before (`_max_relisting`) and lists no
    /// more is deleted.
    async fn unlisted(&mut self, (entity, field): (&str, &str), parent: &str) -> Result<()> {
        let Some(item) = owned_item(self.info, entity, field) else { return Ok(()) };
        let collection = format!("{entity}.{field}");
        let before: Vec<String> = self
            .tx
            .query(
                "DELETE FROM _max_relisting WHERE collection = $1 AND parent_id = $2 RETURNING child_id",
                &[&collection, &parent],
            )
            .await
            .map_err(failed(self.place))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let now: std::collections::HashSet<String> =
            listed(self.tx, entity, field, parent, self.place).await?.into_iter().collect();
        let gone: Vec<String> = before.into_iter().filter(|id| !now.contains(id)).collect();
        self.mark_unlisted((entity, field, item), &gone, 0).await?;
        self.cascade().await
    }

    /// Clears the owned listings of `entity` `id`, marking deleted the items no listing holds.
    async fn release_owned(&mut self, entity: &str, id: &str, depth: usize) -> Result<()> {
        let info = self.info;
        for owned in info.schema.owned.iter().filter(|o| o.entity == entity) {
            let Some(item) = owned_item(info, entity, &owned.field) else { continue };
            let ids = listed(self.tx, entity, &owned.field, id, self.place).await?;
            let sql = format!("DELETE FROM {} WHERE parent_id = $1", link_ident(entity, &owned.field));
            self.tx.execute(&sql, &[&id]).await.map_err(failed(self.place))?;
            self.mark_unlisted((entity, &owned.field, item), &ids, depth).await?;
        }
        Ok(())
    }

    /// Marks deleted each of `ids` that the owned collection `entity.field` no longer lists anywhere.
    async fn mark_unlisted(&mut self, (entity, field, item): (&str, &str, &str), ids: &[String], depth: usize) -> Result<()> {
        let still = format!("SELECT 1 FROM {} WHERE child_id = $1 LIMIT 1", link_ident(entity, field));
        let delete = format!("UPDATE {} SET _deleted_at = $1 WHERE id = $2 AND _deleted_at IS NULL", ident(item));
        for id in ids {
            let listed = self.tx.query_opt(&still, &[id]).await.map_err(failed(self.place))?.is_some();
            if !listed && self.tx.execute(&delete, &[&self.at, id]).await.map_err(failed(self.place))? > 0 {
                tasks::forget_feeds(self.tx, item, id, self.place).await?;
                self.pending.push((item.to_string(), id.clone(), depth + 1));
            }
        }
        Ok(())
    }

    /// Deletes what the pending items own, and takes each out of every collection.
    async fn cascade(&mut self) -> Result<()> {
        while let Some((entity, id, depth)) = self.pending.pop() {
            if depth <= MAX_DEPTH {
                self.release_owned(&entity, &id, depth).await?;
            }
            leave_collections(self.tx, self.info, &entity, &id, self.place).await?;
        }
        Ok(())
    }
}

/// A change feed's items join the collections their parent field names (leaving others), and
/// deleted ones leave every collection.
async fn follow(
    tx: &impl GenericClient,
    info: &ConnectorInfo,
    batches: &[EntityBatch],
    deletions: &[EntityRef],
    place: &str,
) -> Result<()> {
    for Placement { table, child, owner } in placements(info, batches) {
        let leave = format!("DELETE FROM {table} WHERE child_id = $1 AND parent_id IS DISTINCT FROM $2");
        tx.execute(&leave, &[&child, &owner]).await.map_err(failed(place))?;
        if let Some(owner) = owner {
            let sql = format!(
                "INSERT INTO {table} (parent_id, position, child_id)
                 SELECT $1, COALESCE((SELECT MAX(position) FROM {table} WHERE parent_id = $1) + 1, 0), $2
                 WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE parent_id = $1 AND child_id = $2)"
            );
            tx.execute(&sql, &[&owner, &child]).await.map_err(failed(place))?;
        }
    }
    for deleted in deletions {
        leave_collections(tx, info, &deleted.entity, &deleted.id, place).await?;
    }
    Ok(())
}

/// Takes `deleted` `id` out of every collection, as an item and as a parent.
async fn leave_collections(tx: &impl GenericClient, info: &ConnectorInfo, deleted: &str, id: &str, place: &str) -> Result<()> {
    for entity in &info.schema.entities {
        for field in &entity.fields {
            let FieldType::Collection(item) = &field.field_type else { continue };
            let table = link_ident(&entity.name, &field.name);
            if item == deleted {
                tx.execute(&format!("DELETE FROM {table} WHERE child_id = $1"), &[&id]).await.map_err(failed(place))?;
            }
            if entity.name == deleted {
                tx.execute(&format!("DELETE FROM {table} WHERE parent_id = $1"), &[&id]).await.map_err(failed(place))?;
            }
        }
    }
    Ok(())
}
