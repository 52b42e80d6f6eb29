/**
 * Notify mode stopped (SIGTERM) while a sink keeps failing: what it did not
 * confirm within shutdown_timeout_ms existed only in memory. It is kept in the
 * outbox table for that sink, and the next run delivers it: nothing lost, the
 * exit still 0 and in time. With a spill in the table too (memory full, so the
 * rows' later UPDATEs went there), the kept INSERTs still come first per row.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RunningBridge, waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { installedConfig, insertItems, itemsDatabase, logsWith, webhookSink } from './outbox-harness.js';

const ROWS = 40;
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
    if (spill) await db.query('UPDATE public.items SET v = 1');
    await waitFor(() => hook.requests.length >= 4, 10_000, 'the webhook refusing');
    const stoppedAt = Date.now();
    assert.equal(await first.kill('SIGTERM'), 0);
    const took = Date.now() - stoppedAt;
    assert.ok(took < SHUTDOWN_MS + 1500, `stopped in ${took} ms`);
    const kept = logsWith(first, 'the next run delivers them');
    assert.equal(kept.length, 1, first.logLines.join('\n'));
    if (spill) assert.ok(Number(kept[0].spilled_rows_moved_behind_them) > 0, JSON.stringify(kept[0]));
    assert.equal(hook.accepted().length, 0);

    hook.reply = () => ({ status: 204 });
    const second = new RunningBridge(config);
    t.after(() => second.kill('SIGTERM'));
    await second.ready();
    // Each row's ops in arrival order, duplicates of a redelivery collapsed.
    const opsByRow = (): Map<number, string[]> => {
      const rows = new Map<number, string[]>();
      for (const e of hook.delivered() as Array<{ op: string; data: { id: number } }>) {
        const ops = rows.get(e.data.id) ?? [];
        if (ops.at(-1) !== e.op) ops.push(e.op);
        rows.set(e.data.id, ops);
      }
      return rows;
    };
    const expected = spill ? ['INSERT', 'UPDATE'] : ['INSERT'];
    const complete = (): number => [...opsByRow().values()].filter((ops) => ops.length >= expected.length).length;
    await waitFor(() => complete() === ROWS, 20_000, `${ROWS} rows' events at the webhook (have ${complete()})`);
    assert.deepEqual(
      [...opsByRow().keys()].sort((a, b) => a - b),
      Array.from({ length: ROWS }, (_, i) => i + 1),
    );
    for (const [id, ops] of opsByRow()) assert.deepEqual(ops, expected, `row ${id}`);
  });
}
