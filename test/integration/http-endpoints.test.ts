import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cli, ROOT, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer } from '../support/webhook-server.js';

const SECRET = 'whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw==';
const PASSWORD = 'hunter2-url-password';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let base: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  hook = new WebhookServer();
  const url = (await hook.start()).replace('http://', `http://user:${PASSWORD}@`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'hook', type: 'webhook', url, secret: SECRET, headers: { Authorization: 'Bearer token-that-must-not-leak' } }],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
});

after(async () => {
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
});

test('/livez answers 200 and /readyz 200 with every component ok', async () => {
  assert.equal((await fetch(`${base}/livez`)).status, 200);
  const ready = await fetch(`${base}/readyz`);
  const body = (await ready.json()) as { status: string; components: Record<string, string> };
  assert.equal(ready.status, 200, JSON.stringify(body));
  assert.equal(body.components['sink:hook'], 'ok');
});

test("before anything failed, each sink's counters are there at 0, so the first dead letter is an increase an alert sees", async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const series of [
    'pgbridge_dead_letters_total{sink="hook"} 0',
    'pgbridge_deliveries_total{sink="hook",outcome="dead_lettered"} 0',
    'pgbridge_deliveries_total{sink="hook",outcome="retried"} 0',
    'pgbridge_outbox_stranded_total{sink="hook"} 0',
  ]) {
    assert.ok(text.includes(series), `no ${series} in\n${text}`);
  }
});

test('/metrics passes promtool check metrics (Prometheus naming: only counters end in _total)', async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});

test('/metrics exports the pgbridge metrics, counting a delivered event, and no secret', async () => {
  await db.query("INSERT INTO items VALUES (1, 'one')");
  await waitFor(() => hook.delivered().length === 1, 10000, 'the event at the webhook');
  await waitFor(
    async () => (await (await fetch(`${base}/metrics`)).text()).includes('pgbridge_deliveries_total{sink="hook",outcome="delivered"} 1'),
    5000,
    'metrics',
  );
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const name of [
    'pgbridge_events_captured_total',
    'pgbridge_deliveries_total',
    'pgbridge_delivery_duration_seconds_bucket',
    'pgbridge_end_to_end_lag_seconds_bucket',
    'pgbridge_outbox_backlog',
    'pgbridge_dead_letters_total',
    'pgbridge_notification_queue_usage_ratio',
    'pgbridge_build_info',
    'pgbridge_process_cpu_seconds_total',
  ]) {
    assert.ok(text.includes(name), `missing ${name}`);
  }
  for (const secret of [SECRET, PASSWORD, 'token-that-must-not-leak']) assert.ok(!text.includes(secret), 'a secret in /metrics');
});

test('the README lists exactly the pgbridge metrics /metrics exports (process metrics aside)', async () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const operations = readme.slice(readme.indexOf('## Operations'), readme.indexOf('\n## ', readme.indexOf('## Operations') + 1));
  const own = (name: string): boolean => !/^pgbridge_(process|nodejs)_/.test(name);
  const documented = new Set([...operations.matchAll(/`(pgbridge_[a-z_]+)(?:\{[^}]*\})?`/g)].map((m) => m[1]).filter(own));
  const text = await (await fetch(`${base}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (pgbridge_[a-z_]+) /gm)].map((m) => m[1]).filter(own));
  assert.deepEqual([...documented].sort(), [...exported].sort());
});

test('an unknown path is 404', async () => {
  assert.equal((await fetch(`${base}/nope`)).status, 404);
});

test('SIGTERM exits 0; every log line is JSON naming the part of pgbridge it comes from', async () => {
  assert.equal(await bridge.kill('SIGTERM'), 0);
  const entries = bridge.logs();
  assert.equal(entries.length, bridge.logLines.filter((l) => l.trim() !== '').length, 'a log line that is not JSON');
  const components = new Set(entries.map((e) => e.component));
  assert.ok(!components.has(undefined), `a line without a component: ${JSON.stringify(entries.find((e) => e.component === undefined))}`);
  for (const part of ['bridge', 'lock', 'listener', 'http', 'process'])
    assert.ok(components.has(part), `no ${part} line in ${[...components].join(', ')}`);
});
