// A hostile connector written in JavaScript, for the sandbox tests: each raw loader attacks one
// promise of the sandbox the way JavaScript would (`fetch`, `process`, a loop, a hoard of memory,
// runaway recursion). The ref's id carries the attack's argument; loaders that aren't stopped report
// what they saw in the `result` field of a `Probe` row.

import { exportConnector } from '../../../connector-sdk-js/src/component.js';
import { Batch, Connector, ConnectorInfo, FieldType, Loader, Onboarding, Operation, Permissions, Schema, SyncPlan, Target, http } from '../../../connector-sdk-js/src/index.js';

const ATTACKS = ['loop', 'alloc', 'recurse', 'panic', 'read-file', 'list-dir', 'read-env', 'tcp', 'http', 'fetch', 'exit', 'echo'];

function report(id, result) {
  const batch = new Batch('Probe', ['result']);
  batch.row(id, [result]);
  return [batch];
}

function recurse(depth) {
  return recurse(depth + 1) + 1;
}

/** What a Node-style API says when this runtime has none: its absence is the containment. */
function absent(what) {
  return `denied: ${what} is not available`;
}

class Hostile extends Connector {
  static describe() {
    const schema = new Schema()
      .entity('Account', (e) => e.describe('Whoever runs the attacks'))
      .entity('Probe', (e) => e.field('result', FieldType.STRING))
      .root('Account', 'hostile');
    const info = new ConnectorInfo('hostile', '0.1.0', 'Attacks its sandbox on request, in JavaScript (tests only)', schema);
    for (const attack of ATTACKS) info.loader(Loader.raw(attack, 'Probe'));
    info.loader(Loader.batched('probe-by-id', 'Probe', 10).fills(['result']));
    return info
      .onboarding(new Onboarding().input('base_url', 'Base URL').secret('token', 'Token'))
      .permissions(new Permissions().host('allowed.example').bearer('token').baseUrlKey('base_url'));
  }

  validate() { return 'hostile'; }

  seed() { return new SyncPlan().then(Target.one('Probe', 'p1'), Operation.fields(['result'])); }

  load(loader, refs) {
    const arg = refs.length ? refs[0].id : '';
    switch (loader) {
      case 'loop': {
        let x = 1;
        for (;;) x = (x * 1103515245 + 12345) % 2147483648;
      }
      case 'alloc': {
        const hoard = [];
        for (;;) hoard.push(new Uint8Array(16 << 20).fill(hoard.length));
      }
      case 'recurse':
        return report(arg, String(recurse(0)));
      case 'panic':
        throw new Error(`hostile connector panicked on purpose: ${arg}`);
      case 'read-file':
      case 'list-dir':
        return report(arg, typeof require === 'function' ? 'HAS require' : absent('require("fs")'));
      case 'read-env': {
        const env = typeof process === 'object' && process.env ? Object.keys(process.env) : [];
        return report(arg, `${env.length} variables: ${env.join(',')}`);
      }
      case 'tcp':
        return report(arg, typeof WebSocket === 'function' ? 'HAS WebSocket' : absent('a socket API'));
      case 'fetch': {
        if (typeof fetch !== 'function') return report(arg, absent('fetch'));
        let outcome = 'pending';
        fetch(arg).then((r) => { outcome = `FETCHED ${r.status}`; }, (e) => { outcome = `denied: ${e}`; });
        return report(arg, outcome);
      }
      case 'http': {
        const response = http.get(arg).credential('token').send();
        return report(arg, `HTTP ${response.status}: ${response.text()}`);
      }
      case 'exit':
        if (typeof process === 'object' && typeof process.exit === 'function') process.exit(3);
        return report(arg, absent('process.exit'));
      case 'echo':
        return report(arg, arg);
      case 'probe-by-id': {
        const batch = new Batch('Probe', ['result']);
        for (const r of refs) batch.row(r.id, [`probed ${r.id}`]);
        return [batch];
      }
      default:
        return super.load(loader, refs);
    }
  }
}

export const source = exportConnector(Hostile);
