/**
 * TRUNCATE capture and the `where` / `changed` filters, end to end in both
 * trigger modes, counted at the stdout sink: what a filter rejects never
 * arrives, what it keeps arrives as usual.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface Line {
  id: string;
  table: string;
  op: string;
  data: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
}

for (const delivery of ['outbox', 'notify'] as const) {
  describe(`capture filters and TRUNCATE (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let bridge: RunningBridge;
    let marker = 0;

    const lines = (): Line[] => bridge.stdoutEvents<Line>();

    let cursor = 0;

    /** Everything that arrived since the previous call, up to a marker row written now (one lane: nothing overtakes it). */
    async function sinceLastMark(): Promise<Line[]> {
      const n = ++marker;
      await db.query(`INSERT INTO marks VALUES ($1)`, [n]);
      await waitFor(() => lines().some((l) => l.table === 'marks' && l.data?.n === n), 15_000, `marker ${n}`);
      const all = lines();
      const got = all.slice(cursor).filter((l) => l.table !== 'marks');
      cursor = all.length;
      return got;
    }

    before(async () => {
      db = await createTestDatabase();
      await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, amount numeric, note text)`);
      await db.query(`CREATE TABLE a (id int PRIMARY KEY)`);
      await db.query(`CREATE TABLE b (id int PRIMARY KEY)`);
      await db.query(`CREATE TABLE parent (id int PRIMARY KEY)`);
      await db.query(`CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent)`);
      await db.query(`CREATE TABLE parts (id int PRIMARY KEY, kind text) PARTITION BY RANGE (id)`);
      await db.query(`CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (1000)`);
      await db.query(`CREATE TABLE marks (n int PRIMARY KEY)`);
      const file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: [
          { table: 'orders', ops: ['insert', 'update', 'delete', 'truncate'], where: "status <> 'draft'", changed: ['status', 'amount'] },
          { table: 'a', ops: ['insert', 'truncate'] },
          { table: 'b', ops: ['truncate'] },
          { table: 'child', ops: ['truncate'] },
          { table: 'parts', ops: ['insert', 'update', 'delete'], where: "kind = 'x'" },
          { table: 'marks', ops: ['insert'] },
        ],
        sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await db?.drop();
    });

    test('where: rows it rejects send nothing, on INSERT, UPDATE and DELETE', async () => {
      await db.query(`INSERT INTO orders VALUES (1, 'draft', 10, null), (2, 'new', 20, null), (3, 'draft', 30, null)`);
      await db.query(`UPDATE orders SET amount = 11 WHERE id = 1`); // still a draft
      await db.query(`UPDATE orders SET status = 'new' WHERE id = 3`); // into the filter: an UPDATE with the old row
      await db.query(`DELETE FROM orders WHERE id = 1`); // the old row was a draft
      const got = await sinceLastMark();
      assert.deepEqual(
        got.map((l) => [l.op, l.data?.id, l.old?.status ?? null]),
        [
          ['INSERT', 2, null],
          ['UPDATE', 3, 'draft'],
        ],
      );
    });

    test('where: an UPDATE that moves a row out of the filter sends nothing; its DELETE sends nothing either', async () => {
      await db.query(`INSERT INTO orders VALUES (10, 'new', 1, null)`);
      await db.query(`UPDATE orders SET status = 'draft' WHERE id = 10`);
      await db.query(`DELETE FROM orders WHERE id = 10`);
      const got = await sinceLastMark();
      assert.deepEqual(
        got.map((l) => [l.op, l.data?.id]),
        [['INSERT', 10]],
      );
    });

    test('changed: an UPDATE of other columns, or one changing nothing, sends nothing', async () => {
      await db.query(`INSERT INTO orders VALUES (20, 'new', 5, 'a')`);
      await db.query(`UPDATE orders SET note = 'b' WHERE id = 20`);
      await db.query(`UPDATE orders SET status = status, amount = amount WHERE id = 20`);
      await db.query(`UPDATE orders SET amount = NULL WHERE id = 20`); // NULL is a change (IS DISTINCT FROM)
      await db.query(`UPDATE orders SET status = 'paid' WHERE id = 20`);
      const got = await sinceLastMark();
      assert.deepEqual(
        got.map((l) => [l.op, l.data?.status, l.data?.amount]),
        [
          ['INSERT', 'new', 5],
          ['UPDATE', 'new', null],
          ['UPDATE', 'paid', null],
        ],
      );
    });

    test('where on a partitioned table (row triggers with WHEN)', async () => {
      await db.query(`INSERT INTO parts VALUES (1, 'x'), (2, 'y')`);
      await db.query(`UPDATE parts SET kind = 'y' WHERE id = 1`);
      await db.query(`DELETE FROM parts`);
      const got = await sinceLastMark();
      assert.deepEqual(
        got.map((l) => [l.op, l.data?.id]),
        [['INSERT', 1]],
      );
    });

    test('TRUNCATE of several tables in one statement: one event per captured table, data and old null', async () => {
      await db.query(`INSERT INTO a VALUES (1), (2)`);
      await db.query(`TRUNCATE a, b, orders`);
      const got = await sinceLastMark();
      const truncates = got.filter((l) => l.op === 'TRUNCATE');
      assert.deepEqual(truncates.map((l) => l.table).sort(), ['a', 'b', 'orders']);
      for (const t of truncates) {
        assert.equal(t.data, null);
        assert.equal(t.old, null);
      }
      assert.equal(got.filter((l) => l.table === 'a' && l.op === 'INSERT').length, 2);
    });

    test('TRUNCATE … CASCADE reaching a captured table', async () => {
      await db.query(`INSERT INTO parent VALUES (1)`);
      await db.query(`INSERT INTO child VALUES (1, 1)`);
      await db.query(`TRUNCATE parent CASCADE`);
      const got = await sinceLastMark();
      assert.deepEqual(
        got.map((l) => [l.table, l.op, l.data]),
        [['child', 'TRUNCATE', null]],
      );
    });
  });
}
