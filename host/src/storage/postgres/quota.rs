//! An installation's `database-mib` on PostgreSQL: the bytes its schema takes on disk (tables,
//! indexes, TOAST), checked in the transaction that completes each task. A task whose rows would
//! plainly not fit is refused before they are written; one that grew the schema past the limit all
//! the same is rolled back, and the space its rows took is given back (`VACUUM`, `REINDEX`).

use tokio_postgres::GenericClient;

use super::connection::failed;
use crate::data::FieldValue;
use crate::storage::schema::quote;
use crate::task::TaskOutcome;
use crate::{Error, Result};

/// The most of one text value counted: longer values may be compressed (TOAST) to less.
const TEXT_COUNTED: u64 = 2048;
/// What a row costs besides its values: the tuple's header and pointer, its id's index entry.
const ROW_OVERHEAD: u64 = 40;

/// The bytes the schema `schema` takes on disk: its tables with their indexes and TOAST.
async fn size(client: &impl GenericClient, schema: &str, place: &str) -> Result<u64> {
    let row = client
        .query_one(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm', 'p')",
            &[&schema],
        )
        .await
        .map_err(failed(place))?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

/// Before `outcome` is written: its size so far, or [`Error::DatabaseFull`] when its rows alone
/// would pass `max_bytes`.
pub(super) async fn room_for(
    client: &impl GenericClient,
    schema: &str,
    max_bytes: u64,
    outcome: &TaskOutcome,
    place: &str,
) -> Result<u64> {
    let before = size(client, schema, place).await?;
    let adding = estimated_bytes(outcome);
    if adding > 0 && before.saturating_add(adding) > max_bytes {
        return Err(Error::DatabaseFull { path: place.to_string() });
    }
    Ok(before)
}

/// After a task's rows were written: [`Error::DatabaseFull`] when they grew the schema from
/// `before` to past `max_bytes`.
pub(super) async fn check_growth(
    client: &impl GenericClient,
    schema: &str,
    max_bytes: u64,
    before: u64,
    place: &str,
) -> Result<()> {
    let after = size(client, schema, place).await?;
    if after > max_bytes && after > before {
        return Err(Error::DatabaseFull { path: place.to_string() });
    }
    Ok(())
}

/// Gives back the space rows rolled back in the schema `schema` took: `VACUUM` removes them and
/// truncates each table's empty end, `REINDEX` rebuilds the indexes they grew (an index file never
/// shrinks by itself). Writes to the schema wait meanwhile; reads don't.
pub(super) async fn give_back_space(client: &impl GenericClient, schema: &str, place: &str) -> Result<()> {
    let tables = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind = 'r'",
            &[&schema],
        )
        .await
        .map_err(failed(place))?;
    let names: Vec<String> =
        tables.iter().map(|row| format!("{}.{}", quote(schema), quote(&row.get::<_, String>(0)))).collect();
    if names.is_empty() {
        return Ok(());
    }
    // Each alone: several statements in one query run as one transaction, where neither may.
    client.batch_execute(&format!("VACUUM {}", names.join(", "))).await.map_err(failed(place))?;
    client.batch_execute(&format!("REINDEX SCHEMA {}", quote(schema))).await.map_err(failed(place))
}

/// About the bytes storing `outcome`'s rows takes at the least.
fn estimated_bytes(outcome: &TaskOutcome) -> u64 {
    let value = |value: &FieldValue| -> u64 {
        match value {
            FieldValue::Null => 0,
            FieldValue::Boolean(_) => 1,
            FieldValue::Integer(_) | FieldValue::Float(_) => 8,
            FieldValue::Text(s) | FieldValue::Datetime(s) | FieldValue::Json(s) | FieldValue::Reference(s) => {
                (s.len() as u64).min(TEXT_COUNTED)
            }
            FieldValue::Collection(ids) => ids.iter().map(|id| id.len() as u64 + ROW_OVERHEAD).sum(),
        }
    };
    let rows = outcome.batches.iter().flat_map(|batch| &batch.rows);
    rows.map(|row| ROW_OVERHEAD + 2 * row.id.len() as u64 + row.values.iter().map(value).sum::<u64>()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{EntityBatch, Row};

    #[test]
    fn rows_are_counted_by_their_values_long_texts_only_in_part() {
        let row = |id: &str, values: Vec<FieldValue>| Row { id: id.into(), values };
        let batch = EntityBatch {
            entity: "Note".into(),
            columns: vec!["body".into(), "size".into()],
            rows: vec![
                row("n1", vec![FieldValue::Text("x".repeat(100)), FieldValue::Integer(3)]),
                row("n2", vec![FieldValue::Text("y".repeat(1 << 20)), FieldValue::Null]),
            ],
        };
        let outcome = TaskOutcome { batches: vec![batch], ..TaskOutcome::default() };
        let expected = (ROW_OVERHEAD + 4 + 100 + 8) + (ROW_OVERHEAD + 4 + TEXT_COUNTED);
        assert_eq!(estimated_bytes(&outcome), expected);
        assert_eq!(estimated_bytes(&TaskOutcome::default()), 0);
    }
}
