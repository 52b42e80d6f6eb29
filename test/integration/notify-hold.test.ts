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
