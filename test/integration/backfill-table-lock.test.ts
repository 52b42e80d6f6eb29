/**
 * `pgbridge backfill` while another session holds a lock on the whole table
 * (an ALTER TABLE, TRUNCATE, VACUUM FULL or LOCK TABLE in a long transaction),
 * taken half way or before it starts: it says that it waits for that lock,
 * Ctrl-C stops it while the lock is still held (without shrinking its chunks
 * as for a writer's row lock), and once the lock goes the same command
 * continues; the webhook gets every row once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BIN, cli, installAndRun, ROOT, waitFor, within, writeConfig, type RunningBridge } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { backfillRowsDone } from '../support/backfill-progress.js';
import { WebhookServer } from '../support/webhook-server.js';

const ROWS = 1000;

interface Event {
  table: string;
  op: string;
  data: { id: number };
}

for (const mode of ['ACCESS EXCLUSIVE', 'EXCLUSIVE'] as const) {
  describe(`backfill while another session holds the table in ${mode} mode`, () => {
    let db: TestDatabase;
    let server: WebhookServer;
    let bridge: RunningBridge;
    let file: string;

    before(async () => {
      db = await createTestDatabase();
      server = new WebhookServer();
      const url = await server.start();
      await db.query('CREATE TABLE t (id int PRIMARY KEY)');
      await db.query(`INSERT INTO t SELECT generate_series(1, ${ROWS})`);
      file = writeConfig({
        postgres: { url: db.url },
        capture: ['t'],
        sinks: [{ name: 'hook', type: 'webhook', url, batch: { max_events: 100 } }],
        http: { port: 0 },
      });
      bridge = await installAndRun(file);
    });

    after(async () => {
      await bridge?.stop();
      await server?.stop();
      await db?.drop();
    });

    test('taken half way: it says it waits for the lock, Ctrl-C stops it meanwhile, and the same command then sends every row once', async () => {
      const rowsDone = async () => backfillRowsDone(db, 't');
      // --rate: about 2 s in all, so it is still running when the lock is taken.
      const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, 't', '--chunk', '50', '--rate', '500'], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitFor(async () => (await rowsDone()) >= 100, 30_000, 'the backfill under way');
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE t IN ${mode} MODE`);
        await waitFor(() => stderr.includes('waiting for a lock another session holds on public.t'), 30_000, 'the backfill saying it waits');
        child.kill('SIGINT');
        // The lock is still held: the backfill must not wait for it to stop.
        const code = await within(10_000, exited, 'the backfill stopping');
        assert.equal(code, 1, stderr);
        assert.match(stderr, /backfill stopped; run the same command again to continue/);
        assert.doesNotMatch(stderr, /writers keep rows of the table locked/, 'not a row lock');
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
      const run = await cli(['backfill', '-c', file, 't', '--chunk', '100']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /continuing an interrupted backfill/);
      const reads = () => (server.delivered() as Event[]).filter((e) => e.op === 'READ').map((e) => e.data.id);
      await waitFor(() => reads().length >= ROWS, 30_000, `${ROWS} READs`);
      await db.query('UPDATE t SET id = id WHERE id = 1');
      await waitFor(() => (server.delivered() as Event[]).some((e) => e.op === 'UPDATE'), 30_000, 'the UPDATE after the READs');
      assert.equal(reads().length, ROWS, 'no READ repeated');
      assert.equal(new Set(reads()).size, ROWS, 'none lost');
    });
  });
}

describe('backfill started while another session holds the table in ACCESS EXCLUSIVE mode, with a --where and a where of the table', () => {
  let db: TestDatabase;
  let server: WebhookServer;
  let bridge: RunningBridge;
  let file: string;

  before(async () => {
    db = await createTestDatabase();
    server = new WebhookServer();
    const url = await server.start();
    await db.query('CREATE TABLE f (id int PRIMARY KEY)');
    await db.query(`INSERT INTO f SELECT generate_series(1, ${ROWS})`);
    file = writeConfig({
      postgres: { url: db.url },
      capture: [{ table: 'f', where: 'id % 2 = 0' }],
      sinks: [{ name: 'hook', type: 'webhook', url, batch: { max_events: 100 } }],
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.stop();
    await server?.stop();
    await db?.drop();
  });

  test('checking the conditions says it waits for the lock and Ctrl-C stops it; once the lock goes, every matching row arrives once', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE f IN ACCESS EXCLUSIVE MODE');
      const child = spawn(process.execPath, [BIN, 'backfill', '-c', file, 'f', '--where', 'id <= 500'], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitFor(() => stderr.includes('waiting for a lock another session holds on public.f'), 30_000, 'the backfill saying it waits');
      child.kill('SIGINT');
      const code = await within(10_000, exited, 'the backfill stopping');
      assert.equal(code, 1, stderr);
      assert.match(stderr, /backfill stopped; run the same command again to continue/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    const run = await cli(['backfill', '-c', file, 'f', '--where', 'id <= 500']);
    assert.equal(run.code, 0, run.stderr);
    const reads = () => (server.delivered() as Event[]).filter((e) => e.op === 'READ').map((e) => e.data.id);
    await waitFor(() => reads().length >= 250, 30_000, '250 READs');
    await db.query('UPDATE f SET id = id WHERE id = 2');
    await waitFor(() => (server.delivered() as Event[]).some((e) => e.op === 'UPDATE'), 30_000, 'the UPDATE after the READs');
    assert.equal(reads().length, 250, 'no READ repeated');
    assert.deepEqual(
      reads().sort((a, b) => a - b),
      Array.from({ length: 250 }, (_, i) => 2 * (i + 1)),
    );
  });
});
