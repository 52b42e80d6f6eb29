/**
 * A column listed in `columns` renamed, then dropped, while the wal bridge
 * runs: the events follow the table's shape and leave it out (the trigger
 * modes fail the writer's statement instead). The value no longer arrives, so
 * the log says which listed columns the table lacks, once for each change of them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotName } from '../support/wal.js';

let db: TestDatabase;
let bridge: RunningBridge | undefined;

before(async () => {
  db = await createTestDatabase('pgbridge_walcolumngone');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, status text, note text)');
  const file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot: slotName(db) },
    capture: [{ table: 'items', columns: ['id', 'status', 'note'] }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port: 0 },
  });
  bridge = await installedAndStreaming(file);
});

after(async () => {
  await endWalTest(db, bridge);
});

test('wal mode: a listed column renamed or dropped while the bridge runs is left out of the events, and the log says so', async () => {
  await db.query(`INSERT INTO items VALUES (1, 'new', 'n1')`);
  await db.query('ALTER TABLE items RENAME status TO state');
  await db.query(`INSERT INTO items VALUES (2, 'new', 'n2')`);
  await db.query('ALTER TABLE items DROP COLUMN note');
  await db.query(`INSERT INTO items VALUES (3, 'new')`);
  await waitFor(() => bridge!.stdoutEvents().length >= 3, 30_000, '3 events on stdout');
  assert.deepEqual(
    bridge!.stdoutEvents<{ data: unknown }>().map((e) => e.data),
    [{ id: 1, status: 'new', note: 'n1' }, { id: 2, note: 'n2' }, { id: 3 }],
  );
  const warned = bridge!.logLines
    .filter((l) => l.includes('no longer in the table'))
    .map((l) => JSON.parse(l) as { table: string; columns: string[] })
    .map((w) => [w.table, w.columns]);
  assert.deepEqual(warned, [
    ['public.items', ['status']],
    ['public.items', ['status', 'note']],
  ]);
});
