//! Incremental sync: one change feed per object type, reading what changed through the search API and
//! what was deleted through the archived listing.
//!
//! A pass reads every object whose last-modified property (`lastmodifieddate` on contacts,
//! `hs_lastmodifieddate` on the others) is at or after the cursor's `from`, oldest first, two hundred a
//! request. Search never pages past 10,000 results of one query, so a pass never pages at all: each
//! request starts again at the last time it has read (objects at that very millisecond come twice, which
//! is harmless), and when a whole page shares one millisecond (an import touching thousands at once) it
//! reads that millisecond by id (`hs_object_id > last`) before moving past it. Then it lists the archived
//! objects and reports those archived since `from` as deleted. The next pass starts five minutes before
//! the server's time when this one began: search indexes a change a few seconds after it is made, and a
//! change indexed late is still read.

use max_connector_sdk::http::encode_query;
use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{ChangePage, ConnectorError, Result};
use serde_json::{Value as Json, json};

use crate::api::{self, Api};
use crate::objects::Shape;
use max_connector_sdk::time;

/// How far back a pass starts before the previous one began (and the first cursor before now): longer
/// than search takes to index a change, and than this machine's clock may be off.
const LAG_MS: i64 = 5 * 60 * 1000;
/// Results per search request (HubSpot's most).
const SEARCH_LIMIT: usize = 200;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cursor {
    /// Changes from this time on (epoch milliseconds) are still to be read.
    from: i64,
    /// The pass under way, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass: Option<Pass>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Pass {
    /// The server's time when the pass began (from its first response), epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    began: Option<i64>,
    /// Every object last modified before this time has been read.
    at: i64,
    /// Reading the objects modified at `at` exactly, by id, after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tie: Option<String>,
    /// Listing archived objects, after this (empty at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    archived: Option<String>,
}

fn encode(cursor: &Cursor) -> String {
    serde_json::to_string(cursor).expect("cursors serialize")
}

/// One page of `shape`'s changes after `cursor`; without one, an empty page whose cursor is a little
/// before now (a full sync takes it before reading anything, so the next sync starts there).
pub fn page(api: &Api, shape: &Shape, cursor: Option<&str>) -> Result<ChangePage> {
    let Some(cursor) = cursor else {
        let first = Cursor { from: time::now_ms() - LAG_MS, pass: None };
        return Ok(ChangePage::new(encode(&first), false));
    };
    let cursor: Cursor = serde_json::from_str(cursor)
        .map_err(|e| ConnectorError::InvalidInput(format!("a change cursor this connector didn't write: {e}")))?;
    let from = cursor.from;
    let mut pass = cursor.pass.unwrap_or(Pass { began: None, at: from, tie: None, archived: None });
    match pass.archived.take() {
        None => search_page(api, shape, from, pass),
        Some(after) => archived_page(api, shape, from, pass, after),
    }
}

/// The next page of the pass's search: changed objects as upserts.
fn search_page(api: &Api, shape: &Shape, from: i64, mut pass: Pass) -> Result<ChangePage> {
    let modified = shape.kind.modified;
    let (filters, sort) = match &pass.tie {
        Some(after) => (
            json!([
                { "propertyName": modified, "operator": "EQ", "value": pass.at.to_string() },
                { "propertyName": "hs_object_id", "operator": "GT", "value": after },
            ]),
            "hs_object_id",
        ),
        None => (json!([{ "propertyName": modified, "operator": "GTE", "value": pass.at.to_string() }]), modified),
    };
    let body = json!({
        "filterGroups": [{ "filters": filters }],
        "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
        "properties": shape.properties(),
        "limit": SEARCH_LIMIT,
    });
    let (answer, response) = api.send(api.post(&format!("/crm/v3/objects/{}/search", shape.kind.path), &body))?;
    pass.began =
        pass.began.or_else(|| response.header("date").and_then(time::parse_http_date)).or(Some(time::now_ms()));
    let results = api::results(&answer)?;
    let full = results.len() >= SEARCH_LIMIT;
    let stamp = |object: &Json| {
        object["properties"][modified].as_str().and_then(time::parse_ms).ok_or_else(|| {
            ConnectorError::invalid_response(format!("a {} found by search without {modified}", shape.kind.entity()))
        })
    };
    match (&pass.tie, results.first(), results.last()) {
        (Some(_), _, Some(last)) if full => {
            pass.tie = Some(last["id"].as_str().unwrap_or_default().to_string());
        }
        (Some(_), _, _) => {
            pass.tie = None;
            pass.at += 1;
        }
        (None, Some(first), Some(last)) if full => {
            let (first, last) = (stamp(first)?, stamp(last)?);
            if first == last {
                // A whole page at one millisecond: read it by id.
                pass.at = last;
                pass.tie = Some("0".to_string());
            } else {
                pass.at = last;
            }
        }
        (None, _, _) => pass.archived = Some(String::new()),
    }
    let batch = shape.rows(api, results)?;
    let cursor = Cursor { from, pass: Some(pass) };
    Ok(ChangePage::new(encode(&cursor), true).upsert(batch))
}

/// The next page of archived objects: those archived since `from` as deletions; after the last page,
/// the pass is done.
fn archived_page(api: &Api, shape: &Shape, from: i64, mut pass: Pass, after: String) -> Result<ChangePage> {
    let mut url = format!(
        "/crm/v3/objects/{}?archived=true&limit={}&properties={}",
        shape.kind.path,
        crate::objects::PAGE_SIZE,
        shape.kind.modified
    );
    if !after.is_empty() {
        url.push_str(&format!("&after={}", encode_query(&after)));
    }
    let (answer, _) = api.send(api.get(&url))?;
    let mut deleted = Vec::new();
    for object in api::results(&answer)? {
        let archived_at = object["archivedAt"].as_str().and_then(time::parse_ms);
        if archived_at.is_none_or(|at| at >= from)
            && let Some(id) = object["id"].as_str()
        {
            deleted.push(id.to_string());
        }
    }
    let (cursor, more) = match api::next_after(&answer) {
        Some(next) => {
            pass.archived = Some(next);
            (Cursor { from, pass: Some(pass) }, true)
        }
        None => {
            let began = pass.began.unwrap_or_else(time::now_ms);
            (Cursor { from: from.max(began - LAG_MS), pass: None }, false)
        }
    };
    let mut page = ChangePage::new(encode(&cursor), more);
    for id in deleted {
        page = page.delete(shape.kind.entity(), &id);
    }
    Ok(page)
}
