//! The entities Linear syncs, as one table: each column's Max field, its name in Linear's GraphQL
//! schema and its kind. The schema, the GraphQL selections and the JSON-to-row conversion are all
//! derived from it.

use max_connector_sdk::table::{self, EntityTable, Kind};

/// How a column is selected in a GraphQL node, beyond its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// A scalar (`title`), or a reference selected as `field { id }`.
    Plain,
    /// A list of ids held in a scalar field (`labelIds`).
    IdList,
    /// A connection selected as `field(first: N) { nodes { id } pageInfo }`; pages beyond the first are
    /// fetched on the spot.
    Connection,
    /// A reference read through the object the column's source names, under an alias of its own:
    /// `alias: source { field { id } }` (a comment's team: `issueTeam: issue { team { id } }`).
    Through { alias: &'static str, field: &'static str },
}

/// One column: the field in Max, the field in Linear's API, its kind, what it means, how it is selected.
pub type Column = table::Column<Select>;

/// How a list query is narrowed to the teams the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamScope {
    /// Not narrowed (users, labels, projects belong to the workspace).
    None,
    /// `filter: { id: { in: teams } }`.
    Own,
    /// `filter: { team: { id: { in: teams } } }`.
    Team,
    /// `filter: { issue: { team: { id: { in: teams } } } }`.
    IssueTeam,
}

/// One entity type.
#[derive(Debug)]
pub struct EntityKind {
    /// Its name in Max.
    pub entity: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The root list query (`issues`), also the name of its collection on the organization.
    pub list: &'static str,
    /// The single-object query (`issue(id:)`).
    pub single: &'static str,
    /// How its list query is narrowed to the chosen teams.
    pub scope: TeamScope,
    /// Its columns, in the order rows carry them.
    pub columns: &'static [Column],
}

/// A column read from the node's field of the same name.
const fn col(field: &'static str, kind: Kind, doc: &'static str) -> Column {
    table::Column::new(field, kind).doc(doc).with(Select::Plain)
}

/// A collection read from the connection of the same name.
const fn connection(field: &'static str, target: &'static str, doc: &'static str) -> Column {
    table::Column::new(field, Kind::Collection(target)).doc(doc).with(Select::Connection)
}

/// Nodes fetched per nested connection in a list query (more are fetched on demand).
pub const NESTED_FIRST: u32 = 25;

/// Linear's complexity points of a scalar field.
const SCALAR: f64 = 0.1;
/// Of an object.
const OBJECT: f64 = 1.0;
/// Of an object selected as `{ id }`.
const ID_NODE: f64 = OBJECT + SCALAR;

/// A connection of `first` items costing `per_item` each, with `pageInfo { hasNextPage endCursor }`.
fn connection_complexity(first: f64, per_item: f64) -> f64 {
    first * per_item + OBJECT + OBJECT + 2.0 * SCALAR
}

use Kind::{Boolean as B, Datetime as D, Float as F, Integer as I, Text as T};

const CREATED: Column = col("createdAt", D, "When it was created");
const UPDATED: Column = col("updatedAt", D, "When it was last meaningfully updated");
const ARCHIVED: Column = col("archivedAt", D, "When it was archived (null when it is not)");

