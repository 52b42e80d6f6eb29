/**
 * Awkward rows and awkward names, end to end in both delivery modes: a 1 MB
 * row (far over NOTIFY's 8000 bytes), numbers JavaScript cannot hold, unicode
 * and control characters, every common column type, a table named
 * "Sales"."Order Items", table names built to break quoting, and a table
 * without a primary key. Values are compared with Postgres' own rendering.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig, installAndRun } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

interface RowEvent {
  id: string;
  schema: string;
  table: string;
  op: string;
  data: Record<string, unknown>;
  old: Record<string, unknown> | null;
}

const INJECTION = 'x"; drop table y; --';
const LITERAL_INJECTION = "it's'); drop table y; --";
const ONE_MB = 1024 * 1024;
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

for (const delivery of ['notify', 'outbox'] as const) {
  describe(`bad input (delivery: ${delivery})`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;

    const bodies = (schema: string, table: string): string[] =>
      server.requests
        .map((r) => r.body)
        .filter((body) => {
          const e = JSON.parse(body) as RowEvent;
          return e.schema === schema && e.table === table;
        });

    async function arrived(schema: string, table: string, count: number): Promise<string[]> {
      await waitFor(() => bodies(schema, table).length >= count, 15_000, `${count} events of ${schema}.${table}`);
      await new Promise((r) => setTimeout(r, 200));
      return bodies(schema, table);
    }

    /** The "data" member of a body as raw text, exactly as it travelled. */
    function rawData(body: string): string {
      const start = body.indexOf(',"data":') + ',"data":'.length;
      const end = body.lastIndexOf(',"old":');
      return body.slice(start, end);
    }

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query(`CREATE TABLE big (id int PRIMARY KEY, body text)`);
      await db.query(`CREATE TABLE edge (id int PRIMARY KEY, body text)`);
      await db.query(`CREATE TABLE nums (id bigint PRIMARY KEY, n numeric, d numeric, f float8)`);
      await db.query(`CREATE TABLE kinds (
        id int PRIMARY KEY, t text, nothing text, j json, jb jsonb, ints int[], texts text[], b bytea,
        tz timestamptz, ts timestamp, day date, u uuid, yes boolean, "odd ""column"" name" text)`);
      await db.query(`CREATE SCHEMA "Sales"`);
      await db.query(`CREATE TABLE "Sales"."Order Items" ("Item Id" int PRIMARY KEY, "Qty" int)`);
      await db.query(`CREATE TABLE y (id int)`);
      await db.query(`INSERT INTO y VALUES (42)`);
      await db.query(`CREATE TABLE "${INJECTION.replace(/"/g, '""')}" (id int PRIMARY KEY, "we""ird" text, other text)`);
      await db.query(`CREATE TABLE "${LITERAL_INJECTION}" (id int PRIMARY KEY, v text)`);
      await db.query(`CREATE TABLE nopk (a text, b int)`);
      await db.query(`CREATE TABLE parted (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`);
      await db.query(`CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu')`);
      await db.query(`CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us')`);
      // Column names equal to the aliases and variables a trigger body might use.
      const awkward = `r int, o int, e int, v int, p int, q int, key text, data text, old text, tx text, ts text, "NEW" text`;
      await db.query(`CREATE TABLE awkward (c int PRIMARY KEY, ${awkward})`);
      await db.query(`CREATE TABLE awkward_all (c int PRIMARY KEY, ${awkward})`);
      const file = writeConfig({
        postgres: { url: db.url },
        delivery,
        capture: [
          { table: 'big' },
          { table: 'edge' },
          { table: 'nums' },
          { table: 'kinds' },
          { table: delivery === 'notify' ? 'Sales."Order Items"' : 'Sales.Order Items' },
          { table: INJECTION, columns: ['id', 'we"ird'] },
          { table: `public.${LITERAL_INJECTION}` },
          { table: 'nopk' },
          { table: 'awkward', columns: { insert: '*', update: ['c', 'r', 'o', 'ts'], delete: ['c'] } },
          { table: 'awkward_all' },
          { table: 'parted' },
        ],
        sinks: [{ name: 'hook', type: 'webhook', url, retry: { initial_ms: 50, max_ms: 500 } }],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.kill('SIGTERM');
      await server?.stop();
      await db?.drop();
    });

    test('a 1 MB row arrives whole on INSERT and on UPDATE (data and old), and the statement does not fail', async () => {
      const body = randomBytes(ONE_MB / 2).toString('hex');
      const changed = body.slice(1) + 'z';
      await db.query(`INSERT INTO big VALUES (1, $1), (2, 'small')`, [body]);
      await db.query(`UPDATE big SET body = $1 WHERE id = 1`, [changed]);
      const got = (await arrived('public', 'big', 3)).map((b) => JSON.parse(b) as RowEvent);
      assert.equal(got.length, 3);
      const insert = got.find((e) => e.op === 'INSERT' && e.data.id === 1)!;
      assert.equal((insert.data.body as string).length, ONE_MB);
      assert.equal(sha(insert.data.body as string), sha(body));
      assert.deepEqual(got.find((e) => e.op === 'INSERT' && e.data.id === 2)?.data, { id: 2, body: 'small' });
      const update = got.find((e) => e.op === 'UPDATE')!;
      assert.equal(sha(update.data.body as string), sha(changed));
      assert.equal(sha(update.old!.body as string), sha(body));
    });

    test("events around NOTIFY's 8000-byte limit, byte by byte (ASCII and 3-byte characters), all arrive", async () => {
      // Payload sizes sweep across the limit whatever the header's exact size is.
      await db.query(`INSERT INTO edge SELECT g, repeat('x', g) FROM generate_series(7700, 8010) g`);
      await db.query(`INSERT INTO edge SELECT g, repeat('漢', g - 10000) FROM generate_series(12550, 12680) g`);
      const got = (await arrived('public', 'edge', 311 + 131)).map((b) => JSON.parse(b) as RowEvent);
      assert.equal(got.length, 442);
      for (const e of got) {
        const id = e.data.id as number;
        assert.equal(e.data.body, id < 10000 ? 'x'.repeat(id) : '漢'.repeat(id - 10000), `row ${id}`);
      }
    });

    test('bigint 9007199254740993 and a 30-digit numeric keep every digit', async () => {
      await db.query(`INSERT INTO nums VALUES (9007199254740993, 123456789012345678901234567890, 0.000000000000000000000000000001, 1.5e300)`);
      await db.query(`UPDATE nums SET n = n + 1 WHERE id = 9007199254740993`);
      const [insert, update] = await arrived('public', 'nums', 2);
      assert.equal(rawData(insert), '{"id":9007199254740993,"n":123456789012345678901234567890,"d":0.000000000000000000000000000001,"f":1.5e+300}');
      assert.match(update, /"data":\{"id":9007199254740993,"n":123456789012345678901234567891,/);
      assert.match(update, /"old":\{"id":9007199254740993,"n":123456789012345678901234567890,/);
    });

    test('unicode, control characters, NULLs, json/jsonb, arrays, bytea, timestamps: exactly as Postgres renders them', async () => {
      const text = 'emoji 😀🎉, CJK 漢字かなカナ한글, RTL שלום, "quotes" \\ back\nnew line\ttab \u0001 sep \u0007 bell';
      await db.query(
        `INSERT INTO kinds VALUES (1, $1, NULL, '{"a" : [1, 2.50, "x"], "big": 9007199254740993}', '{"b": {"c": null}, "a": 1}',
           '{1,NULL,3}', ARRAY['a b', 'c,d', '"e"', NULL, '☃'], '\\x00ff10'::bytea,
           '2026-11-21 10:00:00.123456+02', '2026-11-21 10:00:00.5', '2026-02-28', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, $2)`,
        [text, '😀'],
      );
      const [body] = await arrived('public', 'kinds', 1);
      const { rows } = await db.query<{ json: string }>(`SELECT row_to_json(k)::text AS json FROM kinds k WHERE id = 1`);
      assert.equal(rawData(body), rows[0].json, 'the row as row_to_json renders it');
      const data = (JSON.parse(body) as RowEvent).data;
      assert.equal(data.t, text);
      assert.equal(data.nothing, null);
      assert.deepEqual(data.j, { a: [1, 2.5, 'x'], big: 9007199254740993 });
      assert.match(body, /"big": 9007199254740993\}/, 'json column: digits kept');
      assert.deepEqual(data.jb, { a: 1, b: { c: null } });
      assert.deepEqual(data.ints, [1, null, 3]);
      assert.deepEqual(data.texts, ['a b', 'c,d', '"e"', null, '☃']);
      assert.equal(data.b, '\\x00ff10');
      assert.equal(Date.parse(data.tz as string), Date.parse('2026-11-21T08:00:00.123Z'));
      assert.equal(data.ts, '2026-11-21T10:00:00.5');
      assert.equal(data.day, '2026-02-28');
      assert.equal(data.yes, true);
      assert.equal(data['odd "column" name'], '😀');
    });

    test('table "Order Items" in schema "Sales"', async () => {
      await db.query(`INSERT INTO "Sales"."Order Items" VALUES (5, 2)`);
      await db.query(`UPDATE "Sales"."Order Items" SET "Qty" = 3`);
      await db.query(`DELETE FROM "Sales"."Order Items"`);
      const got = (await arrived('Sales', 'Order Items', 3)).map((b) => JSON.parse(b) as RowEvent);
      assert.deepEqual(
        got.map((e) => [e.op, e.data, e.old]),
        [
          ['INSERT', { 'Item Id': 5, Qty: 2 }, null],
          ['UPDATE', { 'Item Id': 5, Qty: 3 }, { 'Item Id': 5, Qty: 2 }],
          ['DELETE', { 'Item Id': 5, Qty: 3 }, { 'Item Id': 5, Qty: 3 }],
        ],
      );
    });

    test('table names made to break quoting work and inject nothing', async () => {
      await db.query(`INSERT INTO "${INJECTION.replace(/"/g, '""')}" VALUES (1, 'q"uote''s', 'left out')`);
      await db.query(`INSERT INTO "${LITERAL_INJECTION}" VALUES (1, 'v')`);
      const [first] = await arrived('public', INJECTION, 1);
      assert.equal(
        first.slice(first.indexOf('"schema"')),
        `"schema":"public","table":${JSON.stringify(INJECTION)},"op":"INSERT","data":{"id":1,"we\\"ird":"q\\"uote's"},"old":null,${first.slice(first.indexOf('"txid"'))}`,
      );
      const [second] = await arrived('public', LITERAL_INJECTION, 1);
      assert.deepEqual((JSON.parse(second) as RowEvent).data, { id: 1, v: 'v' });
      const { rows } = await db.query<{ id: number }>(`SELECT id FROM y`);
      assert.deepEqual(rows, [{ id: 42 }], 'table y is still there, untouched');
    });

    test('a table without a primary key: INSERT, UPDATE and DELETE with the old row', async () => {
      await db.query(`INSERT INTO nopk VALUES ('a', 1), ('a', 1)`);
      await db.query(`UPDATE nopk SET b = 2`);
      await db.query(`DELETE FROM nopk`);
      const got = (await arrived('public', 'nopk', 6)).map((b) => JSON.parse(b) as RowEvent);
      assert.deepEqual(
        got.map((e) => [e.op, e.data, e.old]),
        [
          ['INSERT', { a: 'a', b: 1 }, null],
          ['INSERT', { a: 'a', b: 1 }, null],
          ['UPDATE', { a: 'a', b: 2 }, { a: 'a', b: 1 }],
          ['UPDATE', { a: 'a', b: 2 }, { a: 'a', b: 1 }],
          ['DELETE', { a: 'a', b: 2 }, { a: 'a', b: 2 }],
          ['DELETE', { a: 'a', b: 2 }, { a: 'a', b: 2 }],
        ],
      );
      assert.equal(new Set(got.map((e) => e.id)).size, 6);
    });

    test('columns named like the aliases and variables of a trigger body (r, o, c, key, data, ts, …)', async () => {
      const row = `1, 2, 3, 4, 5, 6, 7, 'k', 'd', 'o', 'x', 't', 'N'`;
      const full = { c: 1, r: 2, o: 3, e: 4, v: 5, p: 6, q: 7, key: 'k', data: 'd', old: 'o', tx: 'x', ts: 't', NEW: 'N' };
      for (const table of ['awkward', 'awkward_all']) {
        await db.query(`INSERT INTO ${table} VALUES (${row})`);
        await db.query(`UPDATE ${table} SET r = 20, ts = 'u'`);
        await db.query(`DELETE FROM ${table}`);
      }
      const got = (await arrived('public', 'awkward', 3)).map((b) => JSON.parse(b) as RowEvent);
      assert.deepEqual(
        got.map((e) => [e.op, e.data, e.old]),
        [
          ['INSERT', full, null],
          ['UPDATE', { c: 1, r: 20, o: 3, ts: 'u' }, { c: 1, r: 2, o: 3, ts: 't' }],
          ['DELETE', { c: 1 }, { c: 1 }],
        ],
      );
      const all = (await arrived('public', 'awkward_all', 3)).map((b) => JSON.parse(b) as RowEvent);
      const changed = { ...full, r: 20, ts: 'u' };
      assert.deepEqual(
        all.map((e) => [e.op, e.data, e.old]),
        [
          ['INSERT', full, null],
          ['UPDATE', changed, full],
          ['DELETE', changed, changed],
        ],
      );
    });

    test('a partitioned table: rows written through the parent or a partition, and rows moved between partitions', async () => {
      await db.query(`INSERT INTO parted VALUES (1, 'eu')`);
      await db.query(`INSERT INTO parted_us VALUES (2, 'us')`);
      await db.query(`UPDATE parted_us SET id = 20 WHERE id = 2`);
      await db.query(`UPDATE parted SET region = 'us' WHERE id = 1`); // moves the row: a DELETE and an INSERT
      await db.query(`DELETE FROM parted_us WHERE id = 20`);
      const got = (await arrived('public', 'parted', 6)).map((b) => JSON.parse(b) as RowEvent);
      // Per primary key (id, region), in commit order; a key that changes starts a new row.
      const row = (id: number, region: string) =>
        got
          .filter((e) => (e.op === 'DELETE' ? e.old : e.data)?.id === id && (e.op === 'DELETE' ? e.old : e.data)?.region === region)
          .map((e) => [e.op, e.old]);
      assert.deepEqual(row(1, 'eu'), [
        ['INSERT', null],
        ['DELETE', { id: 1, region: 'eu' }],
      ]);
      assert.deepEqual(row(1, 'us'), [['INSERT', null]]);
      assert.deepEqual(row(2, 'us'), [['INSERT', null]]);
      assert.deepEqual(row(20, 'us'), [
        ['UPDATE', { id: 2, region: 'us' }],
        ['DELETE', { id: 20, region: 'us' }],
      ]);
      assert.equal(got.length, 6);
    });
  });
}
