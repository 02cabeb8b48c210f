//! Owned collections (contract 0.3.0's `owned-collections`): items that belong to their parent are
//! deleted with it, and when the parent's collection is listed anew without them, unless another
//! parent's collection of the same field lists them; in the transaction that stores the change.

use rusqlite::{Connection, params};

use super::schema::{link_table, quote};
use super::sqlite::db_error;
use crate::Result;
use crate::manifest::{ConnectorInfo, FieldType};

/// How deep deletions follow owned collections of owned items.
const MAX_DEPTH: usize = 8;

/// The item type of `entity`'s owned collection `field`, when it is one.
fn owned_item<'a>(info: &'a ConnectorInfo, entity: &str, field: &str) -> Option<&'a str> {
    if !info.schema.owns(entity, field) {
        return None;
    }
    match &info.entity(entity)?.field(field)?.field_type {
        FieldType::Collection(item) => Some(item),
        _ => None,
    }
}

/// The items `parent` of `entity` lists in its collection `field`.
pub(super) fn listed(tx: &Connection, entity: &str, field: &str, parent: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT child_id FROM {} WHERE parent_id = ?1", link_table(entity, field));
    let mut stmt = tx.prepare_cached(&sql).map_err(db_error(tx))?;
    let ids = stmt.query_map([parent], |r| r.get(0)).map_err(db_error(tx))?.collect::<rusqlite::Result<_>>();
    ids.map_err(db_error(tx))
}

/// Marks `ids` of `item` deleted at `at` where no parent's `entity.field` collection lists them any
/// more, and what they own in turn.
fn delete_unlisted(
    tx: &Connection,
    info: &ConnectorInfo,
    (entity, field, item): (&str, &str, &str),
    ids: &[String],
    at: &str,
    depth: usize,
) -> Result<()> {
    let still = format!("SELECT 1 FROM {} WHERE child_id = ?1", link_table(entity, field));
    let delete = format!("UPDATE {} SET _deleted_at = ?1 WHERE id = ?2 AND _deleted_at IS NULL", quote(item));
    for id in ids {
        let listed: bool = tx.prepare_cached(&still).map_err(db_error(tx))?.exists([id]).map_err(db_error(tx))?;
        if !listed && tx.execute(&delete, params![at, id]).map_err(db_error(tx))? > 0 {
            deleted(tx, info, item, id, at, depth + 1)?;
        }
    }
    Ok(())
}

/// `parent` of `entity` was deleted at `at`: the items of its owned collections are deleted too (and
/// the links to them removed), down to [`MAX_DEPTH`] levels.
pub(super) fn deleted(
    tx: &Connection,
    info: &ConnectorInfo,
    entity: &str,
    parent: &str,
    at: &str,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for owned in info.schema.owned.iter().filter(|o| o.entity == entity) {
        let Some(item) = owned_item(info, entity, &owned.field) else { continue };
        let ids = listed(tx, entity, &owned.field, parent)?;
        tx.execute(&format!("DELETE FROM {} WHERE parent_id = ?1", link_table(entity, &owned.field)), [parent])
            .map_err(db_error(tx))?;
        delete_unlisted(tx, info, (entity, &owned.field, item), &ids, at, depth)?;
    }
    Ok(())
}

/// After `parent`'s collection `entity.field` was listed anew (`before` it listed those): the items it
/// no longer lists are deleted, when the collection owns them.
pub(super) fn relisted(
    tx: &Connection,
    info: &ConnectorInfo,
    (entity, field): (&str, &str),
    before: &[String],
    at: &str,
) -> Result<()> {
    let Some(item) = owned_item(info, entity, field) else { return Ok(()) };
    delete_unlisted(tx, info, (entity, field, item), before, at, 0)
}
