/**
 * `where` and `changed` in wal mode give the events outbox mode gives: the
 * same statements run in both modes, on the same tables (a partitioned one
 * included, rows moving between its partitions), and what arrived at the
 * stdout sink compared event for event. Both ways of filtering are covered:
 * the publication's row filter (no UPDATE published, a filter a publication
 * accepts) and the bridge's own (UPDATE published; an enum in the filter).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { dropSlots, slotName, streaming } from '../support/wal.js';

interface Line {
  table: string;
  op: string;
  data: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  txid: string;
}

const TABLES = `
  CREATE TYPE mood AS ENUM ('happy', 'sad');
  CREATE TABLE events (id int PRIMARY KEY, kind text, n int);
  CREATE TABLE tagged (id int PRIMARY KEY, mood mood);
  CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount numeric, note text);
  CREATE TABLE parts (id int PRIMARY KEY, kind text, big boolean GENERATED ALWAYS AS (id >= 1000) STORED) PARTITION BY RANGE (id);
  CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (1000);
  CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (1000) TO (2000);
  CREATE TABLE marks (n int PRIMARY KEY);`;

interface Case {
  readonly name: string;
  readonly capture: object[];
  readonly statements: readonly string[];
  /** pg_publication_tables.rowfilter per captured table in wal mode (null: filtered by the bridge, or no filter). */
  readonly rowFilters: Record<string, string | null>;
  /** What outbox mode must send (table op id), so that two equally wrong modes cannot pass. */
  readonly expected: readonly string[];
}

const MARKS = { table: 'marks', ops: ['insert'] };

const cases: Case[] = [
  {
    name: 'no UPDATE published: row filters in the publication, except one a publication refuses (an enum)',
    capture: [
      { table: 'events', ops: ['insert', 'delete'], where: "kind <> 'noise'" },
      { table: 'tagged', ops: ['insert', 'delete'], where: "mood <> 'sad'" },
      { table: 'parts', ops: ['insert', 'delete'], where: "kind = 'x'" },
      MARKS,
    ],
    statements: [
      `INSERT INTO events VALUES (1, 'a', 1), (2, 'noise', 2), (3, 'b', 3)`,
      `UPDATE events SET kind = 'noise' WHERE id = 1`,
      `DELETE FROM events WHERE id IN (1, 2, 3)`,
      `INSERT INTO tagged VALUES (1, 'happy'), (2, 'sad'), (3, NULL)`,
      `DELETE FROM tagged`,
      `INSERT INTO parts (id, kind) VALUES (1, 'x'), (2, 'y'), (1001, 'x')`,
      `UPDATE parts SET id = id + 1500 WHERE id = 1`,
      `DELETE FROM parts_2 WHERE id = 1001`,
      `BEGIN; INSERT INTO events VALUES (10, 'c', 1); INSERT INTO parts (id, kind) VALUES (10, 'x'), (11, 'y'); DELETE FROM parts; COMMIT`,
    ],
    rowFilters: { events: "(kind <> 'noise'::text)", tagged: null, parts: "(kind = 'x'::text)", marks: null },
    expected: [
      'events INSERT 1',
      'events INSERT 3',
      'events DELETE 3',
      'tagged INSERT 1',
      'tagged DELETE 1',
      'parts INSERT 1',
      'parts INSERT 1001',
      'parts DELETE 1',
      'parts INSERT 1501',
      'parts DELETE 1001',
      'events INSERT 10',
      'parts INSERT 10',
      'parts DELETE 10',
      'parts DELETE 1501',
    ],
  },
  {
    name: 'UPDATE published: every filter applied by the bridge (UPDATE into and out of the filter, changed, a generated column)',
    capture: [
      { table: 'orders', ops: ['insert', 'update', 'delete', 'truncate'], where: "status <> 'draft'", changed: ['status', 'amount'] },
      { table: 'events', ops: ['insert', 'delete'], where: "kind <> 'noise'" },
      { table: 'parts', ops: ['insert', 'update', 'delete'], where: "kind = 'x' OR big" },
      MARKS,
    ],
    statements: [
      `INSERT INTO orders VALUES (1, 'draft', 10, null), (2, 'new', 20, null), (3, 'draft', 30, null)`,
      `UPDATE orders SET amount = 11 WHERE id = 1`,
      `UPDATE orders SET status = 'new' WHERE id = 3`,
      `DELETE FROM orders WHERE id = 1`,
      `INSERT INTO orders VALUES (10, 'new', 1, null)`,
      `UPDATE orders SET status = 'draft' WHERE id = 10`,
      `DELETE FROM orders WHERE id = 10`,
      `INSERT INTO orders VALUES (20, 'new', 5, 'a')`,
      `UPDATE orders SET note = 'b' WHERE id = 20`,
      `UPDATE orders SET status = status, amount = amount WHERE id = 20`,
      `UPDATE orders SET amount = NULL WHERE id = 20`,
      `UPDATE orders SET status = 'paid' WHERE id = 20`,
      `INSERT INTO events VALUES (1, 'a', 1), (2, 'noise', 2)`,
      `UPDATE events SET kind = 'noise' WHERE id = 1`,
      `DELETE FROM events`,
      `INSERT INTO parts (id, kind) VALUES (1, 'x'), (2, 'y'), (3, 'y')`,
      `UPDATE parts SET kind = 'y' WHERE id = 1`,
      `UPDATE parts SET kind = 'x' WHERE id = 2`,
      `UPDATE parts SET id = id + 1000 WHERE id = 3`,
      `DELETE FROM parts`,
      `TRUNCATE orders`,
    ],
    rowFilters: { orders: null, events: null, parts: null, marks: null },
    expected: [
      'orders INSERT 2',
      'orders UPDATE 3',
      'orders INSERT 10',
      'orders INSERT 20',
      'orders UPDATE 20',
      'orders UPDATE 20',
      'events INSERT 1',
      'parts INSERT 1',
      'parts UPDATE 2',
      'parts INSERT 1003',
      'parts DELETE 2',
      'parts DELETE 1003',
      'orders TRUNCATE undefined',
    ],
  },
];

