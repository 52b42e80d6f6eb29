/**
 * `install` on a table another transaction holds locked: the contract's
 * "long work shows progress" (JSON lines on stderr when it is not a terminal),
 * naming what the install waits for and who holds it up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cli, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

interface ProgressLine {
  progress: string;
  elapsed_s: number;
  waiting_for: string | null;
  blocked_by: Array<{ pid: number; application: string; in_transaction_s: number | null }>;
}

const progressLines = (stderr: string): ProgressLine[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('{"progress"'))
    .map((line) => JSON.parse(line) as ProgressLine);

describe('install progress', () => {
  let db: TestDatabase;
  let file: string;

  before(async () => {
    db = await createTestDatabase();
    await db.query(`CREATE TABLE busy (id int PRIMARY KEY, note text)`);
    file = writeConfig({ postgres: { url: db.url }, capture: [{ table: 'public.busy' }], sinks: [{ name: 'out', type: 'stdout' }] });
  });

  after(async () => {
    await db?.drop();
  });

  test('waiting for a lock: a line a second naming the wait and the session holding it, then done', async () => {
    const holder = new pg.Client({ connectionString: db.url, application_name: 'lock-holder' });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');
      const holderPid = (holder as pg.Client & { processID: number }).processID;
      const install = cli(['install', '-c', file]);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      await holder.query('COMMIT');
      const result = await install;
      assert.equal(result.code, 0, result.stderr);
      const lines = progressLines(result.stderr);
      assert.ok(lines.length >= 2, `progress lines: ${result.stderr}`);
      for (const line of lines) {
        assert.equal(line.progress, 'install');
        assert.match(String(line.waiting_for), /^Lock /);
        assert.deepEqual(
          line.blocked_by.map((b) => [b.pid, b.application]),
          [[holderPid, 'lock-holder']],
        );
      }
      assert.ok(lines.at(-1)!.elapsed_s >= 2, 'elapsed time grows');
      assert.match(result.stderr, /pgbridge install: done/);
      const { rows } = await db.query(`SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.busy'::regclass AND NOT tgisinternal`);
      assert.ok(rows.length > 0, 'the triggers are in place once the lock was released');
    } finally {
      await holder.end();
    }
  });

  test('an install nothing holds up names no one (it says nothing at all unless it runs past a second)', async () => {
    const result = await cli(['install', '-c', file]);
    assert.equal(result.code, 0, result.stderr);
    for (const line of progressLines(result.stderr)) assert.deepEqual(line.blocked_by, []);
  });
});
