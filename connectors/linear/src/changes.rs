//! Incremental sync: one change feed per entity type, reading the type's list filtered to
//! `updatedAt > since` with archived objects included. An archived object is reported deleted (Max
//! keeps its row, marked). The cursor is JSON: `since`, the `after` of the next page while a pass is
//! under way, and the newest `updatedAt` seen, which becomes the next pass's `since`.

use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{ChangePage, ConnectorError, Result};
use serde_json::{Value as Json, json};

use crate::Linear;
use crate::model::EntityKind;

/// How far before "now" a first cursor starts, so clock skew between this machine and Linear never
/// loses a change (changes seen twice are harmless).
const SKEW_MS: i64 = 5 * 60 * 1000;

/// The change-feed loader of `kind`.
pub fn loader_name(kind: &EntityKind) -> String {
    format!("{}-changes", kind.list)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    since: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
}

fn encode(cursor: &Cursor) -> String {
    serde_json::to_string(cursor).expect("cursors serialize")
}

/// One page of `kind`'s changes after `cursor`; without a cursor, an empty page whose cursor is now
/// (a full sync takes it before it reads anything, so the next sync starts there).
pub fn page(linear: &Linear, kind: &EntityKind, cursor: Option<&str>) -> Result<ChangePage> {
    let Some(cursor) = cursor else {
        let since = max_connector_sdk::time::iso(max_connector_sdk::time::now_ms() - SKEW_MS);
        return Ok(ChangePage::new(encode(&Cursor { since, after: None, newest: None }), false));
    };
    let cursor: Cursor = serde_json::from_str(cursor)
        .map_err(|e| ConnectorError::InvalidInput(format!("a change cursor this connector didn't write: {e}")))?;
    let changed = json!({ "updatedAt": { "gt": cursor.since } });
    let filter = match linear.team_filter(kind) {
        Json::Null => changed,
        teams => json!({ "and": [teams, changed] }),
    };
    let query = format!(
        "query Changes($first: Int!, $after: String, $filter: {}) {{ {}(first: $first, after: $after, filter: $filter, includeArchived: true, orderBy: updatedAt) {{ nodes {{ {} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        kind.filter_type(),
        kind.list,
        kind.selection()
    );
    let data =
        linear.page_query(kind, &query, |first| json!({ "first": first, "after": cursor.after, "filter": filter }))?;
    let connection = &data[kind.list];
    let mut newest = cursor.newest.clone().unwrap_or_else(|| cursor.since.clone());
    let mut batch = kind.batch();
    let mut deleted = Vec::new();
    for node in crate::nodes(connection)? {
        if let Some(updated) = node["updatedAt"].as_str().filter(|u| *u > newest.as_str()) {
            newest = updated.to_string();
        }
        if crate::listed_per_team(kind) && kind.team_of(node).is_none() {
            // Outside every team's list (a comment on a document, not an issue): not this type.
            continue;
        }
        if node["archivedAt"].is_string() {
            deleted.push(node["id"].as_str().unwrap_or_default().to_string());
        } else {
            crate::rows::push(linear, kind, &mut batch, node)?;
        }
    }
    let (next, more) = match crate::next_cursor(connection) {
        Some(after) => (Cursor { since: cursor.since, after: Some(after), newest: Some(newest) }, true),
        None => (Cursor { since: newest, after: None, newest: None }, false),
    };
    let mut page = ChangePage::new(encode(&next), more).upsert(batch);
    for id in deleted {
        page = page.delete(kind.entity, &id);
    }
    Ok(page)
}
