import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeadLetterWriter } from '../../src/source/dead-letters.js';
import { OutboxProgress, type OutboxPosition, type RowHolder } from '../../src/source/outbox-progress.js';
import { FakePool } from './support/fake-pool.js';
import { rowEvent, silent, until } from './support/fake-sink.js';

const TABLE = 'pgbridge.outbox';

class Holder implements RowHolder {
  readonly released: string[] = [];
  release(rowIds: readonly string[]): void {
    this.released.push(...rowIds);
  }
}

function setup(): { pool: FakePool; progress: OutboxProgress } {
  const pool = new FakePool();
  const progress = new OutboxProgress(pool.asPool(), TABLE, new DeadLetterWriter(pool.asPool(), 'default', silent), silent);
  return { pool, progress };
}

function position(rowId: string, sink: string, routed: readonly string[], holder: RowHolder): OutboxPosition {
  return { rowId, sink, routed, event: rowEvent(Number(rowId)), holder };
}

describe('OutboxProgress records outcomes (fake pool)', () => {
  test('one sink, delivered: one DELETE of the rows, no transaction, then the rows go back to their holder', async () => {
    const { pool, progress } = setup();
    const holder = new Holder();
    for (const id of ['5', '6']) progress.settle(position(id, 'hook', ['hook'], holder), { kind: 'delivered' });
    await until(() => holder.released.length === 2, 'the release');
    assert.deepEqual(pool.outline(), ['DELETE FROM pgbridge.outbox']);
    assert.deepEqual(pool.statements[0].params, ['{5,6}']);
    assert.deepEqual(holder.released, ['5', '6']);
  });

  test('a dead letter is written in the transaction that removes its row, and released after COMMIT', async () => {
    const { pool, progress } = setup();
    const holder = new Holder();
    progress.settle(position('9', 'hook', ['hook'], holder), { kind: 'dead', error: 'HTTP 400', attempts: 1 });
    await progress.drain();
    assert.deepEqual(pool.outline(), ['BEGIN', 'INSERT INTO pgbridge.dead_letters', 'DELETE FROM pgbridge.outbox', 'COMMIT']);
    const tx = new Set(pool.statements.map((s) => s.client));
    assert.equal(tx.size, 1, 'all on one connection');
    const [instance, sinks, ids, events, , errors, attempts] = pool.statements[1].params as unknown[][];
    assert.equal(instance, 'default');
    assert.deepEqual([sinks, ids, errors, attempts], [['hook'], ['9'], ['HTTP 400'], [1]]);
    assert.equal(JSON.parse((events as string[])[0]).id, '9');
    assert.deepEqual(holder.released, ['9']);
  });

  test('an event for two sinks: the first one done is kept in deliveries, the row stays until the last', async () => {
    const { pool, progress } = setup();
    const a = new Holder();
    progress.settle(position('7', 'a', ['a', 'b'], a), { kind: 'delivered' });
    await progress.drain();
    assert.deepEqual(pool.outline(), ['BEGIN', 'SELECT 1 FROM', 'INSERT INTO pgbridge.deliveries', 'WITH done AS', 'COMMIT']);
    assert.deepEqual(pool.statements[1].params, [['7']], 'the row is locked before its sink is recorded');
    assert.deepEqual(pool.statements[2].params, [['7'], ['a']]);
    assert.deepEqual(pool.statements[3].params, [['7'], ['a,b']]);
    assert.deepEqual(a.released, ['7']);
  });

  test('both sinks of a shared event in one batch: the row and its deliveries are removed, each reader gets its own release', async () => {
    const { pool, progress } = setup();
    const a = new Holder();
    const b = new Holder();
    progress.settle(position('7', 'a', ['a', 'b'], a), { kind: 'delivered' });
    progress.settle(position('7', 'b', ['a', 'b'], b), { kind: 'delivered' });
    progress.settle(position('8', 'b', ['b'], b), { kind: 'delivered' });
    await progress.drain();
    assert.deepEqual(pool.outline(), ['BEGIN', 'DELETE FROM pgbridge.outbox', 'DELETE FROM pgbridge.deliveries', 'COMMIT']);
    assert.deepEqual(pool.statements[1].params, ['{7,8}']);
    assert.deepEqual(pool.statements[2].params, ['{7}']);
    assert.deepEqual(a.released, ['7']);
    assert.deepEqual(b.released, ['7', '8']);
  });

  test('a row no route takes is discarded: deleted, and released to the reader that read it', async () => {
    const { pool, progress } = setup();
    const holder = new Holder();
    progress.discard('3', holder);
    await progress.drain();
    assert.deepEqual(pool.outline(), ['DELETE FROM pgbridge.outbox']);
    assert.deepEqual(pool.statements[0].params, ['{3}']);
    assert.deepEqual(holder.released, ['3']);
  });

  test('a failed write is retried; nothing is released before it commits', async () => {
    const { pool, progress } = setup();
    const holder = new Holder();
    pool.failures = 1;
    progress.settle(position('4', 'hook', ['hook'], holder), { kind: 'delivered' });
    await until(() => pool.statements.length === 1, 'the first attempt');
    assert.deepEqual(holder.released, [], 'not released after a failed write');
    await until(() => holder.released.length === 1, 'the retried write');
    assert.deepEqual(pool.outline(), ['DELETE FROM pgbridge.outbox', 'DELETE FROM pgbridge.outbox']);
    await progress.drain();
    assert.deepEqual(holder.released, ['4'], 'released once');
  });

  test('drain on shutdown with Postgres down gives up at its deadline; the rows stay unreleased (read again next run)', async () => {
    const { pool, progress } = setup();
    pool.failures = 1_000_000;
    const holder = new Holder();
    progress.settle(position('3', 'hook', ['hook'], holder), { kind: 'delivered' });
    await progress.drain(Date.now() + 200);
    const tried = pool.statements.length;
    assert.ok(tried >= 1, 'it tried');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(pool.statements.length, tried, 'nothing retried after giving up');
    assert.deepEqual(holder.released, []);
  });
});
