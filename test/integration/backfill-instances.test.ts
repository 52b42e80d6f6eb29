/**
 * Two instances in one database, each with its own bridge process and stdout
 * sink, everything counted at the sinks: a backfill (and, in notify mode, a
 * live change) reaches the bridge of the instance it belongs to and no other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, installAndRun, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { dropSlots, slotName, streaming } from '../support/wal.js';

interface Event {
  table: string;
  op: string;
  data: { id: number };
}

const eventsAt = (bridge: RunningBridge | undefined, table: string, op?: string): Event[] =>
  (bridge?.stdoutEvents<Event>() ?? []).filter((e) => e.table === table && (op === undefined || e.op === op));

/** Time for an event on its way to arrive where it should not. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

describe('notify mode, two instances on one notify_channel: a captures bn and shared, b captures bnc and shared', () => {
  let db: TestDatabase;
  let a: RunningBridge | undefined;
  let b: RunningBridge | undefined;
  let fileA: string;
  let fileB: string;

  before(async () => {
    db = await createTestDatabase();
    for (const table of ['bn', 'bnc', 'shared']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL DEFAULT '')`);
      await db.query(`INSERT INTO ${table} SELECT i, 0 FROM generate_series(1, 10) i`);
    }
    // Too large for NOTIFY: its events travel through the outbox table, a kept notice in their place.
    await db.query(`INSERT INTO shared VALUES (11, 0, repeat('x', 9000))`);
    const config = (instance: string, capture: string[]) =>
      writeConfig({ postgres: { url: db.url }, delivery: 'notify', instance, capture, sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });
    fileA = config('a', ['bn', 'shared']);
    fileB = config('b', ['bnc', 'shared']);
    assert.equal((await cli(['install', '-c', fileB])).code, 0);
    a = await installAndRun(fileA);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  test("a backfill of b is refused while only a's bridge listens (its READs would be lost), and nothing reaches a", async () => {
    const run = await cli(['backfill', '-c', fileB, 'bnc']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /no `pgbridge run` is listening on this database for instance "b": the READ events would be lost/);
    await settle();
    assert.equal(eventsAt(a, 'bnc').length, 0);
  });

  test('live changes reach only the bridge of the instance whose trigger sent them, on a table both capture too', async () => {
    b = await installAndRun(fileB);
    await db.query('UPDATE bn SET v = 1 WHERE id = 1');
    await db.query('UPDATE bnc SET v = 1 WHERE id = 1');
    await db.query('UPDATE shared SET v = 1 WHERE id IN (1, 11)');
    await waitFor(() => eventsAt(a, 'shared').length >= 2 && eventsAt(b, 'shared').length >= 2, 30_000, 'the updates of shared');
    await waitFor(() => eventsAt(a, 'bn').length >= 1 && eventsAt(b, 'bnc').length >= 1, 30_000, 'the updates of bn and bnc');
    await settle();
    const counts = (bridge?: RunningBridge) => ['bn', 'bnc', 'shared'].map((t) => eventsAt(bridge, t, 'UPDATE').length);
    assert.deepEqual(counts(a), [1, 0, 2], 'a: bn, bnc, shared');
    assert.deepEqual(counts(b), [0, 1, 2], 'b: bn, bnc, shared');
    for (const bridge of [a, b]) {
      const warnings = bridge!.logs().filter((e) => e.level === 40 && !String(e.msg).startsWith('notify mode: listening from now on'));
      assert.deepEqual(warnings, [], 'no warning but the one at start');
    }
  });

  test('a backfill reaches only the bridge of its instance, on a table both capture too', async () => {
    const ofA = await cli(['backfill', '-c', fileA, 'bn']);
    assert.equal(ofA.code, 0, ofA.stderr);
    const ofB = await cli(['backfill', '-c', fileB, 'shared']);
    assert.equal(ofB.code, 0, ofB.stderr);
    await waitFor(() => eventsAt(a, 'bn', 'READ').length >= 10 && eventsAt(b, 'shared', 'READ').length >= 11, 30_000, 'the READs');
    await settle();
    assert.equal(eventsAt(a, 'bn', 'READ').length, 10);
    assert.deepEqual(
      eventsAt(b, 'shared', 'READ')
        .map((e) => e.data.id)
        .sort((x, y) => x - y),
      Array.from({ length: 11 }, (_, i) => i + 1),
      'every row once, the one kept in the outbox table included',
    );
    assert.equal(eventsAt(b, 'bn').length + eventsAt(a, 'shared', 'READ').length, 0, 'none at the other bridge');
  });

  test('an event from a trigger installed before events named their instance: delivered by the bridge that captures its table', async () => {
    await db.query(
      `SELECT pg_notify('pgbridge', json_build_object('id', '999001', 'schema', 'public', 'table', 'bn', 'op', 'INSERT', 'txid', '1', 'ts', 'x')::text
         || chr(1) || '{"id":99}' || chr(1) || '{"id":99,"v":0,"pad":""}' || chr(1))`,
    );
    await waitFor(() => eventsAt(a, 'bn', 'INSERT').length === 1, 30_000, "a's insert");
    await settle();
    assert.equal(eventsAt(b, 'bn').length, 0);
  });
});

describe('wal mode, two instances in one database: a captures f1, b captures f2 and f3', () => {
  let db: TestDatabase;
  const bridges: RunningBridge[] = [];
  let a: RunningBridge;
  let b: RunningBridge;
  let fileB: string;

  const start = async (file: string): Promise<RunningBridge> => {
    const bridge = new RunningBridge(file);
    bridges.push(bridge);
    await streaming(bridge);
    return bridge;
  };

  before(async () => {
    db = await createTestDatabase();
    for (const table of ['f1', 'f2', 'f3']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO ${table} SELECT i, 0 FROM generate_series(1, 11) i`);
    }
    const config = (instance: string, capture: string[]) =>
      writeConfig({
        postgres: { url: db.url },
        delivery: 'wal',
        instance,
        wal: { slot: slotName(db, instance), heartbeat_interval_ms: 500, status_interval_ms: 1000 },
        capture,
        sinks: [{ name: 'out', type: 'stdout' }],
        http: { port: 0 },
      });
    const fileA = config('a', ['f1']);
    fileB = config('b', ['f2', 'f3']);
    for (const file of [fileA, fileB]) {
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
    }
    a = await start(fileA);
    b = await start(fileB);
  });

  after(async () => {
    for (const bridge of bridges) await bridge.stop();
    if (db) await dropSlots(db);
    await db?.drop();
  });

  test("b's backfill of f2: its 11 READs reach b's bridge, none reach a's", async () => {
    const run = await cli(['backfill', '-c', fileB, 'f2']);
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => eventsAt(b, 'f2', 'READ').length >= 11, 30_000, "b's READs");
    // A change after the backfill: once a has it, a has read past the READs in the WAL.
    await db.query('UPDATE f1 SET v = 1 WHERE id = 1');
    await waitFor(() => eventsAt(a, 'f1', 'UPDATE').length === 1, 30_000, "a's update of f1");
    await settle();
    assert.equal(eventsAt(b, 'f2', 'READ').length, 11);
    assert.equal(eventsAt(a, 'f2').length, 0, "a's bridge delivered none of b's READs");
  });

  test('a READ message from before the upgrade (no instance in its prefix) goes to the bridges that capture its table', async () => {
    const legacyRead = (table: string, id: number) =>
      db.query(
        `SELECT pg_logical_emit_message(true, 'pgbridge-read',
           json_build_object('id', '', 'schema', 'public', 'table', $1::text, 'op', 'READ', 'txid', '1', 'ts', '')::text
           || chr(1) || json_build_object('id', $2::int)::text || chr(1) || json_build_object('id', $2::int, 'v', 0)::text || chr(1))`,
        [table, id],
      );
    await legacyRead('f3', 7);
    await legacyRead('f1', 8);
    await waitFor(() => eventsAt(b, 'f3', 'READ').length === 1 && eventsAt(a, 'f1', 'READ').length === 1, 30_000, 'the legacy READs');
    await settle();
    assert.deepEqual(
      eventsAt(b, 'f3', 'READ').map((e) => e.data.id),
      [7],
    );
    assert.equal(eventsAt(a, 'f3').length + eventsAt(b, 'f1').length, 0, 'none at the bridge that does not capture the table');
  });
});
