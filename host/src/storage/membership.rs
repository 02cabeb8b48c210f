//! Keeping collections current from change feeds. A collection page lists a parent's items in full,
//! but a change feed reports single items: an item of a collection whose loader names its parent field
//! is appended to the parent it names (and leaves any other); an item of a root's collection belongs to
//! that root; a deleted item leaves every collection that lists its type, and its own collections
//! are emptied. All within the transaction that stores the changes.

use rusqlite::{Connection, params};

use super::schema::link_table;
use super::sqlite::db_error;
use crate::Result;
use crate::data::{EntityBatch, EntityRef, FieldValue};
use crate::manifest::{ConnectorInfo, FieldType, LoaderKind};

/// Where a change feed's item belongs: the link table of the collection it joins, the item, and the
/// parent that now lists it (none: it leaves every parent of that collection).
pub(super) struct Placement {
    /// The collection's link table, quoted.
    pub table: String,
    /// The item.
    pub child: String,
    /// Its parent now.
    pub owner: Option<String>,
}

/// What `batches` (from a change feed) say of the collections their items belong to: for each
/// collection loader whose items name their parent (or whose parent is a root), each item's place.
pub(super) fn placements(info: &ConnectorInfo, batches: &[EntityBatch]) -> Vec<Placement> {
    let mut placed = Vec::new();
    for loader in &info.loaders {
        let LoaderKind::Collection { parent, field, parent_field, .. } = &loader.kind else { continue };
        let root = info.schema.roots.iter().find(|r| &r.entity == parent).map(|r| r.id.as_str());
        let table = link_table(parent, field);
        for batch in batches.iter().filter(|b| b.entity == loader.entity) {
            let column = parent_field.as_ref().and_then(|pf| batch.columns.iter().position(|c| c == pf));
            if root.is_none() && column.is_none() {
                continue; // this batch doesn't say where its items belong
            }
            for row in &batch.rows {
                let owner = match (root, column) {
                    (Some(root), _) => Some(root.to_string()),
                    (None, Some(index)) => match &row.values[index] {
                        FieldValue::Reference(owner) => Some(owner.clone()),
                        _ => None,
                    },
                    (None, None) => continue,
                };
                placed.push(Placement { table: table.clone(), child: row.id.clone(), owner });
            }
        }
    }
    placed
}

/// Applies what `batches` and `deletions` (from a change feed) mean for the collections.
pub(super) fn follow(
    tx: &Connection,
    info: &ConnectorInfo,
    batches: &[EntityBatch],
    deletions: &[EntityRef],
) -> Result<()> {
    for Placement { table, child, owner } in placements(info, batches) {
        tx.execute(
            &format!("DELETE FROM {table} WHERE child_id = ?1 AND parent_id IS NOT ?2"),
            params![child, owner],
        )
        .map_err(db_error(tx))?;
        if let Some(owner) = owner {
            tx.execute(
                &format!(
                    "INSERT INTO {table} (parent_id, position, child_id)
                     SELECT ?1, COALESCE((SELECT MAX(position) FROM {table} WHERE parent_id = ?1) + 1, 0), ?2
                     WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE parent_id = ?1 AND child_id = ?2)"
                ),
                params![owner, child],
            )
            .map_err(db_error(tx))?;
        }
    }
    for deleted in deletions {
        leave_collections(tx, info, &deleted.entity, &deleted.id)?;
    }
    Ok(())
}

/// A deleted entity leaves every collection that lists its type, and its own collections are emptied.
pub(super) fn leave_collections(tx: &Connection, info: &ConnectorInfo, deleted: &str, id: &str) -> Result<()> {
    for entity in &info.schema.entities {
        for field in &entity.fields {
            let FieldType::Collection(item) = &field.field_type else { continue };
            let table = link_table(&entity.name, &field.name);
            if item == deleted {
                tx.execute(&format!("DELETE FROM {table} WHERE child_id = ?1"), [id]).map_err(db_error(tx))?;
            }
            if entity.name == deleted {
                tx.execute(&format!("DELETE FROM {table} WHERE parent_id = ?1"), [id]).map_err(db_error(tx))?;
            }
        }
    }
    Ok(())
}
