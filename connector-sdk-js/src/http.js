// HTTP through the host: the only way a connector reaches the network. The host checks every request
// against the granted hosts, attaches the secret a request names by `credential`, and enforces
// timeouts, size caps and rate limits.
//
//   const tasks = http.get(`${base}/api/tasks?limit=100`).credential('api_key').send().ok().json();

import { ConnectorError, Forbidden, InvalidInput, InvalidResponse, NotFound, Other, RateLimited, Transient, Unauthorized } from './errors.js';

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The connector error a request that got no response throws: `denied` is forbidden,
 * `unknown-credential` and `invalid-request` invalid input, `timeout` and `connection` transient,
 * `too-large` an invalid response. */
export function transportError(tag, detail) {
  switch (tag) {
    case 'denied': return new Forbidden(`the host refused the request: ${detail}`);
    case 'unknown-credential': return new InvalidInput(`unknown credential \`${detail}\``);
    case 'invalid-request': return new InvalidInput(`invalid request: ${detail}`);
    case 'timeout': return new Transient('request timed out');
    case 'connection': return new Transient(`connection failed: ${detail}`);
    case 'too-large': return new InvalidResponse(`response larger than ${detail} bytes`);
    default: return new Other(`${tag}: ${detail}`);
  }
}

/** A request being built; `send()` sends it through the host. */
export class Request {
  constructor(method, url) {
    if (!METHODS.includes(method)) throw new TypeError(`method ${method}: one of ${METHODS.join(', ')}`);
    this.method = method;
    this.url = url;
    this.headers = [];
    this.body = undefined;
    this.credentialName = undefined;
    this.timeout = undefined;
  }
  /** Adds a header. */
  header(name, value) { this.headers.push([name, value]); return this; }
  /** Has the host attach the declared credential `name` (its secret never reaches the connector). */
  credential(name) { this.credentialName = name; return this; }
  /** Sends `body` as JSON. */
  json(body) { this.body = encoder.encode(JSON.stringify(body)); return this.header('content-type', 'application/json'); }
  /** Sends raw bytes (or text as UTF-8). */
  data(body) { this.body = typeof body === 'string' ? encoder.encode(body) : new Uint8Array(body); return this; }
  /** A timeout for this request; the host caps it at its own limit. */
  timeoutMs(ms) { this.timeout = ms; return this; }
  /** Sends the request and waits for its response (any status is a response). */
  send() {
    const result = transport.send(this);
    if (result instanceof ConnectorError) throw result;
    return result;
  }
}

/** A GET request. */
export const get = (url) => new Request('get', url);
/** A POST request. */
export const post = (url) => new Request('post', url);

/** Sends several requests concurrently through the host; each result is a `Response` or the
 * `ConnectorError` that request got, in order. */
export function sendAll(requests) { return transport.sendAll([...requests]); }

/** A response: status, headers (names in lowercase), body bytes. */
export class Response {
  constructor(status, headers, body) { this.status = status; this.headers = headers; this.body = body; }
  /** The first header with this (case-insensitive) name. */
  header(name) {
    name = name.toLowerCase();
    const found = this.headers.find(([n]) => n.toLowerCase() === name);
    return found ? found[1] : undefined;
  }
  /** The body as UTF-8 text. */
  text() { return decoder.decode(this.body); }
  /** The body parsed as JSON; `InvalidResponse` when it isn't. */
  json() {
    try { return JSON.parse(this.text()); } catch (e) { throw new InvalidResponse(`invalid JSON in a ${this.status} response: ${e.message}`); }
  }
  /** The response for a 2xx status, else throws the error the status means: 401 unauthorized, 403
   * forbidden, 404 not found, 429 rate limited (with `Retry-After`), 408 and 5xx transient, else other. */
  ok() {
    const s = this.status;
    if (s >= 200 && s < 300) return this;
    const text = this.text().trim();
    const summary = `HTTP ${s}: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
    if (s === 401) throw new Unauthorized(summary);
    if (s === 403) throw new Forbidden(summary);
    if (s === 404) throw new NotFound(summary);
    if (s === 429) throw new RateLimited(this.retryAfterMs());
    if (s === 408 || (s >= 500 && s <= 599)) throw new Transient(summary);
    throw new Other(summary);
  }
  /** `Retry-After` in milliseconds, when it is a number of seconds. */
  retryAfterMs() {
    const seconds = Number((this.header('retry-after') ?? '').trim() || NaN);
    return Number.isFinite(seconds) && seconds >= 0 ? Math.floor(seconds * 1000) : undefined;
  }
  /** The URL of the `rel="next"` entry of a `Link` header (GitHub-style pagination). */
  linkNext() { const h = this.header('link'); return h ? linkNext(h) : undefined; }
}

/** `value` percent-encoded for a URL's query (every byte but RFC 3986's unreserved ones). */
export function encodeQuery(value) {
  let out = '';
  for (const byte of encoder.encode(String(value))) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The `rel="next"` target of an RFC 8288 `Link` header value. */
export function linkNext(header) {
  for (const part of header.split(',')) {
    const [target, ...params] = part.split(';');
    const isNext = params.some((p) => {
      const [name, value = ''] = p.trim().split('=');
      return name.trim() === 'rel' && value.trim().replace(/"/g, '').split(/\s+/).includes('next');
    });
    const t = target.trim();
    if (isNext && t.startsWith('<') && t.endsWith('>')) return t.slice(1, -1);
  }
  return undefined;
}

/** Where requests go: the host's `http` import inside a component, a fake in native tests. */
export class Transport {
  send(_request) { throw new Error('a transport sends requests'); }
  sendAll(requests) { return requests.map((r) => this.send(r)); }
}

class Unavailable extends Transport {
  send() {
    throw new InvalidInput("HTTP goes through Max's host: build the connector into a component, or in native tests install a fake with `FakeHttp` from the SDK's testing module");
  }
}

let transport = new Unavailable();

/** Routes every request to `next`; returns the transport it replaces. */
export function setTransport(next) { const previous = transport; transport = next; return previous; }
