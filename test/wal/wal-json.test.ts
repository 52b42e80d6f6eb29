/**
 * The same rows through outbox mode (triggers, to_json in the writer's
 * session) and wal mode (pgoutput's text values rendered by the bridge): the
 * events must be equal byte for byte but for id and ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { comparable, dropSlots, slotName, STREAMING } from '../support/wal.js';

const ROWS = `
INSERT INTO everything (i2, i4, i8, num, num_nan, f8, f8_nan, f8_inf, f8_ninf, f8_negzero, f4, b, t, j, jb, ia, ta, d, tm, ttz, ts, tstz, iv, by, u, e, dom, dom_text, comp, comp_arr, tstz_arr, e_arr, nothing, big, d_inf)
VALUES
 (32767, -2147483648, 9007199254740993, 123456789012345678901234567890.123456789012345, 'NaN', 1.1, 'NaN', 'Infinity', '-Infinity', '-0', 1.1, true,
  E'quote " backslash \\\\ newline \\n tab \\t ctrl \\x01 emoji 😀 done', '{"b" : [1, 2.50],  "a":null}', '{"b": [1, 2.50], "a": null}',
  '{{1,NULL,3},{4,5,6}}', ARRAY['a,b', NULL, 'c"d', 'NULL', '', ' sp ', 'back\\slash', '{brace}'],
  '2026-02-28', '23:59:59.999999', '10:00:00+05:30', '2026-01-01 10:00:00.5', '2026-06-01 10:00:00.123456+02', '1 year 2 mons -3 days 04:05:06.7',
  '\\xdeadbeef00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'two words', 42, 'dom"ain', ROW(7, 'x, "y"', NULL, ARRAY[1,2])::pair,
  ARRAY[ROW(1, 'a', 1.5, NULL)::pair, NULL, ROW(NULL, NULL, NULL, NULL)::pair], ARRAY['2026-01-01 00:00:00+00'::timestamptz, NULL, 'infinity'],
  ARRAY['one'::mood, 'two words'], NULL, repeat(md5('x'), 1), 'infinity'),
 (0, 0, -9007199254740993, '-0.000000000000000000001', 0, 1e300, 2.2250738585072014e-308, 0.1, -1.5e-10, 123456789.123, 'Infinity', false,
  '', '[]', '{}', '{}', '{}', '0044-03-15 BC', '00:00', '00:00:00-08', '0044-03-15 10:00:00 BC', '1850-01-01 00:00:00+00', '0 seconds',
  '\\x', '00000000-0000-0000-0000-000000000000', 'one', -1, '', ROW(NULL, '', NULL, '{}')::pair, '{}', '{}', '{}', NULL, NULL, '-infinity');
`;

describe('wal mode renders rows exactly as outbox mode', () => {
  let db: TestDatabase;
  const outbox: string[] = [];
  const wal: string[] = [];
  let outboxBridge: RunningBridge | undefined;
  let walBridge: RunningBridge | undefined;

  before(async () => {
    db = await createTestDatabase('pgbridge_waljson');
    await db.query(`CREATE TYPE mood AS ENUM ('one', 'two words')`);
    await db.query(`CREATE DOMAIN positive AS int CHECK (VALUE > -10)`);
    await db.query(`CREATE DOMAIN quoted AS text`);
    await db.query(`CREATE TYPE pair AS (n int, s text, x numeric, arr int[])`);
    await db.query(`CREATE TABLE everything (
      id serial PRIMARY KEY, i2 smallint, i4 int, i8 bigint, num numeric, num_nan numeric, f8 float8, f8_nan float8, f8_inf float8,
      f8_ninf float8, f8_negzero float8, f4 real, b boolean, t text, j json, jb jsonb, ia int[], ta text[], d date, tm time, ttz timetz,
      ts timestamp, tstz timestamptz, iv interval, by bytea, u uuid, e mood, dom positive, dom_text quoted, comp pair, comp_arr pair[],
      tstz_arr timestamptz[], e_arr mood[], nothing text, big text, d_inf date,
      doubled numeric GENERATED ALWAYS AS (i4::numeric * 2 + num) STORED)`);
    await db.query(`ALTER TABLE everything ALTER COLUMN big SET STORAGE EXTERNAL`);
    // One in flight: both modes then print in commit order (lanes keep the order per row only).
    const base = {
      postgres: { url: db.url },
      capture: [{ table: 'everything' }],
      sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
      http: { port: 0 },
    };
    const outboxFile = writeConfig({ ...base, instance: 'ob' });
    const walFile = writeConfig({ ...base, instance: 'wl', delivery: 'wal', wal: { slot: slotName(db) } });
    for (const file of [outboxFile, walFile]) {
      const r = await cli(['install', '-c', file]);
      assert.equal(r.code, 0, r.stderr);
    }
    outboxBridge = new RunningBridge(outboxFile);
    walBridge = new RunningBridge(walFile);
    await outboxBridge.ready();
    await walBridge.ready();
    await walBridge
      .waitForLog((e) => e.msg === STREAMING)
      .catch((err) => {
        throw new Error(`${err}\n${walBridge!.logLines.join('\n')}`);
      });
  });

  after(async () => {
    await outboxBridge?.kill('SIGTERM');
    await walBridge?.kill('SIGTERM');
    if (db) await dropSlots(db);
    await db?.drop();
  });

  test('inserts, an update leaving a TOASTed value unchanged, a delete: same data and old', async () => {
    await db.query(ROWS);
    // 40 kB of incompressible text in an EXTERNAL column: stored out of line, and not sent again by an UPDATE that leaves it alone.
    await db.query(`UPDATE everything SET big = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 1250) g) WHERE id = 1`);
    await db.query(`UPDATE everything SET i4 = 7, t = 'changed' WHERE id = 1`);
    await db.query(`BEGIN; UPDATE everything SET b = NOT b; DELETE FROM everything WHERE id = 2; COMMIT`);
    const expected = 6;
    await waitFor(
      () => outboxBridge!.stdoutLines.filter(Boolean).length >= expected && walBridge!.stdoutLines.filter(Boolean).length >= expected,
      60_000,
      'events in both modes',
    );
    outbox.push(...outboxBridge!.stdoutLines.filter(Boolean));
    wal.push(...walBridge!.stdoutLines.filter(Boolean));
    if (process.env.WAL_DUMP) console.log([...outbox, ...wal].join('\n'));
    assert.equal(wal.length, outbox.length);
    for (let i = 0; i < outbox.length; i++) assert.equal(comparable(wal[i]), comparable(outbox[i]), `event ${i}`);
    const toasted = JSON.parse(wal[3]) as { data: { big: string }; old: { big: string } };
    assert.equal(toasted.data.big.length, 40_000, 'the unchanged TOASTed value is filled in');
  });
});
