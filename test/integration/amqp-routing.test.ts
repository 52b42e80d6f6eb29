/**
 * AMQP exchanges and routing keys through the real bridge (install + run):
 * topic bindings get exactly what their pattern matches, a direct exchange
 * routes by a custom key, and an event no queue is bound for becomes a dead
 * letter of that sink only, while the other sinks still receive it. A
 * routing key AMQP cannot carry (over 255 bytes; amqplib throws on it, which
 * used to be retried forever) makes that event alone a dead letter.
 * (Sink-level behaviour is in amqp-sink.test.ts.)
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AMQP_URL, AmqpAdmin, type RecordingQueue } from '../support/amqp.js';
import { installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface Event {
  id: string;
  table: string;
  op: string;
  data: { id: number };
}

interface DeadLetter {
  sink: string;
  error: string;
  attempts: number;
  event_id: string;
  event: Event;
}

const label = (e: Event): string => `${e.table} ${e.op} ${e.data.id}`;

const deadLettersOf = async (db: TestDatabase): Promise<DeadLetter[]> =>
  (await db.query<DeadLetter>(`SELECT sink, error, attempts, event_id, event FROM pgbridge.dead_letters`)).rows;

/** Every event handled, and a moment more so that a stray extra delivery would show. */
async function outboxEmptied(db: TestDatabase): Promise<void> {
  await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount === 0, 30_000, 'an empty outbox');
  await new Promise((resolve) => setTimeout(resolve, 500));
}

describe('amqp routing through the bridge', () => {
  let db: TestDatabase;
  let amqp: AmqpAdmin;
  let server: WebhookServer;
  let bridge: RunningBridge;
  let orders: RecordingQueue;
  let deletes: RecordingQueue;
  let direct: RecordingQueue;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text)`);
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text)`);
    amqp = await AmqpAdmin.connect();
    const topicExchange = await amqp.exchange('topic');
    // Declared direct here: the sink's own declare (as direct) fails if it asked for any other type.
    const directExchange = await amqp.exchange('direct');
    orders = await amqp.queue(topicExchange, 'public.orders.*');
    deletes = await amqp.queue(topicExchange, '*.*.delete');
    direct = await amqp.queue(directExchange, 'orders');
    server = new WebhookServer();
    const url = await server.start();
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'orders' }, { table: 'items' }],
      sinks: [
        { name: 'topic', type: 'amqp', url: AMQP_URL, exchange: topicExchange },
        { name: 'direct', type: 'amqp', url: AMQP_URL, exchange: directExchange, exchange_type: 'direct', routing_key: '{table}' },
        { name: 'hooks', type: 'webhook', url },
      ],
      routes: [
        { from: { table: 'orders' }, to: ['topic', 'direct', 'hooks'] },
        { from: { table: 'items' }, to: ['topic', 'hooks'] },
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

  test('topic and direct bindings get exactly their events; an unroutable one is dead-lettered for its sink only', async () => {
    await db.query(`INSERT INTO orders VALUES (1, 'new'), (2, 'new')`);
    await db.query(`UPDATE orders SET status = 'paid' WHERE id = 1`);
    await db.query(`DELETE FROM orders WHERE id = 2`);
    // No binding of the topic exchange matches public.items.insert; public.items.delete matches *.*.delete.
    await db.query(`INSERT INTO items VALUES (10, 'lamp')`);
    await db.query(`DELETE FROM items WHERE id = 10`);

    const deadLetters = () => deadLettersOf(db);
    await waitFor(
      async () =>
        orders.messages.length >= 4 &&
        deletes.messages.length >= 2 &&
        direct.messages.length >= 4 &&
        server.accepted().length >= 6 &&
        (await deadLetters()).length >= 1,
      30_000,
      'every sink and the dead letter',
    );
    await outboxEmptied(db);

    const ordersEvents = ['orders DELETE 2', 'orders INSERT 1', 'orders INSERT 2', 'orders UPDATE 1'];
    for (const [queue, key] of [
      [orders, (e: Event) => `public.orders.${e.op.toLowerCase()}`],
      [direct, () => 'orders'],
    ] as const) {
      const events = queue.bodies<Event>();
      assert.deepEqual(events.map(label).sort(), ordersEvents);
      assert.deepEqual(
        queue.messages.map((m) => m.fields.routingKey),
        events.map(key),
      );
      // Rows are delivered in parallel; each row's own changes in commit order.
      assert.deepEqual(
        events.filter((e) => e.data.id === 1).map((e) => e.op),
        ['INSERT', 'UPDATE'],
      );
      assert.deepEqual(
        events.filter((e) => e.data.id === 2).map((e) => e.op),
        ['INSERT', 'DELETE'],
      );
    }
    // Different rows: no order between them.
    assert.deepEqual(deletes.bodies<Event>().map(label).sort(), ['items DELETE 10', 'orders DELETE 2']);

    const hooked = server.accepted().map((r) => JSON.parse(r.body) as Event);
    assert.deepEqual(hooked.map(label).sort(), [
      'items DELETE 10',
      'items INSERT 10',
      'orders DELETE 2',
      'orders INSERT 1',
      'orders INSERT 2',
      'orders UPDATE 1',
    ]);

    const dead = await deadLetters();
    assert.equal(dead.length, 1, JSON.stringify(dead));
    assert.equal(dead[0].sink, 'topic');
    assert.match(dead[0].error, /unroutable/);
    assert.equal(dead[0].attempts, 1);
    assert.equal(label(dead[0].event), 'items INSERT 10');
    const sameEventAtHooks = hooked.find((e) => label(e) === 'items INSERT 10');
    assert.equal(dead[0].event_id, sameEventAtHooks?.id, 'the webhook received the very event the topic sink dead-lettered');
  });
});

