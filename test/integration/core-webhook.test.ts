/**
 * The webhook sink against a real HTTP server through the real bridge: what
 * is retried (500, 429 with Retry-After, a hung request, a reset connection)
 * and with which event id, what is not (400: one request, one dead letter),
 * and Standard Webhooks signatures checked with node:crypto on the receiving end.
 * One bridge, one table and one sink (its own URL path) per behaviour.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { RunningBridge, waitFor, writeConfig, installAndRun } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { WebhookServer, type ReceivedRequest, type Reply } from '../support/webhook-server.js';

interface Event {
  id: string;
  table: string;
  op: string;
  data: Record<string, unknown>;
}

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const ROTATED = `whsec_${randomBytes(32).toString('base64')}`;
const RETRY = { initial_ms: 50, max_ms: 2000 };

/** Per path: how to answer its n-th request (0-based). Anything not listed gets 204. */
const SCRIPTS: Record<string, (n: number) => Reply> = {
  '/e500': (n) => (n === 0 ? { status: 500, body: 'boom' } : { status: 204 }),
  '/e408': (n) => (n === 0 ? { status: 408, body: 'request timeout' } : { status: 204 }),
  '/e400': (n) => (n === 0 ? { status: 400, body: 'bad event' } : { status: 204 }),
  '/e429': (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200, body: 'ok' }),
  '/e429cap': (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }),
  '/hang': (n) => (n === 0 ? 'hang' : { status: 202 }),
  '/reset': (n) => (n === 0 ? 'reset' : { status: 204 }),
};

