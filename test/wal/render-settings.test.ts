/**
 * Session settings change how Postgres writes a value (TimeZone, DateStyle,
 * IntervalStyle, extra_float_digits, bytea_output). Here the database's own
 * defaults differ from Postgres' (ALTER DATABASE … SET) and the writer's
 * session differs from both; the same rows then go through outbox, notify and
 * wal at once, and backfill reads them again. `data` and `old` must be equal
 * byte for byte in every mode, and be the rendering of pgbridge's pinned
 * settings (UTC, ISO, postgres intervals, shortest exact floats, hex bytea),
 * not that of whichever session happened to run to_json or the output functions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { comparable, dropSlots, slotName, streaming } from '../support/wal.js';

/** The text of an event's `data`, untouched by a JSON parse (which would round floats). */
const dataText = (line: string): string => line.replace(/^.*?"data":/, '').replace(/,"old":.*$/, '');

const MODES = ['outbox', 'notify', 'wal'] as const;
type Mode = (typeof MODES)[number];

const DATABASE_DEFAULTS = {
  TimeZone: 'America/New_York',
  DateStyle: 'Postgres, DMY',
  IntervalStyle: 'sql_standard',
  extra_float_digits: '-3',
  bytea_output: 'escape',
};

const WRITER_SETTINGS = {
  TimeZone: 'Asia/Kolkata',
  DateStyle: 'German, DMY',
  IntervalStyle: 'postgres_verbose',
  extra_float_digits: '0',
  bytea_output: 'escape',
};

const TABLE = `
  CREATE TYPE stamp AS (at timestamptz, took interval, ratio float8, raw bytea);
  CREATE TABLE odd (
    id int PRIMARY KEY, tstz timestamptz, ts timestamp, d date, iv interval, f8 float8, f4 real, by bytea,
    tr tstzrange, dr daterange, tarr timestamptz[], ivarr interval[], f8arr float8[], comp stamp, p point, ttz timetz,
    f4_third float8 GENERATED ALWAYS AS (f4::float8 / 3) STORED)`;

/** Values written as ISO literals, which every DateStyle reads the same way. */
const INSERT = `
  INSERT INTO odd (id, tstz, ts, d, iv, f8, f4, by, tr, dr, tarr, ivarr, f8arr, comp, p, ttz) VALUES
   (1, '2026-01-02 08:34:05.123456+05:30', '2026-01-02 03:04:05.5', '2026-01-02', '-10 mons +3 days -04:05:06.7',
    1.7976931348623157e+308, 0.1, '\\xdeadbeef00', '[2026-01-02 03:04:05+00,2026-01-03 00:00:00+00)', '[2026-01-02,2026-02-01)',
    ARRAY['2026-01-02 03:04:05+00'::timestamptz, NULL, 'infinity'], ARRAY['1 day 02:00:00'::interval, '-3 mons'],
    ARRAY[0.1::float8, 1e-310, 123456789.123456789], ROW('2026-06-01 12:00:00+00', '1 year -2 hours', 0.30000000000000004, '\\x00ff')::stamp,
    point(0.1, -2.5e-300), '10:00:00+05:30'),
   (2, '1850-01-01 00:00:00+00', '0044-03-15 10:00:00 BC', '0044-03-15 BC', '0 seconds', 'NaN', '-Infinity', '\\x',
    'empty', '(,)', '{}', '{}', '{}', ROW(NULL, NULL, NULL, NULL)::stamp, NULL, NULL)`;

const CHANGES = [
  INSERT,
  `UPDATE odd SET tstz = tstz + interval '1 hour', iv = iv * 2, f8 = 2.2250738585072014e-308, by = '\\x0102' WHERE id = 1`,
  `DELETE FROM odd WHERE id = 2`,
];

