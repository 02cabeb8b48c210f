// Entity tables: declare each entity type once, as columns, and derive the schema entity, the by-id
// loader, empty batches and rows from API objects from that one declaration.

import { Batch } from './batch.js';
import { FieldType, Loader } from './describe.js';
import { InvalidResponse } from './errors.js';

/** What a column holds, which gives its field type in Max. */
export const Kind = Object.freeze({
  TEXT: FieldType.STRING,
  INTEGER: FieldType.INTEGER,
  FLOAT: FieldType.FLOAT,
  BOOLEAN: FieldType.BOOLEAN,
  DATETIME: FieldType.DATETIME,
  JSON: FieldType.JSON,
  ref: FieldType.ref,
  collection: FieldType.collection,
});

/** One column: `field` in Max, read from the API's key `source` (the field's name by default). */
export class Column {
  constructor(field, kind, { source, doc = '', searchWeight = 0 } = {}) {
    Object.assign(this, { field, kind, source: source ?? field, doc, searchWeight });
  }
  /** The same text column in the full-text index, a match counting `weight` (1 to 100). */
  searchable(weight) { return new Column(this.field, this.kind, { source: this.source, doc: this.doc, searchWeight: weight }); }
}

/** A string, or the JSON text of any other scalar (`12` → `"12"`). */
export function text(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** An entity type declared as a table of columns. */
export class Table {
  constructor(entity, description, columns) {
    this.entity = entity;
    this.description = description;
    this.columns = [...columns];
    this.byKey = new Map(this.columns.map((c, i) => [c.source, i]));
  }
  /** The field names, in column order. */
  fields() { return this.columns.map((c) => c.field); }
  /** Declares the description and every column on a schema entity (more fields may follow). */
  declare(builder) {
    if (this.description) builder.describe(this.description);
    for (const c of this.columns) {
      builder.field(c.field, c.kind, c.doc || undefined);
      if (c.searchWeight) builder.searchable(c.field, c.searchWeight);
    }
    return builder;
  }
  /** An empty batch whose rows carry every column. */
  batch() { return new Batch(this.entity, this.fields()); }
  /** A batched loader `name` of up to `maxBatch` ids filling every column. */
  byIdLoader(name, maxBatch) { return Loader.batched(name, this.entity, maxBatch).fills(this.fields()); }
  /** Appends one API object (parsed JSON) as a row: each column read from its key, typed by its kind. */
  push(batch, obj) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new InvalidResponse(`a ${this.entity} object expected`);
    if (obj.id === undefined || obj.id === null || obj.id === '') throw new InvalidResponse(`a ${this.entity} without an id`);
    const row = batch.startRow();
    try {
      for (const key in obj) {
        const column = this.byKey.get(key);
        if (column !== undefined) write(row, column, this.columns[column], obj[key]);
      }
      row.finish(text(obj.id));
    } catch (e) { row.abandon(); throw e; }
  }
  /** A batch of every object of a list response. */
  rows(objects) {
    if (!Array.isArray(objects)) throw new InvalidResponse(`a list of ${this.entity} objects expected`);
    const batch = this.batch();
    for (const obj of objects) this.push(batch, obj);
    return batch;
  }
}

function write(row, column, spec, value) {
  if (value === null || value === undefined) { row.null(column); return; }
  switch (spec.kind.tag) {
    case 'json': row.json(column, JSON.stringify(value)); return;
    case 'string': row.text(column, text(value)); return;
    case 'datetime': row.datetime(column, text(value)); return;
    case 'ref': row.reference(column, text(value)); return;
    case 'boolean':
      if (typeof value !== 'boolean') throw new InvalidResponse(`${spec.field}: a boolean expected, not ${JSON.stringify(value)}`);
      row.boolean(column, value); return;
    case 'integer': {
      const number = typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : value;
      if (typeof number !== 'bigint' && !Number.isInteger(number)) throw new InvalidResponse(`${spec.field}: an integer expected, not ${JSON.stringify(value)}`);
      row.integer(column, number); return;
    }
    case 'float':
      if (typeof value !== 'number') throw new InvalidResponse(`${spec.field}: a number expected, not ${JSON.stringify(value)}`);
      row.float(column, value); return;
    case 'collection':
      if (!Array.isArray(value)) throw new InvalidResponse(`${spec.field}: a list of ids expected`);
      row.collection(column, value.map(text)); return;
    default:
      throw new InvalidResponse(`${spec.field}: unknown kind ${spec.kind.tag}`);
  }
}
