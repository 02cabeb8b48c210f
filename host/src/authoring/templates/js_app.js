// The module `max connector build` makes into a component: exports the connector as Max's `source`.
import { exportConnector } from './sdk/component.js';
import { Example } from './connector.js';

export const source = exportConnector(Example);
