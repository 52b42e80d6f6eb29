/**
 * `changed` listing columns whose type has no equality operator Postgres could
 * use (json, xml, point, box, json[], a composite with a json field): such a
 * column counts as changed when its text changed, in outbox, notify and wal
 * mode alike. install and check pass, an event comes only when a listed column
 * changed, the `where` still applies, and wal mode never falls back to
 * delivering rows unfiltered.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase } from '../support/pg.js';
import { dropSlots, slotName, streaming } from '../support/wal.js';

const MODES = ['outbox', 'notify', 'wal'] as const;
type Mode = (typeof MODES)[number];

interface Line {
  table: string;
  op: string;
  data: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
}

const TABLES = `
  CREATE TYPE meta AS (j json, n int);
  CREATE TABLE docs (id int PRIMARY KEY, status text NOT NULL, amount numeric, js json, x xml, p point, b box, tags json[], m meta, note text);
  CREATE TABLE marks (n int PRIMARY KEY)`;

const CHANGED = ['status', 'amount', 'js', 'x', 'p', 'b', 'tags', 'm'];

const STATEMENTS = [
  `INSERT INTO docs VALUES
     (1, 'new', 1, '{"a": 1}', '<a/>', point(1, 2), box(point(0, 0), point(1, 1)), ARRAY['{"t": 1}'::json], ROW('{"k": 1}', 1), 'n'),
     (2, 'draft', 2, '{"a": 1}', '<a/>', point(1, 2), box(point(0, 0), point(1, 1)), ARRAY['{"t": 1}'::json], ROW('{"k": 1}', 1), 'n'),
     (3, 'new', 3, NULL, NULL, NULL, NULL, NULL, NULL, 'n')`,
  `UPDATE docs SET note = 'other column' WHERE id = 1`,
  `UPDATE docs SET js = js, x = x, p = p, b = b, tags = tags, m = m WHERE id = 1`,
  `UPDATE docs SET js = '{"a": 2}' WHERE id = 1`,
  `UPDATE docs SET js = '{"a": 2}' WHERE id = 2`,
  `UPDATE docs SET x = '<b/>' WHERE id = 1`,
  `UPDATE docs SET p = point(1, 2.0000000000000004) WHERE id = 1`,
  // The same area: box's own = would call it equal.
  `UPDATE docs SET b = box(point(1, 1), point(2, 2)) WHERE id = 1`,
  `UPDATE docs SET tags = ARRAY['{"t": 2}'::json] WHERE id = 1`,
  `UPDATE docs SET m = ROW('{"k": 2}', 1) WHERE id = 1`,
  `UPDATE docs SET js = '{}' WHERE id = 3`,
  `UPDATE docs SET js = NULL WHERE id = 3`,
  `UPDATE docs SET status = 'draft', js = '{"a": 3}' WHERE id = 1`,
  `DELETE FROM docs`,
];

const EXPECTED = [
  'INSERT 1',
  'INSERT 3',
  'UPDATE 1 js',
  'UPDATE 1 x',
  'UPDATE 1 p',
  'UPDATE 1 b',
  'UPDATE 1 tags',
  'UPDATE 1 m',
  'UPDATE 3 js',
  'UPDATE 3 js',
  'DELETE 3',
];

/** The event's text but for what differs between runs by design (id, txid, ts). */
const withoutIdTxidTs = (line: string): string => line.replace(/^\{"id":"[^"]*",/, '{').replace(/,"txid":"[^"]*","ts":"[^"]*"\}$/, '}');

/** `op id` and, for an UPDATE, the listed columns whose text differs between old and data. */
function summary(line: Line): string {
  const row = line.data ?? line.old;
  const changed = CHANGED.filter((c) => line.op === 'UPDATE' && JSON.stringify(line.data?.[c]) !== JSON.stringify(line.old?.[c]));
  return [line.op, String(row?.id), ...changed].join(' ');
}

/** Runs STATEMENTS in `mode` on a fresh database; the events that arrived, and what the log said of the filters. */
async function run(mode: Mode): Promise<{ lines: Line[]; texts: string[]; warnings: string[] }> {
  const db = await createTestDatabase('pgbridge_changed');
  let bridge: RunningBridge | undefined;
  try {
    await db.query(TABLES);
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: mode,
      wal: { slot: slotName(db) },
      capture: [
        { table: 'docs', ops: ['insert', 'update', 'delete'], where: "status <> 'draft'", changed: CHANGED },
        { table: 'marks', ops: ['insert'] },
      ],
      sinks: [{ name: 'out', type: 'stdout', max_in_flight: 1 }],
      http: { port: 0 },
    });
    const installed = await cli(['install', '-c', file]);
    assert.equal(installed.code, 0, `${mode} install: ${installed.stderr}`);
    const check = await cli(['check', '-c', file]);
    assert.equal(check.code, 0, `${mode} check:\n${check.stdout}${check.stderr}`);
    bridge = new RunningBridge(file);
    if (mode === 'wal') await streaming(bridge);
    else await bridge.ready();
    for (const sql of STATEMENTS) await db.query(sql);
    await db.query(`INSERT INTO marks VALUES (1)`);
    const parsed = () => bridge!.stdoutEvents<Line>();
    await waitFor(() => parsed().some((l) => l.table === 'marks'), 30_000, `the marker (${mode})`);
    const warnings = bridge
      .logs()
      .map((e) => String(e.msg))
      .filter((msg) => /unfiltered|where|changed/.test(msg));
    const texts = bridge.stdoutLines.filter((l) => l.startsWith('{"id"') && l.includes('"table":"docs"')).map(withoutIdTxidTs);
    return { lines: parsed().filter((l) => l.table === 'docs'), texts, warnings };
  } finally {
    await bridge?.kill('SIGKILL');
    await dropSlots(db);
    await db.drop();
  }
}

describe('changed: a column without an equality operator is compared by its text', () => {
  const results = new Map<Mode, string[]>();
  for (const mode of MODES) {
    test(`${mode} mode: install and check pass; events only when a listed column changed, where applied`, async () => {
      const { lines, texts, warnings } = await run(mode);
      assert.deepEqual(lines.map(summary), EXPECTED);
      assert.deepEqual(warnings, [], 'no warning about the filters (nothing delivered unfiltered)');
      assert.equal(texts.length, EXPECTED.length);
      results.set(mode, texts);
    });
  }

  test('every mode sends the same data and old, byte for byte', () => {
    const outbox = results.get('outbox');
    assert.ok(outbox, 'outbox mode ran');
    for (const mode of ['notify', 'wal'] as const) assert.deepEqual(results.get(mode), outbox, mode);
  });
});
