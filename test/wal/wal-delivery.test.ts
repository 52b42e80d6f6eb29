/**
 * wal mode's events and acknowledgement, seen at a real webhook: ids from the
 * commit position (the same on redelivery), txid and commit time, channel
 * messages from pg_logical_emit_message in commit order, and a slot that moves
 * only past what the sink confirmed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { dropSlots, lsnValue, slotInfo, slotName, streaming } from '../support/wal.js';

interface Event {
  id: string;
  op?: string;
  table?: string;
  data?: { id: number; v?: string };
  channel?: string;
  payload?: unknown;
  txid?: string;
  ts: string;
}

describe('wal mode delivery', () => {
  let db: TestDatabase;
  let hook: WebhookServer;
  let file: string;
  let slot: string;
  const bridges: RunningBridge[] = [];

  const start = async (): Promise<RunningBridge> => {
    const bridge = new RunningBridge(file);
    bridges.push(bridge);
    await streaming(bridge);
    return bridge;
  };
  // accepted(): what the webhook really answered 2xx (delivered() asks the current reply function again).
  const events = (): Event[] => hook.accepted().flatMap((r) => [JSON.parse(r.body) as Event | Event[]].flat());

  before(async () => {
    db = await createTestDatabase('pgbridge_waldel');
    slot = slotName(db);
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await db.query(`CREATE TABLE noise (id serial PRIMARY KEY, v text)`);
    hook = new WebhookServer();
    const url = await hook.start();
    file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot, heartbeat_interval_ms: 500, status_interval_ms: 1000 },
      capture: [{ table: 'items' }],
      channels: [{ name: 'jobs' }],
      // One in flight: the webhook then sees every event in commit order (lanes keep the order per row only).
      sinks: [{ name: 'hook', type: 'webhook', url, max_in_flight: 1, retry: { initial_ms: 50, max_ms: 200 } }],
      http: { port: 0 },
    });
    const r = await cli(['install', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    for (const b of bridges) await b.kill('SIGKILL');
    if (db) await dropSlots(db);
    await db?.drop();
    await hook?.stop();
  });

  test('ids, txid, commit time; emitted channel messages in commit order with the rows; raw NOTIFY channels', async () => {
    const bridge = await start();
    const { rows } = await db
      .query<{ txid: string }>(
        `BEGIN; INSERT INTO items VALUES (1, 'a'), (2, 'b'); SELECT pg_logical_emit_message(true, 'pgbridge:jobs', '{"job":1}');
       SELECT pg_logical_emit_message(true, 'pgbridge:jobs', 'plain text'); SELECT pg_current_xact_id()::text AS txid; COMMIT`,
      )
      .then((results) => (results as unknown as Array<{ rows: Array<{ txid: string }> }>)[4]);
    await db.query(
      `BEGIN; UPDATE items SET v = 'a2' WHERE id = 1; SELECT pg_logical_emit_message(true, 'pgbridge:jobs', 'second'); DELETE FROM items WHERE id = 2; COMMIT`,
    );
    await db.query(`NOTIFY jobs, 'raw'`);
    await waitFor(() => events().length >= 7, 30_000, '7 events');
    await bridge.kill('SIGTERM');
    const all = events();
    assert.ok(
      all.some((e) => e.payload === 'raw' && e.channel === 'jobs'),
      'raw NOTIFY forwarded',
    );
    const got = all.filter((e) => e.payload !== 'raw');
    assert.equal(new Set(got.map((e) => e.id)).size, got.length, 'ids are unique');
    for (const e of got.slice(0, 6)) assert.match(e.id, /^[0-9A-F]{16}-\d+$/);
    assert.equal(got[0].txid, rows[0].txid, "txid is the writer's pg_current_xact_id()");
    assert.equal(got[1].txid, rows[0].txid);
    assert.deepEqual(
      got.slice(0, 4).map((e) => e.op ?? `channel ${JSON.stringify(e.payload)}`),
      ['INSERT', 'INSERT', 'channel {"job":1}', 'channel "plain text"'],
    );
    assert.deepEqual(
      got.slice(4, 7).map((e) => e.op ?? `${e.channel} ${JSON.stringify(e.payload)}`),
      ['UPDATE', 'jobs "second"', 'DELETE'],
      'the second transaction in commit order',
    );
    assert.match(got[0].ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    assert.equal(got[0].ts, got[3].ts, 'one commit time per transaction');
  });

  test('the slot moves only past what the sink confirmed; after SIGKILL the same events come again with the same ids', async (t) => {
    const before = events().length;
    hook.reply = () => ({ status: 503 });
    const bridge = await start();
    t.after(() => bridge.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 1500));
    await db.query(`INSERT INTO items SELECT g, 'x' || g FROM generate_series(10, 59) g`);
    await waitFor(() => hook.requests.length > before + 3, 30_000, 'refused attempts');
    await new Promise((r) => setTimeout(r, 2500));
    const held = await slotInfo(slot);
    // The event id starts with the commit record's position. The slot may move into the transaction while
    // it is in progress (a heartbeat or keepalive: Postgres still sends every transaction committing after
    // the slot's position), never past its commit while its events are refused.
    const commitLsn = BigInt(`0x${(JSON.parse(hook.requests.at(-1)!.body) as Event).id.split('-')[0]}`);
    assert.ok(
      lsnValue(held.confirmed!) <= commitLsn,
      `refused events hold the slot (confirmed ${held.confirmed}, commit at ${commitLsn.toString(16)})`,
    );
    const refusedIds = new Set(hook.requests.slice(before).map((r) => (JSON.parse(r.body) as Event).id));
    await bridge.kill('SIGKILL');

    hook.reply = () => ({ status: 204 });
    const again = await start();
    t.after(() => again.kill('SIGKILL'));
    await waitFor(
      () =>
        new Set(
          events()
            .filter((e) => (e.data?.id ?? 0) >= 10)
            .map((e) => e.data!.id),
        ).size >= 50,
      60_000,
      '50 rows after restart',
    );
    const rows = events().filter((e) => (e.data?.id ?? 0) >= 10);
    assert.deepEqual(
      [...new Set(rows.map((e) => e.data!.id))].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 10),
      'every row, none lost',
    );
    for (const id of refusedIds)
      assert.ok(
        rows.some((e) => e.id === id),
        `event ${id} redelivered with the same id`,
      );
    await waitFor(async () => lsnValue((await slotInfo(slot)).confirmed!) > lsnValue(held.confirmed!), 30_000, 'the slot to move');
    await again.kill('SIGTERM');
  });

  test('a slot whose tables see no writes while others do still moves (keepalive / heartbeat)', async () => {
    const bridge = await start();
    await new Promise((r) => setTimeout(r, 1000));
    const start0 = await slotInfo(slot);
    await db.query(`INSERT INTO noise (v) SELECT repeat('n', 200) FROM generate_series(1, 5000)`);
    await waitFor(
      async () => lsnValue((await slotInfo(slot)).confirmed!) > lsnValue(start0.confirmed!),
      30_000,
      'the slot to pass the uncaptured writes',
    );
    await waitFor(async () => ((await slotInfo(slot)).lagBytes ?? Infinity) < 64 * 1024, 30_000, 'lag under 64 kB');
    await bridge.kill('SIGTERM');
  });

  test('a standby takes over the slot when the delivering instance dies', async () => {
    const first = await start();
    const second = new RunningBridge(file);
    bridges.push(second);
    await second.waitForLog((e) => e.msg === 'another pgbridge instance delivers; standing by', 30_000);
    await first.kill('SIGKILL');
    await streaming(second, 60_000);
    await db.query(`INSERT INTO items VALUES (100, 'after takeover')`);
    await waitFor(() => events().some((e) => e.data?.id === 100), 30_000, 'the row after takeover');
    await second.kill('SIGTERM');
  });
  test('backfill: every row as a READ in key order through the slot, and a later change of a row after its READ', async () => {
    await db.query(`INSERT INTO items SELECT g, 'before backfill' FROM generate_series(1000, 1049) g`);
    const bridge = await start();
    const backfill = await cli(['backfill', '-c', file, 'items', '--where', 'id >= 1000', '--chunk', '20']);
    assert.equal(backfill.code, 0, backfill.stderr);
    await db.query(`UPDATE items SET v = 'after backfill' WHERE id = 1000`);
    const reads = () => events().filter((e) => e.op === 'READ');
    await waitFor(() => reads().length >= 50, 30_000, '50 READ events');
    await waitFor(() => events().some((e) => e.op === 'UPDATE' && e.data?.id === 1000), 30_000, 'the update after the backfill');
    assert.deepEqual(
      reads().map((e) => e.data!.id),
      Array.from({ length: 50 }, (_, i) => 1000 + i),
      'every row once, in key order',
    );
    assert.ok(
      reads().every((e) => e.data!.v === 'before backfill' && /^[0-9A-F]{16}-\d+$/.test(e.id)),
      'READ data and commit-position ids',
    );
    const seen = events().map((e) => `${e.op}:${e.data?.id}`);
    assert.ok(seen.indexOf('READ:1000') < seen.indexOf('UPDATE:1000'), 'the READ of row 1000 came before its later update');
    await bridge.kill('SIGTERM');
  });
});
