// Unit tests of the connector, run natively with `node --test`: a fake HTTP host answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Config, Unauthorized } from './sdk/index.js';
import { FakeHttp, rows } from './sdk/testing.js';
import { Example } from './connector.js';

const account = { entity: 'Account', id: 'me' };

test('pages of items become rows until there is no next page', () => {
  const fake = new FakeHttp()
    .get('https://api.example.com/items?limit=100', { json: { items: [{ id: '1', title: 'First', done: true, updatedAt: '2026-01-02T10:00:00Z' }], next: 'p2' } })
    .get('https://api.example.com/items?limit=100&cursor=p2', { json: { items: [], next: null } })
    .install();
  try {
    const connector = new Example(new Config());
    const first = connector.loadPage('account-items', account, undefined);
    assert.equal(rows(first.items)[0].title, 'First');
    assert.equal(first.nextCursor, 'p2');
    assert.equal(connector.loadPage('account-items', account, 'p2').nextCursor, undefined);
    assert.ok(fake.requests.every((r) => r.credentialName === 'api_key'));
  } finally {
    fake.uninstall();
  }
});

test('a refused key is unauthorized', () => {
  const fake = new FakeHttp().get('https://api.example.com/me', { json: { error: 'bad key' }, status: 401 }).install();
  try {
    assert.throws(() => new Example(new Config()).validate(), Unauthorized);
  } finally {
    fake.uninstall();
  }
});
