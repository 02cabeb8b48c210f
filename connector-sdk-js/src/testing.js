// Test a connector natively (Node.js, no Max): a fake HTTP host answers the connector's requests, and
// `rows` reads a batch back.
//
//   const fake = new FakeHttp().get('https://api.example.com/me', { json: { name: 'Ada' } });
//   fake.install();
//   ... new MyConnector(new Config([['base_url', 'https://api.example.com']])).validate() ...
//   fake.uninstall();

import { Response, Transport, setTransport } from './http.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Answers requests from routes (method and URL; a route without `?` ignores the query) and records
 * every request. A request no route answers gets a 404 naming it. */
export class FakeHttp extends Transport {
  constructor() {
    super();
    this.routes = [];
    /** Every request sent, in order. */
    this.requests = [];
    this.previous = undefined;
  }
  /** Answers `method url` with `handler(request)`; later routes win. */
  route(method, url, handler) { this.routes.unshift({ method: method.toLowerCase(), url, handler }); return this; }
  /** Answers GET `url` with `json` (or `body`), `status` and `headers`. */
  get(url, options = {}) { return this.route('get', url, respond(options)); }
  /** Answers POST `url` with `json` (or `body`), `status` and `headers`. */
  post(url, options = {}) { return this.route('post', url, respond(options)); }
  /** Routes the SDK's requests here until `uninstall()`. */
  install() { this.previous = setTransport(this); return this; }
  /** Routes them back. */
  uninstall() { if (this.previous) setTransport(this.previous); this.previous = undefined; }
  send(request) {
    this.requests.push(request);
    const route = this.routes.find((r) => r.method === request.method && (r.url.includes('?') ? r.url === request.url : request.url.split('?')[0] === r.url));
    if (route) return route.handler(request);
    return new Response(404, [['content-type', 'text/plain']], encoder.encode(`no fake route for ${request.method.toUpperCase()} ${request.url}`));
  }
}

/** A handler that answers every request the same way. */
export function respond({ json, body, status = 200, headers = {} } = {}) {
  const bytes = body !== undefined ? (typeof body === 'string' ? encoder.encode(body) : body) : encoder.encode(json === undefined ? '' : JSON.stringify(json));
  const pairs = Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]);
  if (json !== undefined) pairs.push(['content-type', 'application/json']);
  return () => new Response(status, pairs, bytes);
}

/** The rows of a batch read back from its packed buffers: `{ id, column: value }` each. Datetimes,
 * references and JSON come back as text, integers as bigints, collections as arrays of ids. */
export function rows(batch) {
  const { data, text, rowCount, columns } = batch.packed();
  const bytes = encoder.encode(text);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  let textAt = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = data[at++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return value;
    }
  };
  const span = () => {
    const length = varint();
    const piece = decoder.decode(bytes.subarray(textAt, textAt + length));
    textAt += length;
    return piece;
  };
  const out = [];
  for (let r = 0; r < rowCount; r++) {
    const row = {};
    for (let c = 0; c < columns.length; c++) {
      const column = columns[varint()];
      const tag = data[at++];
      if (tag === 0) row[column] = null;
      else if ([1, 6, 7, 8].includes(tag)) row[column] = span();
      else if (tag === 2) { row[column] = view.getBigInt64(at, true); at += 8; }
      else if (tag === 3) { row[column] = view.getFloat64(at, true); at += 8; }
      else if (tag === 4 || tag === 5) row[column] = tag === 5;
      else { const count = varint(); row[column] = Array.from({ length: count }, span); }
    }
    row.id = span();
    out.push(row);
  }
  return out;
}
