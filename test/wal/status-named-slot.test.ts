/**
 * `pgbridge status` read from Postgres, for a wal instance whose `wal.slot`
 * and `wal.publication` are not the pgbridge_<instance> defaults: its table is
 * captured by that publication (status used to look only at publications
 * named pgbridge…, and said every op was missing), and the replication lag is
 * that slot's (not the largest of every slot named pgbridge…, or none).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, slotInfo } from '../support/wal.js';

let db: TestDatabase;
let file: string;
let slot: string;

before(async () => {
  db = await createTestDatabase('pgbridge_walnamed');
  slot = `named_${db.name}`.slice(0, 63);
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot, publication: 'items_pub' },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port: 0 },
  });
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
  await db.query('INSERT INTO items SELECT generate_series(1, 10)');
});

after(async () => {
  await endWalTest(db);
});

interface StatusReport {
  readonly source: string;
  readonly replication_lag_bytes: number | null;
  readonly tables: ReadonlyArray<{ table: string; missing: readonly string[] }>;
}

test('status of a stopped wal instance with its own slot and publication names: table captured, its slot’s lag', async () => {
  const lagBefore = (await slotInfo(slot)).lagBytes!;
  const status = await cli(['status', '--json', '-c', file]);
  const lagAfter = (await slotInfo(slot)).lagBytes!;
  const report = JSON.parse(status.stdout) as StatusReport;
  assert.equal(report.source, 'database');
  assert.deepEqual(
    report.tables.map((t) => [t.table, t.missing]),
    [['public.items', []]],
  );
  assert.ok(lagBefore > 0, `the slot holds the inserts (${lagBefore} bytes)`);
  const lag = report.replication_lag_bytes;
  assert.ok(lag !== null && lag >= lagBefore && lag <= lagAfter, `lag ${lag} between ${lagBefore} and ${lagAfter}`);
});
