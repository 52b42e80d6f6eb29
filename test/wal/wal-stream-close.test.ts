/**
 * ReplicationStream.close() whatever start() is doing (connecting, setting the
 * session up, starting replication): start() settles and close() resolves, so
 * the wal source's stop never waits on a connection being made (the notify
 * listener did: test/integration/listener-stop.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { clientConfig } from '../../src/postgres.js';
import { ReplicationStream } from '../../src/source/wal/replication-stream.js';
import { within } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const SLOT_SUFFIX = '_close';
let db: TestDatabase;
let slot: string;

before(async () => {
  db = await createTestDatabase();
  slot = `${db.name}${SLOT_SUFFIX}`.slice(0, 63);
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  await db.query('CREATE PUBLICATION close_pub FOR TABLE items');
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
});

after(async () => {
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows.length === 0 || !rows[0].active) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await db.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => {});
  await db.drop();
});

test('close() at any point of start(): start() settles, close() resolves, no walsender left', async () => {
  const handlers = { onData: () => {}, onKeepalive: () => {} };
  for (let delayMs = 0; delayMs <= 30; delayMs += 3) {
    const stream = new ReplicationStream(clientConfig({ postgres: { url: db.url } }, 'replication'), handlers);
    const started = stream.start(slot, 'close_pub').then(
      () => 'streaming',
      () => 'failed',
    );
    await new Promise((r) => setTimeout(r, delayMs));
    await within(5000, stream.close(), `close() ${delayMs} ms after start()`);
    await within(5000, started, `start() closed after ${delayMs} ms`);
  }
  await new Promise((r) => setTimeout(r, 300));
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgbridge replication' AND datname = $1`,
    [db.name],
  );
  assert.equal(rows[0].n, 0);
});
