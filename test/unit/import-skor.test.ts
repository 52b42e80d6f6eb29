import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { skorToConfig } from '../../src/commands/import-skor.js';
import { loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pgbridge-skor-'));

/** The generated config, loaded the way `pgbridge run` would load it. */
function load(yaml: string) {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/app' });
}

describe('import-skor', () => {
  test("skor's own triggers.json: a list of {table, schema, columns}", () => {
    const triggers = [
      { table: 'albums' },
      { table: 'songs', columns: '*' },
      { table: 'bands', schema: 'music', columns: ['id'] },
      { table: 'labels', columns: { insert: '*', update: ['id', 'name'], delete: ['id'] } },
      { table: 'charts', columns: { update: ['id'] } },
      { table: 'Order Items', schema: 'my.schema' },
    ];
    const config = load(skorToConfig(triggers, 'http://127.0.0.1:5000/'));
    const all = ['delete', 'insert', 'update'];
    assert.deepEqual(
      config.capture.map((c) => [c.schema, c.table, [...c.ops].sort(), c.columns]),
      [
        ['public', 'albums', all, { insert: null, update: null, delete: null }],
        ['public', 'songs', all, { insert: null, update: null, delete: null }],
        ['music', 'bands', all, { insert: ['id'], update: ['id'], delete: ['id'] }],
        ['public', 'labels', all, { insert: null, update: ['id', 'name'], delete: ['id'] }],
        // A per-op map captures only the ops it names, as skor's gen-triggers.py does.
        ['public', 'charts', ['update'], { insert: null, update: ['id'], delete: null }],
        // Unquoted in skor's SQL, so folded (the space would have made that SQL fail anyway).
        ['my.schema', 'order items', all, { insert: null, update: null, delete: null }],
      ],
    );
    assert.deepEqual(
      config.sinks.map((s) => [s.name, s.type, s.format, s.url]),
      [['skor', 'webhook', 'skor', 'http://127.0.0.1:5000/']],
    );
  });

  test("skor's list: names as Postgres reads them in gen-triggers.py's SQL, unquoted folded to lower case, double-quoted kept", () => {
    const triggers = [
      { table: 'MixedCase', columns: ['C1'] },
      { table: 'skor_test_t5', schema: 'Other' },
      { table: 'T6', schema: '"Kept"', columns: { insert: '*', update: ['ID', '"Col"', '"say ""hi"""'] } },
      { table: '"Order.Items"', schema: 'SALES' },
      // Postgres folds only ASCII letters (in a UTF-8 database) and cuts a name to 63 bytes.
      { table: `Ünïcode_${'X'.repeat(60)}` },
    ];
    const config = load(skorToConfig(triggers, 'http://127.0.0.1:5000/'));
    assert.deepEqual(
      config.capture.map((c) => [c.schema, c.table, c.columns]),
      [
        ['public', 'mixedcase', { insert: ['c1'], update: ['c1'], delete: ['c1'] }],
        ['other', 'skor_test_t5', { insert: null, update: null, delete: null }],
        ['Kept', 't6', { insert: null, update: ['id', 'Col', 'say "hi"'], delete: null }],
        ['sales', 'Order.Items', { insert: null, update: null, delete: null }],
        ['public', `Ünïcode_${'x'.repeat(53)}`, { insert: null, update: null, delete: null }],
      ],
    );
    assert.equal(Buffer.byteLength(config.capture[4].table), 63);
  });

  test('operation keys in any case, as gen-triggers.py lower-cases them; one given twice is refused', () => {
    const config = load(skorToConfig([{ table: 'ops_t', columns: { INSERT: '*', Delete: ['id'] } }], 'http://127.0.0.1:5000/'));
    assert.deepEqual([...config.capture[0].ops].sort(), ['delete', 'insert']);
    assert.deepEqual(config.capture[0].columns, { insert: null, update: null, delete: ['id'] });
    assert.deepEqual([...load(skorToConfig({ t: { UPDATE: '*' } }, 'http://h/')).capture[0].ops], ['update']);
    assert.throws(
      () => skorToConfig([{ table: 't', columns: { insert: '*', INSERT: ['id'] } }], 'u'),
      /\[0\]\.columns\.INSERT: insert is given twice/,
    );
    assert.throws(() => skorToConfig([{ table: 't', columns: { UPSERT: '*' } }], 'u'), /\[0\]\.columns\.UPSERT: unknown operation/);
  });

  test("skor's list: what it refuses", () => {
    assert.throws(() => skorToConfig([], 'u'), /no tables/);
    assert.throws(() => skorToConfig([{ columns: '*' }], 'u'), /\[0\]\.table: must be a table name/);
    assert.throws(() => skorToConfig([{ table: 't', colums: '*' }], 'u'), /\[0\]\.colums: unknown key/);
    assert.throws(() => skorToConfig([{ table: 't' }, { table: 'u', columns: 'id' }], 'u'), /\[1\]\.columns/);
    assert.throws(() => skorToConfig([{ table: 't', columns: { upsert: '*' } }], 'u'), /\[0\]\.columns\.upsert: unknown operation/);
    assert.throws(() => skorToConfig(['t'], 'u'), /\[0\]: expected/);
  });

  test('the map form {"table": {"insert": {"columns": …}}}: ops, columns per op, schema public by default, skor format', () => {
    const yaml = skorToConfig(
      {
        test_table: { insert: { columns: '*' }, update: { columns: ['id', 'status'] }, delete: { columns: ['id'] } },
        'sales.orders': { insert: { columns: ['id'] } },
      },
      'http://127.0.0.1:5000/',
    );
    assert.match(yaml, /^# Generated by pgbridge import-skor/);
    const config = load(yaml);
    assert.equal(config.postgres.url, 'postgres://postgres@127.0.0.1:5432/app');
    assert.equal(config.capture.length, 2);
    const [t, orders] = config.capture;
    assert.deepEqual([t.schema, t.table, [...t.ops].sort()], ['public', 'test_table', ['delete', 'insert', 'update']]);
    assert.deepEqual(t.columns, { insert: null, update: ['id', 'status'], delete: ['id'] });
    assert.deepEqual([orders.schema, orders.table, [...orders.ops]], ['sales', 'orders', ['insert']]);
    assert.deepEqual(
      config.sinks.map((s) => [s.type, s.format, s.url]),
      [['webhook', 'skor', 'http://127.0.0.1:5000/']],
    );
  });

  test('the shorter {"table": {"insert": "*"}} form', () => {
    const config = load(skorToConfig({ users: { insert: '*', delete: ['id'] } }, 'http://127.0.0.1:5000/hook'));
    assert.deepEqual(config.capture[0].columns, { insert: null, update: null, delete: ['id'] });
    assert.deepEqual([...config.capture[0].ops].sort(), ['delete', 'insert']);
  });

  test('without a URL the generated config reads ${WEBHOOK_URL}', () => {
    const yaml = skorToConfig({ t: { insert: '*' } }, '${WEBHOOK_URL}');
    assert.equal((YAML.parse(yaml) as { sinks: Array<{ url: string }> }).sinks[0].url, '${WEBHOOK_URL}');
  });

  test('names with quotes or spaces survive the YAML round trip', () => {
    const config = load(skorToConfig({ 'x"; drop table y; --': { insert: '*' }, "it's": { update: ['a b'] } }, 'http://h/'));
    assert.deepEqual(
      config.capture.map((c) => c.table),
      ['x"; drop table y; --', "it's"],
    );
    assert.deepEqual(config.capture[1].columns.update, ['a b']);
  });

  test('the map form: what it refuses, with the table and op named', () => {
    assert.throws(() => skorToConfig(null, 'u'), /expected a list of tables/);
    assert.throws(() => skorToConfig({}, 'u'), /no tables/);
    assert.throws(() => skorToConfig({ t: 5 }, 'u'), /t: expected \{insert, update, delete\}/);
    assert.throws(() => skorToConfig({ t: { upsert: '*' } }, 'u'), /t\.upsert: unknown operation/);
    assert.throws(() => skorToConfig({ t: { insert: { columns: 'id' } } }, 'u'), /t\.insert: columns must be "\*" or a list of names/);
    assert.throws(() => skorToConfig({ t: { insert: [1] } }, 'u'), /t\.insert: columns/);
  });
});
