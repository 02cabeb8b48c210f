// The connector class an author extends.

import { Discovery } from './config.js';
import { ConnectorError, InvalidInput } from './errors.js';

/** A connector. The host creates one object per instance, `new YourConnector(config)`, then calls the
 * other methods on it, one at a time. Throw a `ConnectorError` subclass when a call fails. Export it
 * with `export const source = exportConnector(YourConnector)` in the module you build. */
export class Connector {
  constructor(config) { this.config = config; }
  /** Describes the connector: pure data, no HTTP, no config. */
  static describe() { throw new Error('a connector describes itself: implement static describe()'); }
  /** Limits the API sets on groups of requests without saying so; most connectors have none. */
  static requestLimits() { return []; }
  /** Checks the config and credentials by calling the API; returns what it connected to. */
  validate() { throw new InvalidInput('this connector has no validate step'); }
  /** Reads the fields the account adds to declared entity types. */
  discover() { return new Discovery(); }
  /** The `[value, label]` options of a dynamic select step. */
  selectOptions(key) { throw new InvalidInput(`no dynamic select step named \`${key}\``); }
  /** Plans a sync. */
  seed(_state) { throw new Error('a connector plans its syncs: implement seed()'); }
  /** Runs a single, batched or raw loader; returns batches. */
  load(loader, _refs) { throw ConnectorError.unknownLoader(loader); }
  /** Runs a collection loader for one page. */
  loadPage(loader, _parent, _cursor) { throw ConnectorError.unknownLoader(loader); }
  /** Runs a change-feed loader from `cursor` (undefined: no sync stored one yet). */
  changes(loader, _cursor) { throw ConnectorError.unknownLoader(loader); }
  /** Runs a change feed followed per entity (`Loader.per`, contract 0.4.0) on `parent`'s feed from
   * `cursor`; undefined means no sync followed this parent yet, so read everything it holds. */
  changesOf(loader, _parent, _cursor) { throw ConnectorError.unknownLoader(loader); }
}
