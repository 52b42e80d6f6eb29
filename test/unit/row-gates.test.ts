import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BridgeEvent, RowChangeEvent } from '../../src/event.js';
import type { KeptNotice } from '../../src/source/notify-payload.js';
import { RowGates } from '../../src/source/row-gates.js';
import { rowEvent } from './support/fake-sink.js';

/** Event `n` of row `key`. */
const event = (n: number, key: number): BridgeEvent => rowEvent(n, key);
/** Event `n` of row `key`, kept in the outbox table (row id n). */
const kept = (n: number, key: number, anyRow = false): KeptNotice => ({
  event: { ...(rowEvent(n, key) as RowChangeEvent), data: '', key: anyRow ? null : `{"id":${key}}` },
  anyRow,
});

function setup(maxBarriers = 100) {
  const released: string[] = [];
  const gates = new RowGates(maxBarriers, (e) => released.push(e.id));
  /** What goes on at once, as the notify source does with what the gates do not hold. */
  const arrive = (e: BridgeEvent): void => {
    if (!gates.hold(e)) released.push(e.id);
  };
  return { gates, released, arrive };
}

test("a row's later events wait for its kept event and follow it in order; other rows go on", () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(event(11, 1));
  arrive(event(12, 2));
  arrive(event(13, 1));
  assert.deepEqual(released, ['12'], 'row 2 is not held');
  assert.equal(gates.waiting, 2);
  gates.handedOver('99');
  assert.deepEqual(released, ['12'], 'another row handed over opens nothing');
  gates.handedOver('10');
  assert.deepEqual(released, ['12', '11', '13']);
  assert.equal(gates.waiting, 0);
  assert.equal(gates.open, true);
  arrive(event(14, 1));
  assert.deepEqual(released, ['12', '11', '13', '14'], 'once open, the row goes straight on');
});

test('two kept events of a row: what came between them goes after the first, the rest after the second', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(event(11, 1));
  gates.close(kept(12, 1));
  arrive(event(13, 1));
  gates.handedOver('10');
  assert.deepEqual(released, ['11']);
  gates.handedOver('12');
  assert.deepEqual(released, ['11', '13']);
  assert.equal(gates.open, true);
});

test('the floor passing a kept event (read before its notice came) opens its gate like a push', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  gates.close(kept(20, 2));
  arrive(event(21, 1));
  arrive(event(22, 2));
  gates.floorAt(15n);
  assert.deepEqual(released, ['21']);
  gates.floorAt(15n);
  gates.floorAt(20n);
  assert.deepEqual(released, ['21', '22']);
  assert.equal(gates.open, true);
});

test('channel events never wait', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1, true));
  arrive({ kind: 'channel', id: 'c1', channel: 'jobs', payload: '', ts: '' });
  assert.deepEqual(released, ['c1']);
});

test('a kept event whose key was too large to send holds every row event of the sink until the floor passes it', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(event(11, 1));
  gates.close(kept(20, 5, true));
  arrive(event(21, 2));
  arrive(event(22, 1));
  gates.handedOver('10');
  assert.deepEqual(released, [], 'the row gates were folded into the whole sink');
  gates.floorAt(19n);
  assert.deepEqual(released, []);
  gates.floorAt(20n);
  assert.deepEqual(released, ['11', '21', '22'], 'in arrival order, row 1 in its order');
  assert.equal(gates.open, true);
  arrive(event(23, 2));
  assert.deepEqual(released, ['11', '21', '22', '23']);
});

test('more kept events than the limit: every row waits for the floor to pass the highest (memory stays bounded)', () => {
  const { gates, released, arrive } = setup(2);
  gates.close(kept(10, 1));
  gates.close(kept(30, 2));
  arrive(event(31, 1));
  gates.close(kept(20, 3));
  gates.close(kept(40, 4));
  arrive(event(41, 5));
  assert.equal(gates.waiting, 2);
  gates.handedOver('10');
  gates.floorAt(39n);
  assert.deepEqual(released, []);
  gates.floorAt(40n);
  assert.deepEqual(released, ['31', '41']);
  assert.equal(gates.open, true);
});

test('openAll takes every waiting event, each row in order, and waits for nothing after', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  gates.close(kept(20, 2));
  arrive(event(11, 1));
  arrive(event(21, 2));
  arrive(event(12, 1));
  const taken = gates.openAll().map((e) => e.id);
  assert.deepEqual(
    taken.filter((id) => id.startsWith('1')),
    ['11', '12'],
  );
  assert.deepEqual(taken.sort(), ['11', '12', '21']);
  assert.equal(gates.waiting, 0);
  assert.equal(gates.open, true);
  gates.handedOver('10');
  arrive(event(13, 1));
  assert.deepEqual(released, ['13']);
});
