//! The Linear connector: syncs teams, users, workflow states, labels, projects, cycles, issues and
//! comments from Linear's GraphQL API (`https://api.linear.app/graphql`) into Max.
//!
//! Every list is a Relay connection read page by page (`first`/`after`); nested lists (a team's
//! members, an issue's sub-issues, a project's teams) come along in the same query, and their further
//! pages are fetched on the spot. Issue labels come from `labelIds`. Auth is a personal API key (sent
//! verbatim as `Authorization`) or an OAuth token the host refreshes; the connector never sees either.

mod changes;
mod model;
mod rows;

use max_connector_sdk::http;
use max_connector_sdk::table::EntityTable;
use max_connector_sdk::{
    Config, Connector, ConnectorError, ConnectorInfo, Entities, EntityRef, Loader, Onboarding, Page, Permissions,
    Result, Schema, SeedState, SelectOption, SyncPlan, Target, export_connector,
};
use model::{EntityKind, KINDS, TeamScope};
use serde_json::{Value as Json, json};

/// The root entity: the organization (workspace) the credentials belong to.
const ROOT: &str = "Organization";
const ROOT_ID: &str = "organization";
/// Where Linear's API lives.
const DEFAULT_BASE_URL: &str = "https://api.linear.app";
/// The complexity points a list query may cost: Linear refuses a query over 10,000, and a tenth is
/// left for where Linear's count differs from this connector's estimate of its own queries.
const QUERY_BUDGET: f64 = 9_000.0;
/// The largest page Linear serves.
const MAX_PAGE_SIZE: u32 = 250;
/// The types listed team by team, as collections of each team named as their lists (`Team.issues`,
/// `Team.comments`): one chain of pages per team, read side by side, where one list of the whole
/// workspace would be one long chain. The rest are listed whole, as the organization's collections.
const PER_TEAM: [&EntityKind; 2] = [&model::ISSUE, &model::COMMENT];

fn listed_per_team(kind: &EntityKind) -> bool {
    PER_TEAM.iter().any(|k| k.entity == kind.entity)
}

/// The loader of a team's `kind` objects.
fn per_team_loader(kind: &EntityKind) -> String {
    format!("team-{}", kind.list)
}

/// Refs per call of a by-id loader.
const BY_ID_BATCH: u32 = 100;

struct Linear {
    endpoint: String,
    credential: &'static str,
    /// The page size the user chose, if any (never more than the complexity budget allows).
    page_size: Option<u32>,
    /// Smaller pages for the types whose queries Linear called too complex (its count of points can
    /// differ from this connector's estimate), kept for the instance's life.
    shrunk: std::cell::RefCell<std::collections::HashMap<&'static str, u32>>,
    /// The team ids to sync; empty means every team.
    teams: Vec<String>,
}

impl Linear {
    fn query(&self, query: &str, variables: Json) -> Result<Json> {
        http::graphql(&self.endpoint, self.credential, query, variables)
    }

    /// The filter narrowing `kind`'s list to the chosen teams, if any.
    fn team_filter(&self, kind: &EntityKind) -> Json {
        if self.teams.is_empty() {
            return Json::Null;
        }
        // A team is chosen by its key (`ENG`, what onboarding offers) or, in older installations, its id.
        scoped(kind, json!({ "or": [{ "key": { "in": self.teams } }, { "id": { "in": self.teams } }] }))
    }

    /// How many `kind` objects a page asks for: the most Linear serves that keep the query within
    /// [`QUERY_BUDGET`], or fewer if the user chose so.
    fn page_size(&self, kind: &EntityKind) -> u32 {
        let fits = largest_page(kind);
        let fits = self.shrunk.borrow().get(kind.entity).map_or(fits, |shrunk| fits.min(*shrunk));
        self.page_size.map_or(fits, |chosen| chosen.min(fits))
    }

    /// Runs a query for one page of `kind` objects, `variables` given the page size: halved (for this
    /// and later pages) while Linear calls the query too complex.
    fn page_query(&self, kind: &EntityKind, query: &str, variables: impl Fn(u32) -> Json) -> Result<Json> {
        loop {
            let first = self.page_size(kind);
            match self.query(query, variables(first)) {
                Err(ConnectorError::Other(message))
                    if first > 1 && message.to_ascii_lowercase().contains("too complex") =>
                {
                    self.shrunk.borrow_mut().insert(kind.entity, first / 2);
                }
                answer => return answer,
            }
        }
    }

