//! `max mcp`: a Model Context Protocol server over stdio (rmcp) that lets an agent find its way
//! around a project's synced data: the installations, their schemas, search with the filter
//! language and full-text matching, one entity with its references, read-only SQL across
//! installations, sync status, and (only with `--allow-sync`) starting a sync. Every tool goes
//! through the host's front door; every answer is sized for a model's context.

use std::sync::Arc;

use max_host::query::SearchRequest;
use max_host::{Host, SqlOptions, SyncRequest};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest text value returned as it is; longer ones are cut (and the answer says so).
const MAX_VALUE_CHARS: usize = 2_000;
/// The most characters one answer holds; rows past it are left for the next page.
const MAX_ANSWER_CHARS: usize = 60_000;
/// Rows a search returns unless asked for fewer or more (at most [`MOST_ROWS`]).
const DEFAULT_ROWS: usize = 20;
/// The most rows one search or query returns.
const MOST_ROWS: usize = 200;
/// How long a query may run.
const SQL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

const INSTRUCTIONS: &str = "Max keeps a local, offline copy of a company's SaaS data (Linear, HubSpot, \
GitHub, Google Drive and other connectors), one SQLite database per installation. Work in this order: \
1) list_installations to see what is synced and how current it is; 2) describe_schema for an \
installation's entity types, fields, references and collections; 3) search for rows of one entity \
type with a filter and/or full-text words, asking only for the fields you need; get_entity to follow \
one row's references; sql for joins, counts and aggregates across installations. Data is as fresh as \
the last sync (sync_status says when).";

/// The MCP server: tools over one project's host.
#[derive(Clone)]
pub struct MaxTools {
    host: Arc<Host>,
    tool_router: ToolRouter<Self>,
}

/// What describe_schema takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SchemaParams {
    /// The installation (`linear`, `linear/work`).
    pub installation: String,
    /// One entity type to describe in full (its fields with types and descriptions); without it,
    /// every entity type with its field names only.
    pub entity: Option<String>,
}

/// What search takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchParams {
    /// The installation (`linear`, `linear/work`).
    pub installation: String,
    /// The entity type (`Issue`).
    pub entity: String,
    /// A filter: `field op value` with = != > >= < <= and ~= (contains, case-insensitive), AND
    /// (binds tighter), OR, parentheses; "quoted" values stay strings; `null` matches empty fields;
    /// dotted paths follow references: `state.name = "In Progress" AND assignee.email ~= "@acme.com"`.
    pub filter: Option<String>,
    /// Full-text words in the searchable fields (most relevant first): words, "a phrase", word*,
    /// a OR b, -word, field:word.
    #[serde(rename = "match")]
    #[schemars(rename = "match")]
    pub text: Option<String>,
    /// The fields to return (dotted paths allowed: `assignee.name`); default: every field. Ask for
    /// few: answers are cut at a size.
    pub fields: Option<Vec<String>>,
    /// Sort keys, `field` or `field:desc`.
    pub order_by: Option<Vec<String>>,
    /// Rows to return (default 20, at most 200).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// What get_entity takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EntityParams {
    /// The installation (`linear`, `linear/work`).
    pub installation: String,
    /// The entity type (`Issue`).
    pub entity: String,
    /// Its id.
    pub id: String,
}

/// What sql takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SqlParams {
    /// One read-only SELECT (or WITH). Each installation's tables are read under its name:
    /// `linear.Issue`, `hubspot.Contact`, `"linear/work".Issue`. Rows a sync saw deleted have
    /// `_deleted_at` set: add `WHERE _deleted_at IS NULL`. Collections are link tables
    /// (`linear."Issue.labels"`: parent_id, position, child_id).
    pub query: String,
    /// Rows to return (default 100, at most 200).
    pub max_rows: Option<u64>,
}

/// What sync_status takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatusParams {
    /// The installation (default: every installation).
    pub installation: Option<String>,
}

/// What start_sync takes.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SyncParams {
    /// The installation (`linear`, `linear/work`).
    pub installation: String,
    /// Reload everything rather than what changed.
    #[serde(default)]
    pub full: bool,
}

#[tool_router]
impl MaxTools {
    /// A server over `host`; `allow_sync` lists start_sync among its tools.
    pub fn new(host: Host, allow_sync: bool) -> Self {
        let mut tool_router = Self::tool_router();
        if !allow_sync {
            tool_router.remove_route("start_sync");
        }
        MaxTools { host: Arc::new(host), tool_router }
    }

