/**
 * wal mode, a sink failing long enough to spill: its earlier events wait in
 * its queue (memory), its later ones in the outbox table, and the slot stays
 * before the first one it has not confirmed. A restart (SIGTERM here, a crash
 * or a takeover alike) loses the queue; the slot streams those events again.
 * Each row's events must still reach that sink in commit order: the earlier
 * ones from the stream before the later ones kept in the table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';
import { endWalTest, slotName, streaming } from '../support/wal.js';

const ROWS = 300;
/** One INSERT and this many UPDATE rounds of every row: more events than a sink's queue holds (1000), so it spills. */
const ROUNDS = 4;
const EVENTS = ROWS * (ROUNDS + 1);

interface Event {
  readonly id: string;
  readonly data: { readonly id: number; readonly v: number };
}

let db: TestDatabase;
let file: string;
const bridges: RunningBridge[] = [];
const failing = new WebhookServer();
const working = new WebhookServer();

const start = async (): Promise<RunningBridge> => {
  const bridge = new RunningBridge(file);
  bridges.push(bridge);
  await streaming(bridge);
  return bridge;
};
const outboxRows = async (): Promise<number> => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.outbox`)).rows[0].n;

before(async () => {
  db = await createTestDatabase('pgbridge_walspill');
  await db.query(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`);
  failing.reply = () => ({ status: 503 });
  const [failingUrl, workingUrl] = await Promise.all([failing.start(), working.start()]);
  const retry = { initial_ms: 50, max_ms: 200 };
  file = writeConfig({
    postgres: { url: db.url },
    delivery: 'wal',
    wal: { slot: slotName(db), heartbeat_interval_ms: 500, status_interval_ms: 500 },
    capture: [{ table: 't' }],
    sinks: [
      { name: 'failing', type: 'webhook', url: failingUrl, retry },
      { name: 'working', type: 'webhook', url: workingUrl, retry },
    ],
    http: { port: 0 },
  });
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
});

after(async () => {
  await endWalTest(db, ...bridges);
  await Promise.all([failing.stop(), working.stop()]);
});

test("restarted while a failing sink spills: each row's events reach it in commit order, the first time each arrives", async () => {
  const first = await start();
  await db.query(`INSERT INTO t SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  for (let round = 1; round <= ROUNDS; round++) await db.query(`UPDATE t SET v = $1`, [round]);
  // The working sink has every event: the stream went past them all, the failing sink's later ones into the table.
  await showingLogOnFailure(
    first,
    waitFor(() => working.delivered().length >= EVENTS, 60_000, 'every event at the working sink'),
  );
  await showingLogOnFailure(
    first,
    waitFor(async () => (await outboxRows()) > 0, 30_000, 'the failing sink spilling'),
  );
  assert.equal(await first.stop(), 0);

  const second = await start();
  failing.reply = () => ({ status: 204 });
  const arrived = (): Event[] => failing.delivered() as Event[];
  await showingLogOnFailure(
    second,
    waitFor(() => new Set(arrived().map((e) => e.id)).size >= EVENTS, 60_000, 'every event at the once failing sink'),
  );
  // At-least-once: an event may come again; what counts is the order in which each first arrived.
  const seen = new Set<string>();
  const latest = new Map<number, number>();
  const overtaken: string[] = [];
  for (const e of arrived()) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const before = latest.get(e.data.id) ?? -1;
    if (e.data.v < before) overtaken.push(`row ${e.data.id}: v ${e.data.v} after v ${before}`);
    latest.set(e.data.id, Math.max(before, e.data.v));
  }
  assert.deepEqual(overtaken.slice(0, 5), [], `${overtaken.length} events arrived after a later one of their row`);
  assert.equal(new Set(arrived().map((e) => `${e.data.id}/${e.data.v}`)).size, EVENTS, 'every change of every row');
  await showingLogOnFailure(
    second,
    waitFor(async () => (await outboxRows()) === 0, 30_000, 'the outbox empty'),
  );
});
