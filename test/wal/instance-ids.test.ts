/**
 * Two wal-mode instances splitting a database's tables see the same
 * transactions: a transaction that writes to both tables gives each instance
 * a change at the same commit position and place. Their event ids still
 * differ (a consumer deduplicating on id, or JetStream's Nats-Msg-Id, would
 * drop one), and the default instance keeps the ids it always gave.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotName } from '../support/wal.js';

const TRANSACTIONS = 20;

let db: TestDatabase;
const bridges: RunningBridge[] = [];

before(async () => {
  db = await createTestDatabase('pgbridge_walids');
  await db.query('CREATE TABLE a (id int PRIMARY KEY)');
  await db.query('CREATE TABLE b (id int PRIMARY KEY)');
  for (const [instance, table] of [
    ['default', 'a'],
    ['other', 'b'],
  ]) {
    const file = writeConfig({
      postgres: { url: db.url },
      instance,
      delivery: 'wal',
      wal: { slot: slotName(db, instance) },
      capture: [{ table }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridges.push(await installedAndStreaming(file));
  }
});

after(async () => {
  await endWalTest(db, ...bridges);
});

test('a transaction writing to both instances’ tables: every event id unique, the default instance’s as before', async () => {
  for (let n = 1; n <= TRANSACTIONS; n++) await db.query(`BEGIN; INSERT INTO a VALUES (${n}); INSERT INTO b VALUES (${n}); COMMIT`);
  const events = (bridge: RunningBridge): Array<{ id: string; table: string }> => bridge.stdoutEvents<{ id: string; table: string }>();
  await waitFor(() => bridges.every((b) => events(b).length === TRANSACTIONS), 30_000, `${TRANSACTIONS} events at each instance`);
  const [fromDefault, fromOther] = bridges.map(events);
  assert.ok(
    fromDefault.every((e) => e.table === 'a' && /^[0-9A-F]{16}-0$/.test(e.id)),
    fromDefault.map((e) => e.id).join(' '),
  );
  assert.ok(
    fromOther.every((e) => e.table === 'b' && /^[0-9A-F]{16}-0-other$/.test(e.id)),
    fromOther.map((e) => e.id).join(' '),
  );
  const ids = new Set([...fromDefault, ...fromOther].map((e) => e.id));
  assert.equal(ids.size, 2 * TRANSACTIONS, 'every id unique');
});
