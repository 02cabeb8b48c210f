// Typed connector errors: the kind tells the host whether to retry, wait or stop. Throw them from any
// connector method; any other exception becomes `other` with its message and where it was thrown.

/** A connector call failed. Use a subclass, whose `kind` the host acts on. */
export class ConnectorError extends Error {
  constructor(message = '', kind = 'other') {
    super(message);
    this.name = 'ConnectorError';
    /** The contract's name for this kind (`rate-limited`, `unauthorized`, ...). */
    this.kind = kind;
  }

  /** The host named a loader this connector doesn't have. */
  static unknownLoader(loader) {
    return new InvalidInput(`unknown loader \`${loader}\``);
  }
}

/** The API asked us to slow down; the host retries after `retryAfterMs` (when the API said). */
export class RateLimited extends ConnectorError {
  constructor(retryAfterMs) {
    super(retryAfterMs == null ? 'rate limited' : `rate limited for ${retryAfterMs} ms`, 'rate-limited');
    this.retryAfterMs = retryAfterMs ?? undefined;
  }
}

const kinds = {
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not-found',
  Transient: 'transient',
  InvalidInput: 'invalid-input',
  InvalidResponse: 'invalid-response',
  Other: 'other',
};

/** The credentials were refused (expired, revoked or wrong): retrying will not help. */
export class Unauthorized extends ConnectorError {
  constructor(message) { super(message, kinds.Unauthorized); }
}
/** The credentials are valid but lack access to this data. */
export class Forbidden extends ConnectorError {
  constructor(message) { super(message, kinds.Forbidden); }
}
/** The requested entity or page does not exist. */
export class NotFound extends ConnectorError {
  constructor(message) { super(message, kinds.NotFound); }
}
/** A temporary failure (5xx, timeout, connection reset): retrying may help. */
export class Transient extends ConnectorError {
  constructor(message) { super(message, kinds.Transient); }
}
/** The host or the user gave the connector something it can't use (unknown loader, bad config). */
export class InvalidInput extends ConnectorError {
  constructor(message) { super(message, kinds.InvalidInput); }
}
/** The API returned something the connector can't make sense of. */
export class InvalidResponse extends ConnectorError {
  constructor(message) { super(message, kinds.InvalidResponse); }
}
/** Anything else. */
export class Other extends ConnectorError {
  constructor(message) { super(message, kinds.Other); }
}
