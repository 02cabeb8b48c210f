//! The Google Drive connector: syncs the files and folders of My Drive, the files shared with the user
//! and the shared drives they are a member of (each file with its folder, path, owner, permissions,
//! and, for Google Docs, Sheets, Slides and text files, its text), from Drive's API v3
//! (`https://www.googleapis.com/drive/v3`) into Max, with OAuth tokens the host refreshes
//! (`oauth2.googleapis.com`); the connector never sees them.
//!
//! One feed (see `feed`) lists every file the first time, as changes, after taking Drive's changes
//! token, and then follows Drive's changes; the text and the permissions Drive doesn't list are
//! versioned fields (contract 0.3.0), which the host has read again only for files whose version or
//! checksum changed (see `content`). Drive sends no rate-limit headers; throttled requests are retried
//! with the host's backoff.

mod api;
mod content;
mod feed;
mod files;
mod model;

use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{
    Batch, ChangePage, Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef, Loader, Onboarding, Page,
    Permissions, Result, Schema, SeedState, StepBuilder, SyncPlan, Target, Value, export_connector,
};
use serde_json::Value as Json;

use api::{Api, CREDENTIAL, DEFAULT_BASE_URL};
use files::{Folders, Rows};
use model::{ACCOUNT, ACCOUNT_ID, DRIVE, FILE, PERMISSION, USER};

/// Google's OAuth token endpoint.
const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The default limit on a file's text, in KiB.
const DEFAULT_CONTENT_KIB: usize = 1024;
/// Files per call of the per-file loaders (each file one or two requests, sent side by side).
const PER_FILE_BATCH: u32 = 25;

/// The connector as configured for an installation, and the folders this instance has seen.
pub struct GoogleDrive {
    api: Api,
    page_size: usize,
    content: bool,
    content_limit: usize,
    folders: Folders,
}

/// The account's fields `account` fills.
const ACCOUNT_FIELDS: [&str; 6] = ["user", "emailAddress", "displayName", "storageLimit", "storageUsage", "myDrive"];

impl Connector for GoogleDrive {
    fn describe() -> ConnectorInfo {
        let schema = Schema::new()
            .entity(ACCOUNT.entity, |e| ACCOUNT.declare(e))
            .entity(DRIVE.entity, |e| DRIVE.declare(e))
            .entity(FILE.entity, |e| {
                FILE.declare(e)
                    .versioned(&["content", "contentTruncated"], &["version", "md5Checksum"])
                    .versioned(&["permissions"], &["version"])
                    .owns("permissions")
            })
            .entity(USER.entity, |e| USER.declare(e))
            .entity(PERMISSION.entity, |e| PERMISSION.declare(e))
            .root(ACCOUNT.entity, ACCOUNT_ID);
        ConnectorInfo::new(
            "gdrive",
            env!("CARGO_PKG_VERSION"),
            "Google Drive: files and folders with their paths, shared drives, permissions and the text of documents",
            schema,
        )
        .loader(
            Loader::batched("account", ACCOUNT.entity, 1)
                .fills(&ACCOUNT_FIELDS)
                .describe("GET /drive/v3/about and /files/root"),
        )
        .loader(
            Loader::collection("drives", ACCOUNT.entity, "drives", DRIVE.entity, 100).describe("GET /drive/v3/drives"),
        )
        .loader(
            Loader::collection("files", ACCOUNT.entity, "files", FILE.entity, 1000)
                .describe("GET /drive/v3/files, My Drive and shared with the user, then each shared drive"),
        )
        .loader(
            Loader::collection("children", FILE.entity, "children", FILE.entity, 1000)
                .parent_field("parent")
                .describe("GET /drive/v3/files?q='<folder>' in parents"),
        )
        .loader(
            Loader::change_feed("file-feed", FILE.entity)
                .describe("every file listed once after taking a changes token, then GET /drive/v3/changes"),
        )
        .loader(
            Loader::batched("file-content", FILE.entity, PER_FILE_BATCH)
                .fills(&["content", "contentTruncated"])
                .describe("GET /drive/v3/files/{id}/export (Docs, Sheets, Slides) or ?alt=media (text files)"),
        )
        .loader(
            Loader::batched("file-permissions", FILE.entity, PER_FILE_BATCH)
                .fills(&["permissions"])
                .describe("GET /drive/v3/files/{id}/permissions"),
        )
        .onboarding(
            Onboarding::new()
                .input("base_url", "Google API URL", Some(DEFAULT_BASE_URL))
                .help("Leave as is; change it only to point at a test server")
                .secret("oauth_access_token", "OAuth access token")
                .help("From your OAuth client's grant with the drive.readonly scope (ya29.…)")
                .secret("oauth_refresh_token", "OAuth refresh token")
                .help("Max refreshes the access token with it; Google keeps the refresh token")
                .secret("oauth_client_id", "OAuth client id")
                .help("Your OAuth client's id (….apps.googleusercontent.com)")
                .secret("oauth_client_secret", "OAuth client secret")
                .validate("Checking the tokens with Google Drive (about)")
                .select(
                    "content",
                    "The text of documents",
                    &[
                        ("text", "Sync the text of Docs, Sheets, Slides and text files (searchable)"),
                        ("none", "Only names and details"),
                    ],
                    false,
                    false,
                )
                .help("Reading text costs a request per file, and only again when the file changes")
                .input("content_max_kib", "Largest text kept per file, in KiB", Some("1024"))
                .help("Text beyond it is cut (contentTruncated); text files larger are not read")
                .input("page_size", "Files a request lists", Some("1000"))
                .help("Drive's most is 1000; fewer makes more, smaller requests"),
        )
        .permissions(
            Permissions::new()
                .host("www.googleapis.com")
                .host("oauth2.googleapis.com")
                .oauth2(
                    CREDENTIAL,
                    TOKEN_URL,
                    "oauth_refresh_token",
                    Some("oauth_client_id"),
                    Some("oauth_client_secret"),
                )
                .base_url_key("base_url"),
        )
    }

