// The Acme data model as one table: each entity's API path and its columns (the field in Max, the
// JSON key it comes from, its kind). The schema, the loaders and the JSON-to-row conversion derive
// from it.

import { Column, Kind, Table } from '../../connector-sdk-js/src/index.js';

/** One Acme entity type: `/api/<path>` lists it, `/api/<path>/<id>` reads one. */
export class EntityKind extends Table {
  constructor(entity, description, path, columns) {
    super(entity, description, columns);
    this.path = path;
  }
}

const col = (field, key, kind) => new Column(field, kind, { source: key });

export const WORKSPACE = new EntityKind('Workspace', 'A workspace', 'workspaces', [
  col('name', 'name', Kind.TEXT),
  col('createdAt', 'createdAt', Kind.DATETIME),
  col('updatedAt', 'updatedAt', Kind.DATETIME),
]);

export const USER = new EntityKind('User', 'A member of a workspace', 'users', [
  col('workspace', 'workspaceId', Kind.ref('Workspace')),
  col('email', 'email', Kind.TEXT),
  col('displayName', 'displayName', Kind.TEXT),
  col('role', 'role', Kind.TEXT),
  col('active', 'active', Kind.BOOLEAN),
  col('createdAt', 'createdAt', Kind.DATETIME),
  col('updatedAt', 'updatedAt', Kind.DATETIME),
]);

export const PROJECT = new EntityKind('Project', 'A project in a workspace', 'projects', [
  col('workspace', 'workspaceId', Kind.ref('Workspace')),
  col('name', 'name', Kind.TEXT).searchable(5),
  col('description', 'description', Kind.TEXT).searchable(1),
  col('status', 'status', Kind.TEXT),
  col('owner', 'ownerId', Kind.ref('User')),
  col('createdAt', 'createdAt', Kind.DATETIME),
  col('updatedAt', 'updatedAt', Kind.DATETIME),
]);

export const TASK = new EntityKind('Task', 'A task in a project', 'tasks', [
  col('project', 'projectId', Kind.ref('Project')),
  col('title', 'title', Kind.TEXT).searchable(5),
  col('description', 'description', Kind.TEXT).searchable(1),
  col('status', 'status', Kind.TEXT),
  col('priority', 'priority', Kind.TEXT),
  col('assignee', 'assigneeId', Kind.ref('User')),
  col('createdBy', 'createdById', Kind.ref('User')),
  col('lastModifiedBy', 'lastModifiedById', Kind.ref('User')),
  col('dueDate', 'dueDate', Kind.DATETIME),
  col('tags', 'tags', Kind.JSON),
  col('completedAt', 'completedAt', Kind.DATETIME),
  col('createdAt', 'createdAt', Kind.DATETIME),
  col('updatedAt', 'updatedAt', Kind.DATETIME),
]);

export const FILE = new EntityKind('File', 'A file attached to a project', 'files', [
  col('project', 'projectId', Kind.ref('Project')),
  col('name', 'name', Kind.TEXT),
  col('mimeType', 'mimeType', Kind.TEXT),
  col('sizeBytes', 'sizeBytes', Kind.INTEGER),
  col('uploadedBy', 'uploadedById', Kind.ref('User')),
  col('createdAt', 'createdAt', Kind.DATETIME),
  col('updatedAt', 'updatedAt', Kind.DATETIME),
]);

/** Every entity type the API serves. */
export const KINDS = [WORKSPACE, USER, PROJECT, TASK, FILE];

/** The kind whose entity name or change-log `entityType` is `name` (`Task`, `task`, `tasks`). */
export function kindNamed(name) {
  const n = String(name).toLowerCase();
  return KINDS.find((k) => [k.entity.toLowerCase(), k.path, k.path.replace(/s$/, '')].includes(n));
}
