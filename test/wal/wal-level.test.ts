/**
 * wal mode on a server whose wal_level is not logical (a private cluster: the
 * shared one must stay logical): check, install and run each say so plainly
 * and name the fix; install changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { cli, RunningBridge, writeConfig } from '../support/bridge.js';
import { PrivatePostgres } from '../support/private-postgres.js';

describe('wal mode without wal_level = logical', () => {
  let server: PrivatePostgres;
  let file: string;

  before(async () => {
    server = await PrivatePostgres.start({ wal_level: 'replica' });
    const c = new pg.Client(server.url);
    await c.connect();
    await c.query(`CREATE TABLE items (id int PRIMARY KEY)`);
    await c.end();
    file = writeConfig({
      postgres: { url: server.url },
      delivery: 'wal',
      capture: [{ table: 'items' }],
      sinks: [{ name: 'out', type: 'stdout' }],
      http: { port: 0 },
    });
  });
  after(async () => {
    await server?.stop();
  });

  const FIX = /wal_level is replica; delivery: wal needs (wal_level = )?logical \(ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL\)/;

  test('check: wal_level FAIL with the fix, exit 1', async () => {
    const r = await cli(['check', '-c', file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^wal_level: FAIL: /m);
    assert.match(r.stdout, FIX);
  });

  test('install: exit 1 with the fix, nothing installed', async () => {
    const r = await cli(['install', '-c', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, FIX);
    const c = new pg.Client(server.url);
    await c.connect();
    try {
      const { rows } = await c.query<{ schema: boolean; pubs: number; identity: string }>(
        `SELECT to_regnamespace('pgbridge') IS NOT NULL AS schema, (SELECT count(*)::int FROM pg_publication) AS pubs,
                (SELECT relreplident::text FROM pg_class WHERE relname = 'items') AS identity`,
      );
      assert.deepEqual(rows[0], { schema: false, pubs: 0, identity: 'd' });
    } finally {
      await c.end();
    }
  });

  test('run: exits non-zero with the fix instead of retrying a stream that cannot start', async () => {
    const bridge = new RunningBridge(file);
    const code = await bridge.exited;
    assert.notEqual(code, 0);
    assert.match(bridge.logLines.join('\n'), FIX);
  });
});