    /// One page of `kind`'s list: the batch and the cursor of the next page.
    fn list_page(
        &self,
        kind: &EntityKind,
        filter: Json,
        after: Option<&str>,
    ) -> Result<(max_connector_sdk::Batch, Option<String>)> {
        let query = format!(
            "query Page($first: Int!, $after: String, $filter: {}) {{ {}(first: $first, after: $after, filter: $filter) {{ nodes {{ {} }} pageInfo {{ hasNextPage endCursor }} }} }}",
            kind.filter_type(),
            kind.list,
            kind.selection()
        );
        let data =
            self.page_query(kind, &query, |first| json!({ "first": first, "after": after, "filter": filter }))?;
        let connection = &data[kind.list];
        Ok((self.batch_of(kind, connection)?, next_cursor(connection)))
    }

    /// The ids of the rest of a nested connection, from the page after `after` on.
    fn rest_of(&self, kind: &EntityKind, id: &str, field: &str, mut after: String) -> Result<Vec<String>> {
        let query = format!(
            "query Rest($id: String!, $after: String) {{ {}(id: $id) {{ {field}(first: {MAX_PAGE_SIZE}, after: $after) {{ nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }} }} }}",
            kind.single
        );
        let mut ids = Vec::new();
        loop {
            let data = self.query(&query, json!({ "id": id, "after": after }))?;
            let connection = &data[kind.single][field];
            for node in nodes(connection)? {
                ids.push(node["id"].as_str().unwrap_or_default().to_string());
            }
            match next_cursor(connection) {
                Some(next) if next != after => after = next,
                _ => return Ok(ids),
            }
        }
    }
}

/// The most `kind` objects a page can hold: what Linear serves, within [`QUERY_BUDGET`].
fn largest_page(kind: &EntityKind) -> u32 {
    kind.page_within(QUERY_BUDGET).min(MAX_PAGE_SIZE)
}

/// `teams` (a `TeamFilter`) as the filter of `kind`'s list.
fn scoped(kind: &EntityKind, teams: Json) -> Json {
    match kind.scope {
        TeamScope::None => Json::Null,
        TeamScope::Own => teams,
        TeamScope::Team => json!({ "team": teams }),
        TeamScope::IssueTeam => json!({ "issue": { "team": teams } }),
    }
}

impl Linear {
    /// The nodes of a connection of `kind` objects as one batch.
    fn batch_of(&self, kind: &EntityKind, connection: &Json) -> Result<max_connector_sdk::Batch> {
        let mut batch = kind.batch();
        for node in nodes(connection)? {
            rows::push(self, kind, &mut batch, node)?;
        }
        Ok(batch)
    }

    /// One page of an issue's sub-issues (their ids; the issues themselves come with the issue list).
    fn children_page(&self, issue: &str, after: Option<&str>) -> Result<Page> {
        let query = format!(
            "query Children($id: String!, $first: Int!, $after: String) {{ issue(id: $id) {{ children(first: $first, after: $after) {{ nodes {{ {} }} pageInfo {{ hasNextPage endCursor }} }} }} }}",
            model::ISSUE.selection()
        );
        let data =
            self.page_query(&model::ISSUE, &query, |first| json!({ "id": issue, "first": first, "after": after }))?;
        let connection = &data["issue"]["children"];
        Ok(Page::new(self.batch_of(&model::ISSUE, connection)?).next(next_cursor(connection)))
    }
}

fn nodes(connection: &Json) -> Result<&Vec<Json>> {
    connection["nodes"]
        .as_array()
        .ok_or_else(|| ConnectorError::invalid_response(format!("a connection without nodes: {connection}")))
}

fn next_cursor(connection: &Json) -> Option<String> {
    let info = &connection["pageInfo"];
    (info["hasNextPage"] == true).then(|| info["endCursor"].as_str().map(str::to_string)).flatten()
}

