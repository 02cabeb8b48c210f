//! Drive's JSON as rows: files (with their kind, parent, path, owner and permissions), the people they
//! name, their permissions; and where each file is, its path from its drive's root, from the folders an
//! instance has seen and the ancestors it reads once (`files.get`), kept for the instance's later calls.

use std::collections::{HashMap, HashSet};

use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{Batch, Result};
use serde_json::Value as Json;

use crate::api::{Api, number};
use crate::model::{FILE, FOLDER, PERMISSION, USER};

/// The fields a listed file's row carries (everything but what loaders fill and links keep).
const LISTED: &[&str] = &[
    "name",
    "mimeType",
    "kind",
    "parent",
    "path",
    "drive",
    "owner",
    "lastModifyingUser",
    "createdTime",
    "modifiedTime",
    "size",
    "md5Checksum",
    "version",
    "starred",
    "shared",
    "webViewLink",
    "shortcutTarget",
];

/// Rows found in Drive's answers: files (in batches by the columns they carry: with their permissions
/// when Drive listed them, with their empty text when they have none to read), people, permissions.
pub struct Rows {
    files: Vec<((bool, bool), Batch)>,
    pub users: Batch,
    pub permissions: Batch,
    users_seen: HashSet<String>,
    /// Whether files' listed permissions are written (not on collection pages, whose items are one batch).
    with_permissions: bool,
    /// The text limit when text is synced: files with no text to read get theirs (none) with their row,
    /// so the text loader never asks for them.
    content_limit: Option<usize>,
}

impl Default for Rows {
    fn default() -> Self {
        Rows {
            files: Vec::new(),
            users: USER.batch(),
            permissions: PERMISSION.batch(),
            users_seen: HashSet::new(),
            with_permissions: true,
            content_limit: None,
        }
    }
}

/// What kind of file a MIME type is.
pub fn kind(mime: &str) -> &'static str {
    match mime {
        FOLDER => "folder",
        "application/vnd.google-apps.document" => "document",
        "application/vnd.google-apps.spreadsheet" => "spreadsheet",
        "application/vnd.google-apps.presentation" => "presentation",
        "application/vnd.google-apps.shortcut" => "shortcut",
        _ => "file",
    }
}

impl Rows {
    /// Rows of a feed: with files' empty text when text is synced with `content_limit`.
    pub fn with_content(content_limit: Option<usize>) -> Self {
        Rows { content_limit, ..Rows::default() }
    }

    /// Rows for a collection page, whose items are one batch: files' listed permissions (and empty
    /// text) are left to their loaders.
    pub fn for_page() -> Self {
        Rows { with_permissions: false, ..Rows::default() }
    }

    /// The rows as a collection page: the files its items, the people found along the way related.
    pub fn into_page(mut self) -> max_connector_sdk::Page {
        let files = self.files.pop().map_or_else(|| Batch::new(FILE.entity(), LISTED), |(_, batch)| batch);
        max_connector_sdk::Page::new(files).related(self.users)
    }

    /// Every batch, empty ones left out.
    pub fn into_batches(self) -> Vec<Batch> {
        let files = self.files.into_iter().map(|(_, batch)| batch);
        files.chain([self.users, self.permissions]).filter(|b| !b.is_empty()).collect()
    }

    /// The batch of files carrying permissions or not, and text or not.
    fn files_batch(&mut self, permissions: bool, text: bool) -> &mut Batch {
        let at = match self.files.iter().position(|(shape, _)| *shape == (permissions, text)) {
            Some(at) => at,
            None => {
                let mut columns: Vec<&str> = LISTED.to_vec();
                if permissions {
                    columns.push("permissions");
                }
                if text {
                    columns.extend(["content", "contentTruncated"]);
                }
                self.files.push(((permissions, text), Batch::new(FILE.entity(), &columns)));
                self.files.len() - 1
            }
        };
        &mut self.files[at].1
    }

    /// A person as a `User` row (once per call).
    pub fn user(&mut self, user: &Json) -> Option<String> {
        let id = user["permissionId"].as_str().filter(|id| !id.is_empty())?.to_string();
        if self.users_seen.insert(id.clone()) {
            let mut row = self.users.start_row();
            row.value(0, &text(&user["displayName"]));
            row.value(1, &text(&user["emailAddress"]));
            row.value(2, &user["me"].as_bool().map_or(Value::Null, Value::Boolean));
            row.value(3, &text(&user["photoLink"]));
            row.finish(&id);
        }
        Some(id)
    }

