// Real NestJS cache clients against values written by the Go cache package, and the other way
// round. Driven by `go test ./cache -run TestNestJSCompat` (cache/nestjs_test.go), which writes
// the Go side's keys, runs this file with REDIS_URL (a Redis DB of its own) and
// CACHEWARM_FIXTURES / CACHEWARM_OUT (JSON files), then reads back what this file wrote.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const { caching } = require('cache-manager-5'); // cache-manager 5, as cache-manager-redis-yet needs
const { redisStore } = require('cache-manager-redis-yet');
const { createCache } = require('cache-manager'); // cache-manager 7
const { createKeyv } = require('@keyv/redis');
const { defaultSerialize, defaultDeserialize } = require('@keyv/serialize');

const { REDIS_URL, CACHEWARM_FIXTURES, CACHEWARM_OUT } = process.env;
if (!REDIS_URL || !CACHEWARM_FIXTURES || !CACHEWARM_OUT) {
  throw new Error('REDIS_URL, CACHEWARM_FIXTURES and CACHEWARM_OUT must be set: run this through ' +
    '`go test ./cache -run TestNestJSCompat` (after `npm ci --prefix test/nestjs`)');
}
const fixtures = JSON.parse(fs.readFileSync(CACHEWARM_FIXTURES, 'utf8'));
const out = {};
after(() => fs.writeFileSync(CACHEWARM_OUT, JSON.stringify(out)));

const noLoad = (key) => async () => {
  throw new Error(`wrap() called its loader for ${key}: the Go-written value was not a hit`);
};

test('cache-manager 5 + cache-manager-redis-yet (json format)', async (t) => {
  const cache = await caching(redisStore, { url: REDIS_URL, ttl: 60_000 });
  after(() => cache.store.client.quit());

  await t.test('wrap() serves Go-written values without loading', async () => {
    for (const { key, value } of fixtures.goJSON) {
      assert.deepEqual(await cache.wrap(key, noLoad(key), 60_000), value, key);
    }
  });

  await t.test('wrap() writes values for Go to read', async () => {
    for (const { key, value } of fixtures.nodeJSON) {
      let calls = 0;
      const got = await cache.wrap(key, async () => { calls++; return value; }, 60_000);
      assert.deepEqual(got, value);
      assert.equal(calls, 1, `${key} was a miss, so wrap() loaded it`);
      assert.equal(await cache.store.client.get(key), JSON.stringify(value), 'stored as JSON.stringify');
    }
  });
});

test('cache-manager 7 + @keyv/redis (keyv format)', async (t) => {
  const keyv = createKeyv(REDIS_URL);
  const cache = createCache({ stores: [keyv] });
  after(() => cache.disconnect());

  await t.test('wrap() serves Go-written envelopes without loading', async () => {
    for (const { key, value } of fixtures.goKeyv) {
      assert.deepEqual(await cache.wrap(key, noLoad(key), 60_000), value, key);
      const raw = await cache.get(key);
      assert.deepEqual(raw, value);
    }
  });

  await t.test('wrap() writes envelopes for Go to read', async () => {
    for (const { key, value } of fixtures.nodeKeyv) {
      let calls = 0;
      const got = await cache.wrap(key, async () => { calls++; return value; }, 60_000);
      assert.deepEqual(got, value);
      assert.equal(calls, 1, `${key} was a miss, so wrap() loaded it`);
    }
  });
});

test('@keyv/serialize and JSON.stringify on the shared corpus', () => {
  // The Go side compares these with Format.Encode / Decode byte for byte.
  out.serialize = fixtures.corpus.map((raw) => defaultSerialize({ value: JSON.parse(raw), expires: fixtures.expires }));
  out.stringify = fixtures.corpus.map((raw) => JSON.stringify(JSON.parse(raw)));
  out.deserialize = out.serialize.map((s) => {
    const v = defaultDeserialize(s).value;
    return JSON.stringify(v, (_, x) => (x && x.type === 'Buffer' && Array.isArray(x.data)
      ? Buffer.from(x.data).toString('base64') : x));
  });
  assert.equal(out.serialize.length, fixtures.corpus.length);
});
