// Entity data: batches of rows packed in the contract's format (`entity-batch` in `wit/types.wit`),
// pages of collections and pages of change feeds. Values go straight into two buffers.

const NULL = 0, TEXT = 1, INTEGER = 2, FLOAT = 3, FALSE = 4, TRUE = 5, DATETIME = 6, JSON_TAG = 7, REFERENCE = 8, COLLECTION = 9;

/** The number of bytes `text` takes in UTF-8. */
export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** A growable byte buffer. */
class Bytes {
  constructor() { this.buf = new Uint8Array(1024); this.len = 0; this.view = new DataView(this.buf.buffer); }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
  push(byte) { this.reserve(1); this.buf[this.len++] = byte; }
  varint(value) {
    while (value >= 0x80) { this.push((value & 0x7f) | 0x80); value = Math.floor(value / 128); }
    this.push(value);
  }
  i64(value) { this.reserve(8); this.view.setBigInt64(this.len, BigInt(value), true); this.len += 8; }
  f64(value) { this.reserve(8); this.view.setFloat64(this.len, value, true); this.len += 8; }
}

/** A typed value for `Batch.row` where a plain JS value doesn't say its type. */
export class Value {
  constructor(tag, payload) { this.tag = tag; this.payload = payload; }
  /** An ISO-8601 instant or date. */
  static datetime(text) { return new Value(DATETIME, String(text)); }
  /** The id of a referenced entity. */
  static reference(id) { return new Value(REFERENCE, String(id)); }
  /** Any JSON value, serialized. */
  static json(value) { return new Value(JSON_TAG, JSON.stringify(value)); }
  /** JSON already serialized. */
  static jsonText(text) { return new Value(JSON_TAG, text); }
  /** The ids of a collection's items, in order. */
  static collection(ids) { return new Value(COLLECTION, [...ids].map(String)); }
  /** A 64-bit integer (a bigint keeps every digit). */
  static integer(value) { return new Value(INTEGER, value); }
}

/** One row being written into a batch: set values by column index, then `finish(id)`. A column set
 * twice keeps its first value; columns never set are null; `abandon()` drops a half-written row. */