/** Runs `statements` against a fresh database in `mode`; the events that arrived, txids replaced by their order of first appearance. */
async function eventsIn(mode: 'outbox' | 'wal', c: Case): Promise<{ lines: object[]; rowFilters: Record<string, string | null> }> {
  const db: TestDatabase = await createTestDatabase(`pgbridge_walflt`);
  let bridge: RunningBridge | undefined;
  try {
    await db.query(TABLES);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: mode,
      wal: { slot: slotName(db) },
      capture: c.capture,
      sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
      http: { port: 0 },
    });
    const installed = await cli(['install', '-c', file]);
    assert.equal(installed.code, 0, installed.stderr);
    bridge = new RunningBridge(file);
    if (mode === 'wal') await streaming(bridge);
    else await bridge.ready();
    for (const sql of c.statements) await db.query(sql);
    await db.query(`INSERT INTO marks VALUES (1)`);
    const parsed = () => bridge!.stdoutEvents<Line>();
    await waitFor(() => parsed().some((l) => l.table === 'marks'), 30_000, `the marker (${mode})`);
    const txids = new Map<string, number>();
    const lines = parsed()
      .filter((l) => l.table !== 'marks')
      .map((l) => {
        if (!txids.has(l.txid)) txids.set(l.txid, txids.size + 1);
        return { table: l.table, op: l.op, data: l.data, old: l.old, tx: txids.get(l.txid) };
      });
    const { rows } = await db.query<{ tablename: string; rowfilter: string | null }>(
      `SELECT tablename, rowfilter FROM pg_publication_tables WHERE pubname = 'pgbridge_default' ORDER BY 1`,
    );
    return { lines, rowFilters: Object.fromEntries(rows.map((r) => [r.tablename, r.rowfilter])) };
  } finally {
    await bridge?.kill('SIGKILL');
    await dropSlots(db);
    await db.drop();
  }
}

