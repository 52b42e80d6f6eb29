/** install / uninstall / check / sql in wal mode, read back from the catalog. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { dropSlots, slotInfo, slotName } from '../support/wal.js';

describe('wal mode install', () => {
  let db: TestDatabase;
  let slot: string;
  const config = (extra: object) =>
    writeConfig({ postgres: { url: db.url }, delivery: 'wal', wal: { slot }, sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 }, ...extra });
  const identities = async () =>
    (
      await db.query<{ relname: string; relreplident: string }>(
        `SELECT relname, relreplident FROM pg_class WHERE relname IN ('a', 'b', 'c') ORDER BY 1`,
      )
    ).rows
      .map((r) => `${r.relname}=${r.relreplident}`)
      .join(' ');
  const published = async () =>
    (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_publication_tables WHERE pubname = 'pgbridge_default' ORDER BY 1`)).rows.map(
      (r) => r.t,
    );

  before(async () => {
    db = await createTestDatabase('pgbridge_walinst');
    slot = slotName(db);
    await db.query(`CREATE TABLE a (id int PRIMARY KEY, v text)`);
    await db.query(`CREATE TABLE b (id int NOT NULL, v text)`);
    await db.query(`CREATE UNIQUE INDEX b_id ON b (id)`);
    await db.query(`ALTER TABLE b REPLICA IDENTITY USING INDEX b_id`);
    await db.query(`CREATE TABLE c (id int)`);
    await db.query(`ALTER TABLE c REPLICA IDENTITY NOTHING`);
  });

  after(async () => {
    if (db) await dropSlots(db);
    await db?.drop();
  });

  test('install: publication, REPLICA IDENTITY FULL (previous recorded), slot; check and sql say so; idempotent', async () => {
    const file = config({ capture: [{ table: 'a' }, { table: 'b' }, { table: 'c' }] });
    const sql = await cli(['sql', '-c', file]);
    assert.equal(sql.code, 0, sql.stderr);
    assert.match(
      sql.stdout,
      /CREATE PUBLICATION "pgbridge_default" FOR TABLE "public"."a", "public"."b", "public"."c" WITH \(publish = 'insert, update, delete', publish_via_partition_root = true\)/,
    );
    assert.match(sql.stdout, /ALTER TABLE "public"."b" REPLICA IDENTITY FULL/);
    assert.match(sql.stdout, /pg_create_logical_replication_slot/);
    assert.doesNotMatch(sql.stdout, /CREATE OR REPLACE TRIGGER/, 'no triggers in wal mode');
    for (let i = 0; i < 2; i++) {
      const r = await cli(['install', '-c', file]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(await identities(), 'a=f b=f c=f');
    assert.deepEqual(await published(), ['a', 'b', 'c']);
    assert.equal((await slotInfo(slot)).exists, true);
    const check = await cli(['check', '-c', file]);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /^wal_level: ok \(logical\)$/m);
    assert.match(check.stdout, new RegExp(`^slot: ok \\(${slot}, not active, lag \\d+ bytes\\)$`, 'm'));
    assert.match(check.stdout, /^publication: ok \(pgbridge_default: 3 table\(s\)\)$/m);
  });

  test('sql shows a where that the bridge applies (UPDATE is published: no row filter can), as a comment on one line', async () => {
    const file = config({ capture: [{ table: 'a', where: "v <> 'x'\n  OR v IS NULL" }, { table: 'b' }] });
    const sql = await cli(['sql', '-c', file]);
    assert.equal(sql.code, 0, sql.stderr);
    assert.match(sql.stdout, /^-- public\.a: where \(v <> 'x'   OR v IS NULL\) is applied by pgbridge to each change, not by the publication$/m);
    assert.doesNotMatch(sql.stdout, /-- public\.b:/);
  });

  test('a table dropped from capture gets its identity back; check notices a table not published yet', async () => {
    const file = config({ capture: [{ table: 'a' }, { table: 'c' }] });
    assert.equal((await cli(['install', '-c', file])).code, 0);
    assert.equal(await identities(), 'a=f b=i c=f');
    assert.deepEqual(await published(), ['a', 'c']);
    const wider = config({ capture: [{ table: 'a' }, { table: 'b' }, { table: 'c' }] });
    const check = await cli(['check', '-c', wider]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^publication: FAIL: not published: public\.b; replica identity not FULL: public\.b; run `pgbridge install`$/m);
  });

  test('uninstall drops slot and publication and restores identities; user tables untouched', async () => {
    await db.query(`INSERT INTO a VALUES (1, 'kept')`);
    const file = config({ capture: [{ table: 'a' }, { table: 'c' }] });
    const r = await cli(['uninstall', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await identities(), 'a=d b=i c=n');
    assert.deepEqual(await published(), []);
    assert.equal((await db.query(`SELECT 1 FROM pg_publication WHERE pubname = 'pgbridge_default'`)).rowCount, 0);
    assert.equal((await slotInfo(slot)).exists, false);
    assert.equal((await db.query(`SELECT v FROM a`)).rows[0].v, 'kept');
    const check = await cli(['check', '-c', file]);
    assert.match(check.stdout, /^slot: FAIL: replication slot .* does not exist; run `pgbridge install`$/m);
  });

  test('install in outbox mode removes what wal mode made (a forgotten slot would keep WAL forever)', async () => {
    const walFile = config({ capture: [{ table: 'a' }] });
    assert.equal((await cli(['install', '-c', walFile])).code, 0);
    assert.equal((await slotInfo(slot)).exists, true);
    const outboxFile = config({ delivery: 'outbox', capture: [{ table: 'a' }] });
    const r = await cli(['install', '-c', outboxFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await slotInfo(slot)).exists, false);
    assert.equal(await identities(), 'a=d b=i c=n');
    assert.deepEqual(await published(), []);
  });

  test('a slot name taken in another database is refused with the fix', async () => {
    const other = await createTestDatabase('pgbridge_walinst2');
    try {
      await other.query(`CREATE TABLE a (id int PRIMARY KEY)`);
      const mine = config({ capture: [{ table: 'a' }] });
      assert.equal((await cli(['install', '-c', mine])).code, 0);
      const theirs = writeConfig({
        postgres: { url: other.url },
        delivery: 'wal',
        wal: { slot },
        capture: [{ table: 'a' }],
        sinks: [{ name: 'out', type: 'stdout' }],
      });
      const r = await cli(['install', '-c', theirs]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`replication slot ${slot} belongs to database ${db.name}; slot names are per server: set wal.slot`));
    } finally {
      await dropSlots(other);
      await other.drop();
    }
  });
  test("an unlogged table: install fails with Postgres' reason, not only that the publication refused it; nothing is installed", async () => {
    await db.query(`CREATE UNLOGGED TABLE scratch_unlogged (id int PRIMARY KEY)`);
    try {
      const r = await cli(['install', '-c', config({ capture: [{ table: 'scratch_unlogged' }] })]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot add relation "scratch_unlogged" to publication \(This operation is not supported for unlogged tables\.\)/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!(await published()).includes('scratch_unlogged'));
    } finally {
      await db.query(`DROP TABLE scratch_unlogged`);
    }
  });

  test("a row filter in the publication; check notices one that is no longer the config's where", async () => {
    const filtered = (where?: string) => config({ capture: [{ table: 'a', ops: ['insert'], ...(where ? { where } : {}) }] });
    const r = await cli(['install', '-c', filtered("v <> 'x'")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /public\.a: where in the publication \(row filter\)/);
    const { rows } = await db.query<{ rowfilter: string }>(`SELECT rowfilter FROM pg_publication_tables WHERE pubname = 'pgbridge_default'`);
    assert.deepEqual(rows, [{ rowfilter: "(v <> 'x'::text)" }]);
    assert.equal((await cli(['check', '-c', filtered("v <> 'x'")])).code, 0);
    for (const changed of [filtered("v <> 'y'"), filtered()]) {
      const check = await cli(['check', '-c', changed]);
      assert.equal(check.code, 1, check.stdout);
      assert.match(check.stdout, /^publication: FAIL: row filter not as configured: public\.a; run `pgbridge install`$/m);
    }
    assert.equal((await cli(['install', '-c', filtered()])).code, 0);
    assert.equal((await cli(['check', '-c', filtered()])).code, 0);
  });

  test('a partitioned table: FULL identity on every partition, published under its own name; check names a partition attached since', async () => {
    await db.query(`CREATE TABLE pp (id int, k text) PARTITION BY LIST (k)`);
    await db.query(`CREATE TABLE pp_a PARTITION OF pp FOR VALUES IN ('a')`);
    await db.query(`CREATE TABLE pp_b PARTITION OF pp FOR VALUES IN ('b') PARTITION BY RANGE (id)`);
    await db.query(`CREATE TABLE pp_b1 PARTITION OF pp_b FOR VALUES FROM (0) TO (10)`);
    const ppIdentities = async () =>
      (
        await db.query<{ r: string }>(
          `SELECT relname || '=' || relreplident::text AS r FROM pg_class WHERE relname LIKE 'pp%' AND relkind IN ('r', 'p') ORDER BY relname`,
        )
      ).rows
        .map((r) => r.r)
        .join(' ');
    const file = config({ capture: [{ table: 'pp' }] });
    const r = await cli(['install', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await ppIdentities(), 'pp=f pp_a=f pp_b=f pp_b1=f');
    assert.deepEqual(await published(), ['pp'], 'published as the partitioned table, not as its partitions');
    assert.equal((await cli(['check', '-c', file])).code, 0);
    await db.query(`CREATE TABLE pp_c PARTITION OF pp FOR VALUES IN ('c')`);
    const check = await cli(['check', '-c', file]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^publication: FAIL: replica identity not FULL: public\.pp_c; run `pgbridge install`$/m);
    await db.query(`ALTER PUBLICATION pgbridge_default SET (publish_via_partition_root = false)`);
    assert.match((await cli(['check', '-c', file])).stdout, /publish_via_partition_root is off/);
    assert.equal((await cli(['install', '-c', file])).code, 0);
    assert.equal((await cli(['check', '-c', file])).code, 0);
    assert.equal((await cli(['uninstall', '-c', file])).code, 0);
    assert.equal(await ppIdentities(), 'pp=d pp_a=d pp_b=d pp_b1=d pp_c=d');
  });
});