    fn initialise(config: Config) -> Result<Self> {
        let base_url = config.base_url(DEFAULT_BASE_URL)?;
        let content = match config.get("content").unwrap_or("text") {
            "text" | "" => true,
            "none" => false,
            other => return Err(ConnectorError::InvalidInput(format!("content `{other}`: expected text or none"))),
        };
        let kib = match config.get("content_max_kib").map(str::trim).filter(|v| !v.is_empty()) {
            None => DEFAULT_CONTENT_KIB,
            Some(text) => text.parse::<usize>().ok().filter(|k| (1..=65_536).contains(k)).ok_or_else(|| {
                ConnectorError::InvalidInput(format!("content_max_kib `{text}`: a number of KiB from 1 to 65536"))
            })?,
        };
        let page_size = match config.get("page_size").map(str::trim).filter(|v| !v.is_empty()) {
            None => feed::PAGE_SIZE,
            Some(text) => {
                text.parse::<usize>().ok().filter(|n| (1..=feed::PAGE_SIZE).contains(n)).ok_or_else(|| {
                    ConnectorError::InvalidInput(format!("page_size `{text}`: a number of files from 1 to 1000"))
                })?
            }
        };
        Ok(GoogleDrive {
            api: Api::new(base_url),
            page_size,
            content,
            content_limit: kib * 1024,
            folders: Folders::default(),
        })
    }

    fn validate(&mut self) -> Result<String> {
        let about = self.api.json(self.api.get("/about", &[("fields", "user(displayName,emailAddress)")]))?;
        let user = &about["user"];
        Ok(format!(
            "Google Drive of {} <{}>",
            user["displayName"].as_str().unwrap_or("?"),
            user["emailAddress"].as_str().unwrap_or("?")
        ))
    }

