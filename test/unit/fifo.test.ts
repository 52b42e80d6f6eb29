import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fifo } from '../../src/delivery/fifo.js';

test('Fifo hands items back in push order, across compactions', () => {
  const fifo = new Fifo<number>();
  const out: number[] = [];
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 997; i++) fifo.push(next++);
    out.push(...fifo.take(1), ...fifo.take(613));
  }
  while (fifo.length > 0) out.push(...fifo.take(500));
  assert.deepEqual(
    out,
    Array.from({ length: next }, (_, i) => i),
  );
  assert.deepEqual(fifo.take(3), []);
});

test('Fifo.clear empties it and counts what it held', () => {
  const fifo = new Fifo<string>();
  ['a', 'b', 'c'].forEach((s) => fifo.push(s));
  fifo.take(1);
  assert.equal(fifo.clear(), 2);
  assert.equal(fifo.length, 0);
  fifo.push('d');
  assert.deepEqual(fifo.take(5), ['d']);
});
