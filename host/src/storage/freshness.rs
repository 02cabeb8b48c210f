//! How current each entity type's rows are, for `max status`: live and deleted rows, when rows were
//! last written, and how many live rows the last completed full sync did not see again (deleted
//! upstream in a way the API doesn't report, or out of the synced scope now). And which rows' fields
//! are young enough that an incremental sync need not load them again.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::schema::quote;
use super::sqlite::{SqliteStorage, db_error};
use crate::Result;

/// A moment, in UTC.
pub type Timestamp = DateTime<Utc>;

/// One entity type's freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    /// The entity type.
    pub entity: String,
    /// Rows not marked deleted.
    pub rows: u64,
    /// Rows marked deleted (the API reported them deleted or archived).
    pub deleted: u64,
    /// Live rows the last completed full sync didn't write (0 when there was none); declared roots never count.
    pub stale: u64,
    /// When a row of this type was last written.
    pub last_written: Option<DateTime<Utc>>,
}

/// When the last completed full and incremental syncs started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastSyncs {
    /// The last completed full sync.
    pub full: Option<DateTime<Utc>>,
    /// The last completed incremental sync.
    pub incremental: Option<DateTime<Utc>>,
}

fn parse(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

fn last_syncs(storage: &SqliteStorage) -> Result<LastSyncs> {
    let conn = &storage.conn;
    let started = |full: bool| -> Result<Option<String>> {
        conn.query_row(
            "SELECT started_at FROM _max_syncs WHERE status = 'completed' AND full = ?1 ORDER BY id DESC LIMIT 1",
            [full],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error(conn))
    };
    Ok(LastSyncs { full: parse(started(true)?), incremental: parse(started(false)?) })
}

pub(super) fn freshness(storage: &SqliteStorage) -> Result<(LastSyncs, Vec<Freshness>)> {
    let conn = &storage.conn;
    let last = last_syncs(storage)?;
    let Some(info) = &storage.info else { return Ok((last, Vec::new())) };
    let full_started = last.full.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut out = Vec::new();
    for entity in &info.schema.entities {
        let sql = format!(
            "SELECT COUNT(*) FILTER (WHERE _deleted_at IS NULL), COUNT(*) FILTER (WHERE _deleted_at IS NOT NULL),
                    COUNT(*) FILTER (WHERE _deleted_at IS NULL AND ?1 IS NOT NULL AND (_synced_at IS NULL OR _synced_at < ?1)
                                     AND id NOT IN (SELECT value FROM json_each(?2))),
                    MAX(_synced_at)
             FROM {}",
            quote(&entity.name)
        );
        // A declared root exists because the schema says so, whether or not a sync writes it: never stale.
        let roots: Vec<&str> =
            info.schema.roots.iter().filter(|r| r.entity == entity.name).map(|r| r.id.as_str()).collect();
        let roots = serde_json::to_string(&roots).expect("ids serialize");
        let (rows, deleted, stale, last): (i64, i64, i64, Option<String>) = conn
            .query_row(&sql, rusqlite::params![full_started, roots], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(db_error(conn))?;
        out.push(Freshness {
            entity: entity.name.clone(),
            rows: rows as u64,
            deleted: deleted as u64,
            stale: stale as u64,
            last_written: parse(last),
        });
    }
    Ok((last, out))
}

pub(super) fn recently_synced(
    storage: &SqliteStorage,
    entity: &str,
    fields: &[String],
    since: &str,
) -> Result<std::collections::HashSet<String>> {
    let conn = &storage.conn;
    let wanted = serde_json::to_string(fields).expect("field names serialize");
    // A row is fresh when one field set holding every wanted field was written for it since then.
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT m.id
             FROM (SELECT * FROM _max_sync_meta UNION ALL SELECT * FROM _max_sync_meta_staged) m
             JOIN _max_field_sets s ON s.id = m.field_set
             WHERE s.entity = ?1 AND m.synced_at >= ?2
               AND NOT EXISTS (SELECT 1 FROM json_each(?3) w
                               WHERE w.value NOT IN (SELECT value FROM json_each(s.fields)))",
        )
        .map_err(db_error(conn))?;
    let ids = stmt
        .query_map(rusqlite::params![entity, since, wanted], |r| r.get::<_, String>(0))
        .map_err(db_error(conn))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_error(conn))?;
    Ok(ids)
}
