/**
 * Outbox mode, the happy paths that must still hold under awkward timing:
 * a backlog made while pgbridge is stopped, transactions that commit in the
 * opposite order of their ids, forged wake-ups, and an outbox that empties
 * (also with two sinks and routes). Every event is counted at the far end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { showingLogOnFailure, waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import {
  client,
  startedWebhook,
  deliveriesCount,
  insertItems,
  installedConfig,
  itemsDatabase,
  keys,
  outboxCount,
  report,
  startBridge,
  stdoutTally,
  untilDelivered,
  webhookSink,
} from './outbox-harness.js';

let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await db.drop();
});

describe('outbox delivery', () => {
  test('2000 events committed while pgbridge is stopped are all delivered at start, oldest first', async (t) => {
    await db.query('TRUNCATE public.items');
    const config = await installedConfig(db, [{ name: 'out', type: 'stdout' }]);
    // Committed with no bridge running: 2000 rows in 20 transactions.
    await insertItems(db, 1, 2000, 100);
    assert.equal(await outboxCount(db), 2000);

    const bridge = startBridge(t, config);
    await waitFor(() => stdoutTally(bridge).unique >= 2000, 20_000, '2000 stdout lines');
    await sleep(300);
    const tally = stdoutTally(bridge);
    report(t, 'stopped backlog', tally.summary(2000, keys(1, 2000)));

    assert.equal(tally.summary(2000, keys(1, 2000)).lost, 0);
    assert.equal(tally.duplicates, 0);
    const ids = tally.accepted.map((e) => BigInt(e.id));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `event ${ids[i]} arrived after ${ids[i - 1]}`);
    assert.deepEqual(
      tally.accepted.map((e) => e.rowId),
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    await waitFor(async () => (await outboxCount(db)) === 0, 5000, 'empty outbox');
    assert.equal(await bridge.kill('SIGTERM'), 0);
  });

  test('a transaction that takes its id first but commits last is not skipped', async (t) => {
    await db.query('TRUNCATE public.items');
    const hook = await startedWebhook(t);
    const config = await installedConfig(db, [webhookSink('hook', hook.url)], { outbox: { poll_interval_ms: 50 } });
    const bridge = startBridge(t, config);
    await bridge.ready();

    const a = await client(db);
    const b = await client(db);
    t.after(() => Promise.all([a.end(), b.end()]));
    await a.query('BEGIN');
    await a.query('INSERT INTO public.items (id) VALUES (1)');
    // Let the reader take a few checkpoints while A holds the newest xid (so it
    // sits at or above every snapshot's xmax) and no other writer is running.
    await sleep(300);
    await b.query('BEGIN');
    await b.query('INSERT INTO public.items (id) VALUES (2)');
    await b.query('COMMIT');
    // More traffic after B, so the reader pages on well past A's id.
    await insertItems(db, 3, 200, 20);
    await untilDelivered(hook.tally, 201, 10_000, 'B and the rows after it');
    // Many polls while A is still open: the floor must not pass A's id.
    await sleep(600);
    assert.equal(hook.tally.accepted.filter((e) => e.rowId === 1).length, 0, 'A is not committed yet');
    const { rows } = await db.query<{ id: string }>('SELECT id::text FROM pgbridge.outbox');
    assert.equal(rows.length, 0, 'A is invisible, everything visible is delivered and removed');

    await a.query('COMMIT');
    await untilDelivered(hook.tally, 202, 10_000, 'A after its late commit');
    const ids = new Map(hook.tally.accepted.map((e) => [e.rowId, BigInt(e.id)]));
    assert.ok(ids.get(1)! < ids.get(2)!, `A's event id ${ids.get(1)} is below B's ${ids.get(2)}`);
    report(t, 'reverse commit', hook.tally.summary(202, keys(1, 202)));
    assert.equal(hook.tally.summary(202, keys(1, 202)).lost, 0);
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'empty outbox');
  });

  test('many writers committing out of id order: nothing skipped', async (t) => {
    await db.query('TRUNCATE public.items');
    const hook = await startedWebhook(t);
    const config = await installedConfig(db, [webhookSink('hook', hook.url, { max_in_flight: 8 })], { outbox: { poll_interval_ms: 50 } });
    const bridge = startBridge(t, config);
    await bridge.ready();

    const writers = 8;
    const perWriter = 60;
    const clients = await Promise.all(Array.from({ length: writers }, () => client(db)));
    t.after(() => Promise.all(clients.map((c) => c.end())));
    await Promise.all(
      clients.map(async (c, w) => {
        for (let i = 0; i < perWriter; i++) {
          const id = w * perWriter + i + 1;
          await c.query('BEGIN');
          await c.query('INSERT INTO public.items (id) VALUES ($1)', [id]);
          // Hold the transaction open for a random while: later ids commit first.
          await sleep(Math.floor(Math.random() * 15));
          await c.query('COMMIT');
        }
      }),
    );
    const sent = writers * perWriter;
    await untilDelivered(hook.tally, sent, 15_000, 'every writer row').catch(() => {});
    const summary = hook.tally.summary(sent, keys(1, sent));
    report(t, 'interleaved writers', summary);
    assert.equal(summary.lost, 0);
    assert.equal(summary.duplicates, 0);
    // Delivered means removed too; the next test's bridge must not find these again.
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'empty outbox');
  });

  test('writers streaming 10-row transactions for 8 s into a batched webhook: nothing left below the floor', async (t) => {
    await db.query('TRUNCATE public.items');
    const hook = await startedWebhook(t);
    const config = await installedConfig(db, [webhookSink('hook', hook.url, { batch: { max_events: 500, max_wait_ms: 0 } })], {
      outbox: { poll_interval_ms: 1000 },
    });
    const bridge = startBridge(t, config);
    await bridge.ready();

    const writers = await Promise.all(Array.from({ length: 4 }, () => client(db)));
    t.after(() => Promise.all(writers.map((c) => c.end())));
    let next = 1;
    const until = Date.now() + 8000;
    await Promise.all(
      writers.map(async (c) => {
        while (Date.now() < until) {
          await c.query('BEGIN');
          // One statement per row: concurrent transactions interleave their ids.
          for (let i = 0; i < 10; i++) await c.query('INSERT INTO public.items (id) VALUES ($1)', [next++]);
          await c.query('COMMIT');
        }
      }),
    );
    const sent = next - 1;
    await untilDelivered(hook.tally, sent, 30_000, 'every streamed row').catch(() => {});
    const summary = hook.tally.summary(sent, keys(1, sent));
    report(t, 'streamed 10-row transactions', { ...summary, outbox_left: await outboxCount(db) });
    assert.equal(summary.lost, 0);
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'empty outbox');
  });

  test('a forged NOTIFY on the pgbridge channel delivers nothing; a forwarded channel still works', async (t) => {
    await db.query('TRUNCATE public.items');
    const hook = await startedWebhook(t);
    const config = await installedConfig(db, [webhookSink('hook', hook.url)], { channels: [{ name: 'jobs' }] });
    const bridge = startBridge(t, config);
    await bridge.ready();

    const forged = {
      id: '424242',
      schema: 'public',
      table: 'items',
      op: 'INSERT',
      data: { id: 424242, v: 0, note: 'forged' },
      old: null,
      txid: '1',
      ts: '2026-01-01T00:00:00.000000+00:00',
    };
    await db.query(`SELECT pg_notify('pgbridge', $1)`, [JSON.stringify(forged)]);
    // The notify-mode wire shape too: header, key, data, old separated by \u0001.
    const header = JSON.stringify({ id: '424243', schema: 'public', table: 'items', op: 'INSERT', txid: '1', ts: forged.ts });
    await db.query(`SELECT pg_notify('pgbridge', $1)`, [`${header}\u0001{"id":424243}\u0001{"id":424243,"v":0,"note":"forged"}\u0001`]);
    await db.query('INSERT INTO public.items (id) VALUES (1)');
    await db.query(`SELECT pg_notify('jobs', '{"job":"reindex"}')`);
    await untilDelivered(hook.tally, 2, 10_000, 'the real row and the channel message');
    await sleep(500);

    const forgedSeen = hook.tally.accepted.filter((e) => e.rowId !== 1 && e.op !== 'CHANNEL');
    report(t, 'forged notify', { sent: 2, forged: 2, delivered: hook.tally.unique, forged_delivered: forgedSeen.length });
    assert.deepEqual(forgedSeen, []);
    assert.deepEqual(hook.tally.accepted.map((e) => e.op).sort(), ['CHANNEL', 'INSERT']);
    assert.equal(hook.tally.duplicates, 0);
    await waitFor(async () => (await outboxCount(db)) === 0, 5000, 'empty outbox');
  });

  test('channel messages sent back to back arrive in the order they were sent', async (t) => {
    const hook = await startedWebhook(t);
    const config = await installedConfig(db, [webhookSink('hook', hook.url)], { channels: [{ name: 'jobs' }] });
    const bridge = startBridge(t, config);
    await bridge.ready();
    const sender = await client(db);
    t.after(() => sender.end());
    const sent = Array.from({ length: 300 }, (_, i) => `{"n":${i}}`);
    // Not awaited one by one: the notifications reach the bridge in a burst.
    await Promise.all(sent.map((payload) => sender.query(`SELECT pg_notify('jobs', $1)`, [payload])));
    await waitFor(() => hook.tally.unique >= sent.length, 15_000, 'every channel message');
    const arrived = hook.requests
      .flatMap((r) => [JSON.parse(r.body) as unknown].flat())
      .map((e) => JSON.stringify((e as { payload: unknown }).payload));
    assert.deepEqual(arrived, sent);
    await waitFor(async () => (await outboxCount(db)) === 0, 10_000, 'empty outbox');
  });

  test('the outbox and pgbridge.deliveries empty after delivery to two sinks, with routes', async (t) => {
    await db.query('TRUNCATE public.items');
    const hook = await startedWebhook(t);
    const config = await installedConfig(
      db,
      [webhookSink('hook', hook.url, { batch: { max_events: 50, max_wait_ms: 5 } }), { name: 'out', type: 'stdout' }],
      {
        routes: [
          { from: { table: 'public.items', ops: ['insert'] }, to: ['hook', 'out'] },
          { from: { table: 'public.items', ops: ['update'] }, to: ['hook'] },
          { from: { table: 'public.items', ops: ['delete'] }, to: ['out'] },
        ],
      },
    );
    const bridge = startBridge(t, config);
    await bridge.ready();

    // 3000 inserts (both sinks), 3000 updates (hook only), 1000 deletes (out only).
    await insertItems(db, 1, 3000, 250);
    await db.query('UPDATE public.items SET v = 1');
    await db.query('DELETE FROM public.items WHERE id <= 1000');
    const hookWants = 6000;
    const outWants = 4000;
    await waitFor(() => hook.tally.unique >= hookWants && stdoutTally(bridge).unique >= outWants, 30_000, 'both sinks complete');
    report(t, 'two sinks, hook', hook.tally.summary(hookWants));
    report(t, 'two sinks, out', stdoutTally(bridge).summary(outWants));
    await showingLogOnFailure(bridge, tablesEmptied(db, 5000));
    const out = stdoutTally(bridge);
    assert.equal(hook.tally.unique, hookWants);
    assert.equal(out.unique, outWants);
    assert.deepEqual(new Set(hook.tally.accepted.map((e) => e.op)), new Set(['INSERT', 'UPDATE']));
    assert.deepEqual(new Set(out.accepted.map((e) => e.op)), new Set(['INSERT', 'DELETE']));
    assert.equal(hook.tally.duplicates + out.duplicates, 0);
  });
});

/**
 * Waits for the outbox and pgbridge.deliveries to empty. It failed once in CI (2026-12-06: every
 * event delivered, all 7000 rows still there 5 s later) and never since, so a timeout also says
 * what the test database's sessions were doing.
 */
async function tablesEmptied(db: TestDatabase, timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => (await outboxCount(db)) === 0 && (await deliveriesCount(db)) === 0, timeoutMs, 'empty outbox and deliveries');
  } catch (err) {
    const { rows } = await db.query(
      `SELECT pid, application_name, state, wait_event_type, wait_event, (now() - xact_start)::text AS in_transaction, left(query, 160) AS query
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    const left = { outbox: await outboxCount(db), deliveries: await deliveriesCount(db) };
    throw new Error(`rows left behind: ${JSON.stringify(left)}; sessions of the test database: ${JSON.stringify(rows)}`, { cause: err });
  }
}
