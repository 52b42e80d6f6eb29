/**
 * RabbitMQ nacking publisher confirms for real: a queue bound to the exchange
 * with x-max-length 1 and x-overflow reject-publish makes the broker nack every
 * message once it holds one. A nacked event is retried, then dead-lettered with
 * the reason (no silent loss), while a webhook sink fed the same events keeps
 * going, and the AMQP sink itself delivers again once the queue has room.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { AMQP_URL } from '../support/amqp.js';
import { waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import {
  insertItems,
  installedConfig,
  itemsDatabase,
  keys,
  logsWith,
  outboxCount,
  startBridge,
  webhookSink,
  RETRY,
} from '../integration/outbox-harness.js';
import { printCounts } from './tally.js';

const BROKER = AMQP_URL;
const EXCHANGE = `pgbridge-test-nack-${randomUUID().slice(0, 8)}`;
const QUEUE = `${EXCHANGE}-full`;

let db: TestDatabase;
let admin: ChannelModel;
let channel: Channel;

before(async () => {
  db = await itemsDatabase();
  admin = await amqp.connect(BROKER);
  channel = await admin.createChannel();
  await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(QUEUE, { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  await channel.bindQueue(QUEUE, EXCHANGE, '#');
});

after(async () => {
  await channel.deleteQueue(QUEUE).catch(() => {});
  await channel.deleteExchange(EXCHANGE).catch(() => {});
  await admin.close().catch(() => {});
  await db.drop();
});

const queued = async (): Promise<number> => (await channel.checkQueue(QUEUE)).messageCount;

test('a nacked publish is retried, then dead-lettered with the reason; the webhook sink gets everything; the AMQP sink recovers', async (t) => {
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  const config = await installedConfig(db, [
    webhookSink('hook', hook.url),
    { name: 'queue', type: 'amqp', url: BROKER, exchange: EXCHANGE, max_in_flight: 1, retry: { ...RETRY, max_attempts: 3 } },
  ]);
  const bridge = startBridge(t, config);
  await bridge.ready();

  await insertItems(db, 1, 1);
  await waitFor(async () => (await queued()) === 1, 15_000, 'the first message in the queue');
  await insertItems(db, 2, 4); // the queue is full: each of these is nacked
  await waitFor(() => hook.tally.unique === 5, 15_000, 'the webhook sink to get all five');
  await waitFor(async () => (await outboxCount(db)) === 0, 30_000, 'the nacked events to leave the outbox as dead letters');

  const { rows } = await db.query<{ row: number; attempts: number; error: string; sink: string }>(
    `SELECT (event->'data'->>'id')::int AS row, attempts, error, sink FROM pgbridge.dead_letters ORDER BY 1`,
  );
  assert.deepEqual(
    rows.map((r) => [r.sink, r.row, r.attempts]),
    [2, 3, 4, 5].map((row) => ['queue', row, 3]),
  );
  for (const r of rows) assert.match(r.error, /broker did not confirm/, r.error);
  assert.ok(logsWith(bridge, 'retries exhausted').length >= 1, 'the log says they were given up');
  assert.equal(await queued(), 1, 'the broker kept only the first');

  await channel.purgeQueue(QUEUE);
  await insertItems(db, 6, 1);
  await waitFor(async () => (await queued()) === 1, 15_000, 'a later event through the AMQP sink');
  const later = await channel.get(QUEUE, { noAck: true });
  assert.ok(later !== false);
  assert.equal((JSON.parse(later.content.toString()) as { data: { id: number } }).data.id, 6);
  await waitFor(() => hook.tally.unique === 6, 15_000, 'the webhook sink to get the later one too');

  const amqpDelivered = 2; // rows 1 and 6, each seen once in the queue
  printCounts(
    t,
    'amqp-nack',
    'outbox',
    { sent: 6, delivered: amqpDelivered, lost: 6 - amqpDelivered - rows.length, duplicates: 0 },
    {
      sink: 'queue',
      dead_lettered: rows.length,
      webhook_delivered: hook.tally.unique,
    },
  );
  assert.equal(hook.tally.summary(6, keys(1, 6)).lost, 0);
  assert.equal(await bridge.kill('SIGTERM'), 0);
});
