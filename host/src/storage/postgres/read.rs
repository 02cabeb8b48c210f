//! Reading what an installation stored in PostgreSQL, for the executor and for status: ids, counts,
//! how current each entity type is, which rows a recent sync wrote.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::connection::failed;
use super::names::{ident, link_ident};
use crate::Result;
use crate::data::EntityRef;
use crate::manifest::ConnectorInfo;
use crate::storage::{Freshness, LastSyncs};

fn parse(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

pub(super) async fn ids_of(client: &impl GenericClient, entity: &str, place: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT id FROM {} WHERE _deleted_at IS NULL ORDER BY id COLLATE \"C\"", ident(entity));
    Ok(client.query(&sql, &[]).await.map_err(failed(place))?.iter().map(|r| r.get(0)).collect())
}

pub(super) async fn collection_holds(
    client: &impl GenericClient,
    parent: &EntityRef,
    field: &str,
    ids: &[String],
    place: &str,
) -> Result<u64> {
    let sql = format!(
        "SELECT COUNT(*) FROM UNNEST($2::text[]) AS u(v) WHERE v IN (SELECT child_id FROM {} WHERE parent_id = $1)",
        link_ident(&parent.entity, field)
    );
    let row = client.query_one(&sql, &[&parent.id, &ids]).await.map_err(failed(place))?;
    Ok(row.get::<_, i64>(0) as u64)
}

pub(super) async fn counts(client: &impl GenericClient, info: Option<&ConnectorInfo>, place: &str) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for entity in info.iter().flat_map(|info| &info.schema.entities) {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE _deleted_at IS NULL", ident(&entity.name));
        let row = client.query_one(&sql, &[]).await.map_err(failed(place))?;
        counts.insert(entity.name.clone(), row.get::<_, i64>(0) as u64);
    }
    Ok(counts)
}

async fn last_syncs(client: &impl GenericClient, place: &str) -> Result<LastSyncs> {
    let mut last = LastSyncs::default();
    for full in [true, false] {
        let started = client
            .query_opt(
                "SELECT started_at FROM _max_syncs WHERE status = 'completed' AND \"full\" = $1 ORDER BY id DESC LIMIT 1",
                &[&full],
            )
            .await
            .map_err(failed(place))?
            .map(|r| r.get(0));
        *(if full { &mut last.full } else { &mut last.incremental }) = parse(started);
    }
    Ok(last)
}

pub(super) async fn freshness(
    client: &impl GenericClient,
    info: Option<&ConnectorInfo>,
    place: &str,
) -> Result<(LastSyncs, Vec<Freshness>)> {
    let last = last_syncs(client, place).await?;
    let Some(info) = info else { return Ok((last, Vec::new())) };
    let full_started = last.full.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut out = Vec::new();
    for entity in &info.schema.entities {
        let sql = format!(
            "SELECT COUNT(*) FILTER (WHERE _deleted_at IS NULL), COUNT(*) FILTER (WHERE _deleted_at IS NOT NULL),
                    COUNT(*) FILTER (WHERE _deleted_at IS NULL AND $1::text IS NOT NULL
                                     AND (_synced_at IS NULL OR _synced_at < $1::text) AND id <> ALL($2::text[])),
                    MAX(_synced_at COLLATE \"C\")
             FROM {}",
            ident(&entity.name)
        );
        // A declared root exists because the schema says so, whether or not a sync writes it: never stale.
        let roots: Vec<&str> = info.schema.roots.iter().filter(|r| r.entity == entity.name).map(|r| r.id.as_str()).collect();
        let row = client.query_one(&sql, &[&full_started, &roots]).await.map_err(failed(place))?;
        out.push(Freshness {
            entity: entity.name.clone(),
            rows: row.get::<_, i64>(0) as u64,
            deleted: row.get::<_, i64>(1) as u64,
            stale: row.get::<_, i64>(2) as u64,
            last_written: parse(row.get(3)),
        });
    }
    Ok((last, out))
}

pub(super) async fn recently_synced(
    client: &impl GenericClient,
    entity: &str,
    fields: &[String],
    since: &str,
    place: &str,
) -> Result<HashSet<String>> {
    let wanted = serde_json::to_value(fields).expect("field names serialize");
    // A row is fresh when one field set holding every wanted field was written for it since then.
    let rows = client
        .query(
            "SELECT DISTINCT m.id FROM _max_sync_meta m JOIN _max_field_sets s ON s.id = m.field_set
             WHERE s.entity = $1 AND m.synced_at >= $2 AND s.fields::jsonb @> $3::jsonb",
            &[&entity, &since, &wanted],
        )
        .await
        .map_err(failed(place))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
