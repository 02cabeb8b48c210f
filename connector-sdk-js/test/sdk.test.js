// The JavaScript SDK's own tests, run natively (`node --test test/`): the packed rows, entity tables,
// HTTP status mapping and helpers, and the fake HTTP host.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Batch, Column, Config, Forbidden, InvalidInput, InvalidResponse, Kind, NotFound, Other, RateLimited, Table, Transient,
  Unauthorized, Value, http,
} from '../src/index.js';
import { FakeHttp, rows } from '../src/testing.js';

test('every type round-trips and unset columns are null', () => {
  const batch = new Batch('Task', ['title', 'n', 'x', 'done', 'due', 'tags', 'owner', 'items', 'left']);
  batch.row('t1', ['héllo', -3, 1.5, true, Value.datetime('2024-05-02T10:11:12Z'), Value.json({ a: [1] }),
    Value.reference('u1'), Value.collection(['a', 'b']), null]);
  const writer = batch.startRow();
  writer.text(0, 'second').text(0, 'ignored');
  writer.finish('t2');
  const [first, second] = rows(batch);
  assert.deepEqual(first, { title: 'héllo', n: -3n, x: 1.5, done: true, due: '2024-05-02T10:11:12Z', tags: '{"a":[1]}',
    owner: 'u1', items: ['a', 'b'], left: null, id: 't1' });
  assert.equal(second.title, 'second');
  assert.equal(second.n, null);
});

test('the wire format is the contract\'s', () => {
  const batch = new Batch('T', ['a', 'b']);
  batch.row('id', ['é', 2]);
  const packed = batch.packed();
  const integer = new Uint8Array(8);
  new DataView(integer.buffer).setBigInt64(0, 2n, true);
  assert.deepEqual([...packed.data], [0, 1, 2, 1, 2, ...integer, 2]);
  assert.equal(packed.text, 'éid');
  assert.equal(packed.rowCount, 1);
});

test('a failed row leaves the batch as it was and bad values are refused', () => {
  const batch = new Batch('T', ['a']);
  batch.row('1', ['kept']);
  assert.throws(() => batch.row('2', [{}]), TypeError);
  assert.throws(() => batch.row('3', [Number.NaN]), TypeError);
  assert.throws(() => batch.row('', ['no id']), TypeError);
  assert.deepEqual(rows(batch).map((r) => r.id), ['1']);
});

test('api objects become rows by key and kind; wrong kinds are invalid responses', () => {
  const table = new Table('Task', 'A task', [new Column('title', Kind.TEXT).searchable(5), new Column('size', Kind.INTEGER),
    new Column('owner', Kind.ref('User'), { source: 'ownerId' })]);
  assert.deepEqual(rows(table.rows([{ id: 7, title: 'T', size: '12', ownerId: 3, extra: [1] }])),
    [{ title: 'T', size: 12n, owner: '3', id: '7' }]);
  for (const bad of [{ id: '1', size: 'twelve' }, { id: '1', size: 1.5 }, { title: 'no id' }, ['not an object']]) {
    assert.throws(() => table.push(table.batch(), bad), InvalidResponse);
  }
});

test('statuses map to the errors the host acts on', () => {
  const cases = [[401, Unauthorized], [403, Forbidden], [404, NotFound], [500, Transient], [408, Transient], [418, Other]];
  for (const [status, error] of cases) assert.throws(() => new http.Response(status, [], new Uint8Array()).ok(), error);
  try {
    new http.Response(429, [['Retry-After', '2.5']], new Uint8Array()).ok();
    assert.fail('429 is an error');
  } catch (e) {
    assert.ok(e instanceof RateLimited);
    assert.equal(e.retryAfterMs, 2500);
  }
});

test('helpers', () => {
  assert.equal(http.encodeQuery('a,b c/é~_.-'), 'a%2Cb%20c%2F%C3%A9~_.-');
  assert.equal(http.linkNext('<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last"'),
    'https://api.github.com/r?page=2');
  assert.equal(http.linkNext('<https://x/r?page=1>; rel="prev"'), undefined);
  assert.equal(new Config([['base_url', 'https://x/']]).baseUrl('https://y'), 'https://x');
  assert.throws(() => new Config([['base_url', 'ftp://x']]).baseUrl('https://y'), InvalidInput);
});

test('requests go to the fake with their credential', () => {
  const fake = new FakeHttp().get('https://api.example.com/me', { json: { name: 'Ada' } }).install();
  try {
    assert.deepEqual(http.get('https://api.example.com/me?x=1').credential('k').send().ok().json(), { name: 'Ada' });
    assert.equal(http.get('https://api.example.com/other').send().status, 404);
    assert.deepEqual(fake.requests.map((r) => r.credentialName), ['k', undefined]);
  } finally {
    fake.uninstall();
  }
  assert.throws(() => http.get('https://api.example.com/me').send(), InvalidInput);
});