describe('every mode renders values with the same pinned settings, whatever the writer and the database set', () => {
  let db: TestDatabase;
  const bridges = new Map<Mode, RunningBridge>();
  const files = new Map<Mode, string>();

  const lines = (mode: Mode): string[] => bridges.get(mode)!.stdoutLines.filter((l) => l.startsWith('{'));

  before(async () => {
    db = await createTestDatabase('pgbridge_render');
    await db.query(TABLE);
    for (const [name, value] of Object.entries(DATABASE_DEFAULTS)) await db.query(`ALTER DATABASE ${db.name} SET ${name} = '${value}'`);
    for (const mode of MODES) {
      const file = writeConfig({
        postgres: { url: db.url },
        instance: mode,
        delivery: mode,
        ...(mode === 'wal' ? { wal: { slot: slotName(db) } } : {}),
        capture: [{ table: 'odd' }],
        sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
        http: { port: 0 },
      });
      const installed = await cli(['install', '-c', file]);
      assert.equal(installed.code, 0, installed.stderr);
      files.set(mode, file);
      bridges.set(mode, new RunningBridge(file));
    }
    for (const mode of MODES) {
      const bridge = bridges.get(mode)!;
      if (mode === 'wal') await streaming(bridge);
      else await bridge.ready(30_000);
    }
  });

  after(async () => {
    for (const bridge of bridges.values()) await bridge.kill('SIGTERM');
    if (db) await dropSlots(db);
    await db?.drop();
  });

  test('changes written under odd session settings: the same data and old in outbox, notify and wal, rendered in UTC', async () => {
    const writer = new pg.Client(db.url);
    await writer.connect();
    try {
      for (const [name, value] of Object.entries(WRITER_SETTINGS)) await writer.query(`SET ${name} = '${value}'`);
      for (const sql of CHANGES) await writer.query(sql);
    } finally {
      await writer.end();
    }
    await waitFor(() => MODES.every((mode) => lines(mode).length >= 4), 60_000, 'four events in every mode');
    const [outbox, notify, wal] = MODES.map((mode) => lines(mode).map(comparable));
    assert.deepEqual(notify, outbox, 'notify mode sends what outbox mode sends');
    assert.deepEqual(wal, outbox, 'wal mode sends what outbox mode sends');

    const first = JSON.parse(lines('outbox')[0]) as { data: Record<string, unknown> };
    assert.equal(first.data.tstz, '2026-01-02T03:04:05.123456+00:00');
    assert.equal(first.data.iv, '-10 mons +3 days -04:05:06.7');
    assert.equal(first.data.by, '\\xdeadbeef00');
    assert.equal(first.data.tr, '["2026-01-02 03:04:05+00","2026-01-03 00:00:00+00")');
    assert.equal(first.data.dr, '[2026-01-02,2026-02-01)');
    assert.deepEqual(first.data.tarr, ['2026-01-02T03:04:05+00:00', null, 'infinity']);
    assert.deepEqual(first.data.ivarr, ['1 day 02:00:00', '-3 mons']);
    assert.deepEqual(first.data.comp, { at: '2026-06-01T12:00:00+00:00', took: '1 year -02:00:00', ratio: 0.30000000000000004, raw: '\\x00ff' });
    assert.equal(first.data.p, '(0.1,-2.5e-300)');
    assert.match(lines('outbox')[0], /"f8":1\.7976931348623157e\+308,"f4":0\.1,/);
    assert.match(lines('outbox')[0], /"f8arr":\[0\.1,1e-310,123456789\.12345679\]/);
    assert.match(lines('outbox')[0], /"f4_third":0\.033333333830038704\}/);
  });

  test('check notices trigger functions without the settings (an older install); install gives them the settings', async () => {
    const settings = async () =>
      (
        await db.query<{ config: string[] | null }>(
          `SELECT p.proconfig AS config FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgbridge' ORDER BY p.proname`,
        )
      ).rows.map((r) => r.config);
    const pinned = ['TimeZone=UTC', 'DateStyle=ISO', 'IntervalStyle=postgres', 'extra_float_digits=1', 'bytea_output=hex'];
    assert.deepEqual(await settings(), Array(6).fill(pinned), 'three ops in each trigger mode');
    await db.query(`DO $$DECLARE f regprocedure; BEGIN
      FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgbridge' LOOP
        EXECUTE format('ALTER FUNCTION %s RESET ALL', f);
      END LOOP; END$$`);
    assert.deepEqual(await settings(), Array(6).fill(null));
    const check = await cli(['check', '-c', files.get('outbox')!]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /capture: FAIL: capture functions of an older install render values with the writer's session settings/);
    for (const mode of ['outbox', 'notify'] as const) {
      const run = await cli(['install', '-c', files.get(mode)!]);
      assert.equal(run.code, 0, run.stderr);
    }
    assert.deepEqual(await settings(), Array(6).fill(pinned));
    assert.match((await cli(['check', '-c', files.get('outbox')!])).stdout, /capture: ok/);
  });

  test('backfill reads the rows with the same settings in every mode', async () => {
    const before = new Map(MODES.map((mode) => [mode, lines(mode).length]));
    for (const mode of MODES) {
      const run = await cli(['backfill', '-c', files.get(mode)!, 'odd']);
      assert.equal(run.code, 0, run.stderr);
    }
    await waitFor(() => MODES.every((mode) => lines(mode).length > before.get(mode)!), 60_000, 'a READ in every mode');
    // Each backfill is a transaction of its own: txid differs, the rows must not.
    const reads = MODES.map((mode) => lines(mode).slice(before.get(mode)).map(dataText));
    assert.deepEqual(reads[1], reads[0], 'notify mode reads what outbox mode reads');
    assert.deepEqual(reads[2], reads[0], 'wal mode reads what outbox mode reads');
    assert.match(lines('outbox')[2], /"op":"UPDATE"/);
    assert.match(reads[0][0] ?? '', /^\{"id":1,/);
    assert.deepEqual(reads[0], [dataText(lines('outbox')[2])], "the READ's data is the last change's, as text");
  });
});
