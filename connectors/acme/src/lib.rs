//! The Acme connector: syncs workspaces, users, projects, tasks and files from the Acme demo API (the
//! REST API of Max's reference demo server) into Max.
//!
//! Pagination: list endpoints take `limit` and `cursor` and return the next cursor in `X-Next-Cursor`.
//! Incremental sync: `/api/changes?since=<sequence>` is a change feed of creates, updates and deletes;
//! `/api/changes/cursor` is its newest sequence, where a full sync starts following it.

mod model;
mod object;

use max_connector_sdk::http::{self, Response, encode_query};
use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{
    Batch, ChangePage, Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef, Loader, Onboarding, Page,
    Permissions, Result, Schema, SeedState, SyncPlan, Target, export_connector,
};
use model::{EntityKind, FILE, KINDS, PROJECT, TASK, USER, WORKSPACE};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;

/// Items per page of a collection, unless the `page_size` config says otherwise.
const PAGE_SIZE: u32 = 1000;
/// Refs per call of a by-id loader (fetched concurrently through the host).
const BY_ID_BATCH: u32 = 50;
/// Events per page of the change feed.
const CHANGES_PAGE: u32 = 1000;

/// The root entity: the account behind the API key.
const ROOT: &str = "Account";
const ROOT_ID: &str = "acme";

struct Acme {
    base_url: String,
    page_size: u32,
}

/// A collection loader: `GET /api/<child path>?<param>=<parent id>` (or all, for the root).
struct CollectionSpec {
    loader: &'static str,
    parent: &'static str,
    field: &'static str,
    child: &'static EntityKind,
    /// The query parameter naming the parent, if the list is scoped to one.
    parent_param: Option<&'static str>,
    /// The item's reference field naming the parent (keeps the collection current from the change feed).
    parent_field: Option<&'static str>,
}

const COLLECTIONS: [CollectionSpec; 5] = [
    CollectionSpec {
        loader: "workspaces",
        parent: ROOT,
        field: "workspaces",
        child: &WORKSPACE,
        parent_param: None,
        parent_field: None,
    },
    CollectionSpec {
        loader: "workspace-users",
        parent: "Workspace",
        field: "users",
        child: &USER,
        parent_param: Some("workspaceId"),
        parent_field: Some("workspace"),
    },
    CollectionSpec {
        loader: "workspace-projects",
        parent: "Workspace",
        field: "projects",
        child: &PROJECT,
        parent_param: Some("workspaceId"),
        parent_field: Some("workspace"),
    },
    CollectionSpec {
        loader: "project-tasks",
        parent: "Project",
        field: "tasks",
        child: &TASK,
        parent_param: Some("projectId"),
        parent_field: Some("project"),
    },
    CollectionSpec {
        loader: "project-files",
        parent: "Project",
        field: "files",
        child: &FILE,
        parent_param: Some("projectId"),
        parent_field: Some("project"),
    },
];

fn by_id_loader(kind: &EntityKind) -> String {
    format!("{}-by-id", kind.path)
}

impl Acme {
    fn get(&self, path_and_query: &str) -> Result<Response> {
        http::get(format!("{}{path_and_query}", self.base_url)).credential("api_key").send()?.ok()
    }
}

impl Connector for Acme {
    fn describe() -> ConnectorInfo {
        let schema = Schema::new()
            .entity(ROOT, |e| {
                e.describe("The Acme account the API key belongs to").collection("workspaces", "Workspace")
            })
            .entity("Workspace", |e| WORKSPACE.declare(e).collection("users", "User").collection("projects", "Project"))
            .entity("User", |e| USER.declare(e))
            .entity("Project", |e| PROJECT.declare(e).collection("tasks", "Task").collection("files", "File"))
            .entity("Task", |e| TASK.declare(e))
            .entity("File", |e| FILE.declare(e))
            .root(ROOT, ROOT_ID);
        let mut info = ConnectorInfo::new(
            "acme",
            env!("CARGO_PKG_VERSION"),
            "Acme demo API: workspaces, users, projects, tasks and files",
            schema,
        );
        for spec in &COLLECTIONS {
            let mut loader = Loader::collection(spec.loader, spec.parent, spec.field, spec.child.entity, PAGE_SIZE)
                .describe(&format!("GET /api/{} by {}", spec.child.path, spec.parent_param.unwrap_or("account")));
            if let Some(field) = spec.parent_field {
                loader = loader.parent_field(field);
            }
            info = info.loader(loader);
        }
        for kind in KINDS {
            info = info.loader(
                kind.by_id_loader(&by_id_loader(kind), BY_ID_BATCH)
                    .describe(&format!("GET /api/{}/<id>, concurrently", kind.path)),
            );
        }
        info.loader(
            Loader::change_feed("changes", "Task")
                .describe("GET /api/changes: creates, updates and deletes of every type"),
        )
        .onboarding(
            Onboarding::new()
                .input("base_url", "Acme API URL", Some("https://api.acme.dev"))
                .help("Where the Acme API runs; change it for a self-hosted or local demo server")
                .secret("api_key", "Acme API key")
                .help("Sent as `Authorization: Bearer <key>`")
                .validate("Checking the API key against the Acme API")
                .input("page_size", "Items per request", Some("1000"))
                .help("Smaller pages mean more requests, each quicker")
                .optional(),
        )
        .permissions(Permissions::new().host("api.acme.dev").bearer("api_key").base_url_key("base_url"))
    }

