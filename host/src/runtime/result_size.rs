//! How much of the host's memory a call's result takes: every byte it carries (texts, cursors, ids,
//! plans) and, for entity batches, what their rows will cost once decoded. The `result-mib` limit is
//! checked against this before anything is decoded, so a result can't amplify into far more host
//! memory than the limit says (five million empty rows are a few bytes each on the wire and a hundred
//! in memory).

use super::bindings::types as wit;
use super::packed::{ROW_BYTES, VALUE_BYTES, plausible_rows};

/// An entity batch: its buffers, and its rows as decoded.
pub(crate) fn batch(batch: &wit::EntityBatch) -> usize {
    let names = batch.entity.len() + batch.columns.iter().map(|c| c.len() + VALUE_BYTES).sum::<usize>();
    let rows = plausible_rows(batch.row_count, batch.columns.len(), batch.data.len());
    names + batch.data.len() + batch.text.len() + rows * (ROW_BYTES + batch.columns.len() * VALUE_BYTES)
}

fn entity_ref(r: &wit::EntityRef) -> usize {
    r.entity.len() + r.id.len() + ROW_BYTES
}

/// A collection page: its items, the related batches and the cursor.
pub(crate) fn page(page: &wit::Page) -> usize {
    batch(&page.items)
        + page.related.iter().map(batch).sum::<usize>()
        + page.next_cursor.as_ref().map_or(0, String::len)
}

/// A change-feed page: upserts, deletions and the cursor.
pub(crate) fn change_page(page: &wit::ChangePage) -> usize {
    page.upserts.iter().map(batch).sum::<usize>()
        + page.deletions.iter().map(entity_ref).sum::<usize>()
        + page.next_cursor.len()
}

/// A sync plan: every step's target and operation.
pub(crate) fn plan(plan: &wit::SyncPlan) -> usize {
    let step = |s: &wit::Step| {
        let target = match &s.target {
            wit::Target::Root => 0,
            wit::Target::All(entity) => entity.len(),
            wit::Target::One(r) => entity_ref(r),
        };
        let operation = match &s.operation {
            wit::Operation::LoadFields(fields) => fields.iter().map(|f| f.len() + VALUE_BYTES).sum(),
            wit::Operation::LoadCollection(field) => field.len(),
            wit::Operation::FollowChanges(loader) => loader.len(),
        };
        target + operation + ROW_BYTES
    };
    plan.groups.iter().map(|group| group.iter().map(step).sum::<usize>() + VALUE_BYTES).sum()
}

/// A discovered schema extension: every name, type target and description.
pub(crate) fn schema_extension(extension: &super::bindings::discovery::SchemaExtension) -> usize {
    let field = |f: &wit::FieldDef| {
        let target = match &f.type_ {
            wit::FieldType::Ref(t) | wit::FieldType::Collection(t) => t.len(),
            _ => 0,
        };
        f.name.len() + target + f.description.as_ref().map_or(0, String::len) + ROW_BYTES
    };
    extension.entities.iter().map(|e| e.entity.len() + e.fields.iter().map(field).sum::<usize>() + ROW_BYTES).sum()
}
