// The Acme connector in JavaScript: syncs workspaces, users, projects, tasks and files from the Acme
// demo API, the same data as the Rust `connectors/acme`, on Max's JavaScript SDK.
//
// Pagination: list endpoints take `limit` and `cursor` and return the next cursor in `X-Next-Cursor`.
// Incremental sync: `/api/changes?since=<sequence>` is a change feed of creates, updates and deletes;
// `/api/changes/cursor` is its newest sequence, where a full sync starts following it.

import {
  ChangePage, Connector, ConnectorError, ConnectorInfo, InvalidInput, InvalidResponse, Loader, NotFound, Onboarding,
  Operation, Page, Permissions, Schema, SyncPlan, Target, http,
} from '../../connector-sdk-js/src/index.js';
import { FILE, KINDS, PROJECT, TASK, USER, WORKSPACE, kindNamed } from './model.js';

const VERSION = '0.3.0';
/** Items per page of a collection, unless the `page_size` config says otherwise. */
const PAGE_SIZE = 1000;
/** Refs per call of a by-id loader (fetched concurrently through the host). */
const BY_ID_BATCH = 50;
/** Events per page of the change feed. */
const CHANGES_PAGE = 1000;
const ROOT = 'Account';
const ROOT_ID = 'acme';

/** Collection loaders: the parent's query parameter and the item's field naming the parent. */
const COLLECTIONS = [
  { loader: 'workspaces', parent: ROOT, field: 'workspaces', child: WORKSPACE },
  { loader: 'workspace-users', parent: 'Workspace', field: 'users', child: USER, param: 'workspaceId', parentField: 'workspace' },
  { loader: 'workspace-projects', parent: 'Workspace', field: 'projects', child: PROJECT, param: 'workspaceId', parentField: 'workspace' },
  { loader: 'project-tasks', parent: 'Project', field: 'tasks', child: TASK, param: 'projectId', parentField: 'project' },
  { loader: 'project-files', parent: 'Project', field: 'files', child: FILE, param: 'projectId', parentField: 'project' },
];

const byIdLoader = (kind) => `${kind.path}-by-id`;
/** A string, or the text of any other scalar (`12` → `"12"`). */
const text = (value) => (typeof value === 'string' ? value : String(value));