export class RowWriter {
  constructor(batch) {
    this.batch = batch;
    this.dataStart = batch.data.len;
    this.textStart = batch.text.length;
    this.seen = new Uint8Array(batch.columns.length);
    this.open = true;
  }
  #claim(column, tag) {
    if (!(column >= 0 && column < this.seen.length)) throw new RangeError(`column ${column} of a batch of ${this.seen.length} columns`);
    if (this.seen[column]) return false;
    this.seen[column] = 1;
    this.batch.data.varint(column);
    this.batch.data.push(tag);
    return true;
  }
  #span(text) { this.batch.data.varint(utf8Length(text)); this.batch.text.push(text); }
  #spanned(column, tag, text) { if (this.#claim(column, tag)) this.#span(String(text)); return this; }
  /** Sets `column` to null (the API said null). */
  null(column) { this.#claim(column, NULL); return this; }
  /** Sets a string field. */
  text(column, value) { return this.#spanned(column, TEXT, value); }
  /** Sets an integer field (a number that is an integer, or a bigint). */
  integer(column, value) {
    if (typeof value !== 'bigint' && !Number.isInteger(value)) throw new TypeError(`column ${column}: an integer, not ${value}`);
    if (this.#claim(column, INTEGER)) this.batch.data.i64(value);
    return this;
  }
  /** Sets a float field; must be finite. */
  float(column, value) {
    if (!Number.isFinite(value)) throw new TypeError(`column ${column}: a float must be finite, not ${value}`);
    if (this.#claim(column, FLOAT)) this.batch.data.f64(value);
    return this;
  }
  /** Sets a boolean field. */
  boolean(column, value) { this.#claim(column, value ? TRUE : FALSE); return this; }
  /** Sets a datetime field (ISO-8601 text). */
  datetime(column, text) { return this.#spanned(column, DATETIME, text); }
  /** Sets a json field to serialized JSON text. */
  json(column, text) { return this.#spanned(column, JSON_TAG, text); }
  /** Sets a ref field to the referenced entity's id. */
  reference(column, id) { return this.#spanned(column, REFERENCE, id); }
  /** Sets a collection field to its items' ids, in order. */
  collection(column, ids) {
    if (this.#claim(column, COLLECTION)) {
      const list = [...ids];
      this.batch.data.varint(list.length);
      for (const id of list) this.#span(String(id));
    }
    return this;
  }
  /** Sets `column` from a plain value (string, number, boolean, null) or a `Value`. */
  value(column, value) {
    if (value === null || value === undefined) return this.null(column);
    if (value instanceof Value) {
      if (value.tag === COLLECTION) return this.collection(column, value.payload);
      if (value.tag === INTEGER) return this.integer(column, value.payload);
      return this.#spanned(column, value.tag, value.payload);
    }
    switch (typeof value) {
      case 'boolean': return this.boolean(column, value);
      case 'bigint': return this.integer(column, value);
      case 'number': return Number.isInteger(value) ? this.integer(column, value) : this.float(column, value);
      case 'string': return this.text(column, value);
      default: throw new TypeError(`column ${column}: no field type holds a ${typeof value}; use Value.json`);
    }
  }
  /** Adds the row with this id; columns never set are null. */
  finish(id) {
    id = String(id);
    if (!id) throw new TypeError('an entity id can\'t be empty');
    for (let c = 0; c < this.seen.length; c++) if (!this.seen[c]) this.null(c);
    this.#span(id);
    this.batch.rowCount += 1;
    this.open = false;
  }
  /** Drops what was written of this row. */
  abandon() {
    if (!this.open) return;
    this.batch.data.len = this.dataStart;
    this.batch.text.length = this.textStart;
    this.open = false;
  }
}

/** Entities of one type sharing a column list, packed as rows are added. */
export class Batch {
  constructor(entity, columns) {
    this.entity = entity;
    this.columns = [...columns];
    this.rowCount = 0;
    this.data = new Bytes();
    this.text = [];
  }
  get length() { return this.rowCount; }
  /** A writer for one row; call `finish(id)` on it to add the row. */
  startRow() { return new RowWriter(this); }
  /** Adds a row with one value per column, in column order. */
  row(id, values) {
    if (values.length !== this.columns.length) throw new TypeError(`${values.length} values for ${this.columns.length} columns of ${this.entity}`);
    const writer = new RowWriter(this);
    try {
      values.forEach((v, c) => writer.value(c, v));
      writer.finish(id);
    } catch (e) { writer.abandon(); throw e; }
  }
  /** Adds a row from an object of column name to value; columns left out are null. */
  add(id, values) {
    const writer = new RowWriter(this);
    try {
      for (const [name, v] of Object.entries(values)) {
        const column = this.columns.indexOf(name);
        if (column < 0) throw new TypeError(`${this.entity} has no column ${name}`);
        writer.value(column, v);
      }
      writer.finish(id);
    } catch (e) { writer.abandon(); throw e; }
  }
  /** A batch with no columns: its rows only say these entities exist. */
  static idOnly(entity) { return new Batch(entity, []); }
  /** The contract's `entity-batch`. */
  packed() {
    return { entity: this.entity, columns: this.columns, rowCount: this.rowCount, data: this.data.buf.slice(0, this.data.len), text: this.text.join('') };
  }
}

/** One page of a collection: its items, other entities found along the way, the next cursor. */
export class Page {
  constructor(items, nextCursor) { this.items = items; this.related = []; this.nextCursor = nextCursor ?? undefined; }
  /** Sets the cursor of the next page (undefined on the last page). */
  next(cursor) { this.nextCursor = cursor ?? undefined; return this; }
  /** Adds entities found along the way. */
  withRelated(batch) { this.related.push(batch); return this; }
}

/** One page of a change feed: upserts, deletions, the cursor to store, whether more waits. */
export class ChangePage {
  constructor(nextCursor, hasMore = false) { this.upserts = []; this.deletions = []; this.nextCursor = nextCursor; this.hasMore = hasMore; }
  /** Entities created or updated since the cursor. */
  upsert(batch) { this.upserts.push(batch); return this; }
  /** An entity deleted or archived since the cursor. */
  delete(entity, id) { this.deletions.push({ entity, id: String(id) }); return this; }
}
