import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorMessage, PermanentError, RetriableError } from '../../src/errors.js';
import { Scrubber } from '../../src/secrets.js';
import { ScrubbedSink } from '../../src/sinks/scrubbed-sink.js';
import type { Sink } from '../../src/sinks/sink.js';
import { rowEvent } from '../support/events.js';

const never = new AbortController().signal;

function failing(connectError: Error, sendError: Error): Sink {
  return {
    name: 'hook',
    type: 'webhook',
    maxBatch: 7,
    maxInFlight: 3,
    batchWaitMs: 5,
    connect: () => Promise.reject(connectError),
    send: () => Promise.reject(sendError),
    isReady: () => false,
    close: () => Promise.resolve(),
  };
}

test('ScrubbedSink: errors lose their secrets and keep class, code, retryAfterMs and failedIds; the rest passes through', async () => {
  const inner = failing(
    new RetriableError('cannot log in with tok-secret', { retryAfterMs: 1500, code: 'PGBRIDGE_X' }),
    new PermanentError('HTTP 401: rejected Bearer tok-secret', { failedIds: ['1'], code: 'PGBRIDGE_HTTP_401' }),
  );
  const sink = new ScrubbedSink(inner, new Scrubber(['tok-secret']));
  assert.deepEqual([sink.name, sink.type, sink.maxBatch, sink.maxInFlight, sink.batchWaitMs, sink.isReady()], ['hook', 'webhook', 7, 3, 5, false]);
  await assert.rejects(sink.connect(never), (err: unknown) => {
    assert.ok(err instanceof RetriableError);
    assert.equal(err.message, 'cannot log in with ***');
    assert.equal(err.retryAfterMs, 1500);
    assert.equal(err.code, 'PGBRIDGE_X');
    return true;
  });
  await assert.rejects(sink.send([rowEvent()], never), (err: unknown) => {
    assert.ok(err instanceof PermanentError);
    assert.equal(err.message, 'HTTP 401: rejected Bearer ***');
    assert.deepEqual(err.failedIds, ['1']);
    return true;
  });
});

test('ScrubbedSink: the reason of each event of a PermanentError loses its secrets too', async () => {
  const inner = failing(
    new Error('unused'),
    PermanentError.ofEvents(
      [
        { id: '1', reason: 'refused tok-secret for 1' },
        { id: '2', reason: 'refused tok-secret for 2' },
      ],
      'PGBRIDGE_X',
    ),
  );
  const sink = new ScrubbedSink(inner, new Scrubber(['tok-secret']));
  await assert.rejects(sink.send([rowEvent()], never), (err: unknown) => {
    assert.ok(err instanceof PermanentError);
    assert.equal(err.message, 'refused *** for 1 (and 1 more event(s))');
    assert.deepEqual(err.failedIds, ['1', '2']);
    assert.equal(err.reasonFor('1'), 'refused *** for 1');
    assert.equal(err.reasonFor('2'), 'refused *** for 2');
    return true;
  });
});

test('ScrubbedSink: a library that rejects with a bare string loses the secret too (the status and the console show the last error)', async () => {
  const inner = failing(new Error('unused'), new Error('unused'));
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what such a library does
  inner.send = () => Promise.reject('cannot log in with tok-secret');
  const sink = new ScrubbedSink(inner, new Scrubber(['tok-secret']));
  await assert.rejects(sink.send([rowEvent()], never), (err: unknown) => {
    assert.equal(errorMessage(err), 'cannot log in with ***');
    return true;
  });
});
