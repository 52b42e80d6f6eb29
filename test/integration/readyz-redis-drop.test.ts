/**
 * /readyz of an idle bridge whose Redis connection is cut (a TCP proxy
 * resetting it, and every new one) while no event flows: `sink:<name>` turns
 * `not connected` within seconds, as for the other broker sinks, and `ok`
 * again once the network is back; twice over. An event sent after that
 * reaches the stream.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { TcpProxy } from '../faults/tcp-proxy.js';
import { installAndRun, type RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { untilReadyz } from '../support/readyz.js';
import { readStream, REDIS_URL, redisAdmin } from '../support/redis.js';
import { freePort } from '../support/tcp.js';

/** How soon a cut must show: the other broker sinks show it within 3 s. */
const NOTICED_MS = 5000;
let db: TestDatabase;
let bridge: RunningBridge;
let base: string;
let proxy: TcpProxy;
const stream = `pgbridge-test-redis-drop-${randomBytes(4).toString('hex')}`;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  const redis = new URL(REDIS_URL);
  proxy = new TcpProxy(redis.hostname, Number(redis.port || 6379));
  await proxy.start();
  const viaProxy = new URL(REDIS_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'stream', type: 'redis', url: viaProxy.toString(), stream, retry: { initial_ms: 100, max_ms: 500 } }],
    http: { port, host: '127.0.0.1' },
  });
  bridge = await installAndRun(config);
});

after(async () => {
  await bridge?.stop();
  await proxy?.stop();
  const redis = await redisAdmin();
  await redis.del(stream);
  await redis.close();
  await db?.drop();
});

test('an idle Redis sink whose connection is cut is not connected within seconds, and ok once it is back, twice over', async () => {
  await showingLogOnFailure(bridge, untilReadyz(base, 200, { 'sink:stream': 'ok' }));
  for (let cycle = 1; cycle <= 2; cycle++) {
    const accepted = proxy.accepted;
    proxy.drop();
    await showingLogOnFailure(bridge, untilReadyz(base, 503, { 'sink:stream': 'not connected' }, NOTICED_MS));
    proxy.restore();
    await showingLogOnFailure(bridge, untilReadyz(base, 200, { 'sink:stream': 'ok' }));
    assert.ok(proxy.accepted > accepted, `cycle ${cycle}: a new connection through the proxy`);
  }
});

test('an event after the cuts reaches the stream', async () => {
  proxy.restore();
  await db.query('INSERT INTO items VALUES (1)');
  const redis = await redisAdmin();
  try {
    await showingLogOnFailure(
      bridge,
      waitFor(async () => (await readStream(redis, stream)).length === 1, 15_000, 'the event in the stream'),
    );
  } finally {
    await redis.close();
  }
});
