/**
 * The console's API with http.token: who may read and act (Bearer token,
 * session cookie from the sign-in form, never a cross-site request), dead
 * letters listed, shown, retried to the far end and discarded, and `pgbridge
 * status` reading the same facts from the bridge and, once it is gone, from Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cli, RunningBridge, waitFor, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'console-token-7f3a9c2e-do-not-leak';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let config: string;
let base: string;
let refuse = true;
const bearer = { authorization: `Bearer ${TOKEN}` };

interface Summary {
  dead_letter_id: string;
  sink: string;
  event_id: string;
  error: string;
  attempts: number;
  failed_at: string;
}

async function deadLetters(query = ''): Promise<Summary[]> {
  const response = await fetch(`${base}/api/dead-letters${query}`, { headers: bearer });
  assert.equal(response.status, 200);
  return ((await response.json()) as { dead_letters: Summary[] }).dead_letters;
}

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

/** Events the webhook answered 2xx (the replies it really gave, not what it would answer now). */
const delivered = (name: string) =>
  hook
    .accepted()
    .map((r) => JSON.parse(r.body) as { id: string; data: { name: string } })
    .filter((e) => e.data.name === name);

before(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  hook = new WebhookServer();
  hook.reply = (req) => (refuse && req.body.includes('"refused') ? { status: 400, body: 'no such item' } : { status: 204 });
  const url = await hook.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [
      { name: 'hook', type: 'webhook', url, retry: { initial_ms: 50, max_ms: 200, max_attempts: 3 } },
      { name: 'spare', type: 'webhook', url },
    ],
    routes: [{ from: { table: 'items' }, to: ['hook'] }],
    http: { port, host: '127.0.0.1', token: '${CONSOLE_TOKEN}' },
  });
  const env = { CONSOLE_TOKEN: TOKEN };
  assert.equal((await cli(['install', '-c', config], env)).code, 0);
  bridge = new RunningBridge(config, env);
  await bridge.ready();
  await db.query("INSERT INTO items VALUES (1, 'fine'), (2, 'refused-one'), (3, 'refused-two'), (4, 'fine-too')");
  await waitFor(async () => (await deadLetters()).length === 2, 20_000, 'two dead letters');
});

after(async () => {
  await bridge?.kill('SIGTERM');
  await hook?.stop();
  await db?.drop();
});

describe('authentication', () => {
  test('/livez and /readyz need no token; everything else answers 401 without it', async () => {
    assert.equal((await fetch(`${base}/livez`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    for (const path of [
      '/metrics',
      '/api/status',
      '/api/dead-letters',
      '/api/dead-letters/1/event',
      '/console/app.js',
      '/console/uPlot.iife.min.js',
    ]) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 401, path);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="pgbridge"', path);
    }
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 401);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/login">/);
    assert.doesNotMatch(html, /refused|dead_letter/);
    const action = await post('/api/dead-letters/retry', { ids: ['1'] }, { authorization: '' });
    assert.equal(action.status, 401);
  });

  test('a wrong token is answered 401 only after a delay; the right one at once', async () => {
    const started = performance.now();
    const wrong = await fetch(`${base}/api/status`, { headers: { authorization: 'Bearer not-the-token' } });
    const took = performance.now() - started;
    assert.equal(wrong.status, 401);
    assert.ok(took >= 900, `a wrong token was answered after ${Math.round(took)} ms`);
    // Guesses in parallel wait their turn: the third of three answers after about three delays.
    const t0 = performance.now();
    const answers = await Promise.all([1, 2, 3].map(() => fetch(`${base}/metrics`, { headers: { authorization: 'Bearer guess' } })));
    assert.deepEqual(
      answers.map((a) => a.status),
      [401, 401, 401],
    );
    assert.ok(performance.now() - t0 >= 2700, `three parallel guesses took ${Math.round(performance.now() - t0)} ms`);
    assert.equal((await fetch(`${base}/api/status`, { headers: bearer })).status, 200);
  });

  test('the sign-in form sets an HttpOnly SameSite=Strict session cookie that opens the console and its API', async () => {
    const wrong = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }), redirect: 'manual' });
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.get('set-cookie'), null);
    assert.match(await (await fetch(`${base}${wrong.headers.get('location')}`)).text(), /Wrong token/);

    const login = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
      headers: { origin: base },
    });
    assert.equal(login.status, 303);
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^pgbridge_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    assert.ok(!cookie.includes(TOKEN));
    const session = { cookie: cookie.split(';')[0] };
    const page = await fetch(`${base}/`, { headers: session });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script src="\/console\/app.js" defer><\/script>/);
    assert.equal((await fetch(`${base}/api/status`, { headers: session })).status, 200);
    assert.equal((await fetch(`${base}/console/uPlot.iife.min.js`, { headers: session })).status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);

    const logout = await fetch(`${base}/logout`, { method: 'POST', headers: { ...session, origin: base }, redirect: 'manual' });
    assert.equal(logout.status, 303);
    assert.equal((await fetch(`${base}/api/status`, { headers: session })).status, 401);
  });

  test('a sign-in from another origin is refused', async () => {
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(login.status, 403);
    assert.equal(login.headers.get('set-cookie'), null);
  });
});

