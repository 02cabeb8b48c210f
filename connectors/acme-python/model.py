"""The Acme data model as one table: each entity's API path and its columns (the field in Max, the JSON
key it comes from, its kind). The schema, the loaders and the JSON-to-row conversion derive from it."""

from typing import Optional

from max_connector import Column, Kind, Table


class EntityKind(Table):
    """One Acme entity type: `/api/<path>` lists it, `/api/<path>/<id>` reads one."""

    def __init__(self, entity: str, description: str, path: str, columns) -> None:
        super().__init__(entity, description, columns)
        self.path = path


def col(field: str, key: str, kind) -> Column:
    return Column(field, kind, source=key)


WORKSPACE = EntityKind("Workspace", "A workspace", "workspaces", [
    col("name", "name", Kind.TEXT),
    col("createdAt", "createdAt", Kind.DATETIME),
    col("updatedAt", "updatedAt", Kind.DATETIME),
])

USER = EntityKind("User", "A member of a workspace", "users", [
    col("workspace", "workspaceId", Kind.ref("Workspace")),
    col("email", "email", Kind.TEXT),
    col("displayName", "displayName", Kind.TEXT),
    col("role", "role", Kind.TEXT),
    col("active", "active", Kind.BOOLEAN),
    col("createdAt", "createdAt", Kind.DATETIME),
    col("updatedAt", "updatedAt", Kind.DATETIME),
])

PROJECT = EntityKind("Project", "A project in a workspace", "projects", [
    col("workspace", "workspaceId", Kind.ref("Workspace")),
    col("name", "name", Kind.TEXT).searchable(5),
    col("description", "description", Kind.TEXT).searchable(1),
    col("status", "status", Kind.TEXT),
    col("owner", "ownerId", Kind.ref("User")),
    col("createdAt", "createdAt", Kind.DATETIME),
    col("updatedAt", "updatedAt", Kind.DATETIME),
])

TASK = EntityKind("Task", "A task in a project", "tasks", [
    col("project", "projectId", Kind.ref("Project")),
    col("title", "title", Kind.TEXT).searchable(5),
    col("description", "description", Kind.TEXT).searchable(1),
    col("status", "status", Kind.TEXT),
    col("priority", "priority", Kind.TEXT),
    col("assignee", "assigneeId", Kind.ref("User")),
    col("createdBy", "createdById", Kind.ref("User")),
    col("lastModifiedBy", "lastModifiedById", Kind.ref("User")),
    col("dueDate", "dueDate", Kind.DATETIME),
    col("tags", "tags", Kind.JSON),
    col("completedAt", "completedAt", Kind.DATETIME),
    col("createdAt", "createdAt", Kind.DATETIME),
    col("updatedAt", "updatedAt", Kind.DATETIME),
])

FILE = EntityKind("File", "A file attached to a project", "files", [
    col("project", "projectId", Kind.ref("Project")),
    col("name", "name", Kind.TEXT),
    col("mimeType", "mimeType", Kind.TEXT),
    col("sizeBytes", "sizeBytes", Kind.INTEGER),
    col("uploadedBy", "uploadedById", Kind.ref("User")),
    col("createdAt", "createdAt", Kind.DATETIME),
    col("updatedAt", "updatedAt", Kind.DATETIME),
])

#: Every entity type the API serves.
KINDS = [WORKSPACE, USER, PROJECT, TASK, FILE]


def kind_named(name: str) -> Optional[EntityKind]:
    """The kind whose entity name or change-log `entityType` is `name` (`Task`, `task`, `tasks`)."""
    name = name.lower()
    for k in KINDS:
        if name in (k.entity.lower(), k.path.lower(), k.path.rstrip("s").lower()):
            return k
    return None
