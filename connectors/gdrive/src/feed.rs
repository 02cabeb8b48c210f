//! The file feed: one change feed that first lists every file and then follows Drive's changes.
//!
//! Without a cursor it takes Drive's start page token (`changes/startPageToken`) before anything is
//! listed, then lists My Drive and the files shared with the user, then each shared drive, a thousand
//! files a page, as changes (so the host keeps each folder's `children` from the files' `parent`);
//! then it reads the changes from that token, so nothing that changed while it listed is missed, up to
//! the `newStartPageToken` the next sync starts from. Removed files and files moved to the trash are
//! deleted; a folder that changed has its descendants' paths written again.

use max_connector_sdk::{ChangePage, ConnectorError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::api::Api;
use crate::files::{Folders, Rows};
use crate::model::{DRIVE, FILE_FIELDS, FOLDER};

/// Where the feed is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
enum Cursor {
    /// Listing: the changes token taken before, the shared drive being listed (none: My Drive), the
    /// next page.
    List { start: String, drive: Option<String>, page: Option<String> },
    /// Following changes from `token`.
    Changes { token: String },
}

/// The most files a page holds (Drive's most).
pub const PAGE_SIZE: usize = 1000;

/// One page of the feed from `cursor`.
pub fn page(
    api: &Api,
    folders: &mut Folders,
    (page_size, content_limit): (usize, Option<usize>),
    cursor: Option<&str>,
) -> Result<ChangePage> {
    let cursor = match cursor {
        None => {
            let body = api.json(api.get("/changes/startPageToken", &[("supportsAllDrives", "true")]))?;
            let start = body["startPageToken"]
                .as_str()
                .ok_or_else(|| ConnectorError::invalid_response("no startPageToken"))?
                .to_string();
            Cursor::List { start, drive: None, page: None }
        }
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ConnectorError::InvalidInput(format!("not a cursor of this feed: {e}")))?,
    };
    match cursor {
        Cursor::List { start, drive, page } => list(api, folders, (page_size, content_limit), start, drive, page),
        Cursor::Changes { token } => changes(api, folders, (page_size, content_limit), token),
    }
}

fn encode(cursor: &Cursor) -> String {
    serde_json::to_string(cursor).expect("a cursor serializes")
}

/// Where a listing goes next: the next page of a drive, the next shared drive, or nowhere.
pub type Next = Option<(Option<String>, Option<String>)>;

/// One page of the listing of My Drive and what is shared with the user (`drive` none) or of a shared
/// drive into `rows` (the root folder first on a drive's first page); returns where the listing goes
/// next.
pub fn listing(
    api: &Api,
    folders: &mut Folders,
    rows: &mut Rows,
    page_size: usize,
    drive: Option<String>,
    page: Option<String>,
) -> Result<Next> {
    let fields = format!("nextPageToken,files({FILE_FIELDS})");
    let size = page_size.to_string();
    let mut query: Vec<(&str, &str)> = vec![("q", "trashed = false"), ("pageSize", &size), ("fields", &fields)];
    match &drive {
        None => query.extend([("corpora", "user")]),
        Some(id) => query.extend([
            ("corpora", "drive"),
            ("driveId", id.as_str()),
            ("includeItemsFromAllDrives", "true"),
            ("supportsAllDrives", "true"),
        ]),
    }
    if let Some(token) = &page {
        query.push(("pageToken", token));
    }
    let body = api.json(api.get("/files", &query))?;
    let mut listed: Vec<Json> = body["files"].as_array().cloned().unwrap_or_default();
    if page.is_none() {
        // The root folder starts its drive's listing: files.list never lists it.
        let root = drive.as_deref().unwrap_or("root");
        let path = format!("/files/{}", max_connector_sdk::http::encode_query(root));
        listed.insert(0, api.json(api.get(&path, &[("fields", FILE_FIELDS), ("supportsAllDrives", "true")]))?);
    }
    write_files(api, folders, &listed, rows)?;
    Ok(match body["nextPageToken"].as_str() {
        Some(token) => Some((drive, Some(token.to_string()))),
        None => next_drive(api, drive.as_deref())?.map(|next| (Some(next), None)),
    })
}

/// One page of the feed's listing.
fn list(
    api: &Api,
    folders: &mut Folders,
    (page_size, content_limit): (usize, Option<usize>),
    start: String,
    drive: Option<String>,
    page: Option<String>,
) -> Result<ChangePage> {
    let mut rows = Rows::with_content(content_limit);
    let next = match listing(api, folders, &mut rows, page_size, drive, page)? {
        Some((drive, page)) => Cursor::List { start, drive, page },
        None => Cursor::Changes { token: start },
    };
    Ok(rows.into_batches().into_iter().fold(ChangePage::new(encode(&next), true), ChangePage::upsert))
}

/// The shared drive listed after `current` (by id), if any.
fn next_drive(api: &Api, current: Option<&str>) -> Result<Option<String>> {
    let mut ids = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut query = vec![("pageSize", "100"), ("fields", "nextPageToken,drives(id)")];
        if let Some(token) = &page {
            query.push(("pageToken", token));
        }
        let body = api.json(api.get("/drives", &query))?;
        ids.extend(
            body["drives"].as_array().into_iter().flatten().filter_map(|d| d["id"].as_str().map(str::to_string)),
        );
        match body["nextPageToken"].as_str() {
            Some(token) => page = Some(token.to_string()),
            None => break,
        }
    }
    ids.sort();
    Ok(ids.into_iter().find(|id| current.is_none_or(|c| id.as_str() > c)))
}

