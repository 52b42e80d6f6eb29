import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepConnected } from '../../src/delivery/keep-connected.js';
import { FakeSink, silent, until } from './support/fake-sink.js';

const RETRY = { initial_ms: 1, max_ms: 2, max_attempts: 0 };

test('keepConnected connects a sink that is not ready, again after it turns not ready, and ends with its signal', async () => {
  const sink = new FakeSink();
  sink.disconnect();
  sink.connectFailures = 3;
  const stop = new AbortController();
  const loop = keepConnected(sink, () => sink.connect(), { retry: RETRY, logger: silent, signal: stop.signal });
  await until(() => sink.isReady(), 'the first connect');
  assert.equal(sink.connects, 4, 'three refused attempts, then a connect');
  sink.disconnect(); // a lost connection, with no send to notice it
  await until(() => sink.isReady(), 'the reconnect', 5000);
  assert.equal(sink.connects, 5);
  stop.abort();
  await loop;
});
