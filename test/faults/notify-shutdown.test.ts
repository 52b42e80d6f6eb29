/**
 * Notify mode stopping while Postgres is down (CONTRACT.md §4 and §5): events
 * past notify.memory_limit_events wait for the outbox table, which Postgres no
 * longer takes. The bridge must still exit 0 within shutdown_timeout_ms, and the
 * events it had received, in memory or waiting to be kept in the table, reach
 * the sink: they exist nowhere else. This test stops the shared Postgres: run
 * it under the heavy lock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';
import { installedConfig, itemsDatabase, logsWith, startBridge, webhookSink } from '../integration/outbox-harness.js';
import { ensurePostgresRunning, stopPostgres } from './postgres-server.js';

const LIMIT = 100;
const ROWS = 300;
const GRACE_MS = 5000;

let db: TestDatabase;

before(async () => {
  db = await itemsDatabase();
});

after(async () => {
  await ensurePostgresRunning();
  await db.drop();
});

const captured = async (port: number): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^pgbridge_events_captured_total\{source="notify"\} (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
};

test(
  'Postgres down while spilled events wait for the table: exit 0 within the grace, every received event delivered',
  { timeout: 180_000 },
  async (t) => {
    const hook = new WebhookServer();
    await hook.start();
    t.after(() => hook.stop());
    let up = false;
    hook.reply = () => (up ? { status: 204 } : { status: 503 });
    const port = await freePort();
    const config = await installedConfig(db, [webhookSink('hook', hook.url)], {
      delivery: 'notify',
      notify: { memory_limit_events: LIMIT },
      shutdown_timeout_ms: GRACE_MS,
      http: { port, host: '127.0.0.1' },
    });
    // The outbox refuses spilled events (those for one sink) until Postgres goes down: they stay with the spill writer.
    await db.query(`CREATE FUNCTION public.refuse_spill() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test: the outbox takes no spilled events'; END $$`);
    await db.query(`CREATE TRIGGER refuse_spill BEFORE INSERT ON pgbridge.outbox FOR EACH ROW
    WHEN (NEW.target_sink IS NOT NULL) EXECUTE FUNCTION public.refuse_spill()`);
    const bridge = startBridge(t, config);
    await bridge.ready(60_000);

    // The sink fails first (a second attempt means the first one failed): past the limit its events spill rather than wait.
    await db.query('INSERT INTO public.items (id) VALUES (1)');
    await waitFor(() => hook.requests.length >= 2, 30_000, 'a retried delivery');
    await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series(2, $1::int) g', [ROWS]);
    await waitFor(async () => (await captured(port)) === ROWS, 30_000, `the bridge to receive all ${ROWS} events`);
    await waitFor(() => logsWith(bridge, 'keeping events in the outbox table failed').length > 0, 30_000, 'a failed spill write');
    assert.equal(hook.tally.unique, 0, 'the sink took nothing yet');

    up = true;
    await stopPostgres();
    const code = await bridge.stop(GRACE_MS + 15_000);
    const handedOver = logsWith(bridge, 'delivering them from memory');

    t.diagnostic(
      `received ${ROWS}, delivered ${hook.tally.unique}, duplicates ${hook.tally.duplicates}, exit ${code}, ` +
        `handed over from the spill ${JSON.stringify(handedOver[0]?.events ?? null)}`,
    );
    assert.equal(code, 0, 'exits by itself, with 0 (not killed, not the hard-stop exit 1)');
    const delivered = new Set(hook.tally.accepted.map((e) => e.rowId));
    const missing = Array.from({ length: ROWS }, (_, i) => i + 1).filter((id) => !delivered.has(id));
    assert.deepEqual(missing, [], 'every event the bridge received');
    assert.equal(handedOver.length, 1, 'the log says which events were delivered from memory instead of the table');
  },
);
