// {{name}}: a Max connector. It syncs the items of an example API: replace the example's calls
// (`GET /me`, `GET /items?limit=100&cursor=…`) with your API's.

import {
  Batch, Connector, ConnectorError, ConnectorInfo, FieldType, InvalidResponse, Loader, Onboarding, Operation, Page,
  Permissions, Schema, SyncPlan, Target, Value, http,
} from './sdk/index.js';

/** Items per request. */
const PAGE_SIZE = 100;

export class Example extends Connector {
  constructor(config) {
    super(config);
    this.baseUrl = config.baseUrl('https://api.example.com');
  }

  static describe() {
    const schema = new Schema()
      .entity('Account', (e) => e.describe('The account the API key belongs to').collection('items', 'Item'))
      .entity('Item', (e) => e.describe('An item')
        .field('title', FieldType.STRING)
        .field('done', FieldType.BOOLEAN)
        .field('updatedAt', FieldType.DATETIME)
        .searchable('title', 5))
      .root('Account', 'me');
    return new ConnectorInfo('{{name}}', '0.1.0', 'Items from the example API', schema)
      .loader(Loader.collection('account-items', 'Account', 'items', 'Item', PAGE_SIZE).describe('GET /items'))
      .onboarding(new Onboarding()
        .input('base_url', 'API URL', 'https://api.example.com')
        .help('Change it to test against a local server')
        .secret('api_key', 'API key')
        .help('Sent as `Authorization: Bearer <key>`')
        .validate('Checking the API key'))
      .permissions(new Permissions().host('api.example.com').bearer('api_key').baseUrlKey('base_url'));
  }

  validate() {
    const me = http.get(`${this.baseUrl}/me`).credential('api_key').send().ok().json();
    return `connected as ${me.name || 'an unnamed account'}`;
  }

  seed() {
    return new SyncPlan().then(Target.ROOT, Operation.collection('items'));
  }

  /** One page of items: `GET /items?limit=100&cursor=…`, answering `{items: [...], next}`. */
  loadPage(loader, _parent, cursor) {
    if (loader !== 'account-items') throw ConnectorError.unknownLoader(loader);
    let url = `${this.baseUrl}/items?limit=${PAGE_SIZE}`;
    if (cursor !== undefined) url += `&cursor=${http.encodeQuery(cursor)}`;
    const body = http.get(url).credential('api_key').send().ok().json();
    if (!body || !Array.isArray(body.items)) throw new InvalidResponse('no `items` list');
    const batch = new Batch('Item', ['title', 'done', 'updatedAt']);
    for (const item of body.items) {
      batch.row(item.id, [item.title ?? null, item.done ?? null, item.updatedAt == null ? null : Value.datetime(item.updatedAt)]);
    }
    return new Page(batch, body.next ?? undefined);
  }
}
