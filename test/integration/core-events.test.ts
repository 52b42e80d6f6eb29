/**
 * The pgbridge event format end to end, in both delivery modes: the old row on
 * UPDATE and DELETE, unique string ids, one event per row even for identical
 * rows, nothing for a rolled-back transaction, and commit order kept for one
 * row while several requests are in flight.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig, installAndRun } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface RowEvent {
  id: string;
  schema: string;
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  data: Record<string, unknown>;
  old: Record<string, unknown> | null;
  txid: string;
  ts: string;
}

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/;

for (const delivery of ['outbox', 'notify'] as const) {
  describe(`pgbridge format (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;

    const events = (table: string): RowEvent[] => server.requests.map((r) => JSON.parse(r.body) as RowEvent).filter((e) => e.table === table);

    async function arrived(table: string, count: number, timeoutMs = 10_000): Promise<RowEvent[]> {
      await waitFor(() => events(table).length >= count, timeoutMs, `${count} ${table} events`);
      await new Promise((r) => setTimeout(r, 200));
      return events(table);
    }

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query(`CREATE TABLE orders (id int PRIMARY KEY, status text, amount numeric)`);
      await db.query(`CREATE TABLE tags (label text, n int)`); // no primary key: identical rows are possible
      await db.query(`CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)`);
      await db.query(`CREATE TABLE markers (id serial PRIMARY KEY, note text)`);
      const file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: [{ table: 'orders' }, { table: 'tags' }, { table: 'counters' }, { table: 'markers' }],
        sinks: [{ name: 'hook', type: 'webhook', url, max_in_flight: 8, retry: { initial_ms: 50, max_ms: 500 } }],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await server?.stop();
      await db?.drop();
    });

    test('INSERT, UPDATE, DELETE: data is the new row (old row for DELETE), old is the old row', async () => {
      await db.query(`INSERT INTO orders VALUES (1, 'new', 10.50)`);
      await db.query(`UPDATE orders SET status = 'paid' WHERE id = 1`);
      await db.query(`DELETE FROM orders WHERE id = 1`);
      const got = await arrived('orders', 3);
      assert.deepEqual(
        got.map(({ schema, table, op, data, old }) => ({ schema, table, op, data, old })),
        [
          { schema: 'public', table: 'orders', op: 'INSERT', data: { id: 1, status: 'new', amount: 10.5 }, old: null },
          {
            schema: 'public',
            table: 'orders',
            op: 'UPDATE',
            data: { id: 1, status: 'paid', amount: 10.5 },
            old: { id: 1, status: 'new', amount: 10.5 },
          },
          {
            schema: 'public',
            table: 'orders',
            op: 'DELETE',
            data: { id: 1, status: 'paid', amount: 10.5 },
            old: { id: 1, status: 'paid', amount: 10.5 },
          },
        ],
      );
      // Raw text: numeric keeps its scale, keys in the contract's order.
      const body = server.requests.find((r) => r.body.includes('"op":"INSERT"') && r.body.includes('"table":"orders"'))!.body;
      assert.match(
        body,
        /^\{"id":"[^"]+","schema":"public","table":"orders","op":"INSERT","data":\{"id":1,"status":"new","amount":10\.50\},"old":null,"txid":"\d+","ts":"[^"]+"\}$/,
      );
      for (const e of got) {
        assert.equal(typeof e.id, 'string');
        assert.equal(typeof e.txid, 'string');
        assert.match(e.txid, /^\d+$/);
        assert.match(e.ts, TS);
        assert.ok(Math.abs(Date.parse(e.ts) - Date.now()) < 60_000, `ts ${e.ts} is now`);
      }
      assert.equal(new Set(got.map((e) => e.txid)).size, 3, 'three transactions, three txids');
    });

    test('two identical rows inserted in one transaction are two events with two ids', async () => {
      await db.query(`INSERT INTO tags VALUES ('same', 1), ('same', 1)`);
      const got = await arrived('tags', 2);
      assert.equal(got.length, 2);
      assert.deepEqual(
        got.map((e) => e.data),
        [
          { label: 'same', n: 1 },
          { label: 'same', n: 1 },
        ],
      );
      assert.notEqual(got[0].id, got[1].id);
      assert.equal(got[0].txid, got[1].txid, 'one transaction');
    });

    test('a rolled-back transaction sends nothing', async () => {
      await db.query(`DO $$ BEGIN
        INSERT INTO markers (note) VALUES ('rolled back');
        RAISE EXCEPTION 'undo';
      EXCEPTION WHEN raise_exception THEN NULL; END $$`);
      // A whole transaction rolled back too, not only a subtransaction (one simple-protocol query: one connection).
      await db.query(`BEGIN; INSERT INTO markers (note) VALUES ('rolled back'); ROLLBACK;`);
      await db.query(`INSERT INTO markers (note) VALUES ('committed')`);
      const got = await arrived('markers', 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        events('markers').map((e) => e.data.note),
        ['committed'],
      );
      assert.equal(got.length, 1);
    });

    test('ids are unique strings across every event', () => {
      const ids = server.requests.map((r) => (JSON.parse(r.body) as RowEvent).id);
      assert.ok(ids.length >= 6);
      for (const id of ids) assert.equal(typeof id, 'string');
      assert.equal(new Set(ids).size, ids.length);
    });

    test('many updates of one row arrive in commit order (max_in_flight 8)', async () => {
      const updates = 60;
      await db.query(`INSERT INTO counters SELECT g, 0 FROM generate_series(1, 4) g`);
      // Interleave four rows so the lanes are busy in parallel; each row's own sequence must stay ordered.
      for (let i = 1; i <= updates; i++) await db.query(`UPDATE counters SET n = n + 1 WHERE id = $1`, [(i % 4) + 1]);
      const got = await arrived('counters', 4 + updates, 20_000);
      for (let row = 1; row <= 4; row++) {
        const seen = got.filter((e) => e.op === 'UPDATE' && e.data.id === row).map((e) => e.data.n);
        assert.deepEqual(
          seen,
          Array.from({ length: updates / 4 }, (_, i) => i + 1),
          `row ${row} in order`,
        );
        const olds = got.filter((e) => e.op === 'UPDATE' && e.data.id === row).map((e) => e.old!.n);
        assert.deepEqual(
          olds,
          Array.from({ length: updates / 4 }, (_, i) => i),
        );
      }
    });
  });
}
