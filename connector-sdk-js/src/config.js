// The non-secret configuration collected by onboarding, and what `discover` finds.

import { InvalidInput } from './errors.js';

/** Key/value pairs from onboarding, and the fields discovered so far (`{entity, name, type, description}`). */
export class Config {
  constructor(entries = [], discovered = []) { this.entries = entries; this.discovered = discovered; }
  /** The value of `key`, or `fallback` when it isn't set. */
  get(key, fallback) { const found = this.entries.find(([k]) => k === key); return found ? found[1] : fallback; }
  /** The value of `key`, or an `InvalidInput` error naming it. */
  require(key) {
    const value = this.get(key);
    if (!value) throw new InvalidInput(`missing config value \`${key}\``);
    return value;
  }
  /** The API's base URL: `base_url` (or `fallback`) without a trailing `/`; `InvalidInput` unless it
   * starts with `https://` (or `http://`, for test servers). */
  baseUrl(fallback) {
    const url = (this.get('base_url') || fallback).replace(/\/+$/, '');
    if (!url.startsWith('https://') && !url.startsWith('http://')) throw new InvalidInput(`base_url \`${url}\` must start with https://`);
    return url;
  }
}

/** What `discover` found: fields the account adds to declared entity types. */
export class Discovery {
  constructor(refillOnNewFields = false) { this.fields = []; this.refillOnNewFields = refillOnNewFields; }
  /** Adds field `name` of `type` to entity type `entity`. */
  field(entity, name, type, description) { this.fields.push({ entity, name, type, description }); return this; }
}
