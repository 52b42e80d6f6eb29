/**
 * A `--where` or a capture `where` that closes the parenthesis it is put in
 * (`v < 5) OR (true`) is refused before anything is written. Pasted into a
 * chunk's `key > $1 AND (…) AND (table filter)`, such a --where once swallowed
 * the key range and the table's filter: the backfill never ended and wrote
 * READs of filtered-out rows over and over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { BIN, cli, ROOT, writeConfig, type CliResult } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

/** The CLI, killed after `ms` (code null then): a backfill that never ends fails the test instead of hanging it. */
function cliWithin(ms: number, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('backfill --where and capture where must be one condition of their own', () => {
  let db: TestDatabase;
  const config = (where: string) =>
    writeConfig({ postgres: { url: db.url }, capture: [{ table: 'bo', where }], sinks: [{ name: 'out', type: 'stdout' }] });
  const reads = async () =>
    (
      await db.query<{ n: number; v3: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE (data->>'v')::int = 3)::int AS v3 FROM pgbridge.outbox`,
      )
    ).rows[0];

  before(async () => {
    db = await createTestDatabase();
    await db.query('CREATE TABLE bo (id int PRIMARY KEY, v int NOT NULL)');
    await db.query('INSERT INTO bo SELECT i, i % 10 FROM generate_series(1, 3000) i');
  });
  after(async () => {
    await db?.drop();
  });

  test('a capture where that closes its parenthesis: install exits 1 naming the table, nothing installed', async () => {
    const run = await cli(['install', '-c', config('v < 5) OR (true')]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /where of public\.bo \("v < 5\) OR \(true"\) is not a valid row filter: not one condition of its own: the "\)" at character 6 closes a parenthesis it did not open/,
    );
    assert.equal((await db.query("SELECT to_regnamespace('pgbridge') IS NULL AS none")).rows[0].none, true);
  });

  test('a --where that closes its parenthesis: refused at once (exit 1), nothing written', async () => {
    const file = config('v <> 3');
    assert.equal((await cli(['install', '-c', file])).code, 0);
    const cases: Array<[string, RegExp]> = [
      ['v < 5) OR (true', /the "\)" at character 6 closes a parenthesis it did not open/],
      ["v < 5) OR (v = 3 /* ' */", /the "\)" at character 6 closes/],
      ['(v < 5', /a "\(" is never closed/],
      ['v < 5 /* ) OR (true', /a \/\* comment at character 7 is never closed/],
    ];
    for (const [where, why] of cases) {
      const run = await cliWithin(20_000, ['backfill', '-c', file, 'bo', '--where', where, '--chunk', '1000']);
      assert.equal(run.code, 1, `${where}: ${run.stderr}`);
      assert.match(run.stderr, /--where ".*" is not a valid condition on public\.bo: not one condition of its own: /);
      assert.match(run.stderr, why);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      assert.deepEqual(await reads(), { n: 0, v3: 0 }, `${where}: nothing written`);
    }
    assert.equal((await db.query('SELECT count(*)::int AS n FROM pgbridge.backfills')).rows[0].n, 0);
  });

  test('parentheses in strings, quoted names and subqueries, and now(), still work; the table filter holds', async () => {
    const file = config('v <> 3');
    const where = `id IN (SELECT b.id FROM bo b WHERE b.v < 5 OR b.v::text = ')') AND now() > '2000-01-01' AND "v" IS NOT NULL -- (`;
    const run = await cliWithin(60_000, ['backfill', '-c', file, 'bo', '--where', where, '--chunk', '1000']);
    assert.equal(run.code, 0, run.stderr);
    // v in 0, 1, 2, 4: 300 rows each.
    assert.deepEqual(await reads(), { n: 1200, v3: 0 });
  });
});
