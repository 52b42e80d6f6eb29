import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelay, sleep } from '../../src/delivery/backoff.js';

const retry = { initial_ms: 100, max_ms: 1000, max_attempts: 0 };

describe('backoffDelay', () => {
  test('doubles from initial_ms, jittered between half and all of the ceiling', () => {
    for (const [attempt, ceiling] of [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
    ]) {
      assert.equal(
        backoffDelay(attempt, retry, () => 0),
        ceiling / 2,
        `attempt ${attempt}, lowest`,
      );
      assert.equal(
        backoffDelay(attempt, retry, () => 0.999999),
        ceiling,
        `attempt ${attempt}, highest`,
      );
    }
  });

  test('never above max_ms, however many attempts (no overflow)', () => {
    for (const attempt of [5, 10, 31, 100, 10_000]) {
      const high = backoffDelay(attempt, retry, () => 0.999999);
      assert.ok(high <= 1000 && high >= 999, `attempt ${attempt}: ${high}`);
      assert.equal(
        backoffDelay(attempt, retry, () => 0),
        500,
      );
    }
  });

  test('with Math.random: always within bounds, and not always the same', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, retry);
      assert.ok(d >= 200 && d <= 400, String(d));
      seen.add(d);
    }
    assert.ok(seen.size > 10, 'jittered');
  });

  test('a whole number of milliseconds', () => {
    assert.equal(Number.isInteger(backoffDelay(2, { initial_ms: 3, max_ms: 1000, max_attempts: 0 }, () => 0.123)), true);
  });
});

describe('sleep', () => {
  test('waits about the time asked', async () => {
    const started = performance.now();
    await sleep(60);
    assert.ok(performance.now() - started >= 55);
  });

  test('an abort ends it early without throwing; an aborted signal does not wait at all', async () => {
    const abort = new AbortController();
    const started = performance.now();
    setTimeout(() => abort.abort(), 20);
    await sleep(5000, abort.signal);
    assert.ok(performance.now() - started < 1000);
    const again = performance.now();
    await sleep(5000, abort.signal);
    assert.ok(performance.now() - again < 50);
  });
});
