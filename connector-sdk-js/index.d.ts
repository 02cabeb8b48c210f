// Types of Max's JavaScript connector SDK (src/index.js, src/component.js, src/testing.js).

/** A field's type. */
export type FieldTypeValue =
  | { tag: 'string' } | { tag: 'integer' } | { tag: 'float' } | { tag: 'boolean' } | { tag: 'datetime' } | { tag: 'json' }
  | { tag: 'ref'; val: string } | { tag: 'collection'; val: string };

export declare const FieldType: {
  readonly STRING: FieldTypeValue; readonly INTEGER: FieldTypeValue; readonly FLOAT: FieldTypeValue;
  readonly BOOLEAN: FieldTypeValue; readonly DATETIME: FieldTypeValue; readonly JSON: FieldTypeValue;
  ref(entity: string): FieldTypeValue;
  collection(entity: string): FieldTypeValue;
};
/** What an entity table's column holds. */
export declare const Kind: {
  readonly TEXT: FieldTypeValue; readonly INTEGER: FieldTypeValue; readonly FLOAT: FieldTypeValue;
  readonly BOOLEAN: FieldTypeValue; readonly DATETIME: FieldTypeValue; readonly JSON: FieldTypeValue;
  ref(entity: string): FieldTypeValue; collection(entity: string): FieldTypeValue;
};

export declare class EntityBuilder {
  describe(text: string): this;
  field(name: string, type: FieldTypeValue, description?: string): this;
  reference(name: string, target: string, description?: string): this;
  collection(name: string, item: string, description?: string): this;
  searchable(name: string, weight: number): this;
  owns(field: string): this;
  versioned(fields: string[], versions: string[]): this;
}

export declare class Schema {
  entity(name: string, build?: (e: EntityBuilder) => EntityBuilder): this;
  root(entity: string, id: string): this;
}

export declare class Loader {
  static single(name: string, entity: string): Loader;
  static batched(name: string, entity: string, maxBatch: number): Loader;
  static collection(name: string, parent: string, field: string, item: string, pageSize: number): Loader;
  static raw(name: string, entity: string): Loader;
  static changeFeed(name: string, entity: string): Loader;
  per(entity: string): this;
  parentField(field: string): this;
  fills(fields: string[]): this;
  describe(text: string): this;
}

export declare class Onboarding {
  input(key: string, label: string, defaultValue?: string): this;
  secret(key: string, label: string): this;
  select(key: string, label: string, options?: [string, string][], opts?: { dynamic?: boolean; multiple?: boolean }): this;
  validate(label: string): this;
  help(text: string): this;
  when(key: string, value: string): this;
  optional(): this;
}

export declare class Permissions {
  host(host: string, pathPrefix?: string): this;
  bearer(name: string): this;
  authorization(name: string): this;
  header(name: string, header: string): this;
  query(name: string, param: string): this;
  oauth2(name: string, tokenUrl: string, refreshTokenKey: string, clientIdKey?: string, clientSecretKey?: string): this;
  boundTo(hosts: string[]): this;
  baseUrlKey(key: string): this;
  memoryMib(mib: number): this;
  callTimeoutMs(ms: number): this;
}

