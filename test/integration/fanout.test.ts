/**
 * One config, three broker sinks and routes, through the real `pgbridge
 * install` + `run`, in outbox and notify mode: each sink's far end (HTTP
 * server, RabbitMQ queue, Kafka topics) holds exactly the events its routes
 * give it — counted and keyed by table, op and row, nothing missing, nothing extra.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AMQP_URL, AmqpAdmin, type RecordingQueue } from '../support/amqp.js';
import { installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTopic, kafkaBrokers, readTopic } from '../support/kafka.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface Event {
  id: string;
  table?: string;
  op?: string;
  data?: { id: number };
  channel?: string;
  payload?: unknown;
}

const ORDERS = 300;
const ITEMS = 100;

/** What identifies an event independently of its id: table, op and row, or channel and payload. */
const keyOf = (e: Event): string => (e.channel !== undefined ? `${e.channel} ${JSON.stringify(e.payload)}` : `${e.table} ${e.op} ${e.data?.id}`);

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const rows = (table: string, op: string, ids: number[]): string[] => ids.map((id) => `${table} ${op} ${id}`);

// The workload below, as keys.
const orders = [
  ...rows('orders', 'INSERT', range(1, ORDERS)),
  ...rows('orders', 'UPDATE', range(1, 100)),
  ...rows('orders', 'DELETE', range(251, ORDERS)),
];
const itemChanges = [...rows('items', 'INSERT', range(1, ITEMS)), ...rows('items', 'UPDATE', range(1, 20))];
const itemDeletes = rows('items', 'DELETE', range(91, ITEMS));
const jobs = ['jobs {"a":1}', 'jobs "hello world"'];

const EXPECTED = {
  hooks: [...orders, ...jobs],
  queue: [...orders, ...itemDeletes, ...jobs],
  log: [...orders, ...itemChanges],
};

