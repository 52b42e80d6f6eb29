/**
 * pgbridge behind a real PgBouncer (issue 11): through a transaction-mode
 * pool `run` refuses, exit 1, and leaves no lock behind on the pool's server
 * connections; through a session-mode pool it delivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { PgBouncer } from '../support/pgbouncer.js';
import { createPool } from '../../src/postgres.js';
import { liveConnections } from '../../src/stranded-sessions.js';
import type { TestDatabase } from '../support/pg.js';
import { itemsDatabase } from './outbox-harness.js';
import { cli } from '../support/bridge.js';

describe('behind PgBouncer', () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  const config = (url: string) => ({
    postgres: { url },
    capture: [{ table: 'public.items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    outbox: { poll_interval_ms: 200 },
    http: { port: 0 },
    shutdown_timeout_ms: 3000,
  });

  before(async () => {
    db = await itemsDatabase();
    const install = await cli(['install', '-c', writeConfig(config(db.url))]);
    assert.equal(install.code, 0, install.stderr);
    bouncer = await PgBouncer.start(db.name);
  });
  after(async () => {
    await bouncer?.stop();
    await db?.drop();
  });

  const advisoryLocks = async (): Promise<number> =>
    (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`,
        [db.name],
      )
    ).rows[0].n;

  test('two runs through a transaction-mode pool both refuse with exit 1, take no lock and never listen', async () => {
    const file = writeConfig(config(bouncer.url('transaction')));
    const runs = [new RunningBridge(file), new RunningBridge(file)];
    const codes = await Promise.all(runs.map((r) => r.exited));
    assert.deepEqual(codes, [1, 1]);
    for (const run of runs) {
      const logs = run.logs();
      const refusal = logs.find((l) => l.msg === 'cannot run');
      assert.ok(refusal, `no refusal logged:\n${run.logLines.join('\n')}`);
      assert.match(String(refusal.err), /transaction \(or statement\) mode/);
      assert.match(String(refusal.err), /session-mode pool/);
      assert.equal(refusal.code, 'PGBRIDGE_NO_OWN_SESSION');
      const messages = logs.map((l) => String(l.msg));
      assert.ok(!messages.some((m) => m.includes('holding the delivery lock')), 'took the lock');
      assert.ok(!messages.some((m) => m.includes('listening for notifications')), 'claimed to listen');
    }
    assert.equal(await advisoryLocks(), 0, 'an advisory lock is left on a pooled server connection');
  });

  test('then a run through a session-mode pool takes the lock and delivers', async (t) => {
    const bridge = new RunningBridge(writeConfig(config(bouncer.url('session'))));
    t.after(() => bridge.kill('SIGTERM'));
    await bridge.waitForLog((l) => l.msg === 'holding the delivery lock: this instance delivers', 20_000);
    await bridge.ready();
    await db.query(`INSERT INTO public.items (id, note) VALUES (7, 'through pgbouncer')`);
    await waitFor(() => bridge.stdoutLines.length > 0, 15_000, 'the event on stdout');
    const event = JSON.parse(bridge.stdoutLines[0]) as { op: string; data: { id: number; note: string } };
    assert.equal(event.op, 'INSERT');
    assert.deepEqual([event.data.id, event.data.note], [7, 'through pgbouncer']);
    assert.equal(await advisoryLocks(), 1);
  });

  test('a connection through the session-mode pool is never noted to be ended later: its server connection is shared', async () => {
    const direct = createPool({ postgres: { url: db.url } }, 'note test', { max: 1 });
    const pooled = createPool({ postgres: { url: bouncer.url('session') } }, 'note test', { max: 1 });
    try {
      const directClient = await direct.connect();
      const pooledClient = await pooled.connect();
      const noted = liveConnections();
      directClient.release();
      pooledClient.release();
      assert.ok(noted.includes(directClient), 'a direct connection is noted');
      assert.ok(!noted.includes(pooledClient), 'one through PgBouncer is not');
    } finally {
      await direct.end();
      await pooled.end();
    }
  });
});