    /// `file` (as listed with [`crate::model::FILE_FIELDS`]) as a row at `path`, with its permissions
    /// when Drive listed them.
    pub fn file(&mut self, file: &Json, path: Option<&str>) -> Result<()> {
        let id = file["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| max_connector_sdk::ConnectorError::invalid_response("a file without an id"))?;
        let owner = file["owners"].get(0).and_then(|o| self.user(o));
        let modifier = self.user(&file["lastModifyingUser"]);
        let listed = file["permissions"].as_array().filter(|_| self.with_permissions);
        let permissions = listed.map(|list| list.iter().filter_map(|p| self.permission(id, p)).collect::<Vec<_>>());
        let mime = file["mimeType"].as_str().unwrap_or_default();
        let values = [
            text(&file["name"]),
            text(&file["mimeType"]),
            Value::Text(kind(mime).into()),
            reference(&file["parents"][0]),
            path.map_or(Value::Null, |p| Value::Text(p.into())),
            reference(&file["driveId"]),
            owner.map_or(Value::Null, Value::Reference),
            modifier.map_or(Value::Null, Value::Reference),
            datetime(&file["createdTime"]),
            datetime(&file["modifiedTime"]),
            number(&file["size"]).map_or(Value::Null, Value::Integer),
            text(&file["md5Checksum"]),
            number(&file["version"]).map_or(Value::Null, Value::Integer),
            file["starred"].as_bool().map_or(Value::Null, Value::Boolean),
            file["shared"].as_bool().map_or(Value::Null, Value::Boolean),
            text(&file["webViewLink"]),
            reference(&file["shortcutDetails"]["targetId"]),
        ];
        // A file with no text to read has none: said with its row, so the text loader skips it.
        let no_text = self.content_limit.and_then(|limit| crate::content::no_text(mime, number(&file["size"]), limit));
        let batch = self.files_batch(permissions.is_some(), no_text.is_some());
        let mut row = batch.start_row();
        for (index, value) in values.iter().enumerate() {
            row.value(index, value);
        }
        let mut next = values.len();
        if let Some(permissions) = permissions {
            row.collection(next, &permissions);
            next += 1;
        }
        if let Some(truncated) = no_text {
            row.null(next);
            row.boolean(next + 1, truncated);
        }
        row.finish(id);
        Ok(())
    }

    /// A permission of file `file` as a `Permission` row; returns its id (`<file>/<permission>`).
    pub fn permission(&mut self, file: &str, permission: &Json) -> Option<String> {
        let permission_id = permission["id"].as_str().filter(|id| !id.is_empty())?;
        let id = format!("{file}/{permission_id}");
        let kind = permission["type"].as_str().unwrap_or_default();
        let inherited = permission["permissionDetails"].as_array().map(|d| d.iter().any(|d| d["inherited"] == true));
        let mut row = self.permissions.start_row();
        row.value(0, &Value::Reference(file.to_string()));
        row.value(1, &text(&permission["type"]));
        row.value(2, &text(&permission["role"]));
        row.value(3, &if kind == "user" { Value::Reference(permission_id.to_string()) } else { Value::Null });
        row.value(4, &text(&permission["emailAddress"]));
        row.value(5, &text(&permission["domain"]));
        row.value(6, &text(&permission["displayName"]));
        row.value(7, &inherited.map_or(Value::Boolean(false), Value::Boolean));
        row.value(8, &permission["allowFileDiscovery"].as_bool().map_or(Value::Null, Value::Boolean));
        row.value(9, &datetime(&permission["expirationTime"]));
        row.value(10, &permission["deleted"].as_bool().map_or(Value::Null, Value::Boolean));
        row.finish(&id);
        Some(id)
    }
}

use max_connector_sdk::Value;

/// A shared drive (`drives(id,name,createdTime,hidden)`, or a change's `drive`) as a `Drive` row.
pub fn drive_row(drives: &mut Batch, id: &str, drive: &Json) {
    let mut row = drives.start_row();
    row.value(0, &text(&drive["name"]));
    row.value(1, &datetime(&drive["createdTime"]));
    row.value(2, &drive["hidden"].as_bool().map_or(Value::Null, Value::Boolean));
    row.value(3, &Value::Reference(id.to_string()));
    row.finish(id);
}

/// A JSON string as text (anything else: null).
pub fn text(value: &Json) -> Value {
    value.as_str().map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn reference(value: &Json) -> Value {
    value.as_str().filter(|s| !s.is_empty()).map_or(Value::Null, |s| Value::Reference(s.to_string()))
}

fn datetime(value: &Json) -> Value {
    value.as_str().filter(|s| !s.is_empty()).map_or(Value::Null, |s| Value::Datetime(s.to_string()))
}

/// A folder as paths need it.
#[derive(Debug, Clone)]
struct Folder {
    name: String,
    parent: Option<String>,
}

/// The most folders a path goes up through (Drive's own nesting limit is 100).
const MAX_DEPTH: usize = 100;

/// The folders an instance knows, to work out paths.
#[derive(Debug, Default)]
pub struct Folders {
    known: HashMap<String, Folder>,
    /// Folders that can't be read (not shared with the user, or gone).
    unreadable: HashSet<String>,
}

impl Folders {
    /// Learns the folders among `files`.
    pub fn learn(&mut self, files: &[&Json]) {
        for file in files {
            if file["mimeType"] == FOLDER
                && let Some(id) = file["id"].as_str()
            {
                let name = file["name"].as_str().unwrap_or_default().to_string();
                let parent = file["parents"][0].as_str().map(str::to_string);
                self.unreadable.remove(id);
                self.known.insert(id.to_string(), Folder { name, parent });
            }
        }
    }

    /// Reads the ancestors of `files` the instance doesn't know yet, a level at a time.
    pub fn fetch_ancestors(&mut self, api: &Api, files: &[&Json]) -> Result<()> {
        let mut wanted: Vec<String> =
            files.iter().filter_map(|f| f["parents"][0].as_str().map(str::to_string)).collect();
        for _ in 0..MAX_DEPTH {
            wanted.retain(|id| !self.known.contains_key(id) && !self.unreadable.contains(id));
            wanted.sort();
            wanted.dedup();
            if wanted.is_empty() {
                return Ok(());
            }
            let requests = wanted
                .iter()
                .map(|id| {
                    let path = format!("/files/{}", max_connector_sdk::http::encode_query(id));
                    api.get(&path, &[("fields", "id,name,parents,mimeType"), ("supportsAllDrives", "true")])
                })
                .collect();
            let mut next = Vec::new();
            for (id, answer) in wanted.iter().zip(api.send_all(requests)) {
                match answer {
                    Ok(response) => {
                        let folder: Json = response.json()?;
                        let parent = folder["parents"][0].as_str().map(str::to_string);
                        let name = folder["name"].as_str().unwrap_or_default().to_string();
                        next.extend(parent.clone());
                        self.known.insert(id.clone(), Folder { name, parent });
                    }
                    Err(
                        max_connector_sdk::ConnectorError::NotFound(_)
                        | max_connector_sdk::ConnectorError::Forbidden(_),
                    ) => {
                        self.unreadable.insert(id.clone());
                    }
                    Err(other) => return Err(other),
                }
            }
            wanted = next;
        }
        Ok(())
    }

    /// The path of `file` from its drive's root (`My Drive/Plans/Q3 plan`), from the folders known: a
    /// file shared with the user from a folder they can't see is under `Shared with me`, one below an
    /// unreadable folder starts with `…`.
    pub fn path(&self, file: &Json) -> String {
        let name = file["name"].as_str().unwrap_or_default();
        let mut parts = vec![name.to_string()];
        let mut next = file["parents"][0].as_str().map(str::to_string);
        if next.is_none() && file["driveId"].is_null() && file["mimeType"] != FOLDER {
            return format!("Shared with me/{name}");
        }
        let mut seen = HashSet::new();
        while let Some(id) = next {
            if parts.len() > MAX_DEPTH || !seen.insert(id.clone()) {
                break;
            }
            match self.known.get(&id) {
                Some(folder) => {
                    parts.push(folder.name.clone());
                    next = folder.parent.clone();
                }
                None => {
                    parts.push("…".to_string());
                    break;
                }
            }
        }
        parts.reverse();
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_go_up_through_known_folders() {
        let mut folders = Folders::default();
        let root = json!({"id": "r", "name": "My Drive", "mimeType": FOLDER});
        let plans = json!({"id": "p", "name": "Plans", "mimeType": FOLDER, "parents": ["r"]});
        folders.learn(&[&root, &plans]);
        assert_eq!(folders.path(&json!({"name": "Q3", "parents": ["p"]})), "My Drive/Plans/Q3");
        assert_eq!(folders.path(&json!({"name": "x", "parents": ["gone"]})), "…/x");
        assert_eq!(folders.path(&json!({"name": "shared"})), "Shared with me/shared");
        assert_eq!(folders.path(&root), "My Drive");
        // A cycle (never in Drive, but a server could say so) ends.
        let a = json!({"id": "a", "name": "A", "mimeType": FOLDER, "parents": ["b"]});
        let b = json!({"id": "b", "name": "B", "mimeType": FOLDER, "parents": ["a"]});
        folders.learn(&[&a, &b]);
        assert!(folders.path(&json!({"name": "f", "parents": ["a"]})).ends_with("A/f"));
    }

    #[test]
    fn kinds_name_google_types() {
        assert_eq!(kind(FOLDER), "folder");
        assert_eq!(kind("application/vnd.google-apps.document"), "document");
        assert_eq!(kind("application/pdf"), "file");
    }
}
