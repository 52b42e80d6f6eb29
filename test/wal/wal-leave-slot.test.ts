/**
 * The slot and publication wal mode made, when the config moves away from
 * them (another mode, the wal section gone, wal.slot or wal.publication
 * renamed): install removes them, unless the slot still holds changes nobody
 * delivered (it refuses, changing nothing, until a bridge delivers them) or a
 * bridge streams from it; uninstall removes the recorded ones too.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { endWalTest, installedAndStreaming, slotInfo, slotName } from '../support/wal.js';

describe('wal mode: leaving a slot behind', () => {
  const databases: TestDatabase[] = [];
  const bridges: RunningBridge[] = [];

  /** A fresh database with table `items`; `wal(…)` and `other(…)` write configs for it. */
  const fresh = async () => {
    const db = await createTestDatabase('pgbridge_walleave');
    databases.push(db);
    await db.query(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    const base = { postgres: { url: db.url }, capture: [{ table: 'items' }], sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } };
    return {
      db,
      slot: (suffix: string) => slotName(db, suffix),
      wal: (slot: string, publication = 'items_pub') =>
        writeConfig({ ...base, delivery: 'wal', wal: { slot, publication, heartbeat_interval_ms: 500, status_interval_ms: 500 } }),
      // No wal section: its default names are not the ones installed.
      other: (delivery: 'outbox' | 'notify') => writeConfig({ ...base, delivery }),
      insert: (n: number) =>
        db.query(
          `INSERT INTO items SELECT g, 'v' FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM items), (SELECT coalesce(max(id), 0) + $1 FROM items)) g`,
          [n],
        ),
      publications: async () => (await db.query<{ p: string }>(`SELECT pubname AS p FROM pg_publication ORDER BY 1`)).rows.map((r) => r.p),
      triggers: async () => (await db.query(`SELECT 1 FROM pg_trigger WHERE tgrelid = 'items'::regclass AND NOT tgisinternal`)).rowCount,
    };
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stderr;
  };

  after(async () => {
    for (const bridge of bridges) await bridge.kill('SIGKILL');
    for (const db of databases) await endWalTest(db);
  });

  for (const mode of ['outbox', 'notify'] as const) {
    test(`wal → ${mode} with undelivered rows: refused, nothing changed; once a wal bridge delivers them, the slot and publication go`, async () => {
      const t = await fresh();
      const slot = t.slot('s');
      await ok('install', '-c', t.wal(slot));
      await t.insert(25);
      const leave = t.other(mode);

      const refused = await cli(['install', '-c', leave]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(
          `^pgbridge install: replication slot ${slot} holds at least 25 undelivered changes, which this install would drop; deliver them: run \`pgbridge run\` with the wal config until they are delivered .*; or drop them knowingly \\(\`SELECT pg_drop_replication_slot\\('${slot}'\\);\`, or \`pgbridge uninstall\` with the wal config\\), then install\\n$`,
        ),
      );
      assert.equal((await slotInfo(slot)).exists, true);
      assert.deepEqual(await t.publications(), ['items_pub']);
      assert.equal(await t.triggers(), 0, 'no capture trigger installed');

      const sql = await cli(['sql', '-c', leave]);
      assert.equal(sql.code, 0, sql.stderr);
      assert.match(
        sql.stdout,
        new RegExp(
          `^-- replication slot ${slot} holds at least 25 undelivered changes: applying this drops them\\nSELECT pg_drop_replication_slot\\(slot_name\\) FROM pg_replication_slots WHERE slot_name = '${slot}'`,
          'm',
        ),
      );
      assert.match(sql.stdout, /^DROP PUBLICATION IF EXISTS "items_pub";$/m);

      const bridge = new RunningBridge(t.wal(slot));
      bridges.push(bridge);
      await waitFor(() => bridge.stdoutEvents().length >= 25, 30_000, '25 events at the stdout sink');
      assert.equal(await bridge.stop(), 0);
      assert.deepEqual(
        bridge
          .stdoutEvents<{ data: { id: number } }>()
          .map((e) => e.data.id)
          .sort((a, b) => a - b),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );

      const out = await ok('install', '-c', leave);
      assert.match(out, new RegExp(`^pgbridge install: remove replication slot ${slot} \\(not in wal mode\\)$`, 'm'));
      assert.match(out, /^pgbridge install: remove publication items_pub \(not in wal mode\)$/m);
      assert.equal((await slotInfo(slot)).exists, false);
      assert.deepEqual(await t.publications(), []);
      assert.equal((await t.db.query(`SELECT 1 FROM pgbridge.wal_instances`)).rowCount, 0);
      assert.ok((await t.triggers())! > 0, 'captured by triggers now');
    });
  }

  test('wal.slot and wal.publication renamed: the old ones go, the new ones come', async () => {
    const t = await fresh();
    const [a, b] = [t.slot('a'), t.slot('b')];
    await ok('install', '-c', t.wal(a, 'pub_a'));
    const out = await ok('install', '-c', t.wal(b, 'pub_b'));
    assert.match(out, new RegExp(`^pgbridge install: remove replication slot ${a} \\(wal.slot is now ${b}\\)$`, 'm'));
    assert.match(out, /^pgbridge install: remove publication pub_a \(wal.publication is now pub_b\)$/m);
    assert.equal((await slotInfo(a)).exists, false);
    assert.equal((await slotInfo(b)).exists, true);
    assert.deepEqual(await t.publications(), ['pub_b']);
    assert.equal((await cli(['check', '-c', t.wal(b, 'pub_b')])).code, 0);
  });

  test('wal.slot renamed while the old slot holds undelivered rows: refused, nothing changed', async () => {
    const t = await fresh();
    const [a, b] = [t.slot('a'), t.slot('b')];
    await ok('install', '-c', t.wal(a));
    await t.insert(3);
    const r = await cli(['install', '-c', t.wal(b)]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`replication slot ${a} holds at least 3 undelivered changes, which this install would drop`));
    assert.equal((await slotInfo(a)).exists, true);
    assert.equal((await slotInfo(b)).exists, false);
    assert.deepEqual((await t.db.query(`SELECT slot FROM pgbridge.wal_instances`)).rows, [{ slot: a }]);
  });

  test('a slot whose first 10,000 messages hold no event: refused as unknown, not dropped with the row behind them', async () => {
    const t = await fresh();
    const a = t.slot('a');
    await ok('install', '-c', t.wal(a));
    // Another instance's backfill READs: every slot of the database decodes them, no bridge of this instance delivers them.
    await t.db.query(`SELECT count(pg_logical_emit_message(true, 'pgbridge-read:other', 'x')) FROM generate_series(1, 12000)`);
    await t.insert(1);
    const r = await cli(['install', '-c', t.other('outbox')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot tell whether replication slot ${a} holds undelivered changes \\(its first 10000 messages hold no event`),
    );
    assert.match(r.stderr, new RegExp(`SELECT pg_drop_replication_slot\\('${a}'\\);`));
    assert.equal((await slotInfo(a)).exists, true);
  });

  test('uninstall after a rename, with the old config: both slots gone; it says how many changes it dropped', async () => {
    const t = await fresh();
    const [a, b] = [t.slot('a'), t.slot('b')];
    await ok('install', '-c', t.wal(a));
    await ok('install', '-c', t.wal(b, 'pub_b'));
    await t.insert(2);
    const out = await ok('uninstall', '-c', t.wal(a));
    assert.match(out, new RegExp(`^pgbridge uninstall: remove replication slot ${b}, which held at least 2 undelivered changes$`, 'm'));
    assert.equal((await slotInfo(a)).exists, false);
    assert.equal((await slotInfo(b)).exists, false);
    assert.deepEqual(await t.publications(), []);
  });

  test('an install made before the slot was recorded: the config names the slot', async () => {
    const t = await fresh();
    const a = t.slot('a');
    await ok('install', '-c', t.wal(a));
    await t.db.query(`ALTER TABLE pgbridge.wal_instances DROP COLUMN slot`);
    await ok('install', '-c', t.wal(a));
    assert.deepEqual((await t.db.query(`SELECT slot FROM pgbridge.wal_instances`)).rows, [{ slot: a }], 'the column added back');
    await t.db.query(`ALTER TABLE pgbridge.wal_instances DROP COLUMN slot`);
    await ok(
      'install',
      '-c',
      writeConfig({
        postgres: { url: t.db.url },
        delivery: 'outbox',
        wal: { slot: a },
        capture: [{ table: 'items' }],
        sinks: [{ name: 'out', type: 'stdout' }],
      }),
    );
    assert.equal((await slotInfo(a)).exists, false);
    assert.deepEqual(await t.publications(), []);
  });

  test('install and uninstall while a wal bridge streams from the slot: refused, naming the walsender', async () => {
    const t = await fresh();
    const slot = t.slot('s');
    const bridge = await installedAndStreaming(t.wal(slot));
    bridges.push(bridge);
    const { rows } = await t.db.query<{ pid: number }>(`SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    for (const [verb, file] of [
      ['install', t.other('outbox')],
      ['install', t.wal(t.slot('b'))],
      ['uninstall', t.wal(slot)],
    ]) {
      const r = await cli([verb, '-c', file]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `pgbridge ${verb}: a pgbridge run (walsender PID ${rows[0].pid}) is streaming from replication slot ${slot}: stop it first\n`,
      );
    }
    assert.equal((await slotInfo(slot)).exists, true);
    assert.deepEqual(await t.publications(), ['items_pub']);
  });
});
