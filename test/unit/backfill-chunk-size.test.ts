import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChunkSize } from '../../src/backfill/chunk-size.js';

test('a chunk held up by a writer halves down to one row, which waits longer; each that gets through doubles back', () => {
  const size = new ChunkSize(5000);
  const seen: number[] = [];
  for (let i = 0; i < 14; i++) {
    size.heldUp();
    seen.push(size.rows);
  }
  assert.deepEqual(seen, [2500, 1250, 625, 312, 156, 78, 39, 19, 9, 4, 2, 1, 1, 1]);
  assert.equal(size.lockWaitMs, 500);
  for (let i = 0; i < 20; i++) size.gotThrough();
  assert.equal(size.rows, 5000, 'never past the size asked for');
  assert.equal(size.lockWaitMs, 50);
});

test('every wait stays under deadlock_timeout (1 s by default)', () => {
  for (const size of [new ChunkSize(1), new ChunkSize(2), new ChunkSize(5000)]) assert.ok(size.lockWaitMs < 1000);
});
