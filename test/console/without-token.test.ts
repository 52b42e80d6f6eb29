/**
 * The console without http.token: status only. No response of any endpoint
 * carries a dead letter's event or error (a far end's error may quote the
 * event), and the dead-letter actions are refused.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BROWSERS, launchBrowser, shown, textOf } from '../support/browser.js';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const CONTENT = 'secret-order-contents-4b1d';
const ECHO = 'far-end-echo-9e27';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let config: string;
let base: string;

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  hook = new WebhookServer();
  hook.reply = (req) => (req.body.includes(CONTENT) ? { status: 422, body: `${ECHO}: ${req.body}` } : { status: 204 });
  const url = await hook.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'hook', type: 'webhook', url }],
    http: { port, host: '127.0.0.1' },
  });
  assert.equal((await cli(['install', '-c', config])).code, 0);
  bridge = new RunningBridge(config);
  await bridge.ready();
  await db.query(`INSERT INTO items VALUES (1, '${CONTENT}'), (2, 'plain')`);
  await waitFor(async () => (await db.query('SELECT 1 FROM pgbridge.dead_letters')).rowCount === 1, 15_000, 'the dead letter');
  await waitFor(() => hook.accepted().length === 1, 15_000, 'the plain event');
});

after(async () => {
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
});

test('no response carries dead-letter contents, and actions are refused', async () => {
  const [{ id }] = (await db.query<{ id: string }>('SELECT id::text FROM pgbridge.dead_letters')).rows;
  const requests: Array<[string, RequestInit?]> = [
    ['/'],
    ['/console/app.js'],
    ['/console/style.css'],
    ['/console/uPlot.iife.min.js'],
    ['/api/status'],
    ['/metrics'],
    ['/readyz'],
    ['/api/dead-letters'],
    ['/api/dead-letters?q=secret'],
    [`/api/dead-letters/${id}/event`],
    [
      '/api/dead-letters/retry',
      { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ ids: [id] }) },
    ],
    [
      '/api/dead-letters/discard',
      { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ ids: [id] }) },
    ],
    ['/login', { method: 'POST', body: new URLSearchParams({ token: 'anything' }), redirect: 'manual' }],
  ];
  const statuses: Record<string, number> = {};
  for (const [path, init] of requests) {
    const response = await fetch(`${base}${path}`, init);
    statuses[`${init?.method ?? 'GET'} ${path}`] = response.status;
    const text = `${JSON.stringify([...response.headers])}${await response.text()}`;
    assert.ok(!text.includes(CONTENT), `${path} shows the event's contents`);
    assert.ok(!text.includes(ECHO), `${path} shows the dead letter's error`);
  }
  assert.equal(statuses['GET /'], 200);
  assert.equal(statuses['GET /api/status'], 200);
  assert.equal(statuses['GET /api/dead-letters'], 403);
  assert.equal(statuses[`GET /api/dead-letters/${id}/event`], 403);
  assert.equal(statuses['POST /api/dead-letters/retry'], 403);
  assert.equal(statuses['POST /api/dead-letters/discard'], 403);
  assert.equal((await db.query('SELECT 1 FROM pgbridge.dead_letters')).rowCount, 1, 'an action changed the dead letters');
});

test('status still shows the sink and its dead-letter count, without the error', async () => {
  type Status = { actions: boolean; sinks: Record<string, unknown>[]; replication_lag_bytes: number | null };
  const read = async () => (await (await fetch(`${base}/api/status`)).json()) as Status;
  // Postgres is read at most once a second, so the count may trail the table by that much.
  await waitFor(async () => (await read()).sinks[0].dead_letters === 1, 10_000, 'the dead letter counted');
  const status = await read();
  assert.equal(status.actions, false);
  assert.equal(status.sinks[0].dead_lettered, 1);
  assert.ok(!('last_error' in status.sinks[0]));
  assert.equal(status.replication_lag_bytes, null, 'no slot in outbox mode');
  const cliStatus = await cli(['status', '-c', config]);
  assert.equal(cliStatus.code, 0, cliStatus.stderr);
  assert.doesNotMatch(cliStatus.stdout, /replication lag/);
  assert.match(cliStatus.stdout, /^hook +webhook +delivering +0 +- +1 +0 +1$/m);
  assert.ok(!cliStatus.stdout.includes(ECHO) && !cliStatus.stdout.includes(CONTENT));
});

for (const name of BROWSERS) {
  test(`in ${name}: the note on http.token instead of the dead-letter panel; no slot lag outside wal mode`, async () => {
    const page = await launchBrowser(name);
    try {
      await page.goto(base);
      await shown(page, '#no-token', 15_000);
      assert.match((await textOf(page, '#no-token')) ?? '', /Set http\.token to list, inspect, retry and discard dead letters/);
      assert.equal(await page.evaluate(() => document.querySelector('#dl-panel')?.checkVisibility(), null), false);
      const summary = (await textOf(page, '#summary')) ?? '';
      assert.match(summary, /outbox mode/);
      assert.doesNotMatch(summary, /slot lag/);
      assert.deepEqual(page.problems, []);
    } finally {
      await page.close();
    }
  });
}
