import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListenerSync } from '../../src/source/listener-sync.js';
import { UnnoticedSweep } from '../../src/source/unnoticed-sweep.js';
import { FakePool } from './support/fake-pool.js';
import { silent, until } from './support/fake-sink.js';

test('a round trip resolves once the listener has its own notification back, or as lost when the connection is', async () => {
  const pool = new FakePool();
  const sync = new ListenerSync(pool.asPool(), 'pgbridge');
  const seen = sync.roundTrip();
  await until(() => pool.statements.length === 1, 'the NOTIFY');
  const [channel, token] = pool.statements[0].params as string[];
  assert.equal(channel, 'pgbridge');
  assert.equal(sync.handled('{"id" : "1"}'), false, 'an event is not a round trip');
  assert.equal(sync.handled(token), true);
  assert.equal(await seen, 'seen');
  assert.equal(sync.handled('pgbridge-sync:someone-else'), true, "another process's is handled (ignored) too");
  const lost = sync.roundTrip();
  await until(() => pool.statements.length === 2, 'the second NOTIFY');
  sync.lost();
  assert.equal(await lost, 'lost');
});

function setup(keptIds: string[]) {
  const pool = new FakePool();
  pool.answer = (sql, params) =>
    sql.includes('ORDER BY o.id LIMIT')
      ? keptIds
          .filter((id) => BigInt(id) > BigInt(params[0] as string))
          .slice(0, params[1] as number)
          .map((id) => ({ id }))
      : [];
  const sync = new ListenerSync(pool.asPool(), 'pgbridge');
  const known = new Set<string>();
  const read: string[] = [];
  const sweep = new UnnoticedSweep(
    pool.asPool(),
    'pgbridge.outbox',
    sync,
    { known: (id) => known.has(id), read: (ids) => read.push(...ids) },
    silent,
  );
  const roundTrips = () => pool.statements.filter((s) => s.sql.includes('pg_notify'));
  /** Answers round trip `n` (from 1), as the listener would once its notification came back. */
  const echo = async (n = 1): Promise<void> => {
    await until(() => roundTrips().length >= n, `round trip ${n}`);
    sync.handled((roundTrips()[n - 1].params as string[])[1]);
  };
  return { pool, sync, known, read, sweep, echo, roundTrips };
}

test('kept rows with no notice by the time a round trip is back are read; those noticed meanwhile are left to their notice', async () => {
  const { known, read, sweep, echo, roundTrips } = setup(['5', '7', '9']);
  known.add('5');
  sweep.request();
  await until(() => roundTrips().length === 1, 'the round trip');
  // Row 7's notice arrives while the round trip is on its way.
  known.add('7');
  await echo();
  await until(() => read.length > 0, 'the read');
  assert.deepEqual(read, ['9']);
  sweep.stop();
});

test('no kept row it does not know: no round trip', async () => {
  const { pool, known, read, sweep } = setup(['5']);
  known.add('5');
  sweep.request();
  await until(() => pool.statements.length >= 1, 'the listing');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pool.statements.filter((s) => s.sql.includes('pg_notify')).length, 0);
  assert.deepEqual(read, []);
  sweep.stop();
});

test('a round trip lost with the connection: the sweep starts again after the reconnection', async () => {
  const { pool, sync, read, sweep, echo } = setup(['9']);
  sweep.request();
  await until(() => pool.statements.some((s) => s.sql.includes('pg_notify')), 'the first round trip');
  sync.lost();
  sweep.connected();
  await echo(2);
  await until(() => read.length > 0, 'the read');
  assert.deepEqual(read, ['9']);
  sweep.stop();
});
