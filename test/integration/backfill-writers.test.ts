/**
 * A backfill meets writers holding row locks (an open transaction of the
 * user's): the chunk must not hold the rows it already locked while it waits
 * for one the writer holds, or a writer of those rows waits as long as the
 * other transaction, and one that holds a chunk row and then wants another
 * deadlocks with the chunk. Writers are real sessions; READs counted at stdout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cli, installAndRun, waitFor, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface Event {
  table: string;
  op: string;
  data: { id: number; v: number };
}

const ROWS = 100;

describe('backfill while a writer holds a row of the chunk (outbox mode, one chunk of the whole table)', () => {
  let db: TestDatabase;
  let bridge: RunningBridge;
  let file: string;

  before(async () => {
    db = await createTestDatabase();
    for (const table of ['held', 'crossed']) {
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await db.query(`INSERT INTO ${table} SELECT i, 0 FROM generate_series(1, ${ROWS}) i`);
    }
    file = writeConfig({
      postgres: { url: db.url },
      capture: ['held', 'crossed'],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.stop();
    await db?.drop();
  });

  const atStdout = (table: string): Event[] =>
    bridge.stdoutLines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Event)
      .filter((e) => e.table === table);

  /** A session of the test's own, as a user's application would hold one. */
  const session = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Fails instead of waiting forever, should a row stay locked.
    await client.query("SET lock_timeout = '10s'");
    return client;
  };

  /** Seen once: the backfill's session waiting for a row lock. */
  const backfillWaitingForALock = () =>
    waitFor(
      async () =>
        (
          await db.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbridge backfill' AND wait_event_type = 'Lock'",
          )
        ).rowCount === 1,
      15_000,
      'the backfill waiting for the row the writer holds',
      { intervalMs: 5 },
    );

  /** Every row's READ arrived, each after the UPDATEs of its row, carrying the value they left. */
  const assertReadsAfterUpdates = async (table: string, updated: readonly number[]) => {
    await waitFor(() => atStdout(table).filter((e) => e.op === 'READ').length >= ROWS, 15_000, `${ROWS} READs of ${table}`);
    const events = atStdout(table);
    assert.equal(new Set(events.filter((e) => e.op === 'READ').map((e) => e.data.id)).size, ROWS);
    for (const id of updated) {
      const ofRow = events.filter((e) => e.data.id === id).map((e) => `${e.op} ${e.data.v}`);
      assert.deepEqual(ofRow, ['UPDATE 1', 'READ 1'], `row ${id}`);
    }
  };

  test('a writer of another row of the chunk goes on at once; the backfill finishes once the held row is free', async () => {
    const holder = await session();
    const other = await session();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE held SET v = v + 1 WHERE id = 60');
      const run = cli(['backfill', '-c', file, 'held', '--chunk', String(ROWS)]);
      await backfillWaitingForALock();
      // Row 10 was locked by the chunk before it reached row 60; it must not stay locked while the chunk waits.
      await other.query('UPDATE held SET v = v + 1 WHERE id = 10');
      await holder.query('COMMIT');
      const result = await run;
      assert.equal(result.code, 0, result.stderr);
      await assertReadsAfterUpdates('held', [10, 60]);
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
      await backfillWaitingForALock();
      await writer.query('UPDATE crossed SET v = v + 1 WHERE id = 10');
      await writer.query('COMMIT');
      const result = await run;
      assert.equal(result.code, 0, result.stderr);
      await assertReadsAfterUpdates('crossed', [10, 60]);
    } finally {
      await writer.end();
    }
  });
});