pub const TEAM: EntityKind = EntityKind {
    entity: "Team",
    description: "A team: owns issues, workflow states, cycles and labels",
    list: "teams",
    single: "team",
    scope: TeamScope::Own,
    columns: &[
        col("key", T, "The issue identifier prefix (`ENG`)"),
        col("name", T, "The team's name"),
        col("displayName", T, "The name shown in the app"),
        col("description", T, "What the team does"),
        col("color", T, "The team's color"),
        col("icon", T, "The team's icon"),
        col("timezone", T, "The team's timezone"),
        col("private", B, "Whether the team is private"),
        col("cyclesEnabled", B, "Whether the team uses cycles"),
        connection("members", "User", "The team's members"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const USER: EntityKind = EntityKind {
    entity: "User",
    description: "A user of the workspace",
    list: "users",
    single: "user",
    scope: TeamScope::None,
    columns: &[
        col("name", T, "Full name"),
        col("displayName", T, "Display name (the @-handle)"),
        col("email", T, "Email address"),
        col("active", B, "Whether the account is enabled"),
        col("admin", B, "Whether the user is an organization admin"),
        col("guest", B, "Whether the user is a guest"),
        col("app", B, "Whether the user is an app or integration"),
        col("avatarUrl", T, "Avatar image URL"),
        col("timezone", T, "The user's timezone"),
        col("lastSeen", D, "When the user was last seen online"),
        col("url", T, "The user's profile in Linear"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const WORKFLOW_STATE: EntityKind = EntityKind {
    entity: "WorkflowState",
    description: "A state of a team's issue workflow",
    list: "workflowStates",
    single: "workflowState",
    scope: TeamScope::Team,
    columns: &[
        col("name", T, "The state's name (`In Progress`)"),
        col("type", T, "triage, backlog, unstarted, started, completed, canceled or duplicate"),
        col("color", T, "The state's color"),
        col("position", F, "Its position in the workflow"),
        col("description", T, "What the state means"),
        col("team", Kind::Ref("Team"), "The team whose workflow it belongs to"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const ISSUE_LABEL: EntityKind = EntityKind {
    entity: "IssueLabel",
    description: "A label issues can carry",
    list: "issueLabels",
    single: "issueLabel",
    scope: TeamScope::None,
    columns: &[
        col("name", T, "The label's name"),
        col("color", T, "The label's color"),
        col("description", T, "What the label means"),
        col("isGroup", B, "Whether it groups other labels"),
        col("team", Kind::Ref("Team"), "The team it belongs to (null: a workspace label)"),
        col("parent", Kind::Ref("IssueLabel"), "The label group it is in"),
        col("creator", Kind::Ref("User"), "Who created it"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const PROJECT: EntityKind = EntityKind {
    entity: "Project",
    description: "A project: a set of issues towards a goal, across teams",
    list: "projects",
    single: "project",
    scope: TeamScope::None,
    columns: &[
        col("name", T, "The project's name"),
        col("description", T, "A short summary"),
        col("content", T, "The project's document (markdown)"),
        col("slugId", T, "The project's URL slug"),
        col("color", T, "The project's color"),
        col("icon", T, "The project's icon"),
        col("priority", I, "0 none, 1 urgent, 2 high, 3 medium, 4 low"),
        col("progress", F, "Share of completed scope (0–1)"),
        col("startDate", D, "Planned start date"),
        col("targetDate", D, "Planned completion date"),
        col("startedAt", D, "When work started"),
        col("completedAt", D, "When it was completed"),
        col("canceledAt", D, "When it was canceled"),
        col("url", T, "The project in Linear"),
        col("state", T, "The project's state (deprecated by Linear in favour of its status)"),
        col("lead", Kind::Ref("User"), "The project lead"),
        col("creator", Kind::Ref("User"), "Who created it"),
        connection("teams", "Team", "The teams working on it"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const CYCLE: EntityKind = EntityKind {
    entity: "Cycle",
    description: "A team's time-boxed iteration",
    list: "cycles",
    single: "cycle",
    scope: TeamScope::Team,
    columns: &[
        col("number", F, "The cycle's number within its team"),
        col("name", T, "The cycle's name"),
        col("description", T, "What the cycle is about"),
        col("startsAt", D, "When it starts"),
        col("endsAt", D, "When it ends"),
        col("completedAt", D, "When it was completed"),
        col("progress", F, "Share of completed scope (0–1)"),
        col("isActive", B, "Whether it is the current cycle"),
        col("team", Kind::Ref("Team"), "The team it belongs to"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const ISSUE: EntityKind = EntityKind {
    entity: "Issue",
    description: "An issue",
    list: "issues",
    single: "issue",
    scope: TeamScope::Team,
    columns: &[
        col("identifier", T, "The human id (`ENG-123`)"),
        col("number", F, "The number within its team"),
        col("title", T, "The title").searchable(10),
        col("description", T, "The description (markdown)").searchable(1),
        col("priority", F, "0 none, 1 urgent, 2 high, 3 medium, 4 low"),
        col("priorityLabel", T, "The priority's name"),
        col("estimate", F, "The estimate in points"),
        col("dueDate", D, "The due date"),
        col("startedAt", D, "When work started"),
        col("completedAt", D, "When it was completed"),
        col("canceledAt", D, "When it was canceled"),
        col("url", T, "The issue in Linear"),
        col("branchName", T, "The suggested git branch name"),
        col("sortOrder", F, "Its order in the team's list"),
        col("trashed", B, "Whether it is in the trash"),
        col("team", Kind::Ref("Team"), "The team it belongs to"),
        col("state", Kind::Ref("WorkflowState"), "Its workflow state"),
        col("assignee", Kind::Ref("User"), "Who it is assigned to"),
        col("creator", Kind::Ref("User"), "Who created it"),
        col("project", Kind::Ref("Project"), "The project it is part of"),
        col("cycle", Kind::Ref("Cycle"), "The cycle it is planned in"),
        col("parent", Kind::Ref("Issue"), "The issue it is a sub-issue of"),
        table::Column::new("labels", Kind::Collection("IssueLabel"))
            .from("labelIds")
            .doc("Its labels")
            .with(Select::IdList),
        connection("children", "Issue", "Its sub-issues"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

pub const COMMENT: EntityKind = EntityKind {
    entity: "Comment",
    description: "A comment on an issue",
    list: "comments",
    single: "comment",
    scope: TeamScope::IssueTeam,
    columns: &[
        col("body", T, "The comment (markdown)").searchable(1),
        col("url", T, "The comment in Linear"),
        col("editedAt", D, "When it was last edited"),
        col("resolvedAt", D, "When its thread was resolved"),
        col("issue", Kind::Ref("Issue"), "The issue it is on"),
        table::Column::new("team", Kind::Ref("Team"))
            .from("issue")
            .doc("The team of the issue it is on")
            .with(Select::Through { alias: "issueTeam", field: "team" }),
        col("user", Kind::Ref("User"), "Who wrote it (null for integrations)"),
        col("parent", Kind::Ref("Comment"), "The comment it replies to"),
        CREATED,
        UPDATED,
        ARCHIVED,
    ],
};

/// Every entity type, in the order a full sync lists them.
pub const KINDS: [&EntityKind; 8] = [&TEAM, &USER, &WORKFLOW_STATE, &ISSUE_LABEL, &PROJECT, &CYCLE, &ISSUE, &COMMENT];

impl EntityTable for EntityKind {
    type Extra = Select;

    fn entity(&self) -> &str {
        self.entity
    }

    fn description(&self) -> &str {
        self.description
    }

    fn columns(&self) -> &[Column] {
        self.columns
    }
}

impl EntityKind {
    /// The GraphQL selection of one node: `id` and every column.
    pub fn selection(&self) -> String {
        let mut selection = String::from("id");
        for column in self.columns {
            selection.push(' ');
            match (column.kind, column.extra) {
                (_, Select::Connection) => selection.push_str(&format!(
                    "{}(first: {NESTED_FIRST}) {{ nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }}",
                    column.source
                )),
                (_, Select::Through { alias, field }) => {
                    selection.push_str(&format!("{alias}: {} {{ {field} {{ id }} }}", column.source))
                }
                (Kind::Ref(_), _) => selection.push_str(&format!("{} {{ id }}", column.source)),
                _ => selection.push_str(column.source),
            }
        }
        selection
    }

    /// Linear's complexity of one node of its list, by the documented rule the selection follows:
    /// 0.1 a scalar, 1 an object (`nodes`, a reference's `{ id }`), and a connection's items times its
    /// `first` plus the connection and its `pageInfo` once.
    pub fn node_complexity(&self) -> f64 {
        let columns: f64 = self
            .columns
            .iter()
            .map(|column| match (column.kind, column.extra) {
                (_, Select::Connection) => connection_complexity(f64::from(NESTED_FIRST), ID_NODE),
                (_, Select::Through { .. }) => OBJECT + ID_NODE,
                (Kind::Ref(_), _) => ID_NODE,
                _ => SCALAR,
            })
            .sum();
        OBJECT + SCALAR + columns
    }

    /// The most nodes a page of its list may hold with the whole query within `budget` points.
    pub fn page_within(&self, budget: f64) -> u32 {
        let per_node = self.node_complexity();
        ((budget - connection_complexity(0.0, per_node)) / per_node).floor().max(1.0) as u32
    }

    /// Where `column`'s value is in a node as the API returned it.
    pub fn value_of<'a>(column: &Column, node: &'a serde_json::Value) -> &'a serde_json::Value {
        match column.extra {
            Select::Through { alias, field } => &node[alias][field],
            _ => &node[column.source],
        }
    }

    /// The id of the team a node of this type belongs to, if it has a `team` column and a team.
    pub fn team_of<'a>(&self, node: &'a serde_json::Value) -> Option<&'a str> {
        let column = self.columns.iter().find(|c| c.field == "team")?;
        Self::value_of(column, node)["id"].as_str()
    }

    /// The name of its by-id loader.
    pub fn by_id_loader_name(&self) -> String {
        format!("{}-by-id", self.list)
    }

    /// The GraphQL input type of its list filter.
    pub fn filter_type(&self) -> String {
        format!("{}Filter", self.entity)
    }
}