    #[tool(description = "List the project's installations (each a connector connected to one \
        account): name, connector, rows per entity type, and the last sync. Start here; the names \
        are what the other tools take.")]
    async fn list_installations(&self) -> CallToolResult {
        let host = self.host.clone();
        answer(
            blocking(move || {
                let schemas = host.sql_schemas()?;
                let mut listed = Vec::new();
                for installation in host.project().installations().list()? {
                    let overview = host.overview(&installation)?;
                    let sql = schemas.iter().find(|s| s.installation == installation.label()).map(|s| s.name.clone());
                    listed.push(json!({
                        "installation": installation.label(),
                        "connector": installation.file.connector,
                        "sql_name": sql,
                        "rows": overview.rows,
                        "last_sync": overview.last_sync,
                    }));
                }
                Ok(json!({ "installations": listed }))
            })
            .await,
        )
    }

    #[tool(description = "Describe an installation's schema: its entity types, and for one \
        entity type (`entity`) every field with its type (string, integer, float, boolean, \
        datetime, json, ref to another entity type, collection of one) and description. Use it \
        before search and sql to know the names to filter and join on.")]
    async fn describe_schema(&self, Parameters(params): Parameters<SchemaParams>) -> CallToolResult {
        let host = self.host.clone();
        answer(
            blocking(move || {
                let view = host.schema(&params.installation)?;
                let entities = &view.schema.entities;
                match params.entity {
                    Some(name) => {
                        let entity = entities.iter().find(|e| e.name.eq_ignore_ascii_case(&name)).ok_or_else(|| {
                            tool_error(
                                format!("`{}` has no entity type `{name}`", params.installation),
                                format!("its entity types: {}", names(entities)),
                            )
                        })?;
                        let searchable: Vec<&str> = view
                            .schema
                            .searchable
                            .iter()
                            .filter(|s| s.entity == entity.name)
                            .map(|s| s.field.as_str())
                            .collect();
                        Ok(json!({ "connector": view.connector, "entity": entity, "searchable": searchable }))
                    }
                    None => {
                        let listed: Vec<Value> = entities
                            .iter()
                            .map(|e| {
                                json!({
                                    "entity": e.name,
                                    "description": e.description,
                                    "fields": e.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                                })
                            })
                            .collect();
                        Ok(json!({ "connector": view.connector, "version": view.version, "entities": listed }))
                    }
                }
            })
            .await,
        )
    }

    #[tool(description = "Search one entity type of an installation: a filter (field op value, AND, \
        OR, parentheses, dotted paths through references: `state.name = \"Todo\" AND priority <= 2`) \
        and/or full-text words (`match`: most relevant first, with a `_snippet`). Ask only for the \
        `fields` you need; page with `after` = the previous answer's `next`.")]
    async fn search(&self, Parameters(params): Parameters<SearchParams>) -> CallToolResult {
        let host = self.host.clone();
        answer(blocking(move || {
            let installation = host.installation(&params.installation)?;
            let request = SearchRequest {
                entity: params.entity,
                filter: params.filter,
                fields: params.fields,
                order_by: params.order_by.unwrap_or_default(),
                limit: Some(params.limit.unwrap_or(DEFAULT_ROWS).clamp(1, MOST_ROWS)),
                after: params.after,
                text: params.text,
                highlight: Some(("**".to_string(), "**".to_string())),
            };
            let found = host.search(&installation, &request)?;
            let (rows, cut) = sized(&found.page.columns, found.page.rows);
            let mut answer = json!({ "entity": found.entity, "rows": rows, "next": found.page.next });
            if cut {
                answer["note"] = Value::from(
                    "the answer was cut to fit: ask for fewer fields or a smaller limit to see every row of this page",
                );
            }
            Ok(answer)
        })
        .await)
    }

    #[tool(description = "Fetch one entity by id with every field, and the entities its references \
        point at (an issue's assignee, team, state…), one level deep.")]
    async fn get_entity(&self, Parameters(params): Parameters<EntityParams>) -> CallToolResult {
        let host = self.host.clone();
        answer(
            blocking(move || {
                let installation = host.installation(&params.installation)?;
                match host.entity(&installation, &params.entity, &params.id)? {
                    Some(view) => Ok(shortened(serde_json::to_value(view).unwrap_or_default())),
                    None => Err(tool_error(
                        format!("no {} with id `{}` in {}", params.entity, params.id, installation.label()),
                        "search for it first; ids are as the API gives them".to_string(),
                    )),
                }
            })
            .await,
        )
    }

    #[tool(description = "Run one read-only SQL query (SQLite dialect) across installations: each \
        installation's tables are read under its name (linear.Issue, hubspot.Contact, \
        \"linear/work\".Issue; sql_name in list_installations). Entity types are tables whose columns \
        are their fields (a ref holds the referenced id); collections are link tables \
        (linear.\"Issue.labels\": parent_id, position, child_id). Deleted rows have _deleted_at set. \
        Writes, ATTACH and PRAGMAs that change anything are refused; at most 200 rows, 15 s.")]
    async fn sql(&self, Parameters(params): Parameters<SqlParams>) -> CallToolResult {
        let host = self.host.clone();
        answer(
            blocking(move || {
                let options = SqlOptions {
                    max_rows: params.max_rows.unwrap_or(100).clamp(1, MOST_ROWS as u64),
                    timeout: SQL_TIMEOUT,
                };
                let mut columns = Vec::new();
                let mut rows = Vec::new();
                let outcome = host.sql_each(&params.query, &options, &mut |c| columns = c.to_vec(), &mut |row| {
                    rows.push(row);
                    std::ops::ControlFlow::Continue(())
                })?;
                let (rows, cut) = sized(&columns, rows);
                let truncated = outcome.truncated || cut;
                let mut answer = json!({ "columns": columns, "rows": rows, "truncated": truncated });
                if truncated {
                    answer["note"] = Value::from(
                        "more rows than returned: aggregate, add a WHERE or a LIMIT, or select fewer columns",
                    );
                }
                Ok(answer)
            })
            .await,
        )
    }

    #[tool(description = "Show how current an installation's data is: its recent syncs (status, \
        when, rows, failures), a sync in progress, and per entity type the live, deleted and stale \
        rows and when they were last written. Without `installation`, every installation's.")]
    async fn sync_status(&self, Parameters(params): Parameters<StatusParams>) -> CallToolResult {
        let host = self.host.clone();
        answer(
            blocking(move || {
                let installations = match &params.installation {
                    Some(name) => vec![host.installation(name)?],
                    None => host.project().installations().list()?,
                };
                let mut statuses = Vec::new();
                for installation in installations {
                    let status = host.status(&installation, 3)?;
                    statuses.push(json!({ "installation": installation.label(), "status": status }));
                }
                Ok(shortened(json!({ "installations": statuses })))
            })
            .await,
        )
    }

    #[tool(description = "Sync an installation now (what changed since the last sync, or \
        everything with full = true) and wait for it to end; returns what it did. Syncs take from \
        seconds to many minutes and call the SaaS API.")]
    async fn start_sync(&self, Parameters(params): Parameters<SyncParams>) -> CallToolResult {
        let result: Result<Value, ToolError> = async {
            let installation = self.host.installation(&params.installation)?;
            let request = SyncRequest { full: params.full, ..SyncRequest::default() };
            let report = self.host.sync(&installation, &request, &max_host::Unobserved).await?;
            Ok(shortened(serde_json::to_value(report).unwrap_or_default()))
        }
        .await;
        answer(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MaxTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("max", env!("CARGO_PKG_VERSION")).with_title("Max"))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Serves `host` over stdin and stdout until the client goes.
pub async fn serve(host: Host, allow_sync: bool) -> anyhow::Result<()> {
    let service = MaxTools::new(host, allow_sync).serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}

/// A failure a tool reports to the model: what happened and what to do.
struct ToolError(Value);

impl From<max_host::Error> for ToolError {
    fn from(error: max_host::Error) -> Self {
        ToolError(crate::output::host_error_json(&error))
    }
}

fn tool_error(message: String, hint: String) -> ToolError {
    ToolError(json!({ "message": message, "hint": hint }))
}

/// Runs `work` (SQLite reads) off the async threads.
async fn blocking(work: impl FnOnce() -> Result<Value, ToolError> + Send + 'static) -> Result<Value, ToolError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(tool_error(format!("the tool failed: {e}"), "try again".to_string())))
}

/// A tool's answer: its JSON as text, or its failure marked as an error the model can act on.
fn answer(result: Result<Value, ToolError>) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
        Err(ToolError(error)) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
    }
}

