/**
 * The console's HTTP endpoint as a careless client or an attacker uses it,
 * with http.token set: bodies too large or not JSON, and odd query strings,
 * are answered with a clear 4xx, never a reset connection or a 500.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { cli, RunningBridge, writeConfig } from '../support/bridge.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';
import { freePort } from '../support/tcp.js';
import { WebhookServer } from '../support/webhook-server.js';

const TOKEN = 'requests-token-3d81f0';
let db: TestDatabase;
let hook: WebhookServer;
let bridge: RunningBridge;
let port: number;
const bearer = { authorization: `Bearer ${TOKEN}` };

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request on its own connection; a reset or a hang is an error, not an answer. */
function send(method: string, path: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer | string, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, method, path, headers: { ...headers, connection: 'close' }, timeout: 10_000, localAddress };
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  db = await createTestDatabase('aud_console');
  await db.query('CREATE TABLE items (id bigint PRIMARY KEY, name text)');
  hook = new WebhookServer();
  const url = await hook.start();
  port = await freePort();
  const config = writeConfig({
    postgres: { url: db.url },
    capture: [{ table: 'items' }],
    sinks: [{ name: 'hook', type: 'webhook', url }],
    http: { port, host: '127.0.0.1', token: TOKEN },
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

test('a body over the limit is answered 413, with or without a Content-Length, on the API and the sign-in form', async () => {
  const json = { ...bearer, 'content-type': 'application/json' };
  const big = Buffer.from(JSON.stringify({ ids: Array.from({ length: 40_000 }, (_, i) => String(i)) }));
  const sized = await send('POST', '/api/dead-letters/retry', { ...json, 'content-length': big.length }, big);
  assert.equal(sized.status, 413, sized.body);
  assert.match(sized.body, /too large/);
  const chunked = await send('POST', '/api/dead-letters/discard', { ...json, 'transfer-encoding': 'chunked' }, big);
  assert.equal(chunked.status, 413, chunked.body);
  const form = Buffer.from(`token=${'x'.repeat(100_000)}`);
  const login = await send('POST', '/login', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': form.length }, form);
  assert.equal(login.status, 413, login.body);
  assert.equal(login.headers['set-cookie'], undefined);
  assert.equal((await send('GET', '/livez')).status, 200, 'the bridge still answers');
});

test('a body that is not JSON, or JSON of another shape, is answered 400', async () => {
  const json = { ...bearer, 'content-type': 'application/json' };
  for (const body of ['nope', 'null', '[1]', '{"ids": "1"}', '{"ids": [1]}', '\u0000']) {
    const answer = await send('POST', '/api/dead-letters/discard', json, body);
    assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.body}`);
    assert.ok(JSON.parse(answer.body).error, answer.body);
  }
});

test('a NUL in the dead-letter search is answered 400, not 500', async () => {
  for (const query of ['q=%00', 'sink=%00', 'q=a%00b']) {
    const answer = await send('GET', `/api/dead-letters?${query}`, bearer);
    assert.equal(answer.status, 400, `${query}: ${answer.body}`);
  }
  const fine = await send('GET', '/api/dead-letters?q=%E2%82%AC%25_', bearer);
  assert.equal(fine.status, 200, fine.body);
});

test('the state-changing routes take POST only: GET and HEAD are 405 with Allow: POST; the read-only ones answer HEAD like GET', async () => {
  for (const path of ['/login', '/logout', '/api/dead-letters/retry', '/api/dead-letters/discard']) {
    for (const method of ['GET', 'HEAD']) {
      const answer = await send(method, path, bearer);
      assert.equal(answer.status, 405, `${method} ${path}`);
      assert.equal(answer.headers.allow, 'POST', `${method} ${path}`);
    }
  }
  for (const path of ['/api/status', '/api/dead-letters', '/metrics', '/livez', '/readyz', '/']) {
    assert.equal((await send('HEAD', path, bearer)).status, 200, `HEAD ${path}`);
  }
  const put = await send('PUT', '/api/status', bearer);
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, 'GET, HEAD');
});

test('every answer says nosniff and no-store, and names its charset: the probes, /metrics, 401, 404, 405 and 413 too', async () => {
  const answers: Array<[string, Answer]> = [
    ['/livez', await send('GET', '/livez')],
    ['/readyz', await send('GET', '/readyz')],
    ['/metrics', await send('GET', '/metrics', bearer)],
    ['/api/status', await send('GET', '/api/status', bearer)],
    ['/ (console)', await send('GET', '/', bearer)],
    ['/ (sign-in)', await send('GET', '/')],
    ['401', await send('GET', '/api/status')],
    ['404', await send('GET', '/nothing-here', bearer)],
    ['405', await send('DELETE', '/api/status', bearer)],
    ['413', await send('POST', '/api/dead-letters/retry', { ...bearer, 'content-type': 'application/json' }, 'x'.repeat(70_000))],
  ];
  for (const [what, answer] of answers) {
    assert.equal(answer.headers['x-content-type-options'], 'nosniff', what);
    assert.equal(answer.headers['cache-control'], 'no-store', what);
    assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/, what);
    assert.match(answer.headers['content-type'] ?? '', /charset=utf-8/, what);
  }
});

test('behind an HTTPS proxy that rewrites Host: signing in works, the session cookie is Secure, and cross-site requests are still refused', async () => {
  const viaProxy = { origin: 'https://bridge.example.com', 'sec-fetch-site': 'same-origin', 'x-forwarded-proto': 'https' };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const login = await send('POST', '/login', { ...form, ...viaProxy }, `token=${TOKEN}`);
  assert.equal(login.status, 303, login.body);
  const cookie = String(login.headers['set-cookie']);
  assert.match(cookie, /^pgbridge_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
  const session = { cookie: cookie.split(';')[0] };
  assert.equal((await send('GET', '/api/status', session)).status, 200);
  const action = await send('POST', '/api/dead-letters/discard', { ...session, ...viaProxy, 'content-type': 'application/json' }, '{"ids":["1"]}');
  assert.equal(action.status, 200, action.body);

  const plain = await send('POST', '/login', { ...form, origin: `http://127.0.0.1:${port}` }, `token=${TOKEN}`);
  assert.equal(plain.status, 303);
  assert.doesNotMatch(String(plain.headers['set-cookie']), /Secure/, 'plain http: a Secure cookie would not come back');

  for (const crossSite of [
    { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    { origin: 'https://evil.example', 'sec-fetch-site': 'same-site' },
    { origin: 'https://evil.example' },
  ]) {
    const refused = await send('POST', '/login', { ...form, ...crossSite }, `token=${TOKEN}`);
    assert.equal(refused.status, 403, JSON.stringify(crossSite));
    assert.equal(refused.headers['set-cookie'], undefined);
    const act = await send('POST', '/api/dead-letters/discard', { ...session, ...crossSite, 'content-type': 'application/json' }, '{"ids":["1"]}');
    assert.equal(act.status, 403, JSON.stringify(crossSite));
  }
});

test('guessing in parallel gains nothing: from one client a right token waits for the wrong ones sent before it; another client does not', async () => {
  const guess = (from: string) => send('GET', '/api/status', { authorization: 'Bearer a-guess' }, undefined, from);
  const guesses = [guess('127.0.0.1'), guess('127.0.0.1'), guess('127.0.0.1')];
  await new Promise((resolve) => setTimeout(resolve, 200));
  const elsewhere = performance.now();
  assert.equal((await send('GET', '/api/status', bearer, undefined, '127.0.0.2')).status, 200);
  assert.ok(performance.now() - elsewhere < 500, `another client's right token waited ${Math.round(performance.now() - elsewhere)} ms`);
  const started = performance.now();
  const right = await send('GET', '/api/status', bearer, undefined, '127.0.0.1');
  const waited = performance.now() - started;
  assert.equal(right.status, 200);
  // Else a right token among many guesses answers at once, and the guesser knows it without waiting for the others.
  assert.ok(waited >= 2000, `the right token, sent after three guesses, was answered after ${Math.round(waited)} ms`);
  assert.deepEqual(
    (await Promise.all(guesses)).map((a) => a.status),
    [401, 401, 401],
  );
});

test('guesses on connections closed at once, or many more than a few, do not hold up a right token from the same address (a proxy, the host) for long', async () => {
  const guessAndLeave = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' }, () => {
        socket.end(`GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a-guess\r\n\r\n`, () => (socket.destroy(), resolve()));
      });
      socket.on('error', () => resolve());
    });
  for (let i = 0; i < 15; i++) await guessAndLeave();
  await new Promise((resolve) => setTimeout(resolve, 200));
  let started = performance.now();
  const right = await send('GET', '/api/status', bearer, undefined, '127.0.0.3');
  assert.equal(right.status, 200);
  assert.ok(performance.now() - started < 2000, `a right token after 15 abandoned guesses waited ${Math.round(performance.now() - started)} ms`);

  const guesses = Array.from({ length: 15 }, () => send('GET', '/api/status', { authorization: 'Bearer a-guess' }, undefined, '127.0.0.4'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  started = performance.now();
  await send('GET', '/api/status', bearer, undefined, '127.0.0.4');
  assert.ok(performance.now() - started < 6000, `a token after 15 waiting guesses waited ${Math.round(performance.now() - started)} ms`);
  assert.ok((await Promise.all(guesses)).every((a) => a.status === 401));
});
