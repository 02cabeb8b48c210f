// What a connector says about itself: schema, loaders, onboarding and permissions, built as data.
// `describe` must be pure data (no HTTP, no config): the host calls it before anything else.

/** Field types. Use the constants and `FieldType.ref(entity)` / `FieldType.collection(entity)`. */
export const FieldType = Object.freeze({
  STRING: Object.freeze({ tag: 'string' }),
  INTEGER: Object.freeze({ tag: 'integer' }),
  FLOAT: Object.freeze({ tag: 'float' }),
  BOOLEAN: Object.freeze({ tag: 'boolean' }),
  DATETIME: Object.freeze({ tag: 'datetime' }),
  JSON: Object.freeze({ tag: 'json' }),
  /** A reference to one entity of type `entity`: the value is its id. */
  ref: (entity) => Object.freeze({ tag: 'ref', val: entity }),
  /** An ordered collection of entities of type `entity`. */
  collection: (entity) => Object.freeze({ tag: 'collection', val: entity }),
});

/** Declares one entity type's fields; made by `Schema.entity`. */
export class EntityBuilder {
  constructor(name) {
    this.entity = { name, description: undefined, fields: [], searchable: [], owned: [], versioned: [] };
  }
  /** One line for `max schema`. */
  describe(text) { this.entity.description = text; return this; }
  /** Adds a field of `type`. */
  field(name, type, description) { this.entity.fields.push({ name, type, description }); return this; }
  /** Adds a reference to one entity of type `target`. */
  reference(name, target, description) { return this.field(name, FieldType.ref(target), description); }
  /** Adds a collection of entities of type `item`. */
  collection(name, item, description) { return this.field(name, FieldType.collection(item), description); }
  /** Indexes string field `name` for `max search --match`, a match counting `weight` (1-100). */
  searchable(name, weight) { this.entity.searchable.push([name, weight]); return this; }
  /** The items of collection `field` belong to this entity. */
  owns(field) { this.entity.owned.push(field); return this; }
  /** `fields` are loaded again only when one of `versions` changes. */
  versioned(fields, versions) { this.entity.versioned.push([[...fields], [...versions]]); return this; }
}

/** The data model: entity types and the roots every sync starts from. */
export class Schema {
  constructor() { this.entities = []; this.roots = []; }
  /** Declares entity type `name`; `build(builder)` adds its fields and returns the builder. */
  entity(name, build) {
    let builder = new EntityBuilder(name);
    if (build) builder = build(builder);
    this.entities.push(builder.entity);
    return this;
  }
  /** Declares the singleton `entity` with id `id` that syncs start from. */
  root(entity, id) { this.roots.push({ entity, id }); return this; }
}

/** A named way of fetching data. Make one with the static methods. */
export class Loader {
  constructor(name, entity, kind) {
    this.name = name;
    this.entity = entity;
    this.kind = kind;
    this.description = undefined;
    this.filled = [];
    this.scope = undefined;
  }
  /** `load` with one ref per call. */
  static single(name, entity) { return new Loader(name, entity, { tag: 'single' }); }
  /** `load` with up to `maxBatch` refs per call. */
  static batched(name, entity, maxBatch) { return new Loader(name, entity, { tag: 'batched', val: maxBatch }); }
  /** `loadPage`: one page of `parent.field` (items of type `item`) per call. */
  static collection(name, parent, field, item, pageSize) {
    return new Loader(name, item, { tag: 'collection', val: { parent, field, pageSize, parentField: undefined } });
  }
  /** `load` with no refs: the loader decides what to fetch. */
  static raw(name, entity) { return new Loader(name, entity, { tag: 'raw' }); }
  /** `changes`: what changed since a cursor. */
  static changeFeed(name, entity) { return new Loader(name, entity, { tag: 'change-feed' }); }
  /** Follows this change feed per entity of type `entity` (contract 0.4.0): the host keeps a cursor for
   * each and calls `Connector.changesOf` with it, on every entity a `follow-changes` step targets. */
  per(entity) { this.scope = entity; return this; }
  /** The item's reference field naming its parent (keeps the collection current from a feed). */
  parentField(field) { this.kind.val.parentField = field; return this; }
  /** Declares a resolver: this loader fills `fields` of its entity. */
  fills(fields) { this.filled = [...fields]; return this; }
  /** One line for `max connector inspect`. */
  describe(text) { this.description = text; return this; }
}

