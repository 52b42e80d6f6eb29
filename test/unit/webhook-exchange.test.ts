import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dispatcher } from 'undici';
import { Exchange, ExchangeTimeout } from '../../src/sinks/webhook/exchange.js';

/** What undici hands a handler when the request's turn comes: only abort() matters here. */
function controller(): Dispatcher.DispatchController & { abortedWith: Error | undefined } {
  const c = {
    abortedWith: undefined as Error | undefined,
    abort(reason: Error) {
      c.abortedWith = reason;
    },
  };
  return c as unknown as Dispatcher.DispatchController & { abortedWith: Error | undefined };
}

// Without an end of their own these would wait forever: a timeout makes them fail instead.
const FAIL_AFTER = { timeout: 5_000 };

test('an exchange still queued in undici ends at its deadline, and is aborted before it is sent when its turn comes', FAIL_AFTER, async () => {
  const exchange = new Exchange(20);
  await assert.rejects(exchange.answer, ExchangeTimeout);
  assert.equal(exchange.expired, true);
  const late = controller();
  exchange.onRequestStart(late);
  assert.ok(late.abortedWith instanceof ExchangeTimeout);
});

test('an exchange still queued ends when whoever asked gives up (shutdown)', FAIL_AFTER, async () => {
  const exchange = new Exchange(60_000);
  const stop = new Error('stopping');
  exchange.abort(stop);
  await assert.rejects(exchange.answer, (err) => err === stop);
  assert.equal(exchange.expired, false);
});

test('an exchange under way is ended through its controller, and its answer rejects with the error undici reports', FAIL_AFTER, async () => {
  const exchange = new Exchange(60_000);
  const running = controller();
  exchange.onRequestStart(running);
  const stop = new Error('stopping');
  exchange.abort(stop);
  assert.equal(running.abortedWith, stop);
  exchange.onResponseError(running, stop);
  await assert.rejects(exchange.answer, (err) => err === stop);
});
