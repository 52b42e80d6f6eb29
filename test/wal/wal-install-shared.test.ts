/**
 * Two wal-mode instances capturing the same tables in one database: the one
 * that lets go of a table first (uninstall, or an install without it) leaves
 * REPLICA IDENTITY FULL to the other and hands it the recorded identity; the
 * last one restores it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { dropSlots, slotName } from '../support/wal.js';

describe('wal mode install: two instances capturing one table', () => {
  let db: TestDatabase;
  const config = (instance: string, tables: readonly string[]) =>
    writeConfig({
      postgres: { url: db.url },
      instance,
      delivery: 'wal',
      wal: { slot: slotName(db, instance) },
      capture: tables.map((table) => ({ table })),
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
  const run = async (...args: string[]): Promise<string> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  };
  const identities = async () =>
    (
      await db.query<{ relname: string; relreplident: string; index: string | null }>(
        `SELECT c.relname, c.relreplident,
                (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident) AS index
           FROM pg_class c WHERE c.relname IN ('u', 'only_a', 'parts', 'parts_1') ORDER BY 1`,
      )
    ).rows
      .map((r) => `${r.relname}=${r.relreplident}${r.index ? `(${r.index})` : ''}`)
      .join(' ');
  const records = async () =>
    (
      await db.query<{ r: string }>(
        `SELECT instance || ':' || table_name || '=' || previous::text || coalesce('(' || index_name || ')', '') AS r
           FROM pgbridge.replica_identity ORDER BY 1`,
      )
    ).rows.map((r) => r.r);

  before(async () => {
    db = await createTestDatabase('pgbridge_walshare');
    await db.query(`CREATE TABLE u (id int NOT NULL, v text)`);
    await db.query(`CREATE UNIQUE INDEX u_id ON u (id)`);
    await db.query(`ALTER TABLE u REPLICA IDENTITY USING INDEX u_id`);
    await db.query(`CREATE TABLE only_a (id int PRIMARY KEY)`);
    // Published under the partitioned table's name: the partition's own identity is the one to keep.
    await db.query(`CREATE TABLE parts (id int PRIMARY KEY) PARTITION BY RANGE (id)`);
    await db.query(`CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (100)`);
  });

  after(async () => {
    if (db) await dropSlots(db);
    await db?.drop();
  });

  test('uninstall of one leaves FULL on what the other still captures; the last one restores it', async () => {
    const a = config('a', ['u', 'only_a', 'parts']);
    const b = config('b', ['u', 'parts']);
    await run('install', '-c', a);
    await run('install', '-c', b);
    assert.equal(await identities(), 'only_a=f parts=f parts_1=f u=f');
    assert.deepEqual(await records(), ['a:only_a=d', 'a:parts=d', 'a:parts_1=d', 'a:u=i(u_id)'], 'b found them FULL already');

    const out = await run('uninstall', '-c', a);
    assert.match(out, /^pgbridge uninstall: keep replica identity FULL of public\.u: instance b still captures it$/m);
    assert.match(out, /^pgbridge uninstall: keep replica identity FULL of public\.parts_1: instance b still captures it$/m);
    assert.match(out, /^pgbridge uninstall: restore replica identity of public\.only_a$/m);
    assert.equal(await identities(), 'only_a=d parts=f parts_1=f u=f');
    assert.deepEqual(await records(), ['b:parts=d', 'b:parts_1=d', 'b:u=i(u_id)'], 'handed over to b');
    const check = await cli(['check', '-c', b]);
    assert.equal(check.code, 0, check.stdout);

    const last = await run('uninstall', '-c', b);
    assert.match(last, /^pgbridge uninstall: restore replica identity of public\.u$/m);
    assert.equal(await identities(), 'only_a=d parts=d parts_1=d u=i(u_id)', 'what was there before the first install');
  });

  test('an install that drops the table from capture does the same, and `sql` says so', async () => {
    await run('install', '-c', config('a', ['u']));
    await run('install', '-c', config('b', ['u']));
    const withoutU = config('a', ['only_a']);
    const sql = await run('sql', '-c', withoutU);
    assert.match(sql, /^-- keep replica identity FULL of public\.u: instance b still captures it$/m);
    assert.doesNotMatch(sql, /ALTER TABLE "public"\."u" REPLICA IDENTITY USING INDEX/);
    const out = await run('install', '-c', withoutU);
    assert.match(out, /^pgbridge install: keep replica identity FULL of public\.u: instance b still captures it$/m);
    assert.equal(await identities(), 'only_a=f parts=d parts_1=d u=f');
    assert.equal((await cli(['check', '-c', config('b', ['u'])])).code, 0);

    const out2 = await run('install', '-c', config('b', ['only_a']));
    assert.match(out2, /^pgbridge install: restore replica identity of public\.u$/m);
    assert.equal(await identities(), 'only_a=f parts=d parts_1=d u=i(u_id)');
    await run('uninstall', '-c', config('b', ['only_a']));
    await run('uninstall', '-c', withoutU);
    assert.equal(await identities(), 'only_a=d parts=d parts_1=d u=i(u_id)');
  });

  test('a publication no registered instance owns (an instance installed by an older pgbridge) keeps FULL too, and the record', async () => {
    await run('install', '-c', config('a', ['u']));
    // What an older pgbridge's install of instance c left: its publication, no row in pgbridge.wal_instances.
    await db.query('CREATE PUBLICATION pgbridge_c FOR TABLE u');
    try {
      const out = await run('uninstall', '-c', config('a', ['u']));
      assert.match(out, /^pgbridge uninstall: keep replica identity FULL of public\.u and its record: publication pgbridge_c still publishes it$/m);
      assert.equal(await identities(), 'only_a=d parts=d parts_1=d u=f');
    } finally {
      await db.query('DROP PUBLICATION pgbridge_c');
    }
  });
});