export class Acme extends Connector {
  constructor(config) {
    super(config);
    this.baseUrl = config.require('base_url').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.baseUrl)) throw new InvalidInput(`base_url \`${this.baseUrl}\` must start with http:// or https://`);
    const size = config.get('page_size') || '';
    if (!size) this.pageSize = PAGE_SIZE;
    else if (/^\d+$/.test(size) && Number(size) >= 1 && Number(size) <= 1000) this.pageSize = Number(size);
    else throw new InvalidInput(`page_size \`${size}\`: a number from 1 to 1000`);
  }

  static describe() {
    const schema = new Schema()
      .entity(ROOT, (e) => e.describe('The Acme account the API key belongs to').collection('workspaces', 'Workspace'))
      .entity('Workspace', (e) => WORKSPACE.declare(e).collection('users', 'User').collection('projects', 'Project'))
      .entity('User', (e) => USER.declare(e))
      .entity('Project', (e) => PROJECT.declare(e).collection('tasks', 'Task').collection('files', 'File'))
      .entity('Task', (e) => TASK.declare(e))
      .entity('File', (e) => FILE.declare(e))
      .root(ROOT, ROOT_ID);
    const info = new ConnectorInfo('acme', VERSION, 'Acme demo API: workspaces, users, projects, tasks and files', schema);
    for (const c of COLLECTIONS) {
      const loader = Loader.collection(c.loader, c.parent, c.field, c.child.entity, PAGE_SIZE).describe(`GET /api/${c.child.path} by ${c.param ?? 'account'}`);
      if (c.parentField) loader.parentField(c.parentField);
      info.loader(loader);
    }
    for (const kind of KINDS) info.loader(kind.byIdLoader(byIdLoader(kind), BY_ID_BATCH).describe(`GET /api/${kind.path}/<id>, concurrently`));
    return info
      .loader(Loader.changeFeed('changes', 'Task').describe('GET /api/changes: creates, updates and deletes of every type'))
      .onboarding(new Onboarding()
        .input('base_url', 'Acme API URL', 'https://api.acme.dev')
        .help('Where the Acme API runs; change it for a self-hosted or local demo server')
        .secret('api_key', 'Acme API key')
        .help('Sent as `Authorization: Bearer <key>`')
        .validate('Checking the API key against the Acme API')
        .input('page_size', 'Items per request', '1000')
        .help('Smaller pages mean more requests, each quicker')
        .optional())
      .permissions(new Permissions().host('api.acme.dev').bearer('api_key').baseUrlKey('base_url'));
  }

  get(pathAndQuery) {
    return http.get(`${this.baseUrl}${pathAndQuery}`).credential('api_key').send().ok();
  }

  validate() {
    const n = this.get('/api/workspaces').json().length;
    return n === 1 ? `1 workspace at ${this.baseUrl}` : `${n} workspaces at ${this.baseUrl}`;
  }

  /** After a completed sync, only the change feed from its stored cursor. Otherwise everything, after
   * first following the change feed (its cursor is stored before any data is read). */
  seed(state) {
    const changes = new SyncPlan().then(Target.ROOT, Operation.changes('changes'));
    if (!state.full && state.lastCompletedSync !== undefined && state.cursor('changes') !== undefined) return changes;
    return changes
      .then(Target.ROOT, Operation.collection('workspaces'))
      .together([[Target.all('Workspace'), Operation.collection('users')], [Target.all('Workspace'), Operation.collection('projects')]])
      .together([[Target.all('Project'), Operation.collection('tasks')], [Target.all('Project'), Operation.collection('files')]]);
  }

  load(loader, refs) {
    const kind = KINDS.find((k) => byIdLoader(k) === loader);
    if (!kind) throw ConnectorError.unknownLoader(loader);
    const responses = http.sendAll(refs.map((r) => http.get(`${this.baseUrl}/api/${kind.path}/${r.id}`).credential('api_key')));
    const batch = kind.batch();
    for (const response of responses) {
      if (response instanceof ConnectorError) throw response;
      try {
        kind.push(batch, response.ok().json());
      } catch (e) {
        if (!(e instanceof NotFound)) throw e; // deleted since it was listed: nothing to load
      }
    }
    return [batch];
  }

  loadPage(loader, parent, cursor) {
    const spec = COLLECTIONS.find((c) => c.loader === loader);
    if (!spec) throw ConnectorError.unknownLoader(loader);
    let query = `/api/${spec.child.path}?limit=${this.pageSize}`;
    if (spec.param) query += `&${spec.param}=${http.encodeQuery(parent.id)}`;
    if (cursor !== undefined) query += `&cursor=${http.encodeQuery(cursor)}`;
    const response = this.get(query);
    return new Page(spec.child.rows(response.json()), response.header('x-next-cursor') || undefined);
  }

  changes(loader, cursor) {
    if (loader !== 'changes') throw ConnectorError.unknownLoader(loader);
    if (cursor === undefined) return this.changePosition();
    const body = this.get(`/api/changes?since=${http.encodeQuery(cursor)}&limit=${CHANGES_PAGE}`).json();
    if (!body || !Array.isArray(body.events)) throw new InvalidResponse('a change log expected: {events, nextCursor}');
    let last = cursor;
    const upserts = new Map();
    const page = new ChangePage('', false);
    for (const event of body.events) {
      last = text(event.sequence);
      const kind = kindNamed(event.entityType ?? '');
      if (!kind) continue;
      if (event.action === 'delete') {
        page.delete(kind.entity, text(event.entityId));
        continue;
      }
      const payload = event.payload;
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) continue;
      if (!upserts.has(kind.entity)) upserts.set(kind.entity, kind.batch());
      kind.push(upserts.get(kind.entity), payload);
    }
    const next = body.nextCursor;
    page.hasMore = next != null && body.events.length > 0;
    page.nextCursor = next == null ? last : text(next);
    for (const batch of upserts.values()) page.upsert(batch);
    return page;
  }

  /** The change feed's current position, as an empty page; a server without that endpoint (an older
   * demo server) answers 404, and the feed is then read from its start. */
  changePosition() {
    let body;
    try {
      body = this.get('/api/changes/cursor').json();
    } catch (e) {
      if (e instanceof NotFound) return this.changes('changes', '0');
      throw e;
    }
    if (!body || !('cursor' in body)) throw new InvalidResponse('a change cursor expected: {cursor}');
    return new ChangePage(text(body.cursor), false);
  }
}