describe('webhook delivery', () => {
  let db: TestDatabase;
  let server: WebhookServer;
  let bridge: RunningBridge;
  /** When each request arrived, by its index in server.requests. */
  const arrivedAt: number[] = [];

  const at = (path: string): ReceivedRequest[] => server.requests.filter((r) => r.url === path);
  const indexes = (path: string): number[] => server.requests.flatMap((r, i) => (r.url === path ? [i] : []));

  async function requests(path: string, count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    await waitFor(() => at(path).length >= count, timeoutMs, `${count} requests to ${path}`);
    return at(path);
  }

  before(async () => {
    db = await createTestDatabase();
    server = new WebhookServer();
    server.reply = (req, index) => {
      arrivedAt[index] = Date.now();
      const n = server.requests.slice(0, index).filter((r) => r.url === req.url).length;
      return (SCRIPTS[req.url] ?? (() => ({ status: 204 })))(n);
    };
    const base = await server.start();
    const url = (path: string): string => base.replace(/\/hook$/, path);
    const tables = ['e500', 'e408', 'e400', 'e429', 'e429cap', 'hang', 'reset', 'signed', 'rotated', 'batched', 'basic'];
    for (const t of tables) await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, note text)`);
    const sink = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'webhook', url: url(`/${name}`), retry: RETRY, ...extra });
    const file = writeConfig({
      postgres: { url: db.url },
      capture: tables.map((table) => ({ table })),
      sinks: [
        sink('e500'),
        sink('e408'),
        sink('e400'),
        sink('e429'),
        sink('e429cap', { retry: { initial_ms: 50, max_ms: 300 } }),
        sink('hang', { timeout_ms: 300 }),
        sink('reset'),
        sink('signed', { secret: SECRET, headers: { 'x-extra': 'yes' } }),
        sink('rotated', { secret: [ROTATED, SECRET] }),
        sink('batched', { batch: { max_events: 10, max_wait_ms: 300 }, max_in_flight: 1, secret: SECRET }),
        sink('basic', { url: url('/basic?x=1').replace('http://', 'http://alice:pa%40ss-w0rd@') }),
      ],
      routes: tables.map((table) => ({ from: { table }, to: [table] })),
      http: { port: 0 },
    });
    bridge = await installAndRun(file);
  });

  after(async () => {
    await bridge?.kill('SIGTERM');
    await server?.stop();
    await db?.drop();
  });

  test('500, then success: retried with the same body and the same event id', async () => {
    await db.query(`INSERT INTO e500 VALUES (1, 'retry me')`);
    const [first, second] = await requests('/e500', 2);
    assert.equal(second.body, first.body);
    const event = JSON.parse(first.body) as Event;
    assert.equal((JSON.parse(second.body) as Event).id, event.id);
    assert.deepEqual(event.data, { id: 1, note: 'retry me' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(at('/e500').length, 2, 'no third attempt after the success');
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'e500'`)).rowCount === 0, 5000, 'outbox row removed');
  });

  test('408 Request Timeout: retried with the same event id, never a dead letter', async () => {
    await db.query(`INSERT INTO e408 VALUES (1, 'try again')`);
    const [first, second] = await requests('/e408', 2);
    assert.equal((JSON.parse(second.body) as Event).id, (JSON.parse(first.body) as Event).id);
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'e408'`)).rowCount === 0, 5000, 'outbox row removed');
    const dead = await db.query(`SELECT 1 FROM pgbridge.dead_letters WHERE sink = 'e408'`);
    assert.equal(dead.rowCount, 0);
  });

  test('400: permanent, exactly one request, a dead letter with sink, error and attempts; the next event goes on', async () => {
    await db.query(`INSERT INTO e400 VALUES (1, 'refused')`);
    const [only] = await requests('/e400', 1);
    const event = JSON.parse(only.body) as Event;
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.dead_letters`)).rowCount === 1, 5000, 'a dead letter');
    const { rows } = await db.query<{ sink: string; error: string; attempts: number; event_id: string; event: Event }>(
      `SELECT sink, error, attempts, event_id, event FROM pgbridge.dead_letters`,
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].sink, 'e400');
    assert.match(rows[0].error, /400/);
    assert.match(rows[0].error, /bad event/);
    assert.equal(rows[0].attempts, 1);
    assert.equal(rows[0].event_id, event.id);
    assert.equal(rows[0].event.id, event.id);
    assert.deepEqual(rows[0].event.data, { id: 1, note: 'refused' });

    await db.query(`INSERT INTO e400 VALUES (2, 'accepted')`);
    const after400 = await requests('/e400', 2);
    assert.deepEqual((JSON.parse(after400[1].body) as Event).data, { id: 2, note: 'accepted' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(at('/e400').length, 2, 'the refused event was never sent again');
    const left = await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'e400'`);
    assert.equal(left.rowCount, 0, 'both events left the outbox');
  });

  test('429 with Retry-After: 1 is honoured: the second attempt comes a second later', async () => {
    await db.query(`INSERT INTO e429 VALUES (1, 'slow down')`);
    const [first, second] = await requests('/e429', 2, 10_000);
    assert.equal(second.body, first.body);
    const [i, j] = indexes('/e429');
    const gap = arrivedAt[j] - arrivedAt[i];
    assert.ok(gap >= 950, `second attempt ${gap} ms after the first`);
    assert.ok(gap < 5000, `but not much later: ${gap} ms`);
  });

  test('Retry-After is honoured even when it is longer than retry.max_ms', async () => {
    await db.query(`INSERT INTO e429cap VALUES (1, 'slow down more')`);
    await requests('/e429cap', 2, 10_000);
    const [i, j] = indexes('/e429cap');
    const gap = arrivedAt[j] - arrivedAt[i];
    assert.ok(gap >= 950, `second attempt ${gap} ms after the first, max_ms being 300`);
  });

  test('a request that hangs past timeout_ms is retried and then delivered', async () => {
    await db.query(`INSERT INTO hang VALUES (1, 'patience')`);
    const [first, second] = await requests('/hang', 2);
    assert.equal(second.body, first.body);
    const [i, j] = indexes('/hang');
    assert.ok(arrivedAt[j] - arrivedAt[i] >= 250, `retried after the 300 ms timeout, not before (${arrivedAt[j] - arrivedAt[i]} ms)`);
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'hang'`)).rowCount === 0, 5000, 'delivered');
    assert.equal(at('/hang').length, 2);
  });

  test('a connection reset, then success', async () => {
    await db.query(`INSERT INTO reset VALUES (1, 'again')`);
    const [first, second] = await requests('/reset', 2);
    assert.equal(second.body, first.body);
    await waitFor(async () => (await db.query(`SELECT 1 FROM pgbridge.outbox WHERE table_name = 'reset'`)).rowCount === 0, 5000, 'delivered');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(at('/reset').length, 2);
  });

  /** Checks a Standard Webhooks signature the way a receiver would, with node:crypto only. */
  function verify(req: ReceivedRequest, secret: string): boolean {
    const id = String(req.headers['webhook-id']);
    const timestamp = String(req.headers['webhook-timestamp']);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${req.body}`).digest();
    return String(req.headers['webhook-signature'])
      .split(' ')
      .some((part) => {
        const [version, signature] = part.split(',');
        const given = Buffer.from(signature ?? '', 'base64');
        return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
      });
  }

  test('Standard Webhooks signature headers verify', async () => {
    await db.query(`INSERT INTO signed VALUES (1, 'signed')`);
    const [req] = await requests('/signed', 1);
    const event = JSON.parse(req.body) as Event;
    assert.equal(req.headers['webhook-id'], event.id);
    const timestamp = Number(req.headers['webhook-timestamp']);
    assert.ok(Number.isInteger(timestamp), `integer seconds: ${req.headers['webhook-timestamp']}`);
    assert.ok(Math.abs(timestamp - Date.now() / 1000) < 60, 'timestamp is now');
    assert.match(String(req.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(verify(req, SECRET), true);
    assert.equal(verify(req, `whsec_${randomBytes(24).toString('base64')}`), false, 'another secret does not verify');
    assert.equal(verify({ ...req, body: req.body.replace('signed', 'forged') }, SECRET), false, 'a changed body does not verify');
    assert.equal(req.headers['x-extra'], 'yes');
    // No secret, no signature headers.
    assert.equal(at('/e500')[0]?.headers['webhook-signature'], undefined);
  });

  test('during a secret rotation every secret signs: either verifies', async () => {
    await db.query(`INSERT INTO rotated VALUES (1, 'rotating')`);
    const [req] = await requests('/rotated', 1);
    assert.equal(String(req.headers['webhook-signature']).split(' ').length, 2);
    assert.equal(verify(req, ROTATED), true);
    assert.equal(verify(req, SECRET), true);
  });

  test('batch: one POST with a JSON array of the events, signed as a whole', async () => {
    await db.query(`INSERT INTO batched SELECT g, 'n' || g FROM generate_series(1, 5) g`);
    const [req] = await requests('/batched', 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(at('/batched').length, 1, 'one request');
    const events = JSON.parse(req.body) as Event[];
    assert.ok(Array.isArray(events));
    assert.deepEqual(
      events.map((e) => e.data.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(new Set(events.map((e) => e.id)).size, 5);
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.equal(verify(req, SECRET), true);
  });

  test('user:password in the URL is sent as HTTP Basic authentication', async () => {
    await db.query(`INSERT INTO basic VALUES (1, 'basic')`);
    await waitFor(() => server.requests.some((r) => r.url === '/basic?x=1'), 10_000, 'the request');
    const req = server.requests.find((r) => r.url === '/basic?x=1')!;
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('alice:pa@ss-w0rd').toString('base64')}`);
  });
});