// Postgres' longest name: 63 bytes. Five of them and four dots make a 319-byte routing key.
const LONG_TABLE = `long_${'x'.repeat(58)}`;

describe('amqp: a routing key over 255 bytes through the bridge', () => {
  let db: TestDatabase;
  let amqp: AmqpAdmin;
  let bridge: RunningBridge;
  let inbox: RecordingQueue;
  let configFile: string;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE ${LONG_TABLE} (id int PRIMARY KEY)`);
    await db.query(`CREATE TABLE items (id int PRIMARY KEY)`);
    amqp = await AmqpAdmin.connect();
    const exchange = await amqp.exchange('topic');
    inbox = await amqp.queue(exchange, '#');
    configFile = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: LONG_TABLE }, { table: 'items' }],
      sinks: [{ name: 'rabbit', type: 'amqp', url: AMQP_URL, exchange, routing_key: '{table}.{table}.{table}.{table}.{table}' }],
      http: { port: 0 },
    });
    bridge = await installAndRun(configFile);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await amqp?.close();
    await db?.drop();
    if (configFile !== undefined) rmSync(path.dirname(configFile), { recursive: true, force: true });
  });

  test('that event alone is dead-lettered at once, naming the key and its size; the others are delivered', async () => {
    await db.query(`BEGIN; INSERT INTO items VALUES (1); INSERT INTO ${LONG_TABLE} VALUES (1); INSERT INTO items VALUES (2); COMMIT`);
    await db.query(`INSERT INTO items VALUES (3)`);

    const deadLetters = () => deadLettersOf(db);
    await waitFor(async () => inbox.messages.length >= 3 && (await deadLetters()).length >= 1, 30_000, 'the three items and the dead letter');
    await outboxEmptied(db);

    // Different rows: no order between them.
    assert.deepEqual(inbox.bodies<Event>().map(label).sort(), ['items INSERT 1', 'items INSERT 2', 'items INSERT 3']);
    assert.deepEqual(
      inbox.messages.map((m) => m.fields.routingKey),
      Array(3).fill('items.items.items.items.items'),
    );

    const dead = await deadLetters();
    assert.equal(dead.length, 1, JSON.stringify(dead));
    assert.equal(dead[0].sink, 'rabbit');
    assert.equal(dead[0].attempts, 1);
    assert.equal(label(dead[0].event), `${LONG_TABLE} INSERT 1`);
    const longKey = Array(5).fill(LONG_TABLE).join('.');
    assert.equal(
      dead[0].error,
      `amqp sink "rabbit": routing key "${longKey}" is 319 bytes, over AMQP's 255-byte limit; shorten the routing_key template`,
    );
  });
});

describe('amqp: mandatory (CONTRACT §2) through the bridge', () => {
  let db: TestDatabase;
  let amqp: AmqpAdmin;
  let bridge: RunningBridge;
  let inbox: RecordingQueue;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY)`);
    await db.query(`CREATE TABLE items (id int PRIMARY KEY)`);
    amqp = await AmqpAdmin.connect();
    const exchange = await amqp.exchange('topic');
    inbox = await amqp.queue(exchange, 'public.orders.*');
    const sink = { type: 'amqp', url: AMQP_URL, exchange };
    const file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'orders' }, { table: 'items' }],
      sinks: [
        { name: 'strict', ...sink, mandatory: true },
        { name: 'lenient', ...sink, mandatory: false },
      ],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await amqp?.close();
    await db?.drop();
  });

  test('mandatory: true dead-letters an event no queue is bound for; mandatory: false lets the broker drop it, delivered', async () => {
    await db.query(`INSERT INTO items VALUES (10)`);
    await db.query(`INSERT INTO orders VALUES (1)`);
    await waitFor(() => inbox.messages.length >= 2, 30_000, 'the routable event from both sinks');
    await outboxEmptied(db);

    assert.deepEqual(inbox.bodies<Event>().map(label), ['orders INSERT 1', 'orders INSERT 1']);
    const dead = await deadLettersOf(db);
    assert.deepEqual(
      dead.map((d) => `${d.sink}: ${label(d.event)}`),
      ['strict: items INSERT 10'],
    );
    assert.match(dead[0].error, /unroutable/);
  });
});
