/**
 * `pgbridge backfill` at its edges: a captured table gone from the database,
 * a table others inherit from, a partitioned one, a --where that fails on some row's values,
 * --chunk values that are not a plain count, and in notify mode the listening
 * bridge stopping half way. Each says what happened; nothing is emitted twice
 * or claimed as done when it was not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { spawn } from 'node:child_process';
import { BIN, cli, installAndRun, ROOT, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { backfillRowsDone, killBackfill } from '../support/backfill-progress.js';

interface Event {
  table: string;
  op: string;
  data: { id: number };
}

describe('backfill edges (outbox mode)', () => {
  let db: TestDatabase;
  let bridge: RunningBridge;
  let file: string;

  /** A backfill of `table` killed after 30 rows (5 rows a chunk, 20 a second: it is surely still running then). */
  async function interruptBackfill(table: string): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, table, '--chunk', '5', '--rate', '20'], { cwd: ROOT, stdio: 'ignore' });
    await waitFor(async () => (await backfillRowsDone(db, table)) >= 30, 30_000, 'the backfill under way');
    await killBackfill(db, child);
  }

  before(async () => {
    db = await createTestDatabase();
    await db.query('CREATE TABLE gone (id int PRIMARY KEY)');
    await db.query('CREATE TABLE parent (id int PRIMARY KEY, v int)');
    await db.query('CREATE TABLE child (extra int) INHERITS (parent)');
    await db.query('INSERT INTO parent VALUES (1, 1), (2, 2)');
    await db.query('INSERT INTO child VALUES (3, 3, 0)');
    await db.query('CREATE TABLE measures (id int PRIMARY KEY) PARTITION BY RANGE (id)');
    await db.query('CREATE TABLE measures_low PARTITION OF measures FOR VALUES FROM (1) TO (100)');
    await db.query('CREATE TABLE measures_high PARTITION OF measures FOR VALUES FROM (100) TO (200)');
    await db.query('INSERT INTO measures VALUES (5), (150)');
    await db.query('CREATE TABLE numbers (id int PRIMARY KEY)');
    await db.query('INSERT INTO numbers SELECT generate_series(1, 20)');
    await db.query('CREATE TABLE rekeyed (id int PRIMARY KEY, code int NOT NULL)');
    await db.query('INSERT INTO rekeyed SELECT i, 101 - i FROM generate_series(1, 100) i');
    // Upper and lower case letters: "C" puts every upper case key first, en-x-icu puts a before A before b.
    await db.query('CREATE TABLE recollated (id text COLLATE "C" PRIMARY KEY)');
    await db.query(
      'INSERT INTO recollated SELECT chr(c) || i FROM generate_series(1, 2) i, (SELECT generate_series(65, 90) UNION ALL SELECT generate_series(97, 122)) l(c)',
    );
    file = writeConfig({
      postgres: { url: db.url },
      capture: ['gone', 'parent', 'measures', 'numbers', 'rekeyed', 'recollated'],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
    await db.query('DROP TABLE gone');
  });

  after(async () => {
    await bridge?.stop();
    await db?.drop();
  });

  const reads = (table: string): number[] =>
    bridge
      .stdoutEvents<Event>()
      .filter((e) => e.table === table && e.op === 'READ')
      .map((e) => e.data.id);

  test('a captured table dropped since install: exit 1, "does not exist"', async () => {
    const run = await cli(['backfill', '-c', file, 'gone']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /public\.gone does not exist in this database/);
  });

  test("a table others inherit from: its own rows only (a child's changes are not captured as its)", async () => {
    const run = await cli(['backfill', '-c', file, 'parent']);
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => reads('parent').length >= 2, 10_000, 'the READs of parent');
    // A later UPDATE of the parent's own rows comes after; give a stray child READ the same chance to show.
    await db.query('UPDATE parent SET v = v WHERE id = 1');
    await waitFor(() => bridge.stdoutLines.some((l) => l.includes('"op":"UPDATE"')), 10_000, 'the UPDATE after');
    assert.deepEqual(reads('parent'), [1, 2]);
  });

  test("a partitioned table: its partitions' rows", async () => {
    const run = await cli(['backfill', '-c', file, 'measures']);
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => reads('measures').length >= 2, 10_000, 'the READs of measures');
    assert.deepEqual(reads('measures'), [5, 150]);
  });

  test('a --where that fails on some row: exit 1 naming it, nothing emitted', async () => {
    const run = await cli(['backfill', '-c', file, 'numbers', '--where', '1 / (id - 7) > -5']);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /reading the rows of public\.numbers failed: division by zero \(check --where "1 \/ \(id - 7\) > -5"\); nothing was emitted/,
    );
    assert.deepEqual(reads('numbers'), []);
  });

  test('--chunk must be a plain count within 2^53, --rate a plain decimal above 0: otherwise usage, exit 2, nothing claimed', async () => {
    for (const chunk of ['1e20', '99999999999999999999', '1e3', '0x10', ' 7', '0', '-5', '1.5']) {
      const run = await cli(['backfill', '-c', file, 'numbers', '--chunk', chunk, '--restart']);
      assert.equal(run.code, 2, `--chunk ${JSON.stringify(chunk)}: ${run.stderr}`);
      assert.match(run.stderr, /usage/i);
    }
    for (const rate of ['1e3', '0x10', ' 7', 'Infinity', '0', '-1']) {
      const run = await cli(['backfill', '-c', file, 'numbers', `--rate=${rate}`, '--restart']);
      assert.equal(run.code, 2, `--rate ${JSON.stringify(rate)}: ${run.stderr}`);
    }
    const status = JSON.parse((await cli(['backfill', '-c', file, '--status', '--json'])).stdout) as Array<{ table: string }>;
    assert.ok(!status.some((b) => b.table === 'public.numbers'), 'no backfill of numbers recorded');
  });
  test('an interrupted backfill whose table got another primary key since: refused, its position means nothing in the new key order; --restart sends every row', async () => {
    await interruptBackfill('rekeyed');
    // Key order now runs the other way: resuming "after id 30" as "after code 30" would skip codes 1…30 (ids 71…100).
    await db.query('ALTER TABLE rekeyed DROP CONSTRAINT rekeyed_pkey, ADD PRIMARY KEY (code)');
    const resumed = await cli(['backfill', '-c', file, 'rekeyed']);
    assert.equal(resumed.code, 1, resumed.stderr);
    assert.match(
      resumed.stderr,
      /the interrupted backfill of public\.rekeyed read in the order of its primary key \(id integer\), which is now \(code integer\).*--restart/,
    );
    const restarted = await cli(['backfill', '-c', file, 'rekeyed', '--restart']);
    assert.equal(restarted.code, 0, restarted.stderr);
    await waitFor(() => new Set(reads('rekeyed')).size >= 100, 10_000, 'every row of rekeyed read');
    assert.equal(new Set(reads('rekeyed')).size, 100);
  });

  test('an interrupted backfill whose key column got another collation since: refused, its position is in the old order; --restart sends every row', async () => {
    await interruptBackfill('recollated');
    // Stopped among the upper case keys of "C": in en-x-icu every lower case key up to there comes before them, never read.
    await db.query('ALTER TABLE recollated ALTER COLUMN id TYPE text COLLATE "en-x-icu"');
    const resumed = await cli(['backfill', '-c', file, 'recollated']);
    assert.equal(resumed.code, 1, resumed.stderr);
    assert.match(
      resumed.stderr,
      /the interrupted backfill of public\.recollated read in the order of its primary key \(id text COLLATE "C"\), which is now \(id text COLLATE "en-x-icu"\).*--restart/,
    );
    const restarted = await cli(['backfill', '-c', file, 'recollated', '--restart']);
    assert.equal(restarted.code, 0, restarted.stderr);
    const keys = () =>
      new Set(
        bridge
          .stdoutEvents<{ table: string; op: string; data: { id: string } }>()
          .filter((e) => e.table === 'recollated' && e.op === 'READ')
          .map((e) => e.data.id),
      );
    await waitFor(() => keys().size >= 104, 10_000, 'every row of recollated read');
    assert.equal(keys().size, 104);
  });
});

