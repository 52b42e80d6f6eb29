/**
 * wal mode takes out of the outbox table, at start, the rows an earlier run
 * spilled for transactions the slot streams again (their id's LSN at or past
 * the slot's confirmed position). A row whose LSN this cluster's WAL has not
 * even reached is not one of those: the database was restored into another
 * cluster (pg_dump and restore, or logical replication to a new cluster for
 * an upgrade), whose positions are its own, and a slot installed there will
 * never stream that transaction. The row is the only copy of its event.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { endWalTest, slotName, streaming } from '../support/wal.js';

let db: TestDatabase;
let file: string;
let bridge: RunningBridge | undefined;
const hook = new WebhookServer();

before(async () => {
  db = await createTestDatabase('pgbridge_walrestored');
  await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`);
  file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot: slotName(db), heartbeat_interval_ms: 500, status_interval_ms: 500 },
    capture: [{ table: 't' }],
    sinks: [{ name: 'hook', type: 'webhook', url: await hook.start(), retry: { initial_ms: 50, max_ms: 200 } }],
    http: { port: 0 },
  });
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
});

after(async () => {
  await endWalTest(db, bridge);
  await hook.stop();
});

test('a spilled row from a cluster further on than this one (a restored database) is delivered, not taken out as streamed again', async () => {
  // As the old cluster's spill wrote it: its commit 64 GB of WAL past where this cluster is now.
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO pgbridge.outbox (event_id, target_sink, schema_name, table_name, op, key, data)
     SELECT lpad(upper(to_hex((pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint + (64::bigint << 30))), 16, '0') || '-0',
            'hook', 'public', 't', 'I', '{"id":1}', '{"id":1,"v":7}'
     RETURNING event_id AS id`,
  );
  const [{ id }] = rows;
  bridge = new RunningBridge(file);
  await streaming(bridge);
  await showingLogOnFailure(
    bridge,
    waitFor(() => hook.delivered().some((e) => (e as { id: string }).id === id), 30_000, `event ${id} at the sink`),
  );
  await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox`)).rowCount === 0, 30_000, 'the outbox empty');
});
