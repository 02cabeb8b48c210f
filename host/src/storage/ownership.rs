//! Owned collections (contract 0.3.0's `owned-collections`): items that belong to their parent are
//! deleted with it, and when the parent's collection is listed anew without them (deleted when the
//! listing reaches its last page, so an item on a later page is never deleted in between), unless
//! another parent's collection of the same field lists them; in the transaction that stores the change.
//! A deleted item leaves every other collection that lists it, as one a change feed deletes does.

use rusqlite::{Connection, params};

use super::schema::{link_table, quote};
use super::sqlite::db_error;
use crate::Result;
use crate::manifest::{ConnectorInfo, FieldType};

/// How deep deletions follow owned collections of owned items.
const MAX_DEPTH: usize = 8;

/// The item type of `entity`'s owned collection `field`, when it is one.
pub(super) fn owned_item<'a>(info: &'a ConnectorInfo, entity: &str, field: &str) -> Option<&'a str> {
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
            super::tasks::forget_feeds(tx, item, id)?;
            deleted(tx, info, item, id, at, depth + 1)?;
            // Gone, it leaves the collections that still list it (an issue's labels).
            super::membership::leave_collections(tx, info, item, id)?;
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

/// `parent`'s owned collection `entity.field` is being listed anew from its first page: what it
/// listed until now is remembered, so that what the whole listing leaves out is deleted when it ends
/// ([`end_listing`]). A listing cut off before its end keeps what it remembered for the next one.
pub(super) fn begin_listing(tx: &Connection, (entity, field): (&str, &str), parent: &str) -> Result<()> {
    let sql = format!(
        "INSERT OR IGNORE INTO _max_relisting (collection, parent_id, child_id)
         SELECT ?1, parent_id, child_id FROM {} WHERE parent_id = ?2",
        link_table(entity, field)
    );
    tx.execute(&sql, params![format!("{entity}.{field}"), parent]).map_err(db_error(tx))?;
    Ok(())
}

/// `parent`'s owned collection `entity.field` was listed to its end: the items it listed before
/// ([`begin_listing`]) and no longer lists are deleted.
pub(super) fn end_listing(
    tx: &Connection,
    info: &ConnectorInfo,
    (entity, field): (&str, &str),
    parent: &str,
    at: &str,
) -> Result<()> {
    let Some(item) = owned_item(info, entity, field) else { return Ok(()) };
    let collection = format!("{entity}.{field}");
    let mut stmt = tx
        .prepare_cached("SELECT child_id FROM _max_relisting WHERE collection = ?1 AND parent_id = ?2")
        .map_err(db_error(tx))?;
    let before = stmt
        .query_map(params![collection, parent], |r| r.get::<_, String>(0))
        .map_err(db_error(tx))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error(tx))?;
    tx.execute("DELETE FROM _max_relisting WHERE collection = ?1 AND parent_id = ?2", params![collection, parent])
        .map_err(db_error(tx))?;
    let now: std::collections::HashSet<String> = listed(tx, entity, field, parent)?.into_iter().collect();
    let gone: Vec<String> = before.into_iter().filter(|id| !now.contains(id)).collect();
    delete_unlisted(tx, info, (entity, field, item), &gone, at, 0)
}
