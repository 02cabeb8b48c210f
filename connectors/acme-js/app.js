// The module built into the component: exports the Acme connector as Max's `source` interface.
import { exportConnector } from '../../connector-sdk-js/src/component.js';
import { Acme } from './acme.js';

export const source = exportConnector(Acme);