async function workload(db: TestDatabase): Promise<void> {
  await db.query(`INSERT INTO orders SELECT g, 'new' FROM generate_series(1, ${ORDERS}) g`);
  await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${ITEMS}) g`);
  await db.query(`UPDATE orders SET status = 'paid' WHERE id <= 100`);
  await db.query(`UPDATE items SET name = 'renamed' WHERE id <= 20`);
  await db.query(`DELETE FROM orders WHERE id > 250`);
  await db.query(`DELETE FROM items WHERE id > 90`);
  await db.query(`NOTIFY jobs, '{"a":1}'`);
  await db.query(`NOTIFY jobs, 'hello world'`);
}

const sorted = (values: readonly string[]): string[] => [...values].sort();

for (const delivery of ['outbox', 'notify'] as const) {
  describe(`fan-out through the bridge (${delivery} mode)`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let amqp: AmqpAdmin;
    let queue: RecordingQueue;
    let brokers: string[];
    let bridge: RunningBridge;
    const topics = { orders: `fan_${delivery}.orders`, items: `fan_${delivery}.items` };

    before(async () => {
      db = await createTestDatabase();
      await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text)`);
      await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text)`);
      server = new WebhookServer();
      const url = await server.start();
      amqp = await AmqpAdmin.connect();
      const exchange = await amqp.exchange('topic');
      queue = await amqp.queue(exchange, '#');
      brokers = await kafkaBrokers();
      // Created up front so that reading them before the first event is no error; "jobs" must stay empty.
      for (const topic of [topics.orders, topics.items, 'jobs']) await createTopic(brokers, topic, 4);
      const file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: [{ table: 'orders' }, { table: 'items' }],
        channels: [{ name: 'jobs' }],
        sinks: [
          { name: 'hooks', type: 'webhook', url },
          { name: 'queue', type: 'amqp', url: AMQP_URL, exchange },
          // Under this row template a channel event would go to the topic "jobs": no route sends one there.
          { name: 'log', type: 'kafka', brokers, topic: `fan_${delivery}.{table}` },
        ],
        routes: [
          { from: { table: 'orders' }, to: ['hooks', 'queue', 'log'] },
          { from: { table: 'items', ops: ['insert', 'update'] }, to: ['log'] },
          { from: { table: 'items', ops: ['delete'] }, to: ['queue'] },
          { from: { channel: 'jobs' }, to: ['hooks', 'queue'] },
        ],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await server?.stop();
      await amqp?.close();
      await db?.drop();
    });

    const kafkaEvents = async (): Promise<Event[]> => {
      const messages = [...(await readTopic(brokers, topics.orders)), ...(await readTopic(brokers, topics.items))];
      return messages.map((m) => JSON.parse(m.value ?? 'null') as Event);
    };
    const hookEvents = (): Event[] => server.accepted().map((r) => JSON.parse(r.body) as Event);

    test('each sink gets exactly the events its routes give it; raw channel payloads as channel events', async (t) => {
      const started = performance.now();
      await workload(db);
      const reached = async (sink: keyof typeof EXPECTED, count: () => Promise<number> | number): Promise<number> => {
        await waitFor(async () => (await count()) >= EXPECTED[sink].length, 120_000, `${EXPECTED[sink].length} events at ${sink}`);
        return performance.now() - started;
      };
      const took = await Promise.all([
        reached('hooks', () => server.accepted().length),
        reached('queue', () => queue.messages.length),
        reached('log', async () => (await kafkaEvents()).length),
      ]);
      (['hooks', 'queue', 'log'] as const).forEach((sink, i) => {
        const rate = (EXPECTED[sink].length / took[i]) * 1000;
        t.diagnostic(
          `${delivery}: ${sink} had all ${EXPECTED[sink].length} events ${took[i].toFixed(0)} ms after the first write (${rate.toFixed(0)} events/s)`,
        );
      });

      // Give anything extra the time to show up: in outbox mode until every sink confirmed every event.
      if (delivery === 'outbox') {
        await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount === 0, 30_000, 'an empty outbox');
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));

      const got = { hooks: hookEvents(), queue: queue.bodies<Event>(), log: await kafkaEvents() };
      for (const sink of ['hooks', 'queue', 'log'] as const) {
        assert.deepEqual(sorted(got[sink].map(keyOf)), sorted(EXPECTED[sink]), `${sink}: not exactly its routed events`);
        assert.equal(new Set(got[sink].map((e) => e.id)).size, got[sink].length, `${sink}: an event id arrived twice`);
        // Each row's changes in commit order (Kafka: its partition's order).
        for (const id of [1, 251]) {
          const ops = got[sink].filter((e) => e.table === 'orders' && e.data?.id === id).map((e) => e.op);
          assert.deepEqual(ops, id === 1 ? ['INSERT', 'UPDATE'] : ['INSERT', 'DELETE'], `${sink}: orders row ${id}`);
        }
      }
      // An event routed to several sinks carries the same id at each.
      const idsByKey = (events: Event[]) => new Map(events.filter((e) => e.table === 'orders' || e.channel).map((e) => [keyOf(e), e.id]));
      const hookIds = idsByKey(got.hooks);
      for (const [key, id] of idsByKey(got.queue)) if (hookIds.has(key)) assert.equal(id, hookIds.get(key), key);
      for (const [key, id] of idsByKey(got.log)) assert.equal(id, hookIds.get(key), key);

      const channelEvents = got.hooks.filter((e) => e.channel !== undefined);
      assert.deepEqual(
        channelEvents.map(({ channel, payload }) => ({ channel, payload })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        [
          { channel: 'jobs', payload: 'hello world' },
          { channel: 'jobs', payload: { a: 1 } },
        ],
      );
      for (const e of channelEvents) assert.deepEqual(Object.keys(e), ['id', 'channel', 'payload', 'ts']);
      assert.deepEqual(await readTopic(brokers, 'jobs'), [], 'kafka got no channel event');
    });
  });
}
