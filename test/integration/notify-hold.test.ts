/**
 * Notify mode's back-pressure (src/source/sink-hold.ts): a burst larger than
 * notify.memory_limit_events into a sink that is slower but delivering waits in
 * Postgres's notification queue while the sink is full, instead of spilling to
 * the outbox table; every event arrives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor, type RunningBridge } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { insertItems, installedConfig, itemsDatabase, logsWith, startBridge, webhookSink } from './outbox-harness.js';

const ROWS = 3000;
const LIMIT = 1000;

let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await db.drop();
});

test('a burst past the memory limit into a slow sink that delivers: held in Postgres, nothing spilled, all delivered', async (t) => {
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  hook.reply = () => ({ status: 204, delayMs: 5 });
  const config = await installedConfig(db, [webhookSink('hook', hook.url)], { delivery: 'notify', notify: { memory_limit_events: LIMIT } });
  const bridge: RunningBridge = startBridge(t, config);
  await bridge.ready(60_000);

  await insertItems(db, 1, ROWS, 1000);
  await waitFor(() => hook.tally.unique >= ROWS, 120_000, `all ${ROWS} events at the webhook`);

  const spilled = logsWith(bridge, 'memory limit of events waiting for this sink reached');
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.outbox WHERE target_sink IS NOT NULL`);
  t.diagnostic(`events ${ROWS}, delivered ${hook.tally.unique}, duplicates ${hook.tally.duplicates}, spill warnings ${spilled.length}`);
  assert.equal(hook.tally.unique, ROWS);
  assert.equal(hook.tally.duplicates, 0);
  assert.equal(spilled.length, 0, 'no spill: the listener waited for the sink');
  assert.equal(rows[0].n, 0, 'nothing kept in the outbox table for the sink');
  assert.equal(await bridge.stop(), 0);
});

test("while the listener holds, its backend's snapshot does not stop VACUUM for long: rows deleted meanwhile become removable, every event arrives", async (t) => {
  const hook = new WebhookServer();
  await hook.start();
  t.after(() => hook.stop());
  hook.reply = () => ({ status: 204, delayMs: 5 });
  await db.query('TRUNCATE items');
  await db.query('CREATE TABLE junk (id int) WITH (autovacuum_enabled = false)');
  const config = await installedConfig(db, [webhookSink('hook', hook.url)], { delivery: 'notify', notify: { memory_limit_events: LIMIT } });
  const bridge: RunningBridge = startBridge(t, config);
  await bridge.ready(60_000);
  // More than the sockets between Postgres and the listener buffer: the backend blocks while it sends.
  const total = 100_000;
  await insertItems(db, 100_000, total, 1000);
  await waitFor(() => hook.tally.unique >= 2 * LIMIT, 60_000, 'the sink well into the burst');
  await db.query('INSERT INTO junk SELECT generate_series(1, 1000)');
  await db.query('DELETE FROM junk');
  const deliveredAtDelete = hook.tally.unique;
  let removable = false;
  await waitFor(
    async () => {
      await db.query('VACUUM junk');
      const { rows } = await db.query<{ dead: number }>(`SELECT n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE relname = 'junk'`);
      removable = rows[0].dead === 0;
      return removable || hook.tally.unique >= total;
    },
    240_000,
    'a VACUUM that removes the deleted rows',
  );
  const deliveredSince = hook.tally.unique - deliveredAtDelete;
  t.diagnostic(`events delivered between the DELETE and a VACUUM that could remove its rows: ${deliveredSince} (of ${total})`);
  // The hold lets go 10 s after the backend was first seen waiting (about 8,000 events at this sink's pace);
  // before, the hold lasted as long as the sink was full: 49,667 events went by.
  assert.ok(removable && deliveredSince < 25_000, `the deleted rows stayed while ${deliveredSince} events were delivered`);
  hook.reply = () => ({ status: 204 });
  await waitFor(() => hook.tally.unique >= total, 180_000, 'every event');
  assert.equal(hook.tally.duplicates, 0);
  assert.equal(await bridge.stop(), 0);
});
