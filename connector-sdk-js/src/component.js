// Bridges the component's `source` exports to a `Connector`: keeps the object `initialise` created,
// converts the SDK's data to the contract's shapes, and turns exceptions into `connector-error`s.
// Import it only from the module you build into a component (it imports the host's interfaces).

import { send as hostSend, sendAll as hostSendAll } from 'max:connector/http@0.4.0';
import { log as hostLog } from 'max:connector/log@0.4.0';
import { Batch } from './batch.js';
import { Config } from './config.js';
import { ConnectorError, InvalidInput } from './errors.js';
import { Response, Transport, setTransport, transportError } from './http.js';
import { setLogSink } from './log.js';
import { SeedState } from './plan.js';

class HostTransport extends Transport {
  send(request) {
    try {
      const r = hostSend(wireRequest(request));
      return new Response(r.status, r.headers, r.body);
    } catch (e) {
      return hostError(e);
    }
  }
  sendAll(requests) {
    return hostSendAll(requests.map(wireRequest)).map((result) =>
      result.tag === 'ok' ? new Response(result.val.status, result.val.headers, result.val.body) : transportError(result.val.tag, result.val.val));
  }
}

function wireRequest(r) {
  return { method: r.method, url: r.url, headers: r.headers, body: r.body, credential: r.credentialName, timeoutMs: r.timeout };
}

function hostError(e) {
  const error = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  if (error && typeof error === 'object' && typeof error.tag === 'string') return transportError(error.tag, error.val);
  throw e;
}

/** The contract's `connector-error` for what a connector method threw: a `ConnectorError` becomes its
 * case, anything else `other` with its message and the place it was thrown. */
function wireError(e) {
  if (e instanceof ConnectorError) {
    if (e.kind === 'rate-limited') return { tag: 'rate-limited', val: e.retryAfterMs == null ? undefined : BigInt(e.retryAfterMs) };
    return { tag: e.kind, val: e.message };
  }
  const where = (e && e.stack ? String(e.stack).split('\n').find((line) => line.includes(':')) : '') || '';
  const what = e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${String(e)}`;
  return { tag: 'other', val: where ? `${what} (at ${where.trim()})` : what };
}

function call(method) {
  try {
    return method();
  } catch (e) {
    const payload = wireError(e);
    // The error case of a `result`, as componentize-js and jco read a thrown value.
    throw { payload, tag: payload.tag, val: payload.val };
  }
}

function wireBatch(b) {
  if (!(b instanceof Batch)) throw new TypeError('a loader returns Batch objects');
  return b.packed();
}

function wireChangePage(page) {
  return { upserts: page.upserts.map(wireBatch), deletions: page.deletions, nextCursor: page.nextCursor, hasMore: page.hasMore };
}

function describeWire(info) {
  const resolvers = info.loaders.filter((l) => l.filled.length).map((l) => ({ entity: l.entity, fields: l.filled, loader: l.name }));
  return {
    name: info.name,
    version: info.version,
    description: info.description,
    schema: {
      entities: info.schema.entities.map((e) => ({ name: e.name, description: e.description, fields: e.fields })),
      roots: info.schema.roots,
    },
    loaders: info.loaders.map((l) => ({ name: l.name, entity: l.entity, kind: l.kind, description: l.description })),
    resolvers,
    onboarding: info.onboardingSteps,
    permissions: info.permissionSet.value,
  };
}

/** The object to export as the component's `source` interface:
 * `export const source = exportConnector(MyConnector);` */
export function exportConnector(ConnectorClass) {
  setTransport(new HostTransport());
  setLogSink((level, message) => hostLog(level, message));
  let instance;
  let info;
  const described = () => (info ??= ConnectorClass.describe());
  const connector = () => {
    if (!instance) throw new InvalidInput('the host called the connector before `initialise`');
    return instance;
  };
  return {
    describe: () => describeWire(described()),
    requestLimits: () => ConnectorClass.requestLimits().map((l) => ({ name: l.name, method: l.method, path: l.path, max: l.max, intervalMs: l.intervalMs })),
    searchableFields: () => described().schema.entities.flatMap((e) => e.searchable.map(([field, weight]) => ({ entity: e.name, field, weight }))),
    fieldVersions: () => described().schema.entities.flatMap((e) => e.versioned.map(([fields, versions]) => ({ entity: e.name, fields, versions }))),
    scopedFeeds: () => described().loaders.filter((l) => l.scope !== undefined).map((l) => ({ loader: l.name, entity: l.scope })),
    ownedCollections: () => described().schema.entities.flatMap((e) => e.owned.map((field) => ({ entity: e.name, field }))),
    initialise(config, discovered) {
      const fields = discovered.entities.flatMap((d) => d.fields.map((f) => ({ entity: d.entity, ...f })));
      instance = call(() => new ConnectorClass(new Config(config, fields)));
    },
    validate: () => call(() => connector().validate()),
    discover: () => call(() => {
      const found = connector().discover();
      const byEntity = new Map();
      for (const f of found.fields) {
        if (!byEntity.has(f.entity)) byEntity.set(f.entity, []);
        byEntity.get(f.entity).push({ name: f.name, type: f.type, description: f.description });
      }
      return { entities: [...byEntity].map(([entity, fields]) => ({ entity, fields })), refillOnNewFields: found.refillOnNewFields };
    }),
    selectOptions: (key) => call(() => connector().selectOptions(key).map(([value, label]) => ({ value, label }))),
    seed: (state) => call(() => ({ groups: connector().seed(new SeedState(state)).groups })),
    load: (loader, refs) => call(() => {
      const result = connector().load(loader, refs);
      return (Array.isArray(result) ? result : [result]).map(wireBatch);
    }),
    loadPage: (loader, parent, cursor) => call(() => {
      const page = connector().loadPage(loader, parent, cursor ?? undefined);
      return { items: wireBatch(page.items), related: page.related.map(wireBatch), nextCursor: page.nextCursor };
    }),
    changes: (loader, cursor) => call(() => wireChangePage(connector().changes(loader, cursor ?? undefined))),
    changesOf: (loader, parent, cursor) => call(() => wireChangePage(connector().changesOf(loader, parent, cursor ?? undefined))),
  };
}
