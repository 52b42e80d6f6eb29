/**
 * /readyz of an idle bridge (no events) whose sinks' servers cannot be
 * reached: a webhook port that refuses connections, AMQP and Redis ports
 * nothing listens on. 503 naming each sink, then 200 once each is reachable
 * (a real server there, or a forwarder to the real broker); a webhook that a
 * send cannot reach turns not ready again, and ready when it is back; so does
 * one that goes away while nothing is sent (probe_interval_ms).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQP_URL, AmqpAdmin, uniqueName } from '../support/amqp.js';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { readyz, untilReadyz, type ReadyzAnswer } from '../support/readyz.js';
import { REDIS_URL, readStream, redisAdmin } from '../support/redis.js';
import { forward, freePort, type Forwarder } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const RETRY = { initial_ms: 100, max_ms: 500 };
const PROBE_INTERVAL_MS = 1000;
const NOT_CONNECTED = { 'sink:hook': 'not connected', 'sink:queue': 'not connected', 'sink:stream': 'not connected' };
const ALL_OK = { postgres: 'ok', role: 'ok', 'sink:hook': 'ok', 'sink:queue': 'ok', 'sink:stream': 'ok' };

let db: TestDatabase;
let bridge: RunningBridge;
let base: string;
let hookPort: number;
let amqpPort: number;
let redisPort: number;
const exchange = uniqueName('readyz');
const stream = uniqueName('readyz');
const hooks: WebhookServer[] = [];
const forwarders: Forwarder[] = [];

/** The broker URL with its host and port replaced by 127.0.0.1:`port` (credentials kept). */
function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

async function hookOnPort(): Promise<WebhookServer> {
  const hook = new WebhookServer();
  await hook.start(hookPort);
  hooks.push(hook);
  return hook;
}

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  [hookPort, amqpPort, redisPort] = [await freePort(), await freePort(), await freePort()];
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [
      { name: 'hook', type: 'webhook', url: `http://127.0.0.1:${hookPort}/hook`, retry: RETRY, probe_interval_ms: PROBE_INTERVAL_MS },
      { name: 'queue', type: 'amqp', url: viaPort(AMQP_URL, amqpPort), exchange, retry: RETRY },
      { name: 'stream', type: 'redis', url: viaPort(REDIS_URL, redisPort), stream, retry: RETRY },
    ],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
});

after(async () => {
  await bridge?.stop();
  for (const hook of hooks) await hook.stop();
  for (const forwarder of forwarders) forwarder.close();
  const admin = await AmqpAdmin.connect();
  await admin.deleteExchange(exchange);
  await admin.close();
  const redis = await redisAdmin();
  await redis.del(stream);
  await redis.close();
  await db?.drop();
});

test('an idle bridge whose sinks cannot be reached answers 503 naming each of them', async () => {
  const answer = await showingLogOnFailure(bridge, untilReadyz(base, 503, { postgres: 'ok', role: 'ok', ...NOT_CONNECTED }));
  assert.deepEqual(
    Object.keys(answer.components).filter((name) => name.startsWith('sink:')),
    ['sink:hook', 'sink:queue', 'sink:stream'],
  );
});

test('200 once a server listens on the webhook port and the brokers are reachable, with no event sent', async () => {
  const hook = await hookOnPort();
  await showingLogOnFailure(bridge, untilReadyz(base, 503, { 'sink:hook': 'ok', 'sink:queue': 'not connected' }));
  forwarders.push(await forward(amqpPort, `${new URL(AMQP_URL).hostname}:${new URL(AMQP_URL).port || 5672}`));
  forwarders.push(await forward(redisPort, `${new URL(REDIS_URL).hostname}:${new URL(REDIS_URL).port || 6379}`));
  await showingLogOnFailure(bridge, untilReadyz(base, 200, ALL_OK));
  assert.equal(hook.requests.length, 0, 'a probe is not a delivery');
});

test('a webhook a send cannot reach is not ready (503), and ready again once its server is back', async () => {
  await hooks[0].stop();
  await db.query("INSERT INTO items VALUES (1, 'one')");
  await showingLogOnFailure(bridge, untilReadyz(base, 503, { 'sink:hook': 'not connected', 'sink:queue': 'ok', 'sink:stream': 'ok' }));
  const hook = await hookOnPort();
  await showingLogOnFailure(bridge, untilReadyz(base, 200, ALL_OK));
  await waitFor(() => hook.delivered().length === 1, 10_000, 'the event at the webhook once it is back');
  const redis = await redisAdmin();
  assert.equal((await readStream(redis, stream)).length, 1);
  await redis.close();
});

test('an idle webhook whose server goes away turns not ready, with no event sent, and ready once it is back', async () => {
  const delivered = hooks.at(-1)!.delivered().length;
  await hooks.at(-1)!.stop();
  await showingLogOnFailure(bridge, untilReadyz(base, 503, { 'sink:hook': 'not connected', 'sink:queue': 'ok', 'sink:stream': 'ok' }));
  const hook = await hookOnPort();
  await showingLogOnFailure(bridge, untilReadyz(base, 200, ALL_OK));
  assert.equal(hook.requests.length, 0, 'nothing was sent to find out');
  assert.equal(delivered, 1);
});

test('without Postgres: 503, postgres not connected, and the role says so rather than naming a standby', async () => {
  const port = await freePort();
  const file = writeConfig({
    postgres: { url: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` },
    instance: 'no_postgres',
    capture: [{ table: 'items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port, host: '127.0.0.1' },
  });
  const alone = new RunningBridge(file);
  try {
    await alone.waitForLog((e) => e.msg === 'pgbridge starting'); // logged once /readyz listens
    await showingLogOnFailure(
      alone,
      untilReadyz(`http://127.0.0.1:${port}`, 503, { postgres: 'not connected', role: 'ok (not delivering: no Postgres connection)' }),
    );
  } finally {
    await alone.stop();
  }
});

test('an instance never installed: 503, the outbox named as not read, and ready once install ran', async () => {
  const port = await freePort();
  const file = writeConfig({
    postgres: { url: db.url },
    instance: 'never_installed',
    capture: [{ table: 'items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    outbox: { poll_interval_ms: 200 },
    http: { port, host: '127.0.0.1' },
  });
  const uninstalled = new RunningBridge(file);
  try {
    await uninstalled.waitForLog((e) => e.msg === 'pgbridge starting');
    let answer: ReadyzAnswer | undefined;
    await showingLogOnFailure(
      uninstalled,
      waitFor(
        async () => (answer = await readyz(`http://127.0.0.1:${port}`)).components.outbox?.startsWith('not reading'),
        15_000,
        'outbox not read',
      ),
    );
    assert.equal(answer!.status, 503);
    assert.match(answer!.components.outbox, /^not reading: relation "pgbridge\.outbox_never_installed" does not exist/);
    assert.equal((await cli(['install', '-c', file])).code, 0);
    await showingLogOnFailure(uninstalled, untilReadyz(`http://127.0.0.1:${port}`, 200, { outbox: 'ok' }));
  } finally {
    await uninstalled.stop();
    await cli(['uninstall', '-c', file]);
  }
});
