/**
 * Notify mode stopped (SIGTERM) while a sink keeps failing: what it did not
 * confirm within shutdown_timeout_ms existed only in memory. It is kept in the
 * outbox table for that sink, and the next run delivers it: nothing lost, the
 * exit still 0 and in time. With and without a spill already in the table.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RunningBridge, waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { installedConfig, insertItems, itemsDatabase, logsWith, webhookSink } from './outbox-harness.js';

const ROWS = 60;
const SHUTDOWN_MS = 1500;

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

for (const memoryLimit of [0, 20]) {
  const spill = memoryLimit > 0;
  test(`a sink failing at SIGTERM${spill ? ', a spill in the table too' : ''}: its unconfirmed events are delivered by the next run`, async (t) => {
    const db = await itemsDatabase();
    databases.push(db);
    const hook = new WebhookServer();
    const url = await hook.start();
    t.after(() => hook.stop());
    hook.reply = () => ({ status: 500, body: 'down' });
    const config = await installedConfig(db, [webhookSink('hook', url, { max_in_flight: 2, batch: { max_events: 5 } })], {
      delivery: 'notify',
      shutdown_timeout_ms: SHUTDOWN_MS,
      ...(spill ? { notify: { memory_limit_events: memoryLimit } } : {}),
    });

    const first = new RunningBridge(config);
    await first.ready();
    await insertItems(db, 1, ROWS, 1);
    await waitFor(() => hook.requests.length >= 4, 10_000, 'the webhook refusing');
    const stoppedAt = Date.now();
    assert.equal(await first.kill('SIGTERM'), 0);
    const took = Date.now() - stoppedAt;
    assert.ok(took < SHUTDOWN_MS + 1500, `stopped in ${took} ms`);
    assert.equal(logsWith(first, 'the next run delivers them').length, 1, first.logLines.join('\n'));
    assert.equal(hook.accepted().length, 0);

    hook.reply = () => ({ status: 204 });
    const second = new RunningBridge(config);
    t.after(() => second.kill('SIGTERM'));
    await second.ready();
    const ids = (): Set<number> => new Set(hook.delivered().map((e) => (e as { data: { id: number } }).data.id));
    await waitFor(() => ids().size === ROWS, 20_000, `${ROWS} rows at the webhook (have ${ids().size})`);
    assert.deepEqual(
      [...ids()].sort((a, b) => a - b),
      Array.from({ length: ROWS }, (_, i) => i + 1),
    );
  });
}
