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
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotName } from '../support/wal.js';

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