describe('dead letters', () => {
  test('listed with sink, error, attempts and time; filtered by sink and by text', async () => {
    const all = await deadLetters();
    assert.equal(all.length, 2);
    for (const letter of all) {
      assert.equal(letter.sink, 'hook');
      assert.match(letter.error, /HTTP 400: no such item/);
      assert.equal(letter.attempts, 1);
      assert.ok(Date.now() - Date.parse(letter.failed_at) < 600_000);
    }
    assert.equal((await deadLetters('?sink=hook')).length, 2);
    assert.equal((await deadLetters('?sink=spare')).length, 0);
    const two = await deadLetters('?q=REFUSED-TWO');
    assert.equal(two.length, 1);
    assert.equal((await deadLetters('?q=no%20such%20item')).length, 2);
    assert.equal((await deadLetters('?q=nothing-matches-this')).length, 0);
  });

  test("each dead letter's event is shown as stored", async () => {
    const [letter] = await deadLetters('?q=refused-one');
    const response = await fetch(`${base}/api/dead-letters/${letter.dead_letter_id}/event`, { headers: bearer });
    assert.equal(response.status, 200);
    const event = (await response.json()) as { id: string; table: string; data: { id: number; name: string } };
    assert.equal(event.id, letter.event_id);
    assert.deepEqual(event.data, { id: 2, name: 'refused-one' });
    assert.equal((await fetch(`${base}/api/dead-letters/999999/event`, { headers: bearer })).status, 404);
  });

  test('actions refuse cross-site requests, form bodies and bad selections', async () => {
    const [letter] = await deadLetters();
    const ids = [letter.dead_letter_id];
    assert.equal((await post('/api/dead-letters/discard', { ids }, { origin: 'https://evil.example' })).status, 403);
    assert.equal((await post('/api/dead-letters/discard', { ids }, { origin: base, 'sec-fetch-site': 'cross-site' })).status, 403);
    const form = await fetch(`${base}/api/dead-letters/discard`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
      body: `ids=${ids[0]}`,
    });
    assert.equal(form.status, 415);
    assert.equal((await fetch(`${base}/api/dead-letters/discard`, { headers: bearer })).status, 405);
    assert.equal((await post('/api/dead-letters/discard', { ids: [] })).status, 400);
    assert.equal((await post('/api/dead-letters/discard', { ids: ['1 OR true'] })).status, 400);
    assert.equal((await deadLetters()).length, 2, 'a refused action changed something');
  });

  test('retry of a selection delivers it to the far end with the same event id; discard removes one for good', async () => {
    const [one] = await deadLetters('?q=refused-one');
    const [two] = await deadLetters('?q=refused-two');
    refuse = false;
    const retried = await post('/api/dead-letters/retry', { ids: [one.dead_letter_id] }, { origin: base });
    assert.equal(retried.status, 200);
    assert.deepEqual(await retried.json(), { retried: 1, kept: [] });
    await waitFor(() => delivered('refused-one').length === 1, 15_000, 'the retried event at the webhook');
    assert.equal(delivered('refused-one')[0].id, one.event_id);

    const discarded = await post('/api/dead-letters/discard', { ids: [two.dead_letter_id] }, { origin: base });
    assert.deepEqual(await discarded.json(), { discarded: 1 });
    assert.deepEqual(await deadLetters(), []);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(delivered('refused-two').length, 0, 'a discarded dead letter was delivered');
  });
});