/// Rows as objects keyed by `columns`, long texts cut, and only as many rows as fit an answer.
/// Returns the rows and whether any were left out.
fn sized(columns: &[String], rows: Vec<Vec<Value>>) -> (Vec<Value>, bool) {
    let mut out = Vec::with_capacity(rows.len());
    let mut used = 0;
    let total = rows.len();
    for row in rows {
        let object: serde_json::Map<String, Value> =
            columns.iter().cloned().zip(row.into_iter().map(shortened)).collect();
        let object = Value::Object(object);
        used += object.to_string().len();
        if used > MAX_ANSWER_CHARS && !out.is_empty() {
            break;
        }
        out.push(object);
    }
    let cut = out.len() < total;
    (out, cut)
}

/// `value` with every string longer than [`MAX_VALUE_CHARS`] cut, saying how long it was.
fn shortened(value: Value) -> Value {
    match value {
        Value::String(text) if text.chars().count() > MAX_VALUE_CHARS => {
            let kept: String = text.chars().take(MAX_VALUE_CHARS).collect();
            Value::String(format!("{kept}… [cut: {} characters in all]", text.chars().count()))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(shortened).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, shortened(v))).collect()),
        other => other,
    }
}

/// Entity names, comma-separated.
fn names(entities: &[max_host::manifest::EntityDef]) -> String {
    entities.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
}
