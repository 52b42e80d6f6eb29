/**
 * Notify mode keeps each row's events in commit order at every sink
 * (CONTRACT.md §4) when some of them are over NOTIFY's 8000-byte limit: those
 * travel through the outbox table, the small ones in their NOTIFY payloads,
 * and a small event must not overtake an over-limit one of its row. Checked on
 * what arrived, per row, at a webhook and on stdout.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface Arrived {
  readonly id: string;
  readonly op: string;
  readonly data: { id: number; t: string };
}

let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let file: string;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE nb (id int PRIMARY KEY, t text)');
  hook = new WebhookServer();
  const url = await hook.start();
  file = writeConfig({
    postgres: { url: db.url },
    delivery: 'notify',
    capture: [{ table: 'public.nb' }],
    sinks: [
      { name: 'out', type: 'stdout' },
      { name: 'hook', type: 'webhook', url, max_in_flight: 4, retry: { initial_ms: 50, max_ms: 500 } },
    ],
    http: { port: 0 },
  });
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
  bridge = new RunningBridge(file);
  await bridge.ready();
});

after(async () => {
  await bridge?.stop();
  await hook?.stop();
  await db?.drop();
});

/** An event as the tests compare it: its op and its `t`, a long one shortened to its first letter and length. */
const label = (e: Arrived): string => `${e.op} ${e.data.t.length > 20 ? `${e.data.t[0]}×${e.data.t.length}` : e.data.t}`;

/** Per row id, the labels of the events a sink received, in order of first arrival (a redelivery is not a reordering). */
function byRow(events: readonly Arrived[]): Map<number, string[]> {
  const seen = new Set<string>();
  const rows = new Map<number, string[]>();
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    rows.set(e.data.id, [...(rows.get(e.data.id) ?? []), label(e)]);
  }
  return rows;
}

const atWebhook = (): Arrived[] => hook.delivered() as Arrived[];
const onStdout = (): Arrived[] => bridge.stdoutEvents<Arrived>();

/**
 * Waits until both sinks have every expected event of `rows` (`atWebhookOnly`: the webhook's
 * expectations, where they differ), then checks each row's order at each.
 */
async function assertArrivedInOrder(
  expected: ReadonlyMap<number, readonly string[]>,
  atWebhookOnly: ReadonlyMap<number, readonly string[]> = expected,
): Promise<void> {
  const count = (rows: ReadonlyMap<number, readonly string[]>) => [...rows.values()].reduce((n, labels) => n + labels.length, 0);
  const mine = (events: Arrived[]) => events.filter((e) => expected.has(e.data.id));
  const complete = (events: Arrived[], rows: ReadonlyMap<number, readonly string[]>) => new Set(mine(events).map((e) => e.id)).size >= count(rows);
  await showingLogOnFailure(
    bridge,
    waitFor(() => complete(atWebhook(), atWebhookOnly) && complete(onStdout(), expected), 30_000, 'the events at the webhook and on stdout'),
  );
  for (const [sink, events, rows] of [
    ['webhook', atWebhook(), atWebhookOnly],
    ['stdout', onStdout(), expected],
  ] as const) {
    const got = byRow(mine(events));
    for (const [row, labels] of rows) assert.deepEqual(got.get(row), labels, `row ${row} at ${sink}, in commit order`);
  }
}

test('a small DELETE does not overtake the over-limit UPDATEs of its row (each statement its own transaction)', async () => {
  const expected = new Map<number, string[]>();
  for (let row = 1; row <= 10; row++) {
    await db.query(`INSERT INTO nb VALUES ($1, 'small')`, [row]);
    await db.query(`UPDATE nb SET t = repeat('B', 9000) WHERE id = $1`, [row]);
    // Over the limit too: its `old` is the big row.
    await db.query(`UPDATE nb SET t = 'small2' WHERE id = $1`, [row]);
    await db.query(`DELETE FROM nb WHERE id = $1`, [row]);
    expected.set(row, ['INSERT small', 'UPDATE B×9000', 'UPDATE small2', 'DELETE small2']);
  }
  await assertArrivedInOrder(expected);
});

test('rows holding 9000 characters: their small second UPDATEs arrive after the over-limit first ones', async () => {
  const expected = new Map<number, string[]>();
  for (let round = 0; round < 5; round++) {
    const from = 101 + round * 3;
    const to = from + 2;
    await db.query(`INSERT INTO nb SELECT g, repeat('x', 9000) FROM generate_series($1::int, $2::int) g`, [from, to]);
    await db.query(`UPDATE nb SET t = 'small' WHERE id BETWEEN $1 AND $2`, [from, to]);
    await db.query(`UPDATE nb SET t = 'small2' WHERE id BETWEEN $1 AND $2`, [from, to]);
    for (let row = from; row <= to; row++) expected.set(row, ['INSERT x×9000', 'UPDATE small', 'UPDATE small2']);
  }
  await assertArrivedInOrder(expected);
});

test("a backfill's over-limit READs for one sink (--sink): that sink gets each row's later UPDATE after its READ", async () => {
  await db.query(`INSERT INTO nb SELECT g, repeat('R', 9000) FROM generate_series(201, 203) g`);
  const backfill = await cli(['backfill', '-c', file, 'public.nb', '--where', 'id BETWEEN 201 AND 203', '--sink', 'hook']);
  assert.equal(backfill.code, 0, backfill.stderr);
  await db.query(`UPDATE nb SET t = 'small' WHERE id BETWEEN 201 AND 203`);
  const rows = [201, 202, 203];
  await assertArrivedInOrder(
    new Map(rows.map((row) => [row, ['INSERT R×9000', 'UPDATE small']])),
    new Map(rows.map((row) => [row, ['INSERT R×9000', 'READ R×9000', 'UPDATE small']])),
  );
});

test("a kept row that comes without a notice (an earlier version's trigger sends an empty wake-up) is still delivered", async () => {
  await db.query(
    `INSERT INTO pgbridge.outbox (schema_name, table_name, op, key, data) VALUES ('public', 'nb', 'I', '{"id":301}', json_build_object('id', 301, 't', repeat('W', 9000)))`,
  );
  await db.query(`SELECT pg_notify('pgbridge', '')`);
  await assertArrivedInOrder(new Map([[301, ['INSERT W×9000']]]));
  await waitFor(
    async () => (await db.query(`SELECT 1 FROM pgbridge.outbox WHERE key::text = '{"id":301}'`)).rowCount === 0,
    10_000,
    'the row gone from the outbox',
  );
});

test('a kept row committed while no bridge was listening is delivered by the next one once it listens', async () => {
  assert.equal(await bridge.stop(), 0);
  await db.query(`INSERT INTO nb VALUES (401, repeat('Z', 9000))`);
  bridge = new RunningBridge(file);
  await bridge.ready();
  await assertArrivedInOrder(new Map([[401, ['INSERT Z×9000']]]));
  assert.ok(
    bridge.logs().some((e) => typeof e.msg === 'string' && e.msg.includes('came without a notice')),
    'the log says it came without its notice',
  );
});