describe('status', () => {
  test('/api/status: per sink state, backlog, counts and history; per table the triggers in place; no token anywhere', async () => {
    // Postgres is read at most once a second: wait until the discard above shows.
    const hookDeadLetters = async () =>
      ((await (await fetch(`${base}/api/status`, { headers: bearer })).json()) as { sinks: { name: string; dead_letters: number }[] }).sinks.find(
        (s) => s.name === 'hook',
      )?.dead_letters;
    await waitFor(async () => (await hookDeadLetters()) === 0, 10_000, 'no dead letters counted');
    const response = await fetch(`${base}/api/status`, { headers: bearer });
    const text = await response.text();
    assert.ok(!text.includes(TOKEN));
    const status = JSON.parse(text) as {
      role: string;
      actions: boolean;
      sinks: { name: string; state: string; backlog: number; delivered: number; dead_lettered: number; dead_letters: number; history: unknown[] }[];
      tables: { table: string; inPlace: string[]; missing: string[] }[];
    };
    assert.equal(status.role, 'delivering');
    assert.equal(status.actions, true);
    const hookStatus = status.sinks.find((s) => s.name === 'hook')!;
    assert.equal(hookStatus.state, 'delivering');
    assert.equal(hookStatus.backlog, 0);
    assert.equal(hookStatus.delivered, 3);
    assert.equal(hookStatus.dead_lettered, 2);
    assert.equal(hookStatus.dead_letters, 0);
    assert.ok(hookStatus.history.length > 0);
    assert.deepEqual(status.tables, [
      { table: 'public.items', mode: 'outbox', ops: ['insert', 'update', 'delete'], inPlace: ['insert', 'update', 'delete'], missing: [] },
    ]);
    const metrics = await (await fetch(`${base}/metrics`, { headers: bearer })).text();
    assert.ok(!metrics.includes(TOKEN));
    assert.match(metrics, /pgbridge_instance_delivering\{bridge="default"\} 1/);
  });

  test('pgbridge status --json asks the running bridge (with the token) and exits 0', async () => {
    const result = await cli(['status', '-c', config, '--json'], { CONSOLE_TOKEN: TOKEN });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes(TOKEN));
    const report = JSON.parse(result.stdout) as { source: string; sinks: { name: string; state: string; delivered: number; history?: unknown }[] };
    assert.equal(report.source, 'bridge');
    assert.equal(report.sinks.find((s) => s.name === 'hook')?.delivered, 3);
    assert.equal(report.sinks[0].history, undefined);
  });

  test('with the bridge stopped, pgbridge status reads Postgres: backlog and oldest pending age per sink, state stopped, exit 1', async () => {
    assert.equal(await bridge.kill('SIGTERM'), 0);
    await db.query("INSERT INTO items VALUES (10, 'while-stopped'), (11, 'while-stopped-too')");
    const json = await cli(['status', '-c', config, '--json'], { CONSOLE_TOKEN: TOKEN });
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as {
      source: string;
      role: string;
      sinks: { name: string; state: string; backlog: number; oldest_pending_seconds: number }[];
    };
    assert.equal(report.source, 'database');
    assert.equal(report.role, 'stopped');
    const hookStatus = report.sinks.find((s) => s.name === 'hook')!;
    assert.equal(hookStatus.state, 'stopped');
    assert.equal(hookStatus.backlog, 2);
    assert.ok(hookStatus.oldest_pending_seconds >= 0);
    // Routed to hook only: nothing waits for spare.
    assert.equal(report.sinks.find((s) => s.name === 'spare')?.backlog, 0);

    const table = await cli(['status', '-c', config], { CONSOLE_TOKEN: TOKEN });
    assert.equal(table.code, 1);
    assert.match(table.stdout, /read from the database \(bridge not reachable/);
    assert.match(table.stdout, /^SINK +TYPE +STATE +BACKLOG +OLDEST PENDING +DELIVERED +RETRIES +DEAD LETTERS$/m);
    assert.match(table.stdout, /^hook +webhook +stopped +2 +\d/m);
    assert.match(table.stdout, /^public\.items +outbox +insert,update,delete +-$/m);
    assert.match(table.stdout, /failing: hook \(stopped\), spare \(stopped\)/);
  });
});
