import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Envelope } from '../../src/delivery/envelope.js';
import type { RowChangeEvent } from '../../src/event.js';
import type { Routes } from '../../src/router.js';
import { KeptEvents } from '../../src/source/kept-events.js';
import type { KeptNotice } from '../../src/source/notify-payload.js';
import type { OutboxEnvelope } from '../../src/source/outbox-envelope.js';
import { FakePool } from './support/fake-pool.js';
import { metrics, rowEvent, silent, until } from './support/fake-sink.js';

const kept = (n: number, key: number): KeptNotice => ({ event: { ...(rowEvent(n, key) as RowChangeEvent), data: '' }, anyRow: false });
/** Kept row `n` of row `key`, as readKeptRows' query returns it (found id, sinks that have it, then the event's columns). */
const keptRow = (n: number, key: number, done: string[] | null = null): unknown[] => {
  const id = String(n);
  return [id, done, id, null, null, '1', rowEvent(n).ts, 'public', 't', 'U', `{"id":${key}}`, `{"id":${key},"big":true}`, null, null, null];
};

function setup(options: { limit?: number; sinks?: readonly string[] } = {}) {
  const pool = new FakePool();
  const sinks = options.sinks ?? ['a', 'b'];
  /** Kept rows in the table, by id. */
  const table = new Map<string, unknown[]>();
  pool.answer = (sql, params) => (sql.includes('WITH s AS') ? (params[0] as string[]).filter((id) => table.has(id)).map((id) => table.get(id)!) : []);
  const released: string[] = [];
  const envelopes: Envelope[] = [];
  const pauses: boolean[] = [];
  const routes: Routes = { sinksFor: () => sinks, sourcesFor: () => null };
  const settled: string[] = [];
  const events = new KeptEvents({
    pool: pool.asPool(),
    table: 'pgbridge.outbox',
    routes,
    checkpoint: { settle: (p) => settled.push(`${p.sink}:${p.rowId}`), discard: (rowId) => settled.push(`discard:${rowId}`) },
    sinks,
    limit: options.limit ?? 100,
    logger: silent,
    metrics: metrics(),
    release: (sink, envelope) => {
      released.push(`${sink}:${envelope.event.id}`);
      envelopes.push(envelope);
    },
    backPressure: (pause) => pauses.push(pause),
  });
  /** An event arriving in a NOTIFY payload, as the notify source sends it on. */
  const arrive = (sink: string, n: number, key: number): void => {
    const envelope = { event: rowEvent(n, key), settle: () => {} };
    if (events.holds(sink, envelope.event)) events.hold(sink, envelope);
    else released.push(`${sink}:${n}`);
  };
  return { pool, table, events, released, envelopes, pauses, settled, arrive };
}

test("a notice's row is read from the table and handed to each sink in its place, later events of the row behind it", async () => {
  const { table, events, released, envelopes, arrive } = setup();
  table.set('10', keptRow(10, 1));
  arrive('a', 9, 1);
  events.noticed(kept(10, 1));
  arrive('a', 11, 1);
  arrive('a', 12, 2);
  arrive('b', 11, 1);
  assert.deepEqual(released, ['a:9', 'a:12'], 'row 1 waits for its kept event; row 2 goes on');
  await until(() => released.length === 6, 'the read');
  assert.deepEqual(released, ['a:9', 'a:12', 'a:10', 'a:11', 'b:10', 'b:11']);
  const handed = envelopes.find((e) => e.event.id === '10') as OutboxEnvelope;
  assert.equal(handed.rowId, '10', 'its outcome is recorded on its outbox row');
  assert.deepEqual(handed.routed, ['a', 'b']);
  assert.equal(events.known('10'), true, 'in hand until both sinks settled it');
  events.release(['10']);
  assert.equal(events.known('10'), true);
  events.release(['10']);
  assert.equal(events.known('10'), false);
});

test('a kept row read without a notice (the sweep) goes on as soon as it is read', async () => {
  const { table, events, released } = setup({ sinks: ['a'] });
  table.set('10', keptRow(10, 1));
  events.read(['10']);
  assert.equal(events.known('10'), true);
  await until(() => released.length === 1, 'the read');
  assert.deepEqual(released, ['a:10']);
});

test('a kept row gone from the table (delivered already) lets what waited for it go on', async () => {
  const { events, released, arrive } = setup({ sinks: ['a'] });
  events.noticed(kept(10, 1));
  arrive('a', 11, 1);
  await until(() => released.length === 1, 'the read');
  assert.deepEqual(released, ['a:11']);
  assert.equal(events.known('10'), false);
});

test('reads that fail are retried; past the limit of waiting events the listener stops reading until they go on', async () => {
  const { pool, table, events, released, pauses, arrive } = setup({ sinks: ['a'], limit: 2 });
  table.set('10', keptRow(10, 1));
  pool.failures = 2;
  events.noticed(kept(10, 1));
  arrive('a', 11, 1);
  arrive('a', 12, 1);
  assert.deepEqual(pauses, [true]);
  await until(() => released.length === 3, 'the read, on the third try');
  assert.deepEqual(released, ['a:10', 'a:11', 'a:12']);
  assert.deepEqual(pauses, [true, false]);
});

test('stop: what still waits for a kept row Postgres does not hand over goes on, ahead of it', async () => {
  const { pool, events, released, arrive } = setup({ sinks: ['a'] });
  pool.failures = 1_000_000;
  events.noticed(kept(10, 1));
  arrive('a', 11, 1);
  await events.stop(Date.now() + 50);
  assert.deepEqual(released, ['a:11']);
});

test('a notice for a row read already (it came twice) changes nothing', async () => {
  const { table, events, released, arrive } = setup({ sinks: ['a'] });
  table.set('10', keptRow(10, 1));
  events.noticed(kept(10, 1));
  await until(() => released.length === 1, 'the read');
  events.noticed(kept(10, 1));
  arrive('a', 11, 1);
  assert.deepEqual(released, ['a:10', 'a:11']);
});

test('a kept row one sink has already (an earlier run recorded it) goes to the others only', async () => {
  const { table, events, released } = setup();
  table.set('10', keptRow(10, 1, ['a']));
  events.read(['10']);
  await until(() => released.length === 1, 'the read');
  assert.deepEqual(released, ['b:10']);
  events.release(['10']);
  assert.equal(events.known('10'), false, 'settled at the one sink it went to');
});
