import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { overHttps, sameOrigin, sessionCookie, TokenAuth } from '../../src/console/auth.js';

const request = (headers: http.IncomingHttpHeaders): http.IncomingMessage => ({ headers, socket: {} }) as http.IncomingMessage;

test('without a token everything passes; with one, only the Bearer token or a live session', async () => {
  assert.equal(await new TokenAuth('').allows(request({})), true);
  const auth = new TokenAuth('right-token', 50);
  assert.equal(await auth.allows(request({})), false);
  assert.equal(await auth.allows(request({ authorization: 'Bearer right-token' })), true);
  assert.equal(await auth.allows(request({ authorization: 'bearer right-token' })), true);
  assert.equal(await auth.allows(request({ authorization: 'Bearer right-token-and-more' })), false);
  assert.equal(await auth.allows(request({ authorization: 'Basic cmlnaHQtdG9rZW4=' })), false);
  const session = await auth.login(request({}), 'right-token');
  assert.ok(session);
  const cookie = sessionCookie(session).split(';')[0];
  assert.equal(await auth.allows(request({ cookie: `other=1; ${cookie}` })), true);
  assert.equal(await auth.allows(request({ cookie: 'pgbridge_session=made-up' })), false);
  assert.equal(await auth.login(request({}), 'wrong'), undefined);
  auth.logout(request({ cookie }));
  assert.equal(await auth.allows(request({ cookie })), false);
});

test("one client's tokens are checked one after another, each wrong one after the delay, a right one behind them too; another client does not wait", async () => {
  const auth = new TokenAuth('right-token', 200);
  const from = (remoteAddress: string, token: string) =>
    ({ headers: { authorization: `Bearer ${token}` }, socket: { remoteAddress } }) as unknown as http.IncomingMessage;
  const started = performance.now();
  const finished: number[] = [];
  const wrong = [1, 2, 3].map(() => auth.allows(from('10.0.0.1', 'guess')).then((ok) => (finished.push(performance.now() - started), ok)));
  assert.equal(await auth.allows(from('10.0.0.2', 'right-token')), true);
  assert.equal(finished.length, 0, "a wrong token was answered before another client's right one");
  assert.equal(await auth.allows(from('10.0.0.1', 'right-token')), true);
  assert.ok(performance.now() - started >= 590, `the guesser's right token was answered after ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(await Promise.all(wrong), [false, false, false]);
  assert.ok(finished[2] >= 590, `the third guess was answered after ${Math.round(finished[2])} ms`);
});

test('a flood from one client delays its own right token by a few delays at most (refused unchecked past them), and guesses whose connection closed before their turn hold up nothing', async () => {
  const auth = new TokenAuth('right-token', 300);
  const from = (remoteAddress: string, token: string, destroyed = false) =>
    ({ headers: { authorization: `Bearer ${token}` }, socket: { remoteAddress, destroyed } }) as unknown as http.IncomingMessage;
  const flood = Array.from({ length: 20 }, () => auth.allows(from('10.0.0.1', 'guess')));
  let started = performance.now();
  assert.equal(await auth.allows(from('10.0.0.1', 'right-token')), false, 'past the waiting checks a token is refused unchecked');
  assert.ok(performance.now() - started < 1000, `a token sent after 20 guesses was answered after ${Math.round(performance.now() - started)} ms`);
  assert.ok((await Promise.all(flood)).every((ok) => !ok));

  const closed = Array.from({ length: 5 }, () => auth.allows(from('10.0.0.3', 'guess', true)));
  await new Promise((resolve) => setImmediate(resolve));
  started = performance.now();
  assert.equal(await auth.allows(from('10.0.0.3', 'right-token')), true);
  assert.ok(performance.now() - started < 200, `a right token behind closed guesses waited ${Math.round(performance.now() - started)} ms`);
  assert.ok((await Promise.all(closed)).every((ok) => !ok));
});

test('sameOrigin: a cross-site Origin or Sec-Fetch-Site is refused; tools without them pass', () => {
  assert.equal(sameOrigin(request({ host: 'bridge:9187' })), true);
  assert.equal(sameOrigin(request({ host: 'bridge:9187', origin: 'http://bridge:9187', 'sec-fetch-site': 'same-origin' })), true);
  assert.equal(sameOrigin(request({ host: 'bridge:9187', origin: 'https://evil.example' })), false);
  assert.equal(sameOrigin(request({ host: 'bridge:9187', origin: 'null' })), false);
  assert.equal(sameOrigin(request({ host: 'bridge:9187', 'sec-fetch-site': 'cross-site' })), false);
  assert.equal(sameOrigin(request({ host: 'bridge:9187', origin: 'http://bridge:9187', 'sec-fetch-site': 'same-site' })), false);
  // Behind a proxy that rewrites Host the browser's Sec-Fetch-Site decides; without it, Origin against Host.
  assert.equal(sameOrigin(request({ host: '127.0.0.1:9187', origin: 'https://bridge.example', 'sec-fetch-site': 'same-origin' })), true);
  assert.equal(sameOrigin(request({ host: '127.0.0.1:9187', origin: 'https://bridge.example' })), false);
});

test('the session cookie is Secure when the browser came over HTTPS (a proxy says so, or the Origin does)', () => {
  assert.doesNotMatch(sessionCookie('id'), /Secure/);
  assert.match(sessionCookie('id', true), /; Secure$/);
  assert.equal(overHttps(request({ origin: 'http://bridge:9187' })), false);
  assert.equal(overHttps(request({ origin: 'https://bridge.example' })), true);
  assert.equal(overHttps(request({ 'x-forwarded-proto': 'https' })), true);
  assert.equal(overHttps(request({ 'x-forwarded-proto': 'http' })), false);
});