impl Connector for Linear {
    fn describe() -> ConnectorInfo {
        let mut schema = Schema::new().entity(ROOT, |mut e| {
            e = e
                .describe("The Linear workspace the credentials belong to")
                .field_doc("name", max_connector_sdk::FieldType::String, "The workspace's name")
                .field_doc("urlKey", max_connector_sdk::FieldType::String, "Its key in linear.app URLs");
            for kind in KINDS.into_iter().filter(|k| !listed_per_team(k)) {
                let doc = format!("Every {} synced", kind.entity);
                e = e.field_doc(kind.list, max_connector_sdk::FieldType::Collection(kind.entity.to_string()), &doc);
            }
            e
        });
        for kind in KINDS {
            schema = schema.entity(kind.entity, |mut e| {
                e = kind.declare(e);
                if kind.entity == model::TEAM.entity {
                    for listed in PER_TEAM {
                        let collection = max_connector_sdk::FieldType::Collection(listed.entity.to_string());
                        e = e.field_doc(listed.list, collection, &format!("The team's {}", listed.list));
                    }
                }
                e
            });
        }
        let mut info = ConnectorInfo::new(
            "linear",
            env!("CARGO_PKG_VERSION"),
            "Linear: teams, users, workflow states, labels, projects, cycles, issues and comments",
            schema.root(ROOT, ROOT_ID),
        )
        .loader(Loader::single("organization", ROOT).fills(&["name", "urlKey"]).describe("query { organization }"));
        for kind in KINDS {
            let page = largest_page(kind);
            info = info.loader(if listed_per_team(kind) {
                // A new object names its team, so the change feed adds it to that team's collection.
                Loader::collection(&per_team_loader(kind), model::TEAM.entity, kind.list, kind.entity, page)
                    .parent_field("team")
                    .describe(&format!("query {{ {}(first, after, filter: <one team>) }}, page by page", kind.list))
            } else {
                Loader::collection(kind.list, ROOT, kind.list, kind.entity, page)
                    .describe(&format!("query {{ {}(first, after, filter) }}, page by page", kind.list))
            });
            info = info
                .loader(
                    kind.by_id_loader(&kind.by_id_loader_name(), BY_ID_BATCH)
                        // Sub-issues have a loader of their own (below); the by-id query still brings them.
                        .fills(
                            &kind
                                .fields()
                                .into_iter()
                                .filter(|f| !(kind.entity == "Issue" && *f == "children"))
                                .collect::<Vec<_>>(),
                        )
                        .describe(&format!("query {{ {}(filter: {{ id: {{ in: [...] }} }}) }}", kind.list)),
                )
                .loader(Loader::change_feed(&changes::loader_name(kind), kind.entity).describe(&format!(
                    "query {{ {}(filter: {{ updatedAt: {{ gt }} }}, includeArchived: true, orderBy: updatedAt) }}",
                    kind.list
                )));
        }
        // Sub-issues name their parent, so a new one joins its parent's children from the change feed.
        info = info.loader(
            Loader::collection("issue-children", "Issue", "children", "Issue", largest_page(&model::ISSUE))
                .parent_field("parent")
                .describe("query { issue(id) { children(first, after) } }"),
        );
        info.onboarding(
            Onboarding::new()
                .input("base_url", "Linear API URL", Some(DEFAULT_BASE_URL))
                .help("Leave as is; change it only to point at a test server")
                .select(
                    "auth",
                    "How to sign in",
                    &[("api_key", "A personal API key"), ("oauth", "OAuth tokens")],
                    false,
                    false,
                )
                .help("A personal API key is simplest: Linear → Settings → Security & access → Personal API keys")
                .secret("api_key", "Personal API key")
                .help("Starts with lin_api_")
                .when("auth", "api_key")
                .oauth_secrets("auth", "oauth")
                .validate("Checking the credentials with Linear (query { viewer })")
                .select("teams", "Teams to sync", &[], true, true)
                .help("Issues, workflow states and cycles of these teams are synced; none chosen means all")
                .input("page_size", "Objects per request", None)
                .help("Leave empty for the most that Linear's complexity limit allows (up to 250); lower it if Linear reports queries as too complex")
                .optional(),
        )
        .permissions(
            Permissions::new()
                .host("api.linear.app")
                .authorization("api_key")
                .oauth2(
                    "oauth_access_token",
                    "https://api.linear.app/oauth/token",
                    "oauth_refresh_token",
                    Some("oauth_client_id"),
                    Some("oauth_client_secret"),
                )
                .base_url_key("base_url"),
        )
    }

