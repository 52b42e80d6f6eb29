/**
 * A webhook far end that misbehaves while rows stream in (outbox mode): a 500
 * storm, 429 with Retry-After, answers slower than timeout_ms, connection
 * resets, a 301 redirect, and a server that does not speak HTTP at all. Every
 * event is counted where it arrives; nothing may be lost, duplicates are
 * counted (a late 2xx was processed by the far end, so its retry is a duplicate).
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
  untilDelivered,
  webhookSink,
} from '../integration/outbox-harness.js';
import { printCounts } from './tally.js';

const ROWS = 300;
let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await db.drop();
});

/** Rows [1, total] in statements of 10 with pauses: a stream the misbehaviour lands in the middle of. */
async function stream(total: number): Promise<void> {
  for (let from = 1; from <= total; from += 10) {
    await insertItems(db, from, Math.min(10, total - from + 1));
    await sleep(10);
  }
}

async function freshHook(t: TestContext): Promise<WebhookServer> {
  await db.query('TRUNCATE public.items');
  await db.query('TRUNCATE pgbridge.dead_letters').catch(() => {}); // absent before the first install
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  return hook;
}

/** Streams ROWS rows through a bridge with `sink`, waits until all arrived and the outbox is empty; prints and checks the counts. */
async function streamAndCount(t: TestContext, fault: string, hook: WebhookServer, sink: Record<string, unknown> = {}): Promise<void> {
  const config = await installedConfig(db, [webhookSink('hook', hook.url, sink)]);
  const bridge = startBridge(t, config);
  await bridge.ready();
  await stream(ROWS);
  await untilDelivered(hook.tally, ROWS, 60_000, `every event despite ${fault}`);
  await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'an empty outbox');
  const summary = hook.tally.summary(ROWS, keys(1, ROWS));
  printCounts(t, fault, 'outbox', summary, { requests: hook.requests.length });
  assert.equal(summary.lost, 0);
  assert.equal(summary.delivered, ROWS);
  assert.equal(await bridge.kill('SIGTERM'), 0);
}

describe('webhook misbehaviour, streamed and counted (outbox mode)', () => {
  test('a 500 storm: every request fails until 40 have, then the server recovers', async (t) => {
    const hook = await freshHook(t);
    hook.reply = (_req, index) => (index < 40 ? { status: 500 } : { status: 204 });
    await streamAndCount(t, '500-storm', hook);
    assert.equal(hook.tally.duplicates, 0, 'a 500 is not accepted, so its retry is no duplicate');
  });

  test('429 with Retry-After: 1 on every fifth request (the first 20 times): all delivered, none twice', async (t) => {
    const hook = await freshHook(t);
    let refused = 0;
    hook.reply = (_req, index) => (index % 5 === 0 && refused++ < 20 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 });
    await streamAndCount(t, '429-retry-after', hook);
    assert.equal(hook.tally.duplicates, 0);
  });

  test('answers slower than timeout_ms (every third, the first 30 times): retried; the far end saw those twice (counted)', async (t) => {
    const hook = await freshHook(t);
    let slow = 0;
    hook.reply = (_req, index) => (index % 3 === 0 && slow++ < 30 ? { status: 204, delayMs: 2500 } : { status: 204 });
    await streamAndCount(t, 'slower-than-timeout', hook, { timeout_ms: 1000 });
    assert.ok(hook.tally.duplicates >= 1, 'a late answer was processed by the far end and its event sent again');
  });

  test('connection resets (every fourth request, the first 40 times): all delivered, none twice', async (t) => {
    const hook = await freshHook(t);
    let resets = 0;
    hook.reply = (_req, index) => (index % 4 === 0 && resets++ < 40 ? 'reset' : { status: 204 });
    await streamAndCount(t, 'connection-reset', hook);
    assert.equal(hook.tally.duplicates, 0);
  });

  test('a 301 redirect is a permanent failure: a dead letter naming the Location, and later events still arrive', async (t) => {
    const hook = await freshHook(t);
    const moved = 'http://127.0.0.1:9/moved-here';
    hook.reply = (req) =>
      (JSON.parse(req.body) as { data: { id: number } }).data.id === 7 ? { status: 301, headers: { location: moved } } : { status: 204 };
    const config = await installedConfig(db, [webhookSink('hook', hook.url)]);
    const bridge = startBridge(t, config);
    await bridge.ready();
    await stream(50);
    await untilDelivered(hook.tally, 49, 30_000, 'every event but the redirected one');
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'an empty outbox');
    const { rows } = await db.query<{ error: string; attempts: number; row: number }>(
      `SELECT error, attempts, (event->'data'->>'id')::int AS row FROM pgbridge.dead_letters`,
    );
    const summary = hook.tally.summary(50, keys(1, 50));
    // The redirected event is dead-lettered, not lost: it is kept and can be replayed.
    printCounts(t, '301-redirect', 'outbox', { ...summary, lost: summary.lost - rows.length }, { dead_lettered: rows.length });
    assert.equal(summary.delivered, 49);
    assert.deepEqual(
      rows.map((r) => [r.row, r.attempts]),
      [[7, 1]],
      'one dead letter, after one attempt',
    );
    assert.match(rows[0].error, /HTTP 301/);
    assert.ok(rows[0].error.includes(moved), `the error names the Location: ${rows[0].error}`);
    assert.equal(hook.requests.filter((r) => r.body.includes('"id":7,')).length, 1, 'not retried');
    assert.ok(
      logsWith(bridge, 'permanent failure').some((e) => String(e.err).includes(moved)),
      'the log names the Location',
    );
    assert.equal(await bridge.kill('SIGTERM'), 0);
  });

  test('a server that answers garbage (not HTTP) is retried; once an HTTP server replaces it on the port, everything arrives once', async (t) => {
    await db.query('TRUNCATE public.items');
    const sockets = new Set<net.Socket>();
    const garbage = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.end('SSH-2.0-OpenSSH_9.6 not http at all\r\n\x00\xff\r\n\r\n');
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const { port } = garbage.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}/hook`;
    const closeGarbage = (): Promise<void> => {
      // close() alone waits for half-closed sockets the client never finishes.
      const closed = new Promise<void>((resolve) => garbage.close(() => resolve()));
      sockets.forEach((s) => s.destroy());
      return closed;
    };
    t.after(() => (garbage.listening ? closeGarbage() : undefined));

    const config = await installedConfig(db, [webhookSink('hook', url)]);
    const bridge = startBridge(t, config);
    await bridge.ready();
    await stream(100);
    await waitFor(() => sockets.size >= 10, 20_000, 'attempts against the garbage server');
    await bridge.waitForLog((e) => e.level === 40 && /delivery failed, will retry/.test(String(e.msg)));
    assert.equal(await outboxCount(db), 100, 'nothing counted as delivered by a garbage answer');

    await closeGarbage();
    const hook = new WebhookServer();
    await hook.start(port);
    t.after(() => hook.stop());
    await untilDelivered(hook.tally, 100, 60_000, 'every event once the server speaks HTTP');
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'an empty outbox');
    const summary = hook.tally.summary(100, keys(1, 100));
    printCounts(t, 'garbage-answer', 'outbox', summary, { garbage_connections: sockets.size });
    assert.equal(summary.lost, 0);
    assert.equal(summary.duplicates, 0);
    assert.equal(await bridge.kill('SIGTERM'), 0);
  });
});
