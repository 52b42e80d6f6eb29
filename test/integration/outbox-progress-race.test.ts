/**
 * Two progress writers recording different sinks of one shared event at the
 * same time (the next delivery phase, or another instance after a lost lock,
 * while an earlier flush is still in flight): each transaction inserted its
 * sink into pgbridge.deliveries and checked for the others before either had
 * committed, so neither removed the row and both sinks' readers skipped it
 * from then on. The row is locked first, so the later check sees the earlier
 * writer's sink.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { BridgeEvent } from '../../src/event.js';
import { outboxTable } from '../../src/schema/outbox.js';
import { DeadLetterWriter } from '../../src/source/dead-letters.js';
import { OutboxProgress, type RowHolder } from '../../src/source/outbox-progress.js';
import { installedConfig, itemsDatabase } from './outbox-harness.js';
import type { TestDatabase } from '../support/pg.js';

let db: TestDatabase;
const logger = pino({ level: 'silent' });
const table = outboxTable('default');

before(async () => {
  db = await itemsDatabase();
  await installedConfig(db, [
    { name: 'a', type: 'stdout' },
    { name: 'b', type: 'stdout' },
  ]);
  // Both writers' checks run before either commits: each waits at its COMMIT.
  await db.query(`
    CREATE FUNCTION pgbridge_test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON pgbridge.deliveries DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION pgbridge_test_slow_commit();`);
});

after(async () => {
  await db.drop();
});

test('two writers recording the two sinks of one event at once: the row leaves the outbox', async () => {
  await db.query('INSERT INTO public.items (id) SELECT generate_series(1, 5)');
  const { rows } = await db.query<{ id: string }>(`SELECT id::text FROM ${table} ORDER BY id`);
  assert.equal(rows.length, 5);
  const holder: RowHolder = { release: () => {} };
  const event = { kind: 'channel', id: '1', channel: 'x', payload: '', ts: '' } as BridgeEvent;
  const pool = db.pool({ max: 4 });
  const writers = ['a', 'b'].map((sink) => ({
    sink,
    progress: new OutboxProgress(pool, table, new DeadLetterWriter(pool, 'default', logger), logger, 0),
  }));
  for (const { sink, progress } of writers) {
    for (const { id } of rows) progress.settle({ rowId: id, sink, routed: ['a', 'b'], event, holder }, { kind: 'delivered' });
  }
  await Promise.all(writers.map(({ progress }) => progress.drain()));
  const left = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  const deliveries = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgbridge.deliveries`);
  assert.equal(left.rows[0].n, 0, 'rows both sinks have are still in the outbox');
  assert.equal(deliveries.rows[0].n, 0);
  await pool.end();
});
