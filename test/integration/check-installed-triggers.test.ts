/**
 * `check` in the trigger modes compares each installed trigger and its function
 * with what `install` would make now from the same config: a `where`, `columns`,
 * `changed` or op changed since install, a table no longer captured, or a trigger
 * of an older pgbridge is a FAIL naming the table; a config just installed is ok.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, writeConfig } from '../support/bridge.js';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const ODD_TABLE = '"Odd Schema"."Mixed ""Quoted"" Ünï Tab"';

describe('check compares the installed triggers with the config', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, v text, n int)`);
    await db.query(`CREATE TABLE others (id int PRIMARY KEY, v text)`);
    await db.query(`CREATE SCHEMA "Odd Schema"`);
    await db.query(`CREATE TABLE ${ODD_TABLE} ("Id" int PRIMARY KEY, "Some ""Col""" text, "ünï" int)`);
    await db.query(`CREATE TABLE parts (id int, kind text, PRIMARY KEY (id, kind)) PARTITION BY LIST (kind)`);
    await db.query(`CREATE TABLE parts_a PARTITION OF parts FOR VALUES IN ('a')`);
    await db.query(`CREATE TABLE parts_b PARTITION OF parts FOR VALUES IN ('b')`);
  });

  after(async () => {
    await db?.drop();
  });

  const config = (delivery: string, capture: object[], instance = 'main') =>
    writeConfig({ postgres: { url: db.url }, delivery, instance, capture, sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });

  /** Every feature a trigger compiles: per-op columns, where, changed, truncate, odd names, a partitioned table. */
  const everything = (instanceTable = 'items'): object[] => [
    {
      table: instanceTable,
      ops: ['insert', 'update', 'delete', 'truncate'],
      columns: { insert: '*', update: ['id', 'v'], delete: ['id'] },
      where: "v <> 'x' AND n > 0",
      changed: ['v', 'n'],
    },
    { table: ODD_TABLE, columns: ['Id', 'Some "Col"'], where: `"Some ""Col""" <> 'it''s' AND "ünï" IS NOT NULL`, changed: ['ünï'] },
    { table: 'parts', where: "kind = 'a'", changed: ['kind'] },
  ];

  async function captureLine(file: string): Promise<{ code: number | null; line: string }> {
    const result = await cli(['check', '-c', file]);
    const line = result.stdout.split('\n').find((l) => l.startsWith('capture:'));
    assert.ok(line, result.stdout + result.stderr);
    return { code: result.code, line };
  }

  async function install(file: string): Promise<void> {
    const result = await cli(['install', '-c', file]);
    assert.equal(result.code, 0, result.stderr);
  }

  for (const delivery of ['outbox', 'notify']) {
    test(`${delivery}: a config just installed is ok, with two instances on one database`, async () => {
      const main = config(delivery, everything());
      // The other instance captures a table of main's too, with another filter: neither flags the other's triggers.
      const other = config(delivery, [{ table: 'items', where: "v = 'other'" }, { table: 'others' }], 'other');
      await install(main);
      await install(other);
      for (const file of [main, other]) {
        const { code, line } = await captureLine(file);
        assert.equal(line, `capture: ok (${file === main ? 3 : 2} table(s))`);
        assert.equal(code, 0);
      }
      await cli(['uninstall', '-c', other]);
      await cli(['uninstall', '-c', main]);
    });
  }

  test('a where, columns, changed or op changed since install: FAIL naming the table and op, ok once installed again', async () => {
    const base = { table: 'items', where: "v <> 'x'", columns: ['id', 'v'] };
    await install(config('outbox', [base, { table: 'others' }]));
    const cases: Array<[string, object[], RegExp]> = [
      [
        'where',
        [{ ...base, where: "v <> 'y'" }, { table: 'others' }],
        /installed trigger differs from the config: public\.items insert, public\.items update, public\.items delete;/,
      ],
      [
        'columns',
        [{ ...base, columns: ['id'] }, { table: 'others' }],
        /installed trigger differs from the config: public\.items insert, public\.items update, public\.items delete;/,
      ],
      ['changed', [{ ...base, changed: ['v'] }, { table: 'others' }], /installed trigger differs from the config: public\.items update;/],
      ['an op', [{ ...base, ops: ['insert', 'update'] }, { table: 'others' }], /installed but no longer in the config: public\.items delete;/],
      ['a table', [base], /installed but no longer in the config: public\.others insert, public\.others update, public\.others delete;/],
      ['the mode', [base, { table: 'others' }], /installed trigger differs from the config: public\.items insert, .*public\.others delete;/],
    ];
    for (const [what, capture, reason] of cases) {
      const file = config(what === 'the mode' ? 'notify' : 'outbox', capture);
      const stale = await captureLine(file);
      assert.match(stale.line, /^capture: FAIL: /, what);
      assert.match(stale.line, reason, what);
      assert.match(stale.line, /; run `pgbridge install`$/, what);
      assert.equal(stale.code, 1, what);
    }
    const changed = config('outbox', [{ ...base, where: "v <> 'y'", columns: ['id'], changed: ['v'] }]);
    await install(changed);
    assert.deepEqual(await captureLine(changed), { code: 0, line: 'capture: ok (1 table(s))' });
    await cli(['uninstall', '-c', changed]);
  });

  test('a partitioned table or an odd name whose where changed: FAIL', async () => {
    await install(config('outbox', everything()));
    const [items, odd, parts] = everything() as Array<Record<string, unknown>>;
    const oddChanged = await captureLine(config('outbox', [items, { ...odd, where: `"ünï" > 1` }, parts]));
    assert.match(
      oddChanged.line,
      /differs from the config: Odd Schema\.Mixed "Quoted" Ünï Tab insert, Odd Schema\.Mixed "Quoted" Ünï Tab update, Odd Schema\.Mixed "Quoted" Ünï Tab delete;/,
    );
    const partsChanged = await captureLine(config('outbox', [items, odd, { ...parts, where: "kind = 'b'" }]));
    assert.match(partsChanged.line, /differs from the config: public\.parts insert, public\.parts update, public\.parts delete;/);
    await cli(['uninstall', '-c', config('outbox', everything())]);
  });

  test('a trigger or function not as this pgbridge makes it (an older version, a hand edit): FAIL', async () => {
    const file = config('outbox', [{ table: 'items', where: "v <> 'x'" }]);
    await install(file);
    assert.equal((await captureLine(file)).code, 0);
    const { rows } = await db.query<{ fn: string; def: string }>(
      `SELECT p.oid::regprocedure::text AS fn, pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'pgbridge' AND p.proname LIKE 'capture_main_%_insert'`,
    );
    const [{ fn, def }] = rows;
    // Its settings kept: only the body tells.
    await db.query(def.replace('RETURN NULL;', 'RETURN NULL; -- older'));
    const older = 'capture: FAIL: installed trigger differs from the config: public.items insert; run `pgbridge install`';
    assert.deepEqual(await captureLine(file), { code: 1, line: older });
    await install(file);
    // The same function, another WHEN: only the trigger tells.
    await db.query(
      `CREATE OR REPLACE TRIGGER pgbridge_main_update AFTER UPDATE ON items FOR EACH ROW WHEN (NEW.v <> 'z') EXECUTE FUNCTION ${fn.replace('_insert()', '_update()')}`,
    );
    assert.deepEqual(await captureLine(file), { code: 1, line: older.replace('insert', 'update') });
    await install(file);
    assert.deepEqual(await captureLine(file), { code: 0, line: 'capture: ok (1 table(s))' });
    await cli(['uninstall', '-c', file]);
  });

  test('a captured table another session holds locked: check says so within seconds, it does not wait', async () => {
    const file = config('outbox', [{ table: 'others' }]);
    await install(file);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE others IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const { code, line } = await captureLine(file);
      assert.equal(code, 1);
      assert.match(line, /^capture: FAIL: could not compare the installed triggers with the config: public\.others is locked by another session/);
      assert.ok(Date.now() - started < 60_000, 'it did not wait for the lock');
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
    assert.deepEqual(await captureLine(file), { code: 0, line: 'capture: ok (1 table(s))' });
    await cli(['uninstall', '-c', file]);
  });
});
