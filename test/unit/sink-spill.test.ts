import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope } from '../../src/delivery/envelope.js';
import { SinkSpill } from '../../src/source/sink-spill.js';
import { CountingInlet } from './support/fake-inlet.js';
import { FakePool } from './support/fake-pool.js';
import { rowEvent, silent, until } from './support/fake-sink.js';

const envelope = (n: number): Envelope => ({ event: rowEvent(n), settle: () => {} });

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

test('once spilling, a sink keeps spilling below the limit until its reader pushed the last spilled event', async () => {
  const { pool, spill } = setup();
  const inlet = new CountingInlet('a');
  const watched = spill.watch(inlet);
  inlet.pending = 3;
  spill.spill({ sink: 'a', event: rowEvent(1) }, 'full');
  spill.spill({ sink: 'a', event: rowEvent(2) }, 'full');
  inlet.pending = 0;
  assert.equal(spill.wants(inlet), true, 'memory is free, but spilled events are still in the table');
  watched.push(envelope(1));
  assert.equal(spill.wants(inlet), true, 'the last spilled one is not handed over yet');
  spill.spill({ sink: 'a', event: rowEvent(3) }, 'full');
  watched.push(envelope(2));
  assert.equal(spill.wants(inlet), true, 'event 3 came later: still spilling');
  watched.push(envelope(3));
  inlet.pending = 0;
  assert.equal(spill.wants(inlet), false, 'everything spilled is in the inlet: memory again');
  assert.deepEqual(inlet.pushed, ['1', '2', '3']);
  await spill.flushed();
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

test('a spill an earlier run left in the table: the sink spills from the start', async () => {
  const { pool, spill } = setup();
  pool.answer = (sql) =>
    sql.includes('DISTINCT ON') ? [['90', '7', 'a', '1', rowEvent(7).ts, 'public', 'items', 'I', null, '{}', null, null, null]] : [];
  await spill.resume(['a', 'b']);
  const a = new CountingInlet('a');
  assert.equal(spill.wants(a), true);
  assert.equal(spill.wants(new CountingInlet('b')), false);
  spill.watch(a).push(envelope(7));
  await until(() => !spill.wants(a), 'the spill ended');
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
