/**
 * The log lines of a real bridge with a sink of each broker type: a sink's
 * line carries its `sink` key once, as written (the sink's logger is bound to
 * its name; a second, explicit one made `"sink":"mq","sink":"mq"`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQP_URL, AmqpAdmin, uniqueName } from '../support/amqp.js';
import { installAndRun, showingLogOnFailure, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { MosquittoBroker } from '../support/mqtt.js';
import { NATS_URL } from '../support/nats.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { REDIS_URL } from '../support/redis.js';

const CONNECTED = ['amqp sink connected', 'redis sink connected', 'nats sink connected', 'mqtt sink connected'];
const broker = new MosquittoBroker({ users: [] });
const exchange = uniqueName('log-keys');
let db: TestDatabase;
let bridge: RunningBridge;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  await broker.start();
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [
      { name: 'mq', type: 'amqp', url: AMQP_URL, exchange },
      { name: 'streams', type: 'redis', url: REDIS_URL },
      { name: 'jets', type: 'nats', url: NATS_URL },
      { name: 'things', type: 'mqtt', url: broker.url },
    ],
    http: { port: 0 },
  });
  bridge = await installAndRun(config);
});

after(async () => {
  await bridge?.stop();
  await broker.dispose();
  const admin = await AmqpAdmin.connect();
  await admin.deleteExchange(exchange);
  await admin.close();
  await db?.drop();
});

/** The raw log line whose message is `msg`. */
const rawLine = (msg: string): string | undefined => bridge.logLines.find((line) => line.includes(`"msg":"${msg}"`));

test("each broker sink's lines carry the key sink once, with the sink's name", async () => {
  await showingLogOnFailure(
    bridge,
    waitFor(() => CONNECTED.every((msg) => rawLine(msg) !== undefined), 15_000, 'a connected line of each sink'),
  );
  const sinkKeys = CONNECTED.map((msg) => {
    const raw = rawLine(msg)!;
    return { msg, times: raw.split('"sink":').length - 1, sink: (JSON.parse(raw) as { sink: string }).sink };
  });
  assert.deepEqual(sinkKeys, [
    { msg: 'amqp sink connected', times: 1, sink: 'mq' },
    { msg: 'redis sink connected', times: 1, sink: 'streams' },
    { msg: 'nats sink connected', times: 1, sink: 'jets' },
    { msg: 'mqtt sink connected', times: 1, sink: 'things' },
  ]);
});

test('no line of the bridge writes a key twice (JSON.parse would keep only one of them)', () => {
  const json = bridge.logLines.filter((line) => line.startsWith('{'));
  assert.ok(json.length > 5, `${json.length} log lines`);
  // pino writes compact JSON in the order given: a line read back and written again is the same text unless a key repeats.
  assert.deepEqual(
    json.filter((line) => JSON.stringify(JSON.parse(line)) !== line),
    [],
  );
});
