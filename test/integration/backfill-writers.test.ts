/**
 * A backfill meets writers holding row locks (an open transaction of the
 * user's): the chunk must not hold the rows it already locked while it waits
 * for one the writer holds, or a writer of those rows waits as long as the
 * other transaction, and one that holds a chunk row and then wants another
 * deadlocks with the chunk. Writers are real sessions; READs counted at stdout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BIN, cli, installAndRun, ROOT, waitFor, within, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface Event {
  table: string;
  op: string;
  data: { id: number; v: number };
}

const ROWS = 100;
const BUSY_ROWS = 2000;

describe('backfill while writers hold rows of the chunk (outbox mode)', () => {
  let db: TestDatabase;
  let bridge: RunningBridge;
  let file: string;

  before(async () => {
    db = await createTestDatabase();
    await db.query('CREATE TABLE busy (id int PRIMARY KEY, v int NOT NULL)');
    await db.query(`INSERT INTO busy SELECT i, 0 FROM generate_series(1, ${BUSY_ROWS}) i`);
    for (const table of ['held', 'crossed', 'waiting']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO ${table} SELECT i, 0 FROM generate_series(1, ${ROWS}) i`);
    }
    file = writeConfig({
      postgres: { url: db.url },
      capture: ['held', 'crossed', 'waiting', 'busy'],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.stop();
    await db?.drop();
  });

  const atStdout = (table: string): Event[] => bridge.stdoutEvents<Event>().filter((e) => e.table === table);

  /** A session of the test's own, as a user's application would hold one. */
  const session = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Fails instead of waiting forever, should a row stay locked.
    await client.query("SET lock_timeout = '10s'");
    return client;
  };

  /**
   * The backfill's session waiting for the held row longer than a chunk of many rows may
   * (50 ms): it shrank its chunks to that one row, and holds no other.
   */
  const backfillWaitingForTheHeldRow = () =>
    waitFor(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbridge backfill'
                AND wait_event_type = 'Lock' AND now() - query_start > interval '300 ms'`,
          )
        ).rowCount === 1,
      15_000,
      'the backfill waiting for the row the writer holds',
      { intervalMs: 20 },
    );

  /**
   * Every row's READ arrived; an updated row's READ either came before its UPDATE, or after it
   * carrying the value it left: never a READ older than a change already delivered.
   */
  const assertReadsInOrder = async (table: string, updated: readonly number[]) => {
    await waitFor(() => atStdout(table).filter((e) => e.op === 'READ').length >= ROWS, 15_000, `${ROWS} READs of ${table}`);
    const events = atStdout(table);
    assert.equal(new Set(events.filter((e) => e.op === 'READ').map((e) => e.data.id)).size, ROWS);
    for (const id of updated) {
      const ofRow = events.filter((e) => e.data.id === id).map((e) => `${e.op} ${e.data.v}`);
      assert.ok(['UPDATE 1,READ 1', 'READ 0,UPDATE 1'].includes(ofRow.join()), `row ${id}: ${ofRow.join(', ')}`);
    }
    // The held row was updated before the backfill began: its READ can only come after, with its value.
    assert.deepEqual(
      events.filter((e) => e.data.id === 60).map((e) => `${e.op} ${e.data.v}`),
      ['UPDATE 1', 'READ 1'],
    );
  };

  test('a writer of another row of the chunk goes on at once; the backfill finishes once the held row is free', async () => {
    const holder = await session();
    const other = await session();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE held SET v = v + 1 WHERE id = 60');
      const run = cli(['backfill', '-c', file, 'held', '--chunk', String(ROWS)]);
      await backfillWaitingForTheHeldRow();
      // Row 10 was locked by a chunk that reached row 60; it must not stay locked while the backfill waits.
      await other.query('UPDATE held SET v = v + 1 WHERE id = 10');
      await holder.query('COMMIT');
      const result = await run;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /writers keep rows of the table locked: the backfill goes past them one row at a time/);
      await assertReadsInOrder('held', [10, 60]);
    } finally {
      await holder.end();
      await other.end();
    }
  });

  test('a writer holding a row the chunk waits for, then asking for a row the chunk took: no deadlock, both finish', async () => {
    const writer = await session();
    try {
      await writer.query('BEGIN');
      await writer.query('UPDATE crossed SET v = v + 1 WHERE id = 60');
      const run = cli(['backfill', '-c', file, 'crossed', '--chunk', String(ROWS)]);
      await backfillWaitingForTheHeldRow();
      await writer.query('UPDATE crossed SET v = v + 1 WHERE id = 10');
      await writer.query('COMMIT');
      const result = await run;
      assert.equal(result.code, 0, result.stderr);
      await assertReadsInOrder('crossed', [10, 60]);
    } finally {
      await writer.end();
    }
  });

  test('Ctrl-C while it waits for a row a writer keeps locked: it stops, and the table is free for the next run', async () => {
    const holder = await session();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE waiting SET v = v + 1 WHERE id = 60');
      const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, 'waiting', '--chunk', String(ROWS)], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await backfillWaitingForTheHeldRow();
      child.kill('SIGINT');
      // The writer still holds the row: the backfill must not wait for it to stop.
      const code = await within(20_000, exited, 'the backfill stopping');
      assert.equal(code, 1, stderr);
      assert.match(stderr, /backfill stopped; run the same command again to continue/);
      const status = JSON.parse((await cli(['backfill', '-c', file, '--status', '--json'])).stdout) as Array<{ table: string; state: string }>;
      assert.deepEqual(
        status.filter((b) => b.table === 'public.waiting').map((b) => b.state),
        ['interrupted'],
      );
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  test('writers that keep rows locked all along: the backfill still goes through, and each row ends as the table has it', async () => {
    let writing = true;
    const writer = async () => {
      const client = await session();
      try {
        while (writing) {
          await client.query('BEGIN');
          await client.query('UPDATE busy SET v = v + 1 WHERE id = $1', [1 + Math.floor(Math.random() * BUSY_ROWS)]);
          await client.query('SELECT pg_sleep(0.2)');
          await client.query('COMMIT');
        }
      } finally {
        await client.end();
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    try {
      // The default chunk: the whole table, some row of it always locked by a writer.
      const result = await within(120_000, cli(['backfill', '-c', file, 'busy']), 'the backfill');
      assert.equal(result.code, 0, result.stderr);
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    const table = new Map((await db.query<{ id: number; v: number }>('SELECT id, v FROM busy')).rows.map((r) => [r.id, r.v]));
    const differences = () => {
      const last = new Map<number, number>();
      for (const e of atStdout('busy')) last.set(e.data.id, e.data.v);
      return [...table].filter(([id, v]) => last.get(id) !== v).length;
    };
    await waitFor(() => differences() === 0, 30_000, 'each row as the table has it').catch(() => {});
    assert.equal(differences(), 0, 'rows whose last event differs from the table');
    assert.equal(
      new Set(
        atStdout('busy')
          .filter((e) => e.op === 'READ')
          .map((e) => e.data.id),
      ).size,
      BUSY_ROWS,
      'every row read',
    );
  });
});
