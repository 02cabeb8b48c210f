//! The Acme data model as one table: each entity's API path and its columns (the field in Max, the
//! JSON key it comes from, its kind). The schema, the loaders and the JSON-to-row conversion are all
//! derived from it, through the SDK's [`EntityTable`].

use max_connector_sdk::table::{Column, EntityTable, Kind};
use max_connector_sdk::{Batch, Result};

/// A column read from the JSON key `key`.
const fn col(field: &'static str, key: &'static str, kind: Kind) -> Column {
    Column::new(field, kind).from(key)
}

/// One Acme entity type.
pub struct EntityKind {
    /// Its name in Max.
    pub entity: &'static str,
    /// What it is.
    pub description: &'static str,
    /// `/api/<path>` lists it; `/api/<path>/<id>` reads one.
    pub path: &'static str,
    /// Its columns.
    pub columns: &'static [Column],
}

impl EntityTable for EntityKind {
    type Extra = ();

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

pub const WORKSPACE: EntityKind = EntityKind {
    entity: "Workspace",
    description: "A workspace",
    path: "workspaces",
    columns: &[
        col("name", "name", Kind::Text),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const USER: EntityKind = EntityKind {
    entity: "User",
    description: "A member of a workspace",
    path: "users",
    columns: &[
        col("workspace", "workspaceId", Kind::Ref("Workspace")),
        col("email", "email", Kind::Text),
        col("displayName", "displayName", Kind::Text),
        col("role", "role", Kind::Text),
        col("active", "active", Kind::Boolean),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const PROJECT: EntityKind = EntityKind {
    entity: "Project",
    description: "A project in a workspace",
    path: "projects",
    columns: &[
        col("workspace", "workspaceId", Kind::Ref("Workspace")),
        col("name", "name", Kind::Text).searchable(5),
        col("description", "description", Kind::Text).searchable(1),
        col("status", "status", Kind::Text),
        col("owner", "ownerId", Kind::Ref("User")),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const TASK: EntityKind = EntityKind {
    entity: "Task",
    description: "A task in a project",
    path: "tasks",
    columns: &[
        col("project", "projectId", Kind::Ref("Project")),
        col("title", "title", Kind::Text).searchable(5),
        col("description", "description", Kind::Text).searchable(1),
        col("status", "status", Kind::Text),
        col("priority", "priority", Kind::Text),
        col("assignee", "assigneeId", Kind::Ref("User")),
        col("createdBy", "createdById", Kind::Ref("User")),
        col("lastModifiedBy", "lastModifiedById", Kind::Ref("User")),
        col("dueDate", "dueDate", Kind::Datetime),
        col("tags", "tags", Kind::Json),
        col("completedAt", "completedAt", Kind::Datetime),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const FILE: EntityKind = EntityKind {
    entity: "File",
    description: "A file attached to a project",
    path: "files",
    columns: &[
        col("project", "projectId", Kind::Ref("Project")),
        col("name", "name", Kind::Text),
        col("mimeType", "mimeType", Kind::Text),
        col("sizeBytes", "sizeBytes", Kind::Integer),
        col("uploadedBy", "uploadedById", Kind::Ref("User")),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

/// Every entity type the API serves.
pub const KINDS: [&EntityKind; 5] = [&WORKSPACE, &USER, &PROJECT, &TASK, &FILE];

/// The kind whose entity name or change-log `entityType` is `name` (`Task`, `task`, `tasks`).
pub fn kind_named(name: &str) -> Option<&'static EntityKind> {
    KINDS.into_iter().find(|k| {
        k.entity.eq_ignore_ascii_case(name)
            || k.path.eq_ignore_ascii_case(name)
            || k.path.trim_end_matches('s').eq_ignore_ascii_case(name)
    })
}

impl EntityKind {
    /// Appends one API object (JSON text) to `batch` (made by [`EntityTable::batch`]).
    pub fn push(&self, batch: &mut Batch, json: &[u8]) -> Result<()> {
        crate::object::push_one(self, batch, json)
    }

    /// Converts a JSON array of API objects (a list response's body) into one batch.
    pub fn rows(&self, body: &[u8]) -> Result<Batch> {
        let mut batch = self.batch();
        crate::object::push_all(self, &mut batch, body)?;
        Ok(batch)
    }
}
