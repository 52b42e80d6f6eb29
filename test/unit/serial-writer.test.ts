import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialWriter } from '../../src/source/serial-writer.js';

const NEVER = { initial_ms: 10, max_ms: 20, max_attempts: 0 };

function writer(write: (batch: readonly number[]) => Promise<void>) {
  const lost: number[] = [];
  const w = new SerialWriter<number>(write, { batch: 2, retry: NEVER, onFailure: () => {}, onLost: (batch) => lost.push(...batch) });
  return { w, lost };
}

test('stop: everything written in time, nothing is handed back', async () => {
  const written: number[] = [];
  const { w } = writer(async (batch) => void written.push(...batch));
  for (const n of [1, 2, 3]) w.push(n);
  assert.deepEqual(await w.stop(Date.now() + 5000), []);
  assert.deepEqual(written, [1, 2, 3]);
});

test('stop: a writer that keeps failing hands back what it could not write, in order, and stops retrying', async () => {
  let attempts = 0;
  const { w, lost } = writer(async () => {
    attempts++;
    throw new Error('Postgres is down');
  });
  for (const n of [1, 2, 3, 4, 5]) w.push(n);
  assert.deepEqual(await w.stop(Date.now() + 100), [1, 2, 3, 4, 5], 'the batch being retried first, then the queue');
  const after = attempts;
  await new Promise((r) => setTimeout(r, 100));
  await w.flushed();
  assert.ok(attempts <= after + 1, 'no more retries after the stop (one attempt may have been under way)');
  assert.deepEqual(lost, [], 'handed back, not reported lost');
});
