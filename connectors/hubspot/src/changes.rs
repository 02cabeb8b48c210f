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
use serde_json::json;

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
    let found: Vec<(i64, u64)> = results
        .iter()
        .map(|object| {
            let stamp = object["properties"][modified].as_str().and_then(time::parse_ms);
            let id = api::id_text(&object["id"]).and_then(|id| id.parse().ok());
            stamp.zip(id).ok_or_else(|| {
                ConnectorError::invalid_response(format!(
                    "a {} found by search without a numeric id and {modified}",
                    shape.kind.entity()
                ))
            })
        })
        .collect::<Result<_>>()?;
    advance(&mut pass, &found)?;
    let batch = shape.rows(api, results)?;
    let cursor = Cursor { from, pass: Some(pass) };
    Ok(ChangePage::new(encode(&cursor), true).upsert(batch))
}

/// Moves the pass past a search page of `found` objects (last-modified time and id, in the order search
/// returned them). A page that doesn't move the pass forward (objects outside the query's filter, ids not
/// ascending) is an invalid response: otherwise a server ignoring the filter would keep the feed going
/// forever.
fn advance(pass: &mut Pass, found: &[(i64, u64)]) -> Result<()> {
    let full = found.len() >= SEARCH_LIMIT;
    let broken = |what: &str| Err(ConnectorError::invalid_response(format!("HubSpot search returned {what}")));
    match (&pass.tie, found.first(), found.last()) {
        (Some(after), _, Some(&(_, last))) if full => {
            let after: u64 = after.parse().unwrap_or(0);
            if found.iter().any(|&(stamp, id)| stamp != pass.at || id <= after) {
                return broken(&format!("objects outside `modified = {}, hs_object_id > {after}`", pass.at));
            }
            pass.tie = Some(last.to_string());
        }
        (Some(_), _, _) => {
            pass.tie = None;
            pass.at += 1;
        }
        (None, Some(&(first, _)), Some(&(last, _))) if full => {
            if first < pass.at || last < first {
                return broken(&format!("objects outside `modified >= {}`, or out of order", pass.at));
            }
            // A whole page at one millisecond is read by id.
            pass.tie = (first == last).then(|| "0".to_string());
            pass.at = last;
        }
        (None, _, _) => pass.archived = Some(String::new()),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(at: i64, tie: Option<&str>) -> Pass {
        Pass { began: None, at, tie: tie.map(str::to_string), archived: None }
    }

    fn page(stamps: impl Fn(u64) -> i64, first_id: u64) -> Vec<(i64, u64)> {
        (0..SEARCH_LIMIT as u64).map(|n| (stamps(n), first_id + n)).collect()
    }

    #[test]
    fn a_pass_moves_to_the_last_time_read_and_reads_a_crowded_millisecond_by_id() {
        let mut moving = pass(100, None);
        advance(&mut moving, &page(|n| 100 + n as i64 / 10, 1)).unwrap();
        assert_eq!((moving.at, moving.tie.as_deref()), (119, None));
        let mut crowded = pass(100, None);
        advance(&mut crowded, &page(|_| 150, 7)).unwrap();
        assert_eq!((crowded.at, crowded.tie.as_deref()), (150, Some("0")));
        advance(&mut crowded, &page(|_| 150, 7)).unwrap();
        assert_eq!(crowded.tie.as_deref(), Some("206"));
        advance(&mut crowded, &[(150, 300)]).unwrap();
        assert_eq!((crowded.at, crowded.tie.as_deref()), (151, None));
        advance(&mut crowded, &[]).unwrap();
        assert_eq!(crowded.archived.as_deref(), Some(""));
    }

    #[test]
    fn a_page_that_would_not_move_the_pass_forward_is_refused() {
        // The filter ignored: objects before the pass's time, or the same ids again.
        assert!(advance(&mut pass(100, None), &page(|_| 50, 1)).is_err());
        assert!(advance(&mut pass(100, None), &page(|n| 300 - n as i64, 1)).is_err());
        assert!(advance(&mut pass(150, Some("206")), &page(|_| 150, 7)).is_err());
        assert!(advance(&mut pass(150, Some("0")), &page(|_| 151, 7)).is_err());
    }
}
