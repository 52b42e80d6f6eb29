import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope } from '../../src/delivery/envelope.js';
import type { RowChangeEvent } from '../../src/event.js';
import { KeptEventOrder } from '../../src/source/kept-event-order.js';
import type { KeptNotice } from '../../src/source/notify-payload.js';
import { CountingInlet } from './support/fake-inlet.js';
import { rowEvent, until } from './support/fake-sink.js';

const kept = (n: number, key: number): KeptNotice => ({ event: { ...(rowEvent(n, key) as RowChangeEvent), data: '' }, anyRow: false });
/** Outbox row `n` as its reader pushes it. */
const fromTable = (n: number, key: number): Envelope => ({ event: rowEvent(n, key), rowId: String(n), settle: () => {} }) as Envelope;

function setup() {
  const read = { a: new Set<string>(), b: new Set<string>() } as Record<string, Set<string>>;
  const floors: Record<string, bigint> = { a: 0n, b: 0n };
  const released: string[] = [];
  const order = new KeptEventOrder(
    ['a', 'b'],
    100,
    { hasRead: (sink, rowId) => read[sink].has(rowId) || BigInt(rowId) <= floors[sink], readUpTo: (sink) => floors[sink] },
    (sink, event) => released.push(`${sink}:${event.id}`),
  );
  return { order, read, floors, released };
}

test("the reader's push of the kept event, seen through watch(), releases what waited for it at that sink only", () => {
  const { order, released } = setup();
  const a = new CountingInlet('a');
  const watched = order.watch(a);
  order.noticed(kept(10, 1), ['a', 'b']);
  assert.equal(order.hold('a', rowEvent(11, 1)), true);
  assert.equal(order.hold('b', rowEvent(11, 1)), true);
  assert.equal(order.waiting('a'), 1);
  watched.push(fromTable(10, 1));
  assert.deepEqual(a.pushed, ['10'], 'the kept event is in the inlet first');
  assert.deepEqual(released, ['a:11']);
  assert.equal(order.waiting('b'), 1, 'b still waits for its own reader');
  order.stop();
});

test('a kept event its reader has read already (it is in the inlet) closes nothing', () => {
  const { order, read } = setup();
  read.a.add('10');
  order.noticed(kept(10, 1), ['a']);
  assert.equal(order.hold('a', rowEvent(11, 1)), false);
  order.stop();
});

test('a kept event read and settled before its notice came: the reader floor passing it opens the gate', async () => {
  const { order, floors, released } = setup();
  order.noticed(kept(10, 1), ['a']);
  assert.equal(order.hold('a', rowEvent(11, 1)), true);
  floors.a = 10n;
  await until(() => released.length === 1, 'the floor check');
  assert.deepEqual(released, ['a:11']);
  order.stop();
});
