/**
 * A sink that cannot be reached: the console's status and `pgbridge status`
 * say it is down (exit 1) with its error, the alert gauge is 1, and once the
 * far end is back everything says delivering again (exit 0).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';

const TOKEN = 'status-failing-token-2d8e';
let db: TestDatabase;
let bridge: RunningBridge;
let config: string;
let base: string;
let hookPort: number;
let server: http.Server | undefined;
const received: string[] = [];
const env = { STATUS_TOKEN: TOKEN };

interface Report {
  sinks: {
    name: string;
    state: string;
    backlog: number;
    oldest_pending_seconds: number | null;
    failing_since: string | null;
    last_error?: string | null;
  }[];
}

const status = async (): Promise<Report> =>
  (await (await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Report;
const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY)');
  hookPort = await freePort();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${hookPort}/`, retry: { initial_ms: 100, max_ms: 500 } }],
    http: { port, host: '127.0.0.1', token: '${STATUS_TOKEN}' },
  });
  assert.equal((await cli(['install', '-c', config], env)).code, 0);
  bridge = new RunningBridge(config, env);
  await bridge.ready();
});

after(async () => {
  await bridge?.kill('SIGTERM');
  server?.closeAllConnections();
  server?.close();
  await db?.drop();
});

test('nothing listening: the sink is down with its error, status exits 1, the failing gauge is 1', async () => {
  await db.query('INSERT INTO items VALUES (1), (2)');
  // The backlog comes from Postgres, read at most once a second: it may show a moment after the state.
  await waitFor(
    async () => {
      const [sink] = (await status()).sinks;
      return sink.state === 'down' && sink.backlog === 2;
    },
    20_000,
    'the sink reported down with 2 events waiting',
  );
  const [hook] = (await status()).sinks;
  assert.ok(hook.failing_since !== null);
  assert.match(hook.last_error ?? '', /ECONNREFUSED|connect/i);
  const result = await cli(['status', '-c', config], env);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^hook +webhook +down +2 /m);
  assert.match(result.stdout, /failing: hook \(down\)/);
  await waitFor(async () => /pgbridge_sink_failing\{sink="hook"\} 1/.test(await metrics()), 20_000, 'pgbridge_sink_failing 1');
  await waitFor(async () => /pgbridge_oldest_pending_seconds\{sink="hook"\} [1-9]/.test(await metrics()), 20_000, 'oldest pending age above 0');
});

test('the far end back: delivered, the sink delivering again, status exits 0', async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req
      .on('data', (c) => (body += c))
      .on('end', () => {
        if (req.method === 'POST') received.push(body);
        res.writeHead(204).end();
      });
  });
  await new Promise<void>((resolve) => server!.listen(hookPort, '127.0.0.1', resolve));
  await waitFor(() => received.length === 2, 30_000, 'both events at the webhook');
  await waitFor(async () => (await status()).sinks[0].state === 'delivering', 20_000, 'the sink reported delivering');
  await waitFor(async () => (await status()).sinks[0].backlog === 0, 20_000, 'the backlog empty');
  const result = await cli(['status', '-c', config, '--json'], env);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assert.equal(report.sinks[0].state, 'delivering');
  assert.equal(report.sinks[0].failing_since, null);
  await waitFor(async () => /pgbridge_sink_failing\{sink="hook"\} 0/.test(await metrics()), 20_000, 'pgbridge_sink_failing 0');
});
