/**
 * A `where` Postgres rejects: install fails naming the table and quoting
 * Postgres, in one transaction (nothing at all installed, not even the tables
 * listed before the bad one); `check` reports a filter a migration broke.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { compileRowFilter } from '../../src/schema/row-filter.js';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { dropSlots, slotName } from '../support/wal.js';

describe('bad where filters', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    await db.query('CREATE TABLE good (id int PRIMARY KEY, status text)');
    await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text, amount numeric)');
  });
  after(async () => {
    if (db) await dropSlots(db);
    await db?.drop();
  });

  const config = (where: string, changed?: string[]) =>
    writeConfig({
      postgres: { url: db.url },
      capture: [
        { table: 'good', where: "status <> 'x'" },
        { table: 'orders', where, ...(changed ? { changed } : {}) },
      ],
      sinks: [{ name: 'out', type: 'stdout' }],
    });

  const installed = async () => {
    const { rows } = await db.query<{ schema: boolean; triggers: number }>(
      `SELECT to_regnamespace('pgbridge') IS NOT NULL AS schema, (SELECT count(*)::int FROM pg_trigger WHERE tgname LIKE 'pgbridge_%') AS triggers`,
    );
    return rows[0];
  };

  const cases: Array<[string, string, RegExp]> = [
    ['a missing column', 'nope > 1', /column "nope" does not exist/],
    ['a syntax error', "status = 'a' AND", /syntax error at or near/],
    ['a subquery', 'id IN (SELECT id FROM good)', /cannot use subquery in index predicate/],
    ['a volatile function', 'random() < 0.5', /functions in index predicate must be marked IMMUTABLE/],
    ['not a boolean', 'amount + 1', /argument of WHERE must be type boolean|must be type boolean/],
    ['SQL after the condition', 'true); DROP TABLE good; SELECT (true', /is not a valid row filter/],
    ['SQL after the condition that commits first', 'true); COMMIT; DROP TABLE good; SELECT (true', /is not a valid row filter/],
  ];
  for (const [what, where, message] of cases) {
    test(`${what}: install exits 1 naming the table and Postgres' message, nothing installed`, async () => {
      const run = await cli(['install', '-c', config(where)]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /where of public\.orders/);
      assert.match(run.stderr, message);
      assert.deepEqual(await installed(), { schema: false, triggers: 0 });
      assert.equal((await db.query("SELECT to_regclass('public.good') IS NOT NULL AS ok")).rows[0].ok, true);
      const sql = await cli(['sql', '-c', config(where)]);
      assert.equal(sql.code, 1);
    });
  }

  test('changed naming a missing column: install fails, nothing installed', async () => {
    const run = await cli(['install', '-c', config('true', ['status', 'nope'])]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /public\.orders has no column "nope" \(changed\)/);
    assert.deepEqual(await installed(), { schema: false, triggers: 0 });
  });

  test('the SQL installed is the condition as Postgres parsed it, qualified', async () => {
    const sql = await cli(['sql', '-c', config("status <> 'draft' AND amount > 10")]);
    assert.equal(sql.code, 0, sql.stderr);
    assert.match(
      sql.stdout,
      /AFTER UPDATE ON "public"."orders" FOR EACH ROW WHEN \(+NEW\.status <> 'draft'::text\) AND \(NEW\.amount > \(10\)::numeric\)+ EXECUTE/,
    );
    assert.match(sql.stdout, /FROM new_rows r WHERE \(+r\.status <> 'draft'::text\) AND \(r\.amount > \(10\)::numeric\)+ e;/);
  });

  test('compileRowFilter: qualified for triggers, bare for a publication row filter, nothing left behind', async () => {
    const client = new pg.Client(db.url);
    await client.connect();
    try {
      const filter = await compileRowFilter(client, { schema: 'public', table: 'orders' }, "status <> 'draft' AND amount > 10");
      assert.equal(filter.over('OLD'), "(((OLD.status <> 'draft'::text) AND (OLD.amount > (10)::numeric)))");
      assert.equal(filter.unqualified, "((status <> 'draft'::text) AND (amount > (10)::numeric))");
      const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'pgbridge_row_%'");
      assert.equal(rows[0].n, 0);
    } finally {
      await client.end();
    }
  });

  test('changed: a json column is compared by its text, every other column by its equality operator (NOT NULL domains too)', async () => {
    await db.query(`CREATE DOMAIN nn_int AS int NOT NULL; CREATE DOMAIN nn_json AS json NOT NULL`);
    await db.query(`ALTER TABLE orders ADD COLUMN doc json, ADD COLUMN n nn_int DEFAULT 0, ADD COLUMN dj nn_json DEFAULT '{}'`);
    try {
      const sql = await cli(['sql', '-c', config('true', ['status', 'doc', 'n', 'dj'])]);
      assert.equal(sql.code, 0, sql.stderr);
      assert.match(
        sql.stdout,
        /WHEN \(\(NEW\."status" IS DISTINCT FROM OLD\."status" OR NEW\."doc"::text IS DISTINCT FROM OLD\."doc"::text OR NEW\."n" IS DISTINCT FROM OLD\."n" OR NEW\."dj"::text IS DISTINCT FROM OLD\."dj"::text\) AND/,
      );
    } finally {
      await db.query('ALTER TABLE orders DROP COLUMN doc, DROP COLUMN n, DROP COLUMN dj');
      await db.query('DROP DOMAIN nn_int; DROP DOMAIN nn_json');
    }
  });

  test('wal mode: install fails naming the table; check reports a filter that no longer compiles after a migration', async () => {
    const wal = (where: string) =>
      writeConfig({
        postgres: { url: db.url },
        delivery: 'wal',
        wal: { slot: slotName(db) },
        capture: [{ table: 'orders', where, changed: ['amount'] }],
        sinks: [{ name: 'out', type: 'stdout' }],
      });
    try {
      const bad = await cli(['install', '-c', wal('nope > 1')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /where of public\.orders .*column "nope" does not exist/);
      const file = wal("status <> 'draft'");
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
      assert.match((await cli(['check', '-c', file])).stdout, /capture: ok/);
      await db.query('ALTER TABLE orders RENAME COLUMN status TO state');
      const check = await cli(['check', '-c', file]);
      assert.equal(check.code, 1, check.stdout);
      assert.match(check.stdout, /capture: FAIL: where of public\.orders .*column "status" does not exist/);
      await db.query('ALTER TABLE orders RENAME COLUMN state TO status');
      await db.query('ALTER TABLE orders RENAME COLUMN amount TO total');
      assert.match((await cli(['check', '-c', file])).stdout, /capture: FAIL: public\.orders has no column "amount" \(changed\)/);
    } finally {
      await cli(['uninstall', '-c', wal('true')]);
      await dropSlots(db);
      await db.query('ALTER TABLE orders RENAME COLUMN state TO status').catch(() => {});
      await db.query('ALTER TABLE orders RENAME COLUMN total TO amount').catch(() => {});
    }
  });

  test('check reports a filter that no longer compiles after a migration', async () => {
    const file = config("status <> 'draft'");
    assert.equal((await cli(['install', '-c', file])).code, 0);
    assert.match((await cli(['check', '-c', file])).stdout, /capture: ok/);
    await db.query('ALTER TABLE orders RENAME COLUMN status TO state');
    const check = await cli(['check', '-c', file]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /capture: FAIL: where of public\.orders .*column "status" does not exist/);
  });
});