    /// Every sync: the feed (the first time, the listing), the account and the shared drives; then the
    /// permissions and text of the files whose version changed. A `--full` sync lists every file again
    /// too.
    fn seed(&mut self, state: &SeedState) -> Result<SyncPlan> {
        let mut first = vec![
            (Target::Root, StepBuilder.changes("file-feed")),
            (Target::Root, StepBuilder.fields(&ACCOUNT_FIELDS)),
            (Target::Root, StepBuilder.collection("drives")),
        ];
        if state.full && state.cursor("file-feed").is_some() {
            first.push((Target::Root, StepBuilder.collection("files")));
        }
        let mut versioned = vec![(Target::all(FILE.entity), StepBuilder.fields(&["permissions"]))];
        if self.content {
            versioned.push((Target::all(FILE.entity), StepBuilder.fields(&["content", "contentTruncated"])));
        }
        Ok(SyncPlan::new().together(first).together(versioned))
    }

    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        match loader {
            "account" => self.account(),
            "file-content" => Ok(Entities::from(content::load(&self.api, &ids, self.content_limit)?)),
            "file-permissions" => {
                Ok(content::permissions(&self.api, &ids)?.into_iter().fold(Entities::new(), Entities::with))
            }
            _ => Err(ConnectorError::unknown_loader(loader)),
        }
    }

    fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        match loader {
            "drives" => self.drives_page(cursor),
            "files" => self.files_page(cursor),
            "children" => self.children_page(&parent.id, cursor),
            _ => Err(ConnectorError::unknown_loader(loader)),
        }
    }

    fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<ChangePage> {
        match loader {
            "file-feed" => {
                let content = self.content.then_some(self.content_limit);
                feed::page(&self.api, &mut self.folders, (self.page_size, content), cursor)
            }
            _ => Err(ConnectorError::unknown_loader(loader)),
        }
    }
}

impl GoogleDrive {
    /// The account row and its user.
    fn account(&mut self) -> Result<Entities> {
        let about = self.api.json(self.api.get(
            "/about",
            &[("fields", "user(displayName,emailAddress,permissionId,me,photoLink),storageQuota(limit,usage)")],
        ))?;
        let root = self.api.json(self.api.get("/files/root", &[("fields", "id")]))?;
        let mut rows = Rows::default();
        let user = rows.user(&about["user"]);
        let mut account = Batch::new(ACCOUNT.entity, &ACCOUNT_FIELDS);
        let text = files::text;
        let mut row = account.start_row();
        row.value(0, &user.map_or(Value::Null, Value::Reference));
        row.value(1, &text(&about["user"]["emailAddress"]));
        row.value(2, &text(&about["user"]["displayName"]));
        row.value(3, &api::number(&about["storageQuota"]["limit"]).map_or(Value::Null, Value::Integer));
        row.value(4, &api::number(&about["storageQuota"]["usage"]).map_or(Value::Null, Value::Integer));
        row.value(5, &root["id"].as_str().map_or(Value::Null, |id| Value::Reference(id.to_string())));
        row.finish(ACCOUNT_ID);
        Ok(rows.into_batches().into_iter().fold(Entities::from(account), Entities::with))
    }

    fn drives_page(&mut self, cursor: Option<&str>) -> Result<Page> {
        let mut query = vec![("pageSize", "100"), ("fields", "nextPageToken,drives(id,name,createdTime,hidden)")];
        if let Some(token) = cursor {
            query.push(("pageToken", token));
        }
        let body = self.api.json(self.api.get("/drives", &query))?;
        let mut drives = DRIVE.batch();
        for drive in body["drives"].as_array().into_iter().flatten() {
            if let Some(id) = drive["id"].as_str() {
                files::drive_row(&mut drives, id, drive);
            }
        }
        Ok(Page::new(drives).next(body["nextPageToken"].as_str().map(str::to_string)))
    }

    /// A page of every file again (a `--full` sync): the cursor is where the listing goes next.
    fn files_page(&mut self, cursor: Option<&str>) -> Result<Page> {
        let (drive, page): (Option<String>, Option<String>) = match cursor {
            None => (None, None),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| ConnectorError::InvalidInput(format!("not a cursor of the file listing: {e}")))?,
        };
        let mut rows = Rows::for_page();
        let next = feed::listing(&self.api, &mut self.folders, &mut rows, self.page_size, drive, page)?;
        let next = next.map(|next| serde_json::to_string(&next).expect("a cursor serializes"));
        Ok(rows.into_page().next(next))
    }

    /// A page of one folder's files and folders.
    fn children_page(&mut self, folder: &str, cursor: Option<&str>) -> Result<Page> {
        let body = feed::children(&self.api, folder, model::FILE_FIELDS, self.page_size, cursor)?;
        let files: Vec<Json> = body["files"].as_array().cloned().unwrap_or_default();
        let mut rows = Rows::for_page();
        feed::write_files(&self.api, &mut self.folders, &files, &mut rows)?;
        Ok(rows.into_page().next(body["nextPageToken"].as_str().map(str::to_string)))
    }
}

export_connector!(GoogleDrive);