    fn initialise(config: Config) -> Result<Self> {
        let base_url = config.base_url(DEFAULT_BASE_URL)?;
        let credential = match config.get("auth").unwrap_or("api_key") {
            "api_key" => "api_key",
            "oauth" => "oauth_access_token",
            other => return Err(ConnectorError::InvalidInput(format!("auth `{other}`: expected api_key or oauth"))),
        };
        let page_size = match config.get("page_size").filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => {
                Some(text.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                    ConnectorError::InvalidInput(format!("page_size `{text}`: a number from 1 to 250"))
                })?)
            }
        };
        let teams = config
            .get("teams")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "all")
            .map(str::to_string)
            .collect();
        Ok(Linear { endpoint: format!("{base_url}/graphql"), credential, page_size, shrunk: Default::default(), teams })
    }

    fn validate(&mut self) -> Result<String> {
        let data = self.query("query { viewer { name email } organization { name urlKey } }", Json::Null)?;
        let text = |v: &Json| v.as_str().unwrap_or("?").to_string();
        Ok(format!(
            "workspace \"{}\" ({}) as {} <{}>",
            text(&data["organization"]["name"]),
            text(&data["organization"]["urlKey"]),
            text(&data["viewer"]["name"]),
            text(&data["viewer"]["email"])
        ))
    }

    fn select_options(&mut self, key: &str) -> Result<Vec<SelectOption>> {
        if key != "teams" {
            return Err(ConnectorError::InvalidInput(format!("no options for `{key}`")));
        }
        let query = "query Teams($after: String) { teams(first: 250, after: $after) { nodes { id key name } pageInfo { hasNextPage endCursor } } }";
        let (mut options, mut after) = (Vec::new(), None::<String>);
        loop {
            let data = self.query(query, json!({ "after": after }))?;
            for team in nodes(&data["teams"])? {
                let text = |k: &str| team[k].as_str().unwrap_or_default().to_string();
                options
                    .push(SelectOption { value: text("key"), label: format!("{} — {}", text("key"), text("name")) });
            }
            match next_cursor(&data["teams"]) {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                _ => return Ok(options),
            }
        }
    }

    /// After a completed sync whose change cursors are all stored: only the changes of every type.
    /// Otherwise everything, after taking a change cursor per type (so changes made while the full
    /// sync runs are picked up by the next one).
    fn seed(&mut self, state: &SeedState) -> Result<SyncPlan> {
        let feeds: Vec<(Target, max_connector_sdk::Operation)> = KINDS
            .into_iter()
            .map(|kind| (Target::Root, max_connector_sdk::StepBuilder.changes(&changes::loader_name(kind))))
            .collect();
        let cursors_kept = KINDS.into_iter().all(|kind| state.cursor(&changes::loader_name(kind)).is_some());
        if !state.full && state.last_completed_sync.is_some() && cursors_kept {
            return Ok(SyncPlan::new().together(feeds));
        }
        let list = |kind: &EntityKind| (Target::Root, max_connector_sdk::StepBuilder.collection(kind.list));
        Ok(SyncPlan::new()
            .together(feeds)
            .together(
                [
                    &model::TEAM,
                    &model::USER,
                    &model::WORKFLOW_STATE,
                    &model::ISSUE_LABEL,
                    &model::PROJECT,
                    &model::CYCLE,
                ]
                .into_iter()
                .map(list)
                .chain([(Target::Root, max_connector_sdk::StepBuilder.fields(&["name", "urlKey"]))])
                .collect(),
            )
            // Each team's issues and comments start as soon as that team is stored.
            .together(
                PER_TEAM
                    .into_iter()
                    .map(|kind| (Target::all(model::TEAM.entity), max_connector_sdk::StepBuilder.collection(kind.list)))
                    .collect(),
            ))
    }

    fn load(&mut self, loader: &str, refs: &[EntityRef]) -> Result<Entities> {
        if loader == "organization" {
            let data = self.query("query { organization { name urlKey } }", Json::Null)?;
            let organization = &data["organization"];
            let mut batch = max_connector_sdk::Batch::new(ROOT, &["name", "urlKey"]);
            let mut row = batch.start_row();
            row.text(0, organization["name"].as_str().unwrap_or_default());
            row.text(1, organization["urlKey"].as_str().unwrap_or_default());
            row.finish(ROOT_ID);
            return Ok(Entities::from(batch));
        }
        let kind = KINDS
            .into_iter()
            .find(|k| k.by_id_loader_name() == loader)
            .ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        let ids: Vec<&str> = refs.iter().map(|r| r.id.as_str()).collect();
        let query = format!(
            "query ById($first: Int!, $filter: {}) {{ {}(first: $first, filter: $filter, includeArchived: true) {{ nodes {{ {} }} }} }}",
            kind.filter_type(),
            kind.list,
            kind.selection()
        );
        let data = self.query(&query, json!({ "first": ids.len().max(1), "filter": { "id": { "in": ids } } }))?;
        Ok(Entities::from(self.batch_of(kind, &data[kind.list])?))
    }

    fn load_page(&mut self, loader: &str, parent: &EntityRef, cursor: Option<&str>) -> Result<Page> {
        if loader == "issue-children" {
            return self.children_page(&parent.id, cursor);
        }
        if let Some(kind) = PER_TEAM.into_iter().find(|k| per_team_loader(k) == loader) {
            let (batch, next) = self.list_page(kind, scoped(kind, json!({ "id": { "eq": parent.id } })), cursor)?;
            return Ok(Page::new(batch).next(next));
        }
        let kind = KINDS
            .into_iter()
            .find(|k| k.list == loader && !listed_per_team(k))
            .ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        let (batch, next) = self.list_page(kind, self.team_filter(kind), cursor)?;
        Ok(Page::new(batch).next(next))
    }

    fn changes(&mut self, loader: &str, cursor: Option<&str>) -> Result<max_connector_sdk::ChangePage> {
        let kind = KINDS
            .into_iter()
            .find(|k| changes::loader_name(k) == loader)
            .ok_or_else(|| ConnectorError::unknown_loader(loader))?;
        changes::page(self, kind, cursor)
    }
}

export_connector!(Linear);
