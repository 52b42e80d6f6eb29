import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SinkHold } from '../../src/source/sink-hold.js';
import { CountingInlet } from './support/fake-inlet.js';
import { FakePool } from './support/fake-pool.js';
import { silent, until } from './support/fake-sink.js';

function setup(usage = 0, sending: () => boolean = () => false) {
  const pool = new FakePool();
  pool.answer = (sql) => (sql.includes('pg_notification_queue_usage') ? [{ usage, sending: sending() }] : []);
  const holds: boolean[] = [];
  const a = new CountingInlet('a', 10);
  const b = new CountingInlet('b', 10);
  const hold = new SinkHold(
    [a, b],
    1000,
    pool.asPool(),
    silent,
    (on) => holds.push(on),
    () => 4242,
    { checkEveryMs: 10, sendingMaxMs: 100 },
  );
  return { a, b, hold, holds };
}

test('no hold while one sink has room: it would wait for the full one', () => {
  const { a, hold, holds } = setup();
  a.pending = 10;
  assert.equal(hold.consider(), false);
  assert.deepEqual(holds, []);
});

test('every sink full and delivering: the listener holds until one has room again', async () => {
  const { a, b, hold, holds } = setup();
  a.pending = 10;
  b.pending = 12;
  assert.equal(hold.consider(), true);
  assert.deepEqual(holds, [true]);
  assert.equal(hold.consider(), true, 'still holding');
  a.pending = 4;
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(holds, [true], 'half full is still full');
  a.pending = 3;
  await until(() => holds.length === 2, 'the listener reads again');
  assert.deepEqual(holds, [true, false]);
});

test('a failing sink ends the hold: its events spill instead of waiting', async () => {
  const { a, b, hold, holds } = setup();
  a.pending = 10;
  b.pending = 10;
  assert.equal(hold.consider(), true);
  b.delivering = false;
  await until(() => holds.length === 2, 'the hold ended');
  assert.equal(hold.consider(), false);
});

test('a memory limit below half the capacity is where a sink counts as full', () => {
  const pool = new FakePool();
  const holds: boolean[] = [];
  const a = new CountingInlet('a', 1000);
  const hold = new SinkHold(
    [a],
    100,
    pool.asPool(),
    silent,
    (on) => holds.push(on),
    () => undefined,
  );
  a.pending = 100;
  assert.equal(hold.consider(), true);
  hold.stop();
  assert.deepEqual(holds, [true, false]);
});

test("Postgres's notification queue filling up ends the hold, and no new one starts", async () => {
  const { a, b, hold, holds } = setup(0.5);
  a.pending = 10;
  b.pending = 10;
  assert.equal(hold.consider(), true, 'held before the usage is known');
  await until(() => holds.length === 2, 'the hold ended once the usage was read');
  assert.equal(hold.consider(), false);
});

test("the listener's backend seen in its sending transaction (a snapshot VACUUM waits for) at every look for longer than the limit: the hold ends, and no new one starts", async () => {
  const { a, b, hold, holds } = setup(0, () => true);
  a.pending = 10;
  b.pending = 10;
  const started = Date.now();
  assert.equal(hold.consider(), true, 'held before the backend is looked at');
  await until(() => holds.length === 2, 'the hold ended once the backend was seen waiting long enough');
  assert.ok(Date.now() - started >= 100, 'ended before the backend had been seen sending for the limit');
  assert.equal(hold.consider(), false);
});

test('a backend seen sending only now and then (separate short transactions) keeps the hold', async () => {
  let looks = 0;
  const { a, b, hold, holds } = setup(0, () => ++looks % 2 === 0);
  a.pending = 10;
  b.pending = 10;
  assert.equal(hold.consider(), true);
  await until(() => looks >= 30, 'thirty looks at the backend');
  assert.deepEqual(holds, [true]);
  hold.stop();
});
