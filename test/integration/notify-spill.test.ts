/**
 * Notify mode's bounded memory (CONTRACT.md §4, notify): a sink that is down
 * while 300,000 events arrive. Past notify.memory_limit_events the events for
 * it wait in the outbox table instead of memory; once it is back every one
 * arrives, in per-row order, none dead-lettered, the bridge's RSS bounded; and
 * once it caught up, new events take the memory path again.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { RunningBridge, waitFor } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { installedConfig, itemsDatabase } from './outbox-harness.js';

const INSERTED = 200_000;
/** Rows 1..UPDATED are updated twice after all the inserts: three events each, order checked. */
const UPDATED = 50_000;
const PER_STATEMENT = 1000;
const TOTAL = INSERTED + 2 * UPDATED;
const RSS_LIMIT_MB = 200;

let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let down = true;
let peakRssMb = 0;
let sampler: NodeJS.Timeout | undefined;

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};

const spilledRows = async (): Promise<number> =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.outbox WHERE target_sink = 'hook'`)).rows[0].n;
const deadLetters = async (): Promise<number> => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pgbridge.dead_letters')).rows[0].n;
const logged = (text: string): boolean => bridge.logs().some((e) => typeof e.msg === 'string' && e.msg.includes(text));

before(async () => {
  db = await itemsDatabase();
  hook = new WebhookServer();
  const url = await hook.start();
  hook.reply = () => (down ? { status: 503 } : { status: 204 });
  const config = await installedConfig(
    db,
    [
      {
        name: 'hook',
        type: 'webhook',
        url,
        timeout_ms: 5000,
        max_in_flight: 4,
        batch: { max_events: 500 },
        retry: { initial_ms: 100, max_ms: 1000 },
      },
    ],
    { delivery: 'notify' },
  );
  bridge = new RunningBridge(config);
  await bridge.ready(60_000);
  sampler = setInterval(() => {
    if (bridge.exitCode === null) peakRssMb = Math.max(peakRssMb, rssMb(bridge.pid));
  }, 100);
});

after(async () => {
  clearInterval(sampler);
  await bridge?.stop();
  await hook?.stop();
  await db?.drop();
});

test(
  'a sink down while 300,000 events arrive: past the memory limit they wait in the outbox; all arrive after, in row order, none dead',
  { timeout: 1_200_000 },
  async (t) => {
    for (let from = 1; from <= INSERTED; from += PER_STATEMENT) {
      await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::bigint, $2::bigint) g', [from, from + PER_STATEMENT - 1]);
    }
    for (const v of [1, 2]) {
      for (let from = 1; from <= UPDATED; from += PER_STATEMENT) {
        await db.query('UPDATE public.items SET v = $3 WHERE id BETWEEN $1 AND $2', [from, from + PER_STATEMENT - 1, v]);
      }
    }
    // Still down: most events wait in the table for this sink, not in memory.
    await waitFor(async () => (await spilledRows()) >= TOTAL - 20_000, 300_000, 'the events past the memory limit in the outbox table');
    const spilled = await spilledRows();
    assert.ok(logged('memory limit of events waiting for this sink reached'), 'the spill is logged');
    assert.equal(hook.tally.unique, 0, 'nothing accepted while the sink is down');
    const rssWhileDown = peakRssMb;

    down = false;
    await waitFor(() => hook.tally.unique >= TOTAL, 900_000, `all ${TOTAL} events at the webhook`);
    await waitFor(async () => (await spilledRows()) === 0, 60_000, 'the spilled rows removed once delivered');

    assert.equal(hook.tally.unique, TOTAL);
    assert.equal(await deadLetters(), 0, 'nothing dead-lettered for being many');
    const byRow = hook.tally.firstArrivalsByRow();
    assert.equal(byRow.size, INSERTED);
    const outOfOrder = [...byRow].filter(([id, vs]) => vs.join(',') !== (id <= UPDATED ? '0,1,2' : '0'));
    assert.deepEqual(outOfOrder.slice(0, 5), [], 'each row: its insert, then its updates, in order');
    t.diagnostic(
      `events ${TOTAL}, spilled to the outbox ${spilled}, delivered ${hook.tally.unique}, duplicates ${hook.tally.duplicates}, ` +
        `dead letters 0, peak RSS ${peakRssMb.toFixed(0)} MB (${rssWhileDown.toFixed(0)} MB while the sink was down)`,
    );
    assert.ok(peakRssMb > 0 && peakRssMb < RSS_LIMIT_MB, `peak RSS ${peakRssMb.toFixed(0)} MB`);
  },
);

test('once the sink caught up, new events take the memory path again', { timeout: 300_000 }, async (t) => {
  await waitFor(() => logged('back to memory'), 60_000, 'the spill ended');
  down = true;
  const before = hook.tally.unique;
  const requests = hook.requests.length;
  await db.query('INSERT INTO public.items (id) SELECT g FROM generate_series($1::bigint, $2::bigint) g', [INSERTED + 1, INSERTED + 100]);
  // Down again, but far below the limit: in memory, so nothing for this sink in the table.
  await waitFor(() => hook.requests.length > requests && hook.tally.unique === before, 30_000, 'a failed attempt');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(await spilledRows(), 0, 'nothing spilled below the limit');
  down = false;
  await waitFor(() => hook.tally.unique >= before + 100, 60_000, 'the 100 new events');
  const seen = new Set(hook.tally.accepted.map((e) => e.rowId));
  for (let id = INSERTED + 1; id <= INSERTED + 100; id++) assert.ok(seen.has(id), `row ${id} arrived`);
  t.diagnostic(`100 events while the sink was down again below the limit: 0 rows in the outbox, all 100 delivered`);
});
