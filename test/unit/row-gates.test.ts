import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope } from '../../src/delivery/envelope.js';
import type { BridgeEvent, RowChangeEvent } from '../../src/event.js';
import type { KeptNotice } from '../../src/source/notify-payload.js';
import { RowGates } from '../../src/source/row-gates.js';
import { rowEvent } from './support/fake-sink.js';

/** Event `n` of row `key`, in an envelope. */
const envelope = (n: number, key: number): Envelope => ({ event: rowEvent(n, key), settle: () => {} });
/** The notice of event `n` of row `key`, kept in the outbox table (row id n). */
const kept = (n: number, key: number, anyRow = false): KeptNotice => ({
  event: { ...(rowEvent(n, key) as RowChangeEvent), data: '', key: anyRow ? null : `{"id":${key}}` },
  anyRow,
});

function setup() {
  const released: string[] = [];
  const gates = new RowGates((e) => released.push(e.event.id));
  /** What goes on at once, as the notify source sends on what the gates do not hold. */
  const arrive = (e: Envelope): void => {
    if (!gates.hold(e)) released.push(e.event.id);
  };
  return { gates, released, arrive };
}

test("a row's later events wait for its kept event, which takes its place once read; other rows go on", () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(envelope(11, 1));
  arrive(envelope(12, 2));
  arrive(envelope(13, 1));
  assert.deepEqual(released, ['12'], 'row 2 does not wait');
  assert.equal(gates.waiting, 2);
  assert.equal(gates.fill('99', envelope(99, 3)), false, 'no notice came for row 99: the caller sends it on');
  assert.equal(gates.fill('10', envelope(10, 1)), true);
  assert.deepEqual(released, ['12', '10', '11', '13']);
  assert.equal(gates.waiting, 0);
  assert.equal(gates.open, true);
  arrive(envelope(14, 1));
  assert.deepEqual(released, ['12', '10', '11', '13', '14'], 'once open, the row goes straight on');
});

test('two kept events of a row: the second, read first, still waits for the first', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(envelope(11, 1));
  gates.close(kept(12, 1));
  arrive(envelope(13, 1));
  gates.fill('12', envelope(12, 1));
  assert.deepEqual(released, []);
  gates.fill('10', envelope(10, 1));
  assert.deepEqual(released, ['10', '11', '12', '13']);
  assert.equal(gates.open, true);
});

test('a kept event not for this sink, or gone from the table, lets what waited for it go on', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(envelope(11, 1));
  gates.fill('10', undefined);
  assert.deepEqual(released, ['11']);
  assert.equal(gates.open, true);
});

test('holds() tells whether an event would wait; channel events never do', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1, true));
  assert.equal(gates.holds(rowEvent(11, 5)), true);
  const channel: BridgeEvent = { kind: 'channel', id: 'c1', channel: 'jobs', payload: '', ts: '' };
  assert.equal(gates.holds(channel), false);
  arrive({ event: channel, settle: () => {} });
  assert.deepEqual(released, ['c1']);
});

test('a kept notice without a row key: every row waits behind it, those waiting already first, each row in order', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  arrive(envelope(11, 1));
  gates.close(kept(20, 5, true));
  arrive(envelope(21, 2));
  arrive(envelope(22, 1));
  gates.fill('20', envelope(20, 5));
  assert.deepEqual(released, [], 'row 1 still waits for its own kept event, and the whole sink behind it');
  gates.fill('10', envelope(10, 1));
  assert.deepEqual(released, ['10', '11', '20', '21', '22']);
  assert.equal(gates.open, true);
  arrive(envelope(23, 2));
  assert.deepEqual(released.at(-1), '23', 'open again: rows go straight on');
});

test('openAll takes every waiting envelope (and kept ones read), each row in order, and drops the placeholders', () => {
  const { gates, released, arrive } = setup();
  gates.close(kept(10, 1));
  gates.close(kept(20, 2));
  arrive(envelope(11, 1));
  arrive(envelope(21, 2));
  arrive(envelope(12, 1));
  const taken = gates.openAll().map((e) => e.event.id);
  assert.deepEqual(
    taken.filter((id) => id.startsWith('1')),
    ['11', '12'],
  );
  assert.deepEqual(taken.sort(), ['11', '12', '21']);
  assert.equal(gates.waiting, 0);
  assert.equal(gates.open, true);
  assert.equal(gates.fill('10', envelope(10, 1)), false, 'its placeholder is gone');
  arrive(envelope(13, 1));
  assert.deepEqual(released, ['13']);
});
