//! What the host loads per file only when its version changes (contract 0.3.0's versioned fields):
//! the text of Google Docs, Sheets and Slides (exported as text and CSV) and of text files (downloaded)
//! under the installation's size limit, and a file's permissions where Drive doesn't list them (shared
//! drives, files shared with the user).

use max_connector_sdk::http::encode_query;
use max_connector_sdk::{Batch, ConnectorError, Result};
use serde_json::Value as Json;

use crate::api::{Api, number, reason};
use crate::files::Rows;
use crate::model::{FILE, PERMISSION_FIELDS};

/// How a file's text is read, by its type.
enum Source {
    /// `files.export` as this MIME type.
    Export(&'static str),
    /// `alt=media`: the file's own bytes.
    Download,
    /// No text.
    None,
}

fn source(mime: &str, size: Option<i64>, limit: usize) -> Source {
    match mime {
        "application/vnd.google-apps.document" | "application/vnd.google-apps.presentation" => {
            Source::Export("text/plain")
        }
        "application/vnd.google-apps.spreadsheet" => Source::Export("text/csv"),
        m if is_text(m) && size.is_some_and(|s| s as usize <= limit) => Source::Download,
        _ => Source::None,
    }
}

/// When a file of type `mime` and `size` has no text to read under `limit`: whether it is text
/// too large to read (`contentTruncated`). None: its text is read.
pub fn no_text(mime: &str, size: Option<i64>, limit: usize) -> Option<bool> {
    match source(mime, size, limit) {
        Source::None => Some(is_text(mime)),
        _ => None,
    }
}

/// Whether files of type `mime` are text.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/") || matches!(mime, "application/json" | "application/xml" | "application/x-yaml")
}

/// The text of `bytes` as stored: without a byte-order mark, lines ending in `\n`, at most `limit`
/// bytes (cut at a character); and whether it was cut.
pub fn text(bytes: &[u8], limit: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).replace("\r\n", "\n");
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

fn file_path(id: &str) -> String {
    format!("/files/{}", encode_query(id))
}

/// The `content` and `contentTruncated` of the files `ids` (text under `limit` bytes).
pub fn load(api: &Api, ids: &[&str], limit: usize) -> Result<Batch> {
    let mut batch = Batch::new(FILE.entity, &["content", "contentTruncated"]);
    let requests = ids
        .iter()
        .map(|id| api.get(&file_path(id), &[("fields", "id,mimeType,size"), ("supportsAllDrives", "true")]))
        .collect();
    let mut reads = Vec::new();
    for (id, meta) in ids.iter().zip(api.send_all(requests)) {
        let meta: Json = match meta {
            Ok(response) => response.json()?,
            // Gone since it was listed: the change feed deletes it.
            Err(ConnectorError::NotFound(_)) => continue,
            Err(other) => return Err(other),
        };
        let mime = meta["mimeType"].as_str().unwrap_or_default();
        match source(mime, number(&meta["size"]), limit) {
            Source::Export(format) => {
                reads.push((*id, api.get(&format!("{}/export", file_path(id)), &[("mimeType", format)])))
            }
            Source::Download => {
                reads.push((*id, api.get(&file_path(id), &[("alt", "media"), ("supportsAllDrives", "true")])))
            }
            Source::None => {
                let mut row = batch.start_row();
                row.null(0);
                // A text file over the limit is not read at all.
                row.boolean(1, is_text(mime));
                row.finish(id);
            }
        }
    }
    let (ids, requests): (Vec<&str>, Vec<_>) = reads.into_iter().unzip();
    for (id, answer) in ids.into_iter().zip(api.send_all(requests)) {
        let mut row = batch.start_row();
        match answer {
            Ok(response) => {
                let (content, cut) = text(response.body(), limit);
                row.text(0, &content);
                row.boolean(1, cut);
            }
            Err(error) if reason(&error) == Some("exportSizeLimitExceeded") => {
                row.null(0);
                row.boolean(1, true);
            }
            Err(ConnectorError::NotFound(_)) => {
                row.null(0);
                row.null(1);
            }
            Err(other) => return Err(other),
        }
        row.finish(id);
    }
    Ok(batch)
}

/// The permissions of the files `ids`, as each file's `permissions` and the `Permission` rows; a file
/// whose permissions the user can't read gets none.
pub fn permissions(api: &Api, ids: &[&str]) -> Result<Vec<Batch>> {
    let fields = format!("nextPageToken,permissions({PERMISSION_FIELDS})");
    let mut rows = Rows::default();
    let mut files = Batch::new(FILE.entity, &["permissions"]);
    let mut pending: Vec<(&str, Option<String>, Vec<String>)> = ids.iter().map(|id| (*id, None, Vec::new())).collect();
    // Pages of every file side by side, until each file's last page.
    while !pending.is_empty() {
        let requests = pending
            .iter()
            .map(|(id, page, _)| {
                let mut query = vec![("fields", fields.as_str()), ("supportsAllDrives", "true"), ("pageSize", "100")];
                if let Some(token) = page {
                    query.push(("pageToken", token.as_str()));
                }
                api.get(&format!("{}/permissions", file_path(id)), &query)
            })
            .collect();
        let mut still = Vec::new();
        for ((id, _, mut found), answer) in pending.into_iter().zip(api.send_all(requests)) {
            let body: Json = match answer {
                Ok(response) => response.json()?,
                Err(ConnectorError::NotFound(_)) => continue,
                Err(error @ ConnectorError::Forbidden(_)) if reason(&error) == Some("insufficientFilePermissions") => {
                    let mut row = files.start_row();
                    row.collection(0, Vec::<String>::new());
                    row.finish(id);
                    continue;
                }
                Err(other) => return Err(other),
            };
            for permission in body["permissions"].as_array().into_iter().flatten() {
                if let Some(permission) = rows.permission(id, permission) {
                    found.push(permission);
                }
            }
            match body["nextPageToken"].as_str() {
                Some(token) => still.push((id, Some(token.to_string()), found)),
                None => {
                    let mut row = files.start_row();
                    row.collection(0, &found);
                    row.finish(id);
                }
            }
        }
        pending = still;
    }
    let mut batches = vec![files];
    batches.extend(rows.into_batches());
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_drops_the_byte_order_mark_and_cuts_at_a_character() {
        assert_eq!(text("\u{feff}Plan\r\nQ3".as_bytes(), 100), ("Plan\nQ3".to_string(), false));
        assert_eq!(text("ééé".as_bytes(), 3), ("é".to_string(), true));
        assert_eq!(text(b"abc", 3), ("abc".to_string(), false));
    }

    #[test]
    fn text_files_under_the_limit_are_downloaded_and_docs_exported() {
        assert!(matches!(source("text/plain", Some(10), 100), Source::Download));
        assert!(matches!(source("text/plain", Some(1000), 100), Source::None));
        assert!(matches!(source("application/vnd.google-apps.spreadsheet", None, 100), Source::Export("text/csv")));
        assert!(matches!(source("image/png", Some(10), 100), Source::None));
    }
}
