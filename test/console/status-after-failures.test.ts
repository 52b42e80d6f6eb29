/**
 * What `status`, the console's report and the failing gauge say after a sink
 * failed: once its retries ran out and the batch is dead-lettered with nothing
 * else to send, it is delivering again (exit 0, gauge 0); and a webhook that
 * answered HTTP 500 and then stops answering at all shows the connection
 * error, not the 500 of before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, showingLogOnFailure, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'status-after-failures-token-7c1f';
/** How often the bridge samples its status gauges (sampleStatusGauges), with a margin. */
const GAUGE_SAMPLED_MS = 5500;
const env = { STATUS_TOKEN: TOKEN };
let db: TestDatabase;
let bridge: RunningBridge;
let config: string;
let base: string;
const exhausted = new WebhookServer();
const flaky = new WebhookServer();

interface SinkReport {
  name: string;
  state: string;
  dead_lettered: number;
  failing_since: string | null;
  last_error?: string | null;
}

const sinkReport = async (name: string): Promise<SinkReport> => {
  const res = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const report = (await res.json()) as { sinks: SinkReport[] };
  return report.sinks.find((s) => s.name === name)!;
};
const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE spent (id bigint PRIMARY KEY)');
  await db.query('CREATE TABLE flaky_items (id bigint PRIMARY KEY)');
  exhausted.reply = () => ({ status: 500, body: 'exhausted' });
  flaky.reply = () => ({ status: 500, body: 'flaky' });
  await exhausted.start();
  await flaky.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'spent' }, { table: 'flaky_items' }],
    sinks: [
      { name: 'hook', type: 'webhook', url: exhausted.url, retry: { initial_ms: 50, max_ms: 100, max_attempts: 3 } },
      // Its next attempt is 30 s or more away: what status shows meanwhile comes from the probes.
      { name: 'flaky', type: 'webhook', url: flaky.url, retry: { initial_ms: 60_000, max_ms: 60_000 }, probe_interval_ms: 300 },
    ],
    routes: [
      { from: { table: 'public.spent' }, to: ['hook'] },
      { from: { table: 'public.flaky_items' }, to: ['flaky'] },
    ],
    http: { port, host: '127.0.0.1', token: '${STATUS_TOKEN}' },
  });
  assert.equal((await cli(['install', '-c', config], env)).code, 0);
  bridge = new RunningBridge(config, env);
  await bridge.ready();
});

after(async () => {
  await bridge?.stop();
  await exhausted.stop();
  await flaky.stop();
  await db?.drop();
});

test('retries run out, the event is dead-lettered, nothing else waits: delivering, status exits 0, the failing gauge 0', async () => {
  await db.query('INSERT INTO spent VALUES (1)');
  await showingLogOnFailure(
    bridge,
    waitFor(async () => (await sinkReport('hook')).dead_lettered === 1, 20_000, 'the event dead-lettered'),
  );
  exhausted.reply = () => ({ status: 200 });
  const hook = await sinkReport('hook');
  assert.equal(hook.state, 'delivering', JSON.stringify(hook));
  assert.equal(hook.failing_since, null);
  assert.match(hook.last_error ?? '', /HTTP 500/, 'the last error stays');
  assert.equal(exhausted.requests.length, 3);
  const result = await cli(['status', '-c', config], env);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.doesNotMatch(result.stdout, /failing:/);
  await new Promise((resolve) => setTimeout(resolve, GAUGE_SAMPLED_MS));
  assert.match(await metrics(), /^pgbridge_sink_failing\{sink="hook"\} 0$/m);
});

test('a webhook that answered HTTP 500 and then refuses connections: down, with the connection error as its last error', async () => {
  await db.query('INSERT INTO flaky_items VALUES (1)');
  await showingLogOnFailure(
    bridge,
    waitFor(async () => /HTTP 500/.test((await sinkReport('flaky')).last_error ?? ''), 20_000, 'the HTTP 500 reported'),
  );
  await flaky.stop();
  let last: SinkReport | undefined;
  await waitFor(
    async () => {
      last = await sinkReport('flaky');
      return last.state === 'down' && /ECONNREFUSED/.test(last.last_error ?? '');
    },
    10_000,
    'down with the connection error',
  ).catch((err: unknown) => assert.fail(`${(err as Error).message}; last report ${JSON.stringify(last)}`));
  const result = await cli(['status', '-c', config], env);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /^ {2}flaky: .*ECONNREFUSED/m);
});