describe('wal mode: where and changed give the events of outbox mode', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const outbox = await eventsIn('outbox', c);
      const wal = await eventsIn('wal', c);
      const summary = (lines: object[]) => lines.map((l) => `${(l as Line).table} ${(l as Line).op} ${String((l as Line).data?.id)}`);
      assert.deepEqual(summary(outbox.lines), c.expected, 'outbox mode sends what the contract says');
      assert.deepEqual(wal.lines, outbox.lines, 'wal mode sends the same events, in the same transactions');
      assert.deepEqual(wal.rowFilters, c.rowFilters, "the publication's row filters");
    });
  }
});

describe('wal mode: a `where` Postgres cannot evaluate does not stop the stream', () => {
  /** Starts a wal bridge on `db` capturing `events` with `where`, installs it and waits until it streams. */
  const start = async (db: TestDatabase, where: string, install = true): Promise<{ bridge: RunningBridge; file: string }> => {
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'wal',
      wal: { slot: slotName(db) },
      capture: [{ table: 'events', where }, MARKS],
      sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
      http: { port: 0 },
    });
    if (install) {
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
    }
    const bridge = new RunningBridge(file);
    await streaming(bridge);
    return { bridge, file };
  };
  const arrivedIds = async (bridge: RunningBridge, db: TestDatabase): Promise<number[]> => {
    await db.query(`INSERT INTO marks VALUES (1)`);
    const parsed = () => bridge.stdoutEvents<Line>();
    await waitFor(() => parsed().some((l) => l.table === 'marks'), 30_000, 'the marker after the rows');
    return parsed()
      .filter((l) => l.table === 'events')
      .map((l) => Number(l.data?.id));
  };

  test('a row the condition fails for (division by zero) is delivered with a warning; the rows after it are filtered', async () => {
    const db = await createTestDatabase('pgbridge_walflt');
    let bridge: RunningBridge | undefined;
    try {
      await db.query(TABLES);
      ({ bridge } = await start(db, '100 / n > 0'));
      await db.query(`INSERT INTO events VALUES (1, 'a', 1), (2, 'b', 0), (3, 'c', -1), (4, 'd', 4)`);
      assert.deepEqual(await arrivedIds(bridge, db), [1, 2, 4]);
      const warning = bridge.logs().find((e) => typeof e.msg === 'string' && e.msg.includes('failed for a row'));
      assert.ok(warning, 'no warning about the row');
      assert.match(String(warning.err), /division by zero/);
      assert.equal(warning.table, 'public.events');
    } finally {
      await bridge?.kill('SIGKILL');
      await dropSlots(db);
      await db.drop();
    }
  });

  test('rows written before the column the condition names was added: delivered unfiltered, later rows filtered', async () => {
    const db = await createTestDatabase('pgbridge_walflt');
    let bridge: RunningBridge | undefined;
    try {
      await db.query(TABLES);
      // The slot exists before the rows: installed with a condition on what the table has now, not started.
      const first = writeConfig({
        postgres: { url: db.url },
        delivery: 'wal',
        wal: { slot: slotName(db) },
        capture: [{ table: 'events', ops: ['insert', 'update', 'delete'] }, MARKS],
        sinks: [{ name: 'out', type: 'stdout' }],
      });
      assert.equal((await cli(['install', '-c', first])).code, 0);
      await db.query(`INSERT INTO events VALUES (1, 'a', 1), (2, 'b', 2)`);
      await db.query(`ALTER TABLE events ADD COLUMN region text`);
      await db.query(`INSERT INTO events VALUES (3, 'c', 3, 'eu'), (4, 'd', 4, 'us')`);
      ({ bridge } = await start(db, "region = 'eu'"));
      assert.deepEqual(await arrivedIds(bridge, db), [1, 2, 3]);
      const warning = bridge.logs().find((e) => typeof e.msg === 'string' && e.msg.includes('cannot be compiled against this shape'));
      assert.ok(warning, 'no warning about the older shape');
      assert.match(String(warning.err), /region/);
    } finally {
      await bridge?.kill('SIGKILL');
      await dropSlots(db);
      await db.drop();
    }
  });
});
