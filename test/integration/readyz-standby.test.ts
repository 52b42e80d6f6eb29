/**
 * /readyz of a standby: it checks its own sinks (a webhook it probes, a Redis
 * connection it opens) and is ready exactly when Postgres and every sink are
 * reachable, sending nothing to them; on takeover and on stop it closes those
 * connections (counted at a forwarder in front of Redis).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { uniqueName } from '../support/amqp.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { readyz, untilReadyz } from '../support/readyz.js';
import { REDIS_URL, readStream, redisAdmin } from '../support/redis.js';
import { forward, freePort, type Forwarder } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const RETRY = { initial_ms: 100, max_ms: 500 };
const STANDBY = 'ok (standby: another instance delivers)';
const redisTarget = `${new URL(REDIS_URL).hostname}:${new URL(REDIS_URL).port || 6379}`;

let db: TestDatabase;
let active: RunningBridge;
let standby: RunningBridge;
let activeHook: WebhookServer;
let standbyHook: WebhookServer | undefined;
let proxy: Forwarder | undefined;
let standbyBase: string;
let standbyHookPort: number;
let redisPort: number;
const activeStream = uniqueName('active');
const standbyStream = uniqueName('standby');

async function bridgeConfig(hookUrl: string, redisUrl: string, stream: string): Promise<{ file: string; base: string }> {
  const port = await freePort();
  const file = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [
      { name: 'hook', type: 'webhook', url: hookUrl, retry: RETRY, probe_interval_ms: 1000 },
      { name: 'stream', type: 'redis', url: redisUrl, stream, retry: RETRY },
    ],
    http: { port, host: '127.0.0.1' },
  });
  return { file, base: `http://127.0.0.1:${port}` };
}

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  activeHook = new WebhookServer();
  await activeHook.start();
  const first = await bridgeConfig(activeHook.url, REDIS_URL, activeStream);
  assert.equal((await cli(['install', '-c', first.file])).code, 0);
  active = new RunningBridge(first.file);
  await active.ready();

  [standbyHookPort, redisPort] = [await freePort(), await freePort()];
  const second = await bridgeConfig(`http://127.0.0.1:${standbyHookPort}/hook`, `redis://127.0.0.1:${redisPort}`, standbyStream);
  standbyBase = second.base;
  standby = new RunningBridge(second.file);
  await standby.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by');
});

after(async () => {
  await standby?.stop();
  await active?.stop();
  await activeHook?.stop();
  await standbyHook?.stop();
  proxy?.close();
  const redis = await redisAdmin();
  await redis.del([activeStream, standbyStream]);
  await redis.close();
  await db?.drop();
});

test('a standby whose sinks cannot be reached answers 503 naming them, the role still ok', async () => {
  await showingLogOnFailure(
    standby,
    untilReadyz(standbyBase, 503, { postgres: 'ok', role: STANDBY, 'sink:hook': 'not connected', 'sink:stream': 'not connected' }),
  );
});

test('the standby is ready (200) once its sinks are reachable, and sends them nothing', async () => {
  standbyHook = new WebhookServer();
  await standbyHook.start(standbyHookPort);
  proxy = await forward(redisPort, redisTarget);
  await showingLogOnFailure(standby, untilReadyz(standbyBase, 200, { postgres: 'ok', role: STANDBY, 'sink:hook': 'ok', 'sink:stream': 'ok' }));
  assert.equal(proxy.open, 1, 'the standby holds one Redis connection');

  await db.query("INSERT INTO items VALUES (1, 'one')");
  await waitFor(() => activeHook.delivered().length === 1, 10_000, 'the event at the active instance');
  const redis = await redisAdmin();
  await waitFor(async () => (await readStream(redis, activeStream)).length === 1, 10_000, 'the event in the active stream');
  assert.deepEqual(await readStream(redis, standbyStream), [], 'the standby wrote to Redis');
  await redis.close();
  assert.equal(standbyHook.requests.length, 0, 'the standby sent to the webhook');
  assert.equal((await readyz(standbyBase)).status, 200);
});

test('a standby notices its webhook going away (probed again, nothing sent) and coming back', async () => {
  await standbyHook!.stop();
  await showingLogOnFailure(standby, untilReadyz(standbyBase, 503, { role: STANDBY, 'sink:hook': 'not connected', 'sink:stream': 'ok' }));
  standbyHook = new WebhookServer();
  await standbyHook.start(standbyHookPort);
  await showingLogOnFailure(standby, untilReadyz(standbyBase, 200, { role: STANDBY, 'sink:hook': 'ok', 'sink:stream': 'ok' }));
  assert.equal(standbyHook.requests.length, 0, 'the standby sent to the webhook');
});

test('on takeover the standby closes its checking connections and delivers on fresh ones; on stop it closes those too', async () => {
  const before = proxy!.accepted;
  await active.kill('SIGKILL');
  await showingLogOnFailure(standby, standby.ready());
  await showingLogOnFailure(standby, untilReadyz(standbyBase, 200, { role: 'ok', 'sink:hook': 'ok', 'sink:stream': 'ok' }));
  assert.ok(proxy!.accepted > before, 'the delivering runner opened a connection of its own');
  await waitFor(() => proxy!.open === 1, 5000, 'only the delivering connection open');

  await db.query("INSERT INTO items VALUES (2, 'two')");
  await waitFor(() => standbyHook!.delivered().length === 1, 10_000, 'the event at the new active instance');
  assert.equal(await standby.stop(), 0);
  await waitFor(() => proxy!.open === 0, 5000, 'no Redis connection left open');
});
