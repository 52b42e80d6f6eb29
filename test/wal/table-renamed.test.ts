/**
 * A captured table renamed, then moved to another schema, while the wal
 * bridge runs: pgoutput names the relation as it is called now, and the
 * bridge took it for a table its config lacks (with routes its events were
 * dropped; without, they came under the new name with every column). Known by
 * its OID it stays the configured table, as its trigger keeps it in the trigger
 * modes: every event under the configured name, with the configured columns.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotName, streaming, STREAMING } from '../support/wal.js';

let db: TestDatabase;
let bridge: RunningBridge | undefined;

before(async () => {
  db = await createTestDatabase('pgbridge_walrenamed');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, secret text)');
  await db.query('CREATE SCHEMA archive');
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot: slotName(db) },
    capture: [{ table: 'items', columns: ['id'] }],
    sinks: [{ name: 'out', type: 'stdout' }],
    routes: [{ from: { table: 'items' }, to: ['out'] }],
    http: { port: 0 },
  });
  bridge = await installedAndStreaming(file);
});

after(async () => {
  await endWalTest(db, bridge);
});

test('wal mode: a captured table renamed and moved while the bridge runs keeps its configured name, columns and routes', async () => {
  await db.query(`INSERT INTO items VALUES (1, 's1')`);
  await db.query('ALTER TABLE items RENAME TO goods');
  await db.query(`INSERT INTO goods VALUES (2, 's2')`);
  await db.query('ALTER TABLE goods SET SCHEMA archive');
  await db.query(`INSERT INTO archive.goods VALUES (3, 's3')`);
  await waitFor(() => bridge!.stdoutEvents().length >= 3, 30_000, '3 events on stdout');
  const events = bridge!.stdoutEvents<{ schema: string; table: string; data: unknown }>();
  assert.deepEqual(
    events.map((e) => [e.schema, e.table, e.data]),
    [1, 2, 3].map((id) => ['public', 'items', { id }]),
  );
  const warned = bridge!.logLines.filter((l) => l.includes('renamed or moved since start')).map((l) => (JSON.parse(l) as { now: string }).now);
  assert.deepEqual(warned, ['public.goods', 'archive.goods']);
});

/**
 * Two captured tables swapped by renames (a → tmp, b → a, tmp → b). The
 * stream replays changes written before the swap under the names they had
 * then, which the bridge must keep (it took the catalog's names at its start
 * and sent a's rows as b's, with b's columns: a's secret column with them);
 * after the swap each table keeps the configured table it was, through a
 * reconnection too (which made it the other one).
 */
test('wal mode: two captured tables swapped by renames; rows before the swap under their names then, after it under the same table, across a reconnection', async () => {
  const swapDb = await createTestDatabase('pgbridge_walswap');
  let swapBridge: RunningBridge | undefined;
  try {
    for (const t of ['a', 'b']) await swapDb.query(`CREATE TABLE ${t} (id int PRIMARY KEY, secret text)`);
    const slot = slotName(swapDb);
    const file = writeConfig({
      postgres: { url: swapDb.url },
      delivery: 'wal',
      wal: { slot },
      capture: [{ table: 'a', columns: ['id'] }, { table: 'b' }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    assert.equal((await cli(['install', '-c', file])).code, 0);
    // Bridge stopped: written, then swapped.
    await swapDb.query(`INSERT INTO a VALUES (1, 'a-secret-1')`);
    await swapDb.query(`INSERT INTO b VALUES (10, 'b-visible-10')`);
    await swapDb.query('ALTER TABLE a RENAME TO tmp; ALTER TABLE b RENAME TO a; ALTER TABLE tmp RENAME TO b');
    swapBridge = new RunningBridge(file);
    await streaming(swapBridge);
    const seen = () => new Map(swapBridge!.stdoutEvents<{ table: string; data: { id: number } }>().map((e) => [e.data.id, e]));
    await waitFor(() => seen().size >= 2, 30_000, 'the two rows written before the swap');
    // Written to the table first called a (called b now): still a, with a's columns.
    await swapDb.query(`INSERT INTO b VALUES (2, 'a-secret-2')`);
    await waitFor(() => seen().has(2), 30_000, 'row 2');
    await swapDb.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    await swapBridge.waitForLog((e) => e.msg === STREAMING && swapBridge!.logs().filter((l) => l.msg === STREAMING).length >= 2, 30_000);
    await swapDb.query(`INSERT INTO b VALUES (3, 'a-secret-3')`);
    await waitFor(() => seen().has(3), 30_000, 'row 3, after the reconnection');
    assert.deepEqual(
      [...seen().values()].sort((x, y) => x.data.id - y.data.id).map((e) => [e.table, e.data]),
      [
        ['a', { id: 1 }],
        ['a', { id: 2 }],
        ['a', { id: 3 }],
        ['b', { id: 10, secret: 'b-visible-10' }],
      ],
    );
  } finally {
    await endWalTest(swapDb, swapBridge);
  }
});
