/**
 * wal mode under faults, counted at the far end (a real webhook): rows
 * committed by a steady writer against the events that arrived.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, PG_ADMIN_URL, terminateBackends, type TestDatabase } from '../support/pg.js';
import { ensurePostgresRunning, restartPostgres } from './postgres-server.js';
import { WebhookServer } from '../support/webhook-server.js';
import { dropSlots, slotInfo, slotName, STREAMING } from '../support/wal.js';
import { RowStream } from './row-stream.js';
import { tallyNoLoss, type Arrival } from './tally.js';
import pg from 'pg';

interface Event {
  id: string;
  table: string;
  data: Record<string, unknown> & { id: number };
}

describe('wal mode faults', () => {
  let db: TestDatabase;
  let hook: WebhookServer;
  let url: string;
  let slot: string;

  const configFile = (capture: object[] = [{ table: 'public.items', ops: ['insert'] }]) =>
    writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot, heartbeat_interval_ms: 1000 },
      capture,
      sinks: [
        {
          name: 'hook',
          type: 'webhook',
          url,
          timeout_ms: 1000,
          max_in_flight: 4,
          batch: { max_events: 50, max_wait_ms: 5 },
          retry: { initial_ms: 50, max_ms: 500 },
        },
      ],
      http: { port: 0 },
      shutdown_timeout_ms: 2000,
    });
  const arrivedEvents = (): Event[] => hook.accepted().flatMap((r) => [JSON.parse(r.body) as Event | Event[]].flat());
  const arrivals = (table = 'items'): Arrival[] =>
    arrivedEvents()
      .filter((e) => e.table === table)
      .map((e) => ({ eventId: e.id, rowId: Number(e.data.id) }));
  const streaming = (bridge: RunningBridge, count = 1) =>
    waitFor(() => bridge.logs().filter((e) => e.msg === STREAMING).length >= count, 60_000, 'streaming');
  const run = async (t: TestContext, file: string): Promise<RunningBridge> => {
    const bridge = new RunningBridge(file);
    t.after(() => bridge.kill('SIGKILL'));
    await streaming(bridge);
    return bridge;
  };
  /** Waits until every committed row arrived (or the timeout: tallyNoLoss then names the lost ones). */
  const settle = (sent: readonly number[], table = 'items') =>
    waitFor(() => new Set(arrivals(table).map((a) => a.rowId)).size >= sent.length, 90_000, 'every row').catch(() => {});

  before(async () => {
    db = await createTestDatabase('pgbridge_walfault');
    slot = slotName(db);
    hook = new WebhookServer();
    url = await hook.start();
  });

  after(async () => {
    await ensurePostgresRunning();
    if (db) await dropSlots(db);
    await db?.drop();
    await hook?.stop();
  });

  const reset = async () => {
    await dropSlots(db);
    await db.query(`DROP TABLE IF EXISTS items, items2; DROP SCHEMA IF EXISTS pgbridge CASCADE; DROP PUBLICATION IF EXISTS pgbridge_default`);
    await db.query(`CREATE TABLE items (id bigint PRIMARY KEY, v text DEFAULT 'x')`);
    hook.requests.length = 0;
    hook.replies.length = 0;
    hook.reply = () => ({ status: 204 });
    const file = configFile();
    assert.equal((await cli(['install', '-c', file])).code, 0);
    return file;
  };

  test('walsender terminated twice mid-stream', async (t) => {
    const bridge = await run(t, await reset());
    const rows = new RowStream(db.url);
    await sleep(1500);
    for (let i = 1; i <= 2; i++) {
      assert.ok((await terminateBackends(db.name, 'pgbridge replication')) >= 1, 'a walsender to terminate');
      await streaming(bridge, i + 1);
      await sleep(1000);
    }
    const sent = await rows.stop();
    await settle(sent);
    tallyNoLoss(t, 'walsender-terminated', sent, arrivals(), 'wal');
  });

  test('SIGKILL mid-stream, then start again', async (t) => {
    const file = await reset();
    const first = new RunningBridge(file);
    await streaming(first);
    const rows = new RowStream(db.url);
    await sleep(2000);
    await first.kill('SIGKILL');
    await sleep(1000);
    await run(t, file);
    await sleep(1000);
    const sent = await rows.stop();
    await settle(sent);
    tallyNoLoss(t, 'sigkill', sent, arrivals(), 'wal');
  });

  test('sink down for 30 s: the slot holds, then everything arrives', async (t) => {
    await run(t, await reset());
    const rows = new RowStream(db.url);
    await sleep(1000);
    hook.reply = () => ({ status: 503 });
    await sleep(2000);
    const heldAt = (await slotInfo(slot)).confirmed;
    await sleep(28_000);
    assert.equal((await slotInfo(slot)).confirmed, heldAt, 'the slot does not move while the sink refuses');
    hook.reply = () => ({ status: 204 });
    await sleep(1000);
    const sent = await rows.stop();
    await settle(sent);
    tallyNoLoss(t, 'sink-down-30s', sent, arrivals(), 'wal');
  });

  test('DDL mid-stream (add, rename, drop a column): events follow the new shape, none lost', async (t) => {
    await run(t, await reset());
    const rows = new RowStream(db.url);
    await sleep(1000);
    await db.query(`ALTER TABLE items ADD COLUMN extra int DEFAULT 7`);
    await sleep(700);
    await db.query(`ALTER TABLE items RENAME COLUMN v TO label`);
    await sleep(700);
    await db.query(`ALTER TABLE items DROP COLUMN extra`);
    await sleep(700);
    const sent = await rows.stop();
    await settle(sent);
    tallyNoLoss(t, 'ddl-mid-stream', sent, arrivals(), 'wal');
    const shapes = new Set(arrivedEvents().map((e) => Object.keys(e.data).join(',')));
    assert.deepEqual([...shapes].sort(), ['id,label', 'id,label,extra', 'id,v', 'id,v,extra'].sort());
  });

  test('a table added to capture and install run again while running: its rows arrive', async (t) => {
    await run(t, await reset());
    await db.query(`CREATE TABLE items2 (id bigint PRIMARY KEY, note text)`);
    const rows = new RowStream(db.url);
    await sleep(1000);
    const wider = configFile([{ table: 'public.items', ops: ['insert'] }, { table: 'public.items2' }]);
    const r = await cli(['install', '-c', wider]);
    assert.equal(r.code, 0, r.stderr);
    await db.query(`INSERT INTO items2 SELECT g, 'n' FROM generate_series(1, 100) g`);
    const sent = await rows.stop();
    await settle(sent);
    await settle(
      Array.from({ length: 100 }, (_, i) => i + 1),
      'items2',
    );
    tallyNoLoss(t, 'table-added', sent, arrivals(), 'wal');
    tallyNoLoss(
      t,
      'table-added (new table)',
      Array.from({ length: 100 }, (_, i) => i + 1),
      arrivals('items2'),
      'wal',
    );
  });

  test("the slot dropped under the bridge: a clear error, no slot made behind the user's back", async (t) => {
    const bridge = await run(t, await reset());
    const admin = new pg.Client(PG_ADMIN_URL);
    await admin.connect();
    try {
      for (let i = 0; i < 50 && (await slotInfo(slot)).exists; i++) {
        await admin.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, [
          slot,
        ]);
        await admin.query(`SELECT pg_drop_replication_slot($1)`, [slot]).catch(() => {});
      }
    } finally {
      await admin.end();
    }
    await bridge.waitForLog(
      (e) => e.level === 50 && String(e.err).includes(`replication slot ${slot} does not exist`) && String(e.err).includes('pgbridge install'),
      30_000,
    );
    await sleep(1000);
    assert.equal((await slotInfo(slot)).exists, false, 'the bridge does not create the slot itself');
  });
  test('a standby takes over when the delivering instance is SIGKILLed mid-stream', async (t) => {
    const file = await reset();
    const first = new RunningBridge(file);
    t.after(() => first.kill('SIGKILL'));
    await streaming(first);
    const second = new RunningBridge(file);
    t.after(() => second.kill('SIGKILL'));
    await second.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by', 30_000);
    const rows = new RowStream(db.url);
    await waitFor(() => arrivals().length > 100, 30_000, 'the first hundred rows');
    await first.kill('SIGKILL');
    await streaming(second);
    const target = rows.lastSent + 300;
    await waitFor(() => rows.lastSent >= target, 60_000, '300 more rows committed');
    const sent = await rows.stop();
    await settle(sent);
    tallyNoLoss(t, 'standby-takeover', sent, arrivals(), 'wal');
  });

  test("one of two sinks down for 20 s: the other keeps receiving, the down one's events wait in the outbox table and all arrive after, rows in order", async (t) => {
    await reset();
    const down = new WebhookServer();
    const downUrl = await down.start();
    t.after(() => down.stop());
    const sinkFor = (name: string, to: string) => ({
      name,
      type: 'webhook',
      url: to,
      timeout_ms: 1000,
      max_in_flight: 4,
      batch: { max_events: 50, max_wait_ms: 5 },
      retry: { initial_ms: 50, max_ms: 500 },
    });
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot, heartbeat_interval_ms: 1000 },
      capture: [{ table: 'public.items' }],
      sinks: [sinkFor('hook', url), sinkFor('down', downUrl)],
      http: { port: 0 },
      shutdown_timeout_ms: 2000,
    });
    assert.equal((await cli(['install', '-c', file])).code, 0, 'install publishes updates too');
    const bridge = await run(t, file);
    const rows = new RowStream(db.url);
    t.after(() => rows.stop());
    await sleep(1000);
    down.reply = () => ({ status: 503 });
    const outageStartedAt = rows.lastSent;
    await sleep(3000);
    // One row updated ten times while the sink is down: its events must reach it in that order.
    await db.query(`INSERT INTO items (id, v) VALUES (-1, '0')`);
    for (let v = 1; v <= 10; v++) await db.query(`UPDATE items SET v = $1 WHERE id = -1`, [String(v)]);
    // Long past the down sink's queue (1,000 events, full within seconds): the stream must not wait for it.
    await sleep(12_000);
    const lateInOutage = rows.lastSent;
    await waitFor(() => new Set(arrivals().map((a) => a.rowId)).has(lateInOutage), 10_000, 'the healthy sink keeps receiving');
    await sleep(5000);
    const spilled = await db.query<{ n: string }>(`SELECT count(*) AS n FROM pgbridge.outbox WHERE target_sink = 'down'`);
    assert.ok(Number(spilled.rows[0].n) > 0, "the down sink's events wait in the outbox table");
    assert.ok(
      bridge.logs().some((e) => e.level === 40 && String(e.msg).includes('this sink failed or stalled with its queue full')),
      'the spill is logged',
    );
    down.reply = () => ({ status: 204 });
    await sleep(1000);
    const sent = await rows.stop();
    await settle(sent);
    const arrivedAt = (server: WebhookServer): Event[] =>
      server.accepted().flatMap((r) => [JSON.parse(r.body) as (Event & { op: string }) | (Event & { op: string })[]].flat());
    const downArrivals = (): Arrival[] =>
      arrivedAt(down)
        .filter((e) => e.table === 'items' && e.data.id > 0)
        .map((e) => ({ eventId: e.id, rowId: Number(e.data.id) }));
    await waitFor(() => new Set(downArrivals().map((a) => a.rowId)).size >= sent.length, 90_000, 'every row at the sink that was down').catch(
      () => {},
    );
    tallyNoLoss(
      t,
      'other-sink-down (healthy sink)',
      sent,
      arrivals().filter((a) => a.rowId > 0),
      'wal',
    );
    const counts = tallyNoLoss(t, 'other-sink-down (sink that was down)', sent, downArrivals(), 'wal');
    assert.ok(
      sent.some((id) => id > outageStartedAt),
      'rows were committed during the outage',
    );
    assert.ok(counts.delivered >= sent.length);
    const versions = arrivedAt(down)
      .filter((e) => e.data.id === -1)
      .map((e) => Number(e.data.v));
    const firsts = versions.filter((v, i) => versions.indexOf(v) === i);
    assert.deepEqual(firsts, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "one row's events in commit order");
    await waitFor(
      async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM pgbridge.outbox`)).rows[0].n) === 0,
      60_000,
      'the outbox emptied',
    );
  });

  // Keep last: it restarts the server every other test on this machine uses.
  test('PostgreSQL restarted mid-stream: the bridge streams again from the slot, nothing lost', async (t) => {
    try {
      const bridge = await run(t, await reset());
      const rows = new RowStream(db.url);
      await waitFor(() => arrivals().length > 100, 30_000, 'the first hundred rows');
      await restartPostgres();
      await streaming(bridge, 2);
      const target = rows.lastSent + 300;
      await waitFor(() => rows.lastSent >= target, 60_000, '300 more rows committed after the restart');
      const sent = await rows.stop();
      await settle(sent);
      const counts = tallyNoLoss(t, 'pg-restart', sent, arrivals(), 'wal');
      assert.ok(rows.failedStatements > 0, 'the restart was felt: some INSERTs failed while Postgres was down');
      assert.ok(counts.delivered > 0);
    } finally {
      await ensurePostgresRunning();
    }
  });
});