export declare class RequestLimit {
  constructor(name: string, path: string, max: number, intervalMs: number, method?: 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options');
}

export declare class ConnectorInfo {
  constructor(name: string, version: string, description: string, schema: Schema);
  loader(loader: Loader): this;
  onboarding(onboarding: Onboarding): this;
  permissions(permissions: Permissions): this;
}

/** A typed value where a plain one doesn't say its type. */
export declare class Value {
  static datetime(text: string): Value;
  static reference(id: string): Value;
  static json(value: unknown): Value;
  static jsonText(text: string): Value;
  static collection(ids: Iterable<string>): Value;
  static integer(value: number | bigint): Value;
}

export type PlainValue = string | number | bigint | boolean | null | undefined | Value;

export declare class RowWriter {
  null(column: number): this;
  text(column: number, value: string): this;
  integer(column: number, value: number | bigint): this;
  float(column: number, value: number): this;
  boolean(column: number, value: boolean): this;
  datetime(column: number, text: string): this;
  json(column: number, text: string): this;
  reference(column: number, id: string): this;
  collection(column: number, ids: Iterable<string>): this;
  value(column: number, value: PlainValue): this;
  finish(id: string): void;
  abandon(): void;
}

export declare class Batch {
  constructor(entity: string, columns: string[]);
  readonly entity: string;
  readonly columns: string[];
  readonly length: number;
  startRow(): RowWriter;
  row(id: string, values: PlainValue[]): void;
  add(id: string, values: Record<string, PlainValue>): void;
  static idOnly(entity: string): Batch;
}

export declare class Page {
  constructor(items: Batch, nextCursor?: string | null);
  next(cursor?: string | null): this;
  withRelated(batch: Batch): this;
}

export declare class ChangePage {
  constructor(nextCursor: string, hasMore?: boolean);
  upsert(batch: Batch): this;
  delete(entity: string, id: string): this;
}

export interface EntityRef { entity: string; id: string }
export type TargetValue = { tag: 'root' } | { tag: 'all'; val: string } | { tag: 'one'; val: EntityRef };
export type OperationValue = { tag: 'load-fields'; val: string[] } | { tag: 'load-collection'; val: string } | { tag: 'follow-changes'; val: string };
export declare const Target: { readonly ROOT: TargetValue; all(entity: string): TargetValue; one(entity: string, id: string): TargetValue };
export declare const Operation: { fields(fields: string[]): OperationValue; collection(field: string): OperationValue; changes(loader: string): OperationValue };

export declare class SyncPlan {
  then(target: TargetValue, operation: OperationValue): this;
  together(steps: [TargetValue, OperationValue][]): this;
}

export declare class SeedState {
  readonly lastCompletedSync?: string;
  readonly cursors: [string, string][];
  readonly full: boolean;
  cursor(loader: string): string | undefined;
}

export declare class Config {
  constructor(entries?: [string, string][], discovered?: { entity: string; name: string; type: FieldTypeValue; description?: string }[]);
  get(key: string, fallback?: string): string | undefined;
  require(key: string): string;
  baseUrl(fallback: string): string;
}

export declare class Discovery {
  constructor(refillOnNewFields?: boolean);
  field(entity: string, name: string, type: FieldTypeValue, description?: string): this;
}

export declare class ConnectorError extends Error {
  constructor(message?: string, kind?: string);
  readonly kind: string;
  static unknownLoader(loader: string): InvalidInput;
}
export declare class RateLimited extends ConnectorError { constructor(retryAfterMs?: number); readonly retryAfterMs?: number }
export declare class Unauthorized extends ConnectorError { constructor(message: string) }
export declare class Forbidden extends ConnectorError { constructor(message: string) }
export declare class NotFound extends ConnectorError { constructor(message: string) }
export declare class Transient extends ConnectorError { constructor(message: string) }
export declare class InvalidInput extends ConnectorError { constructor(message: string) }
export declare class InvalidResponse extends ConnectorError { constructor(message: string) }
export declare class Other extends ConnectorError { constructor(message: string) }

/** A connector: `new YourConnector(config)` is `initialise`. */
export declare class Connector {
  constructor(config: Config);
  readonly config: Config;
  static describe(): ConnectorInfo;
  static requestLimits(): RequestLimit[];
  validate(): string;
  discover(): Discovery;
  selectOptions(key: string): [string, string][];
  seed(state: SeedState): SyncPlan;
  load(loader: string, refs: EntityRef[]): Batch[] | Batch;
  loadPage(loader: string, parent: EntityRef, cursor: string | undefined): Page;
  changes(loader: string, cursor: string | undefined): ChangePage;
  changesOf(loader: string, parent: EntityRef, cursor: string | undefined): ChangePage;
}

export declare class Column {
  constructor(field: string, kind: FieldTypeValue, options?: { source?: string; doc?: string; searchWeight?: number });
  searchable(weight: number): Column;
}

export declare class Table {
  constructor(entity: string, description: string, columns: Column[]);
  fields(): string[];
  declare(builder: EntityBuilder): EntityBuilder;
  batch(): Batch;
  byIdLoader(name: string, maxBatch: number): Loader;
  push(batch: Batch, obj: Record<string, unknown>): void;
  rows(objects: unknown): Batch;
}

/** A string, or the JSON text of any other scalar. */
export declare function text(value: unknown): string;

/** Logs to `max -v`: `trace`, `debug`, `info`, `warn` or `error`. */
export declare function log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void;

export declare namespace http {
  class Request {
    constructor(method: string, url: string);
    header(name: string, value: string): this;
    credential(name: string): this;
    json(body: unknown): this;
    data(body: string | Uint8Array): this;
    timeoutMs(ms: number): this;
    send(): Response;
  }
  class Response {
    constructor(status: number, headers: [string, string][], body: Uint8Array);
    readonly status: number;
    readonly headers: [string, string][];
    readonly body: Uint8Array;
    header(name: string): string | undefined;
    text(): string;
    json(): any;
    ok(): this;
    retryAfterMs(): number | undefined;
    linkNext(): string | undefined;
  }
  class Transport {
    send(request: Request): Response | ConnectorError;
    sendAll(requests: Request[]): (Response | ConnectorError)[];
  }
  function get(url: string): Request;
  function post(url: string): Request;
  function sendAll(requests: Request[]): (Response | ConnectorError)[];
  function encodeQuery(value: string): string;
  function linkNext(header: string): string | undefined;
  function transportError(tag: string, detail: unknown): ConnectorError;
  function setTransport(next: Transport): Transport;
}

export declare const CONTRACT_VERSION: string;