describe('backfill in notify mode when the listening bridge stops half way', () => {
  let db: TestDatabase;
  let bridge: RunningBridge | undefined;

  before(async () => {
    db = await createTestDatabase();
  });

  after(async () => {
    await bridge?.kill('SIGKILL');
    await db?.drop();
  });

  test('the backfill stops with exit 1 and says READs were lost with that bridge', async () => {
    await db.query('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t SELECT generate_series(1, 3000)');
    const file = writeConfig({
      postgres: { url: db.url },
      delivery: 'notify',
      capture: ['t'],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
    const running = bridge;
    // 10 rows a chunk, 300 a second: ten seconds in all, the bridge stops after the first READs.
    const run = cli(['backfill', '-c', file, 't', '--chunk', '10', '--rate', '300']);
    await waitFor(() => running.stdoutLines.filter((l) => l.includes('"op":"READ"')).length >= 50, 15_000, 'the first READs');
    assert.equal(await running.stop(), 0);
    const result = await run;
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /stopped listening .*the READ events sent since are lost.*--restart/);
    const status = JSON.parse((await cli(['backfill', '-c', file, '--status', '--json'])).stdout) as Array<{ table: string; state: string }>;
    assert.deepEqual(
      status.map((b) => [b.table, b.state]),
      [['public.t', 'interrupted']],
    );
  });
});

describe('backfill in notify mode by a role other than the bridge’s', () => {
  let db: TestDatabase;
  let bridge: RunningBridge | undefined;
  let role: string;

  before(async () => {
    db = await createTestDatabase();
    role = `${db.name}_operator`;
  });

  after(async () => {
    await bridge?.stop();
    await db?.query(`DROP OWNED BY ${role}`).catch(() => {});
    await db?.query(`DROP ROLE IF EXISTS ${role}`);
    await db?.drop();
  });

  test('it cannot see the listener’s backend_start (no pg_read_all_stats): the listener is still told by its pid, and every row arrives', async () => {
    await db.query('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t SELECT generate_series(1, 100)');
    const config = (url: string) =>
      writeConfig({ postgres: { url }, delivery: 'notify', capture: ['t'], sinks: [{ name: 'out', type: 'stdout' }], http: { port: 0 } });
    const running = await installAndRun(config(db.url));
    bridge = running;
    await db.query(`CREATE ROLE ${role} LOGIN`);
    await db.query(`GRANT USAGE ON SCHEMA pgbridge TO ${role}`);
    await db.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA pgbridge TO ${role}`);
    await db.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgbridge TO ${role}`);
    // FOR SHARE takes UPDATE on the table.
    await db.query(`GRANT SELECT, UPDATE ON t TO ${role}`);
    const asOperator = new URL(db.url);
    asOperator.username = role;
    const operator = new pg.Client({ connectionString: asOperator.toString() });
    await operator.connect();
    try {
      const { rows } = await operator.query<{ started: Date | null }>(
        "SELECT backend_start AS started FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbridge listener default'",
      );
      assert.deepEqual(rows, [{ started: null }], 'the listener seen, its start hidden');
    } finally {
      await operator.end();
    }
    const run = await cli(['backfill', '-c', config(asOperator.toString()), 't', '--chunk', '10']);
    assert.equal(run.code, 0, run.stderr);
    const reads = () => running.stdoutLines.filter((l) => l.includes('"op":"READ"')).length;
    await waitFor(() => reads() >= 100, 15_000, '100 READs');
    assert.equal(reads(), 100);
  });
});