/** The steps of `max connect`, in order; `help`, `when` and `optional` change the last one. */
export class Onboarding {
  constructor() { this.steps = []; }
  #input(tag, key, label, defaultValue) {
    this.steps.push({ tag, val: { key, label, help: undefined, defaultValue, required: true, shownWhen: undefined } });
    return this;
  }
  /** A plain input, stored in the config the connector sees. */
  input(key, label, defaultValue) { return this.#input('input', key, label, defaultValue); }
  /** A secret, stored by the host; the connector names it in requests and never sees it. */
  secret(key, label) { return this.#input('secret', key, label, undefined); }
  /** A choice among `[value, label]` options, or options from `selectOptions` when dynamic. */
  select(key, label, options = [], { dynamic = false, multiple = false } = {}) {
    const val = { key, label, help: undefined, options: options.map(([value, l]) => ({ value, label: l })), dynamic, multiple };
    this.steps.push({ tag: 'select', val });
    return this;
  }
  /** Calls `validate` with the config collected so far. */
  validate(label) { this.steps.push({ tag: 'validate', val: label }); return this; }
  /** A longer explanation of the last step. */
  help(text) { this.#last().help = text; return this; }
  /** Asks the last step only when step `key` was answered `value`. */
  when(key, value) { this.#last().shownWhen = [key, value]; return this; }
  /** The last step may be left empty. */
  optional() { this.#last().required = false; return this; }
  #last() {
    const last = this.steps[this.steps.length - 1];
    if (!last || last.tag === 'validate') throw new Error('help, when and optional change the last input, secret or select step');
    return last.val;
  }
}

/** What the connector asks the user to grant: hosts, credentials, resources. */
export class Permissions {
  constructor() {
    this.value = { hosts: [], credentials: [], baseUrlKey: undefined, resources: { memoryMib: undefined, callTimeoutMs: undefined } };
  }
  /** A host it may reach over HTTPS (optionally only under `pathPrefix`). */
  host(host, pathPrefix) { this.value.hosts.push({ host, pathPrefix }); return this; }
  #credential(name, injection) { this.value.credentials.push({ name, injection, hosts: [] }); return this; }
  /** Secret `name` sent as `Authorization: Bearer <secret>`. */
  bearer(name) { return this.#credential(name, { tag: 'bearer' }); }
  /** Secret `name` sent verbatim as `Authorization`. */
  authorization(name) { return this.#credential(name, { tag: 'authorization' }); }
  /** Secret `name` sent verbatim in header `header`. */
  header(name, header) { return this.#credential(name, { tag: 'header', val: header }); }
  /** Secret `name` sent as query parameter `param`. */
  query(name, param) { return this.#credential(name, { tag: 'query', val: param }); }
  /** An OAuth2 access token the host refreshes itself, named `name` in requests. */
  oauth2(name, tokenUrl, refreshTokenKey, clientIdKey, clientSecretKey) {
    return this.#credential(name, { tag: 'oauth2', val: { tokenUrl, refreshTokenKey, clientIdKey, clientSecretKey } });
  }
  /** The last credential may be sent only to `hosts`. */
  boundTo(hosts) {
    const last = this.value.credentials[this.value.credentials.length - 1];
    if (!last) throw new Error('boundTo changes the last credential: declare one first');
    last.hosts = [...hosts];
    return this;
  }
  /** Config key `key` holds a base URL the user may point elsewhere; its host is allowed too. */
  baseUrlKey(key) { this.value.baseUrlKey = key; return this; }
  /** Linear memory needed beyond the default 256 MiB. */
  memoryMib(mib) { this.value.resources.memoryMib = mib; return this; }
  /** Wall-clock time one call needs beyond the default 60 s. */
  callTimeoutMs(ms) { this.value.resources.callTimeoutMs = ms; return this; }
}

/** Everything `describe` returns. */
export class ConnectorInfo {
  constructor(name, version, description, schema) {
    this.name = name;
    this.version = version;
    this.description = description;
    this.schema = schema;
    this.loaders = [];
    this.onboardingSteps = [];
    this.permissionSet = new Permissions();
  }
  /** Adds a loader (and its resolver, when it `fills` fields). */
  loader(loader) { this.loaders.push(loader); return this; }
  /** Sets the steps of `max connect`. */
  onboarding(onboarding) { this.onboardingSteps = onboarding.steps; return this; }
  /** Sets what the user is asked to grant. */
  permissions(permissions) { this.permissionSet = permissions; return this; }
}

/** A limit the API sets on a group of requests without announcing it (`*` is one path segment). */
export class RequestLimit {
  constructor(name, path, max, intervalMs, method) {
    Object.assign(this, { name, path, max, intervalMs, method });
  }
}
