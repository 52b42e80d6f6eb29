import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publishInRowOrder } from '../../src/sinks/row-order.js';

type Outcome = 'ok' | 'retriable' | 'permanent' | 'held back';

/** Publishes messages `<row><n>` (a1, a2, b1 …); each answers what `answers` says, after a tick. */
async function run(messages: string[], answers: Record<string, Outcome>): Promise<{ outcomes: Outcome[]; published: string[] }> {
  const published: string[] = [];
  const outcomes = await publishInRowOrder<string, Outcome>(
    messages,
    (m) => m[0],
    async (m) => {
      published.push(m);
      await new Promise((resolve) => setImmediate(resolve));
      return answers[m] ?? 'ok';
    },
    { mayFollow: (o) => o === 'ok' || o === 'permanent', heldBack: () => 'held back' },
  );
  return { outcomes, published };
}

test("a row's message is published after the one before it answered; other rows' go at once", async () => {
  const { outcomes, published } = await run(['a1', 'b1', 'a2', 'c1', 'a3'], {});
  assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'ok']);
  assert.deepEqual(published, ['a1', 'b1', 'c1', 'a2', 'a3']);
});

test("a retriable failure holds the rest of its row back, unsent; other rows' are published", async () => {
  const { outcomes, published } = await run(['a1', 'a2', 'b1', 'a3', 'b2'], { a1: 'retriable' });
  assert.deepEqual(outcomes, ['retriable', 'held back', 'ok', 'held back', 'ok']);
  assert.deepEqual(published.sort(), ['a1', 'b1', 'b2']);
});

test('a permanent failure (a dead letter) lets the rest of its row go', async () => {
  const { outcomes, published } = await run(['a1', 'a2', 'a3'], { a2: 'permanent' });
  assert.deepEqual(outcomes, ['ok', 'permanent', 'ok']);
  assert.deepEqual(published, ['a1', 'a2', 'a3']);
});

test('messages of no row to keep in order (channel messages, rows without a key) go at once, whatever came before', async () => {
  const published: string[] = [];
  const outcomes = await publishInRowOrder<string, Outcome>(
    ['x1', 'x2', 'x3'],
    () => undefined,
    async (m) => {
      published.push(m);
      await new Promise((resolve) => setImmediate(resolve));
      return m === 'x1' ? 'retriable' : 'ok';
    },
    { mayFollow: (o) => o === 'ok', heldBack: () => 'held back' },
  );
  assert.deepEqual(outcomes, ['retriable', 'ok', 'ok']);
  assert.deepEqual(published, ['x1', 'x2', 'x3']);
});
