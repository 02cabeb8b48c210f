// Write Max connectors in JavaScript. Extend `Connector`, describe yourself with the builders, call
// your API with `http`, return rows in `Batch`es, and export the class from the module you build:
//
//   import { exportConnector } from './sdk/component.js';
//   export const source = exportConnector(Notes);
//
// Build with `max connector build` (componentize-js, pinned by Max, without `wasi:http`: every request
// goes through Max's host). Test natively with `testing.js`, which answers requests from a fake.

export * as http from './http.js';
export { Batch, ChangePage, Page, RowWriter, Value } from './batch.js';
export { Config, Discovery } from './config.js';
export { Connector } from './connector.js';
export { ConnectorInfo, EntityBuilder, FieldType, Loader, Onboarding, Permissions, RequestLimit, Schema } from './describe.js';
export { ConnectorError, Forbidden, InvalidInput, InvalidResponse, NotFound, Other, RateLimited, Transient, Unauthorized } from './errors.js';
export { log } from './log.js';
export { Operation, SeedState, SyncPlan, Target } from './plan.js';
export { Column, Kind, Table, text } from './table.js';

/** The contract this SDK builds against. */
export const CONTRACT_VERSION = '0.4.0';