    fn initialise(config: Config) -> Result<Self> {
        let base_url = config.require("base_url")?.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConnectorError::InvalidInput(format!(
                "base_url `{base_url}` must start with http:// or https://"
            )));
        }
        let page_size =
            match config.get("page_size").filter(|s| !s.is_empty()) {
                None => PAGE_SIZE,
                Some(text) => text.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    ConnectorError::InvalidInput(format!("page_size `{text}`: a number from 1 to 1000"))
                })?,
            };
        Ok(Acme { base_url, page_size })
    }

    fn validate(&mut self) -> Result<String> {
        let workspaces: Vec<Json> = self.get("/api/workspaces")?.json()?;
        Ok(match workspaces.len() {
            1 => format!("1 workspace at {}", self.base_url),
            n => format!("{n} workspaces at {}", self.base_url),
        })
    }

    /// After a completed sync, only the change feed from its stored cursor. Otherwise everything, after
    /// first following the change feed: from its current position when no cursor is stored (the log's
    /// past is not replayed), else from the cursor (a `--full` sync learns the deletions since). Its
    /// cursor is stored before any data is read, so a change made while the full sync runs is replayed
    /// by the next sync rather than missed.
    fn seed(&mut self, state: &SeedState) -> Result<SyncPlan> {
        let incremental = !state.full && state.last_completed_sync.is_some() && state.cursor("changes").is_some();
        let changes = SyncPlan::new().then(Target::Root, |s| s.changes("changes"));
        if incremental {
            return Ok(changes);
        }
        let collection =
            |entity: &str, field: &str| (Target::all(entity), max_connector_sdk::StepBuilder.collection(field));
        Ok(changes
            .then(Target::Root, |s| s.collection("workspaces"))
            .together(vec![collection("Workspace", "users"), collection("Workspace", "projects")])
            .together(vec![collection("Project", "tasks"), collection("Project", "files")]))
    }

    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
        let kind = KINDS
            .into_iter()
            .find(|k| by_id_loader(k) == loader)
            .ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        let requests = refs
            .iter()
            .map(|r| http::get(format!("{}/api/{}/{}", self.base_url, kind.path, r.id)).credential("api_key"))
            .collect();
        let mut batch = kind.batch();
        for response in http::send_all(requests) {
            match response?.ok() {
                Ok(response) => kind.push(&mut batch, response.body())?,
                // Deleted since it was listed: nothing to load.
                Err(ConnectorError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(Entities::from(batch))
    }

    fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        let spec =
            COLLECTIONS.iter().find(|c| c.loader == loader).ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        let mut query = format!("/api/{}?limit={}", spec.child.path, self.page_size);
        if let Some(param) = spec.parent_param {
            query.push_str(&format!("&{param}={}", encode_query(&parent.id)));
        }
        if let Some(cursor) = cursor {
            query.push_str(&format!("&cursor={}", encode_query(cursor)));
        }
        let response = self.get(&query)?;
        let next = response.header("x-next-cursor").filter(|c| !c.is_empty()).map(str::to_string);
        Ok(Page::new(spec.child.rows(response.body())?).next(next))
    }

    fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<ChangePage> {
        if loader != "changes" {
            return Err(ConnectorError::unknown_loader(loader));
        }
        let Some(since) = cursor else { return self.change_position() };
        let response = self.get(&format!("/api/changes?since={}&limit={CHANGES_PAGE}", encode_query(since)))?;
        let body: ChangeLog<'_> = serde_json::from_slice(response.body())
            .map_err(|e| ConnectorError::invalid_response(format!("a change log expected: {e}")))?;
        let mut last = since.to_string();
        let mut upserts: Vec<(&EntityKind, Batch)> = Vec::new();
        let mut page = ChangePage::new(String::new(), false);
        for event in &body.events {
            last = object::text(event.sequence);
            let Some(kind) = model::kind_named(event.entity_type) else { continue };
            let id = object::text(event.entity_id);
            if event.action == "delete" {
                page = page.delete(kind.entity, &id);
                continue;
            }
            let Some(payload) = event.payload.filter(|p| p.get().starts_with('{')) else { continue };
            let index = match upserts.iter().position(|(k, _)| k.entity == kind.entity) {
                Some(index) => index,
                None => {
                    upserts.push((kind, kind.batch()));
                    upserts.len() - 1
                }
            };
            kind.push(&mut upserts[index].1, payload.get().as_bytes())?;
        }
        let next = body.next_cursor.filter(|c| c.get() != "null");
        page.has_more = next.is_some() && !body.events.is_empty();
        page.next_cursor = next.map_or(last, object::text);
        for (_, batch) in upserts {
            page = page.upsert(batch);
        }
        Ok(page)
    }
}

impl Acme {
    /// The change feed's current position, as an empty page: `GET /api/changes/cursor`. A server without
    /// that endpoint (an older demo server) answers 404; the feed is then read from its start.
    fn change_position(&mut self) -> Result<ChangePage> {
        match self.get("/api/changes/cursor") {
            Ok(response) => {
                let body: Position<'_> = serde_json::from_slice(response.body())
                    .map_err(|e| ConnectorError::invalid_response(format!("a change cursor expected: {e}")))?;
                Ok(ChangePage::new(object::text(body.cursor), false))
            }
            Err(ConnectorError::NotFound(_)) => self.changes("changes", Some("0")),
            Err(error) => Err(error),
        }
    }
}

/// `GET /api/changes/cursor`: `{cursor}` (a sequence, as a string or a number).
#[derive(Deserialize)]
struct Position<'a> {
    #[serde(borrow)]
    cursor: &'a RawValue,
}

/// `GET /api/changes`: `{events: [...], nextCursor}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeLog<'a> {
    #[serde(borrow)]
    events: Vec<Event<'a>>,
    #[serde(borrow)]
    next_cursor: Option<&'a RawValue>,
}

/// One change: `{sequence, entityType, entityId, action, payload, timestamp}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    sequence: &'a RawValue,
    entity_type: &'a str,
    entity_id: &'a RawValue,
    action: &'a str,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

export_connector!(Acme);
