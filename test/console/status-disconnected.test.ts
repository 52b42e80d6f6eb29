/**
 * A running bridge that lost Postgres delivers nothing: /api/status and
 * `pgbridge status` say so (role disconnected, its sinks stopped, exit 1)
 * instead of calling it a standby, and once Postgres is back it delivers again
 * (exit 0). Postgres cut for real with a TCP proxy between bridge and server.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TcpProxy } from '../faults/tcp-proxy.js';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { proxiedDatabase } from '../support/pg-proxy.js';
import { freePort } from '../support/tcp.js';

interface Report {
  role: string;
  postgres: string;
  sinks: { name: string; state: string }[];
}

let db: TestDatabase;
let proxy: TcpProxy;
let bridge: RunningBridge;
let config: string;
let base: string;

const report = async (): Promise<Report> => (await (await fetch(`${base}/api/status`)).json()) as Report;
const readyz = async (): Promise<Record<string, string>> =>
  ((await (await fetch(`${base}/readyz`)).json()) as { components: Record<string, string> }).components;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  const proxied = await proxiedDatabase(db);
  proxy = proxied.proxy;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = writeConfig({
    postgres: { url: proxied.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'out', type: 'stdout' }],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
});

after(async () => {
  await bridge?.kill('SIGKILL');
  await proxy?.stop();
  await db?.drop();
});

test('Postgres cut: role disconnected, sinks stopped, status exits 1; back: delivering, exit 0', async () => {
  assert.equal((await report()).role, 'delivering');
  proxy.drop();
  await waitFor(async () => (await readyz()).postgres === 'not connected', 15_000, '/readyz: postgres not connected');

  const cut = await report();
  assert.equal(cut.role, 'disconnected', JSON.stringify(cut));
  assert.deepEqual(
    cut.sinks.map((s) => `${s.name}:${s.state}`),
    ['out:stopped'],
  );
  const status = await cli(['status', '-c', config]);
  assert.equal(status.code, 1, status.stdout + status.stderr);
  assert.match(status.stdout, /role: disconnected/);
  assert.match(status.stdout, /failing: out \(stopped\)/);

  proxy.restore();
  await waitFor(async () => (await report()).role === 'delivering', 30_000, 'delivering again');
  await db.query('INSERT INTO items VALUES (1)');
  await waitFor(() => bridge.stdoutLines.some((l) => l.includes('"items"')), 15_000, 'the event after the outage');
  const back = await cli(['status', '-c', config]);
  assert.equal(back.code, 0, back.stdout + back.stderr);
});