/// Writes `files` as rows, with their paths.
pub fn write_files(api: &Api, folders: &mut Folders, files: &[Json], rows: &mut Rows) -> Result<()> {
    let refs: Vec<&Json> = files.iter().collect();
    folders.learn(&refs);
    folders.fetch_ancestors(api, &refs)?;
    for file in files {
        rows.file(file, Some(&folders.path(file)))?;
    }
    Ok(())
}

/// One page of Drive's changes from `token`.
fn changes(
    api: &Api,
    folders: &mut Folders,
    (page_size, content_limit): (usize, Option<usize>),
    token: String,
) -> Result<ChangePage> {
    let fields = format!(
        "nextPageToken,newStartPageToken,changes(changeType,fileId,removed,driveId,file({FILE_FIELDS}),drive(id,name,createdTime,hidden))"
    );
    let size = page_size.to_string();
    let query = [
        ("pageToken", token.as_str()),
        ("pageSize", size.as_str()),
        ("includeItemsFromAllDrives", "true"),
        ("supportsAllDrives", "true"),
        ("includeRemoved", "true"),
        ("fields", fields.as_str()),
    ];
    let body = api.json(api.get("/changes", &query))?;
    let (next, more) = match (body["nextPageToken"].as_str(), body["newStartPageToken"].as_str()) {
        (Some(next), _) => (next.to_string(), true),
        (None, Some(new_start)) => (new_start.to_string(), false),
        (None, None) => return Err(ConnectorError::invalid_response("a changes page with neither token")),
    };
    if next == token && more {
        return Err(ConnectorError::invalid_response("a changes page that leads back to itself"));
    }
    let mut page = ChangePage::new(encode(&Cursor::Changes { token: next }), more);
    let mut live = Vec::new();
    let mut drives = max_connector_sdk::table::EntityTable::batch(&DRIVE);
    for change in body["changes"].as_array().into_iter().flatten() {
        if change["changeType"] == "drive" {
            let id = change["driveId"].as_str().unwrap_or_default();
            if change["removed"] == true {
                page = page.delete(DRIVE.entity, id);
            } else if !id.is_empty() {
                crate::files::drive_row(&mut drives, id, &change["drive"]);
            }
            continue;
        }
        let Some(id) = change["fileId"].as_str() else { continue };
        if change["removed"] == true || change["file"]["trashed"] == true {
            page = page.delete(crate::model::FILE.entity, id);
        } else {
            live.push(change["file"].clone());
        }
    }
    let mut rows = Rows::with_content(content_limit);
    write_files(api, folders, &live, &mut rows)?;
    let moved: Vec<&Json> = live.iter().filter(|f| f["mimeType"] == FOLDER).collect();
    let paths = descendant_paths(api, folders, page_size, &moved)?;
    let mut batches = rows.into_batches();
    batches.push(drives);
    batches.push(paths);
    Ok(batches.into_iter().fold(page, ChangePage::upsert))
}

/// One page (from `page`) of the files and folders in `folder`, in any drive, with `fields` of each.
pub fn children(api: &Api, folder: &str, fields: &str, page_size: usize, page: Option<&str>) -> Result<Json> {
    let q = format!("'{}' in parents and trashed = false", folder.replace('\\', "\\\\").replace('\'', "\\'"));
    let fields = format!("nextPageToken,files({fields})");
    let size = page_size.to_string();
    let mut query = vec![
        ("q", q.as_str()),
        ("pageSize", size.as_str()),
        ("fields", fields.as_str()),
        ("corpora", "allDrives"),
        ("includeItemsFromAllDrives", "true"),
        ("supportsAllDrives", "true"),
    ];
    if let Some(token) = page {
        query.push(("pageToken", token));
    }
    api.json(api.get("/files", &query))
}

/// The most descendants of changed folders whose paths one page writes again.
const MAX_DESCENDANTS: usize = 100_000;

/// The paths of everything below `changed` folders (renamed or moved, their paths changed), as rows
/// carrying only `path`.
fn descendant_paths(
    api: &Api,
    folders: &mut Folders,
    page_size: usize,
    changed: &[&Json],
) -> Result<max_connector_sdk::Batch> {
    let mut batch = max_connector_sdk::Batch::new(crate::model::FILE.entity, &["path"]);
    let mut queue: Vec<String> = changed.iter().filter_map(|f| f["id"].as_str().map(str::to_string)).collect();
    let mut written = 0;
    while let Some(folder) = queue.pop() {
        let mut page: Option<String> = None;
        loop {
            let body = children(api, &folder, "id,name,mimeType,parents,driveId", page_size, page.as_deref())?;
            let listed: Vec<&Json> = body["files"].as_array().into_iter().flatten().collect();
            folders.learn(&listed);
            for child in &listed {
                let Some(id) = child["id"].as_str() else { continue };
                written += 1;
                if written > MAX_DESCENDANTS {
                    return Ok(batch);
                }
                let mut row = batch.start_row();
                row.text(0, &folders.path(child));
                row.finish(id);
                if child["mimeType"] == FOLDER {
                    queue.push(id.to_string());
                }
            }
            match body["nextPageToken"].as_str() {
                Some(token) => page = Some(token.to_string()),
                None => break,
            }
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for cursor in [
            Cursor::List { start: "12".into(), drive: None, page: None },
            Cursor::List { start: "12".into(), drive: Some("0A/b".into()), page: Some("~!!~x/y".into()) },
            Cursor::Changes { token: "99".into() },
        ] {
            assert_eq!(serde_json::from_str::<Cursor>(&encode(&cursor)).unwrap(), cursor);
        }
    }
}
