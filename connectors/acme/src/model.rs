//! The Acme data model as one table: each entity's API path, its columns and the JSON keys they come
//! from. The schema, the loaders and the JSON-to-row conversion are all derived from it.

use max_connector_sdk::{Batch, EntityBuilder, FieldType, Result};

/// How a JSON value becomes a field value.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Integer,
    Boolean,
    Datetime,
    Json,
    /// A reference to an entity of this type (the JSON holds its id).
    Ref(&'static str),
}

/// One column: the field name in Max and the key in the API's JSON.
pub struct Column {
    pub field: &'static str,
    pub key: &'static str,
    pub kind: Kind,
}

const fn col(field: &'static str, key: &'static str, kind: Kind) -> Column {
    Column { field, key, kind }
}

/// One Acme entity type.
pub struct EntityKind {
    pub entity: &'static str,
    /// `/api/<path>` lists it; `/api/<path>/<id>` reads one.
    pub path: &'static str,
    pub columns: &'static [Column],
}

pub const WORKSPACE: EntityKind = EntityKind {
    entity: "Workspace",
    path: "workspaces",
    columns: &[
        col("name", "name", Kind::Text),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const USER: EntityKind = EntityKind {
    entity: "User",
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
    path: "projects",
    columns: &[
        col("workspace", "workspaceId", Kind::Ref("Workspace")),
        col("name", "name", Kind::Text),
        col("description", "description", Kind::Text),
        col("status", "status", Kind::Text),
        col("owner", "ownerId", Kind::Ref("User")),
        col("createdAt", "createdAt", Kind::Datetime),
        col("updatedAt", "updatedAt", Kind::Datetime),
    ],
};

pub const TASK: EntityKind = EntityKind {
    entity: "Task",
    path: "tasks",
    columns: &[
        col("project", "projectId", Kind::Ref("Project")),
        col("title", "title", Kind::Text),
        col("description", "description", Kind::Text),
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
    /// The field names of its columns.
    pub fn fields(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.field).collect()
    }

    /// Adds its columns to a schema entity.
    pub fn declare(&self, mut builder: EntityBuilder) -> EntityBuilder {
        for column in self.columns {
            let ty = match column.kind {
                Kind::Text => FieldType::String,
                Kind::Integer => FieldType::Integer,
                Kind::Boolean => FieldType::Boolean,
                Kind::Datetime => FieldType::Datetime,
                Kind::Json => FieldType::Json,
                Kind::Ref(target) => FieldType::Ref(target.to_string()),
            };
            builder = builder.field(column.field, ty);
        }
        builder
    }

    /// An empty batch with its columns.
    pub fn batch(&self) -> Batch {
        Batch::new(self.entity, &self.fields())
    }

    /// Appends one API object (JSON text) to `batch` (made by [`EntityKind::batch`]).
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
