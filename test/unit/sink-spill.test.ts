import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope } from '../../src/delivery/envelope.js';
import { SinkSpill } from '../../src/source/sink-spill.js';
import { CountingInlet } from './support/fake-inlet.js';
import { FakePool } from './support/fake-pool.js';
import { rowEvent, silent, until } from './support/fake-sink.js';

function setup(limit = 3) {
  const pool = new FakePool();
  const pauses: boolean[] = [];
  const spill = new SinkSpill(
    pool.asPool(),
    'pgbridge.outbox',
    limit,
    silent,
    'notify',
    () => {},
    (p) => pauses.push(p),
  );
  return { pool, spill, pauses };
}

test('below the limit nothing spills; at it the sink spills, and only that sink', () => {
  const { spill } = setup();
  const a = new CountingInlet('a');
  const b = new CountingInlet('b');
  a.pending = 2;
  assert.equal(spill.wants(a), false);
  a.pending = 3;
  assert.equal(spill.wants(a), true);
  assert.equal(spill.wants(b), false);
});

/** An outbox row handed over by the sink's reader: the event and its row id. */
const fromTable = (n: number, rowId: number): Envelope => ({ event: rowEvent(n), rowId: String(rowId), settle: () => {} }) as Envelope;

/** The pool numbers the rows it is asked to insert from 101 on, as Postgres's sequence would. */
function numberRows(pool: FakePool): void {
  let next = 101;
  pool.answer = (sql, params) => (sql.includes('RETURNING') ? (params[1] as string[]).map((sink) => ({ id: String(next++), sink })) : []);
}

test('once spilling, a sink keeps spilling below the limit until its reader pushed the highest row written, nothing pending', async () => {
  const { pool, spill } = setup();
  numberRows(pool);
  const inlet = new CountingInlet('a');
  const watched = spill.watch(inlet);
  inlet.pending = 3;
  spill.spill({ sink: 'a', event: rowEvent(1) }, 'full');
  spill.spill({ sink: 'a', event: rowEvent(2) }, 'full');
  inlet.pending = 0;
  assert.equal(spill.wants(inlet), true, 'memory is free, but spilled events are still in the table');
  await spill.flushed();
  watched.push(fromTable(1, 101));
  assert.equal(spill.wants(inlet), true, 'the last spilled one is not handed over yet');
  spill.spill({ sink: 'a', event: rowEvent(3) }, 'full');
  watched.push(fromTable(2, 102));
  assert.equal(spill.wants(inlet), true, 'event 3 came later: still spilling');
  await spill.flushed();
  assert.equal(spill.wants(inlet), true, 'event 3 is written, not yet handed over');
  watched.push(fromTable(3, 103));
  inlet.pending = 0;
  assert.equal(spill.wants(inlet), false, 'everything spilled is in the inlet: memory again');
  assert.deepEqual(inlet.pushed, ['1', '2', '3']);
  const insert = pool.statements.filter((s) => s.sql.includes('INSERT INTO pgbridge.outbox'));
  assert.ok(insert.length >= 1);
  assert.ok(
    pool.statements.findIndex((s) => s.sql.includes('pg_current_xact_id()') && !s.sql.includes('INSERT')) < pool.statements.indexOf(insert[0]),
    'the xid before the ids',
  );
  assert.deepEqual(
    insert.flatMap((s) => s.params[0] as string[]),
    ['1', '2', '3'],
    'in arrival order, ids kept',
  );
  assert.deepEqual([...new Set(insert.flatMap((s) => s.params[1] as string[]))], ['a'], 'for that sink only');
});

test('the reader handing a row over before its write was seen to end: the spill ends right after the write', async () => {
  const { pool, spill } = setup();
  numberRows(pool);
  const inlet = new CountingInlet('a');
  inlet.pending = 3;
  spill.spill({ sink: 'a', event: rowEvent(1) }, 'full');
  spill.watch(inlet).push(fromTable(1, 101));
  inlet.pending = 0;
  assert.equal(spill.wants(inlet), true, 'still being written');
  await spill.flushed();
  assert.equal(spill.wants(inlet), false);
});

test("a kept event's row (notify mode; its event id is its row id) read ahead of a spilled row still being written does not end the spill", async () => {
  const { pool, spill } = setup();
  numberRows(pool);
  const inlet = new CountingInlet('a');
  const watched = spill.watch(inlet);
  inlet.pending = 3;
  spill.spill({ sink: 'a', event: rowEvent(1) }, 'full');
  inlet.pending = 0;
  // Row 150: a trigger's over-limit event, whose transaction took its id after the spill's and committed first.
  watched.push({ event: rowEvent(150), rowId: '150', settle: () => {} } as Envelope);
  await spill.flushed();
  assert.equal(spill.spilling(inlet), true, 'spilled row 101 is not handed over yet');
  watched.push(fromTable(1, 101));
  assert.equal(spill.spilling(inlet), false);
});

test('a spill an earlier run left in the table: the sink spills from the start', async () => {
  const { pool, spill } = setup();
  pool.answer = (sql) =>
    sql.includes('DISTINCT ON') ? [['90', '7', 'a', '1', rowEvent(7).ts, 'public', 'items', 'I', null, '{}', null, null, null]] : [];
  await spill.resume(['a', 'b']);
  const a = new CountingInlet('a');
  assert.equal(spill.wants(a), true);
  assert.equal(spill.wants(new CountingInlet('b')), false);
  spill.watch(a).push(fromTable(7, 90));
  await until(() => !spill.wants(a), 'the spill ended');
});

test('the same events spilled again (a replication slot replayed after a restart): the old copy of the last one does not end the spill', async () => {
  const { pool, spill } = setup();
  pool.answer = (sql) =>
    sql.includes('DISTINCT ON') ? [['90', '7', 'a', '1', rowEvent(7).ts, 'public', 'items', 'I', null, '{}', null, null, null]] : [];
  await spill.resume(['a']);
  let next = 91;
  pool.answer = (sql, params) => (sql.includes('RETURNING') ? (params[1] as string[]).map((sink) => ({ id: String(next++), sink })) : []);
  for (const n of [6, 7]) spill.spill({ sink: 'a', event: rowEvent(n) }, 'full');
  const a = new CountingInlet('a');
  const watched = spill.watch(a);
  watched.push(fromTable(7, 90));
  assert.equal(spill.spilling(a), true, 'event 7 again is still waiting for its write');
  await spill.flushed();
  watched.push(fromTable(6, 91));
  assert.equal(spill.spilling(a), true, 'its copy of event 7 (row 92) is not handed over yet');
  watched.push(fromTable(7, 92));
  assert.equal(spill.spilling(a), false);
});

test('stop with Postgres refusing the writes: the events not in the table come back in arrival order', async () => {
  const { pool, spill } = setup();
  pool.failures = 1_000_000;
  const inlet = new CountingInlet('a');
  inlet.pending = 3;
  for (const n of [1, 2, 3]) spill.spill({ sink: 'a', event: rowEvent(n) }, 'full');
  const left = await spill.stop(Date.now() + 100);
  assert.deepEqual(
    left.map((s) => [s.sink, s.event.id]),
    [
      ['a', '1'],
      ['a', '2'],
      ['a', '3'],
    ],
  );
});
