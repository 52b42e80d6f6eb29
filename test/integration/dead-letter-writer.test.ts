/**
 * A sink's event is dead-lettered once: wal mode replays from the slot after a
 * crash and fails the same events again, and `dead-letters retry` would then
 * deliver each of them twice. Written through the real writer into the real
 * table; a retry (which deletes the letter) lets a later failure be written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { RowChangeEvent } from '../../src/event.js';
import { DeadLetterWriter, type DeadLetter } from '../../src/source/dead-letters.js';
import { cli } from '../support/bridge.js';
import type { TestDatabase } from '../support/pg.js';
import { installedConfig, itemsDatabase } from './outbox-harness.js';

let db: TestDatabase;
let file: string;

before(async () => {
  db = await itemsDatabase();
  file = await installedConfig(db, [
    { name: 'a', type: 'stdout' },
    { name: 'b', type: 'stdout' },
  ]);
});

after(async () => {
  await db.drop();
});

const event = (id: string): RowChangeEvent => ({
  kind: 'row',
  id,
  schema: 'public',
  table: 'items',
  op: 'INSERT',
  data: `{"id":${id}}`,
  old: null,
  key: `{"id":${id}}`,
  txid: '7',
  ts: '2026-12-06T00:00:00.000000+00:00',
});
const letter = (sink: string, id: string, error = 'HTTP 400'): DeadLetter => ({ sink, event: event(id), error, attempts: 1 });

async function letters(): Promise<string[]> {
  const { rows } = await db.query<{ l: string }>(`SELECT sink || ':' || event_id || ':' || error AS l FROM pgbridge.dead_letters ORDER BY id`);
  return rows.map((r) => r.l);
}

test('the same event of the same sink, failed again by a replay, is written once; another sink its own', async () => {
  const pool = db.pool({ max: 2 });
  const writer = new DeadLetterWriter(pool, 'default', pino({ level: 'silent' }));
  await writer.insert(pool, [letter('a', '10'), letter('a', '9'), letter('a', '10', 'again, same batch')]);
  writer.record(letter('a', '10', 'replayed'));
  writer.record(letter('b', '10'));
  await writer.flushed();
  await pool.end();
  assert.deepEqual(await letters(), ['a:10:HTTP 400', 'a:9:HTTP 400', 'b:10:HTTP 400']);
});

test('after dead-letters retry moved it back, a new failure of that event is written', async () => {
  const retried = await cli(['dead-letters', 'retry', '-c', file, '--sink', 'a']);
  assert.equal(retried.code, 0, retried.stderr);
  assert.deepEqual(await letters(), ['b:10:HTTP 400']);
  const pool = db.pool({ max: 1 });
  await new DeadLetterWriter(pool, 'default', pino({ level: 'silent' })).insert(pool, [letter('a', '10', 'failed after the retry')]);
  await pool.end();
  assert.deepEqual(await letters(), ['b:10:HTTP 400', 'a:10:failed after the retry']);
});

test('wal mode stores anew after a stop (a lost lock): a letter stored after stopStoring is written too', async () => {
  const pool = db.pool({ max: 2 });
  const writer = new DeadLetterWriter(pool, 'default', pino({ level: 'silent' }));
  const stored: string[] = [];
  await new Promise<void>((resolve) => writer.store(letter('a', '20', 'before the stop'), () => resolve(void stored.push('20'))));
  await writer.stopStoring(Date.now() + 1000);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the letter after the stop was never stored')), 5000);
    writer.store(letter('a', '21', 'after the stop'), () => {
      clearTimeout(timer);
      stored.push('21');
      resolve();
    });
  });
  await pool.end();
  assert.deepEqual(stored, ['20', '21']);
  assert.ok((await letters()).includes('a:21:after the stop'));
});

test('letters that each fit one string but not together (2 × 270 M characters) are all written, each whole', { timeout: 300_000 }, async () => {
  const { Pool } = (await import('pg')).default;
  const pool = new Pool({ connectionString: db.url, max: 1 });
  try {
    // One value shared by both events: what is over the limit is the statement's array of them.
    const data = `{"v":"${'x'.repeat(270_000_000)}"}`;
    const big = (id: string): DeadLetter => ({ sink: 'a', event: { ...event(id), data }, error: 'HTTP 413', attempts: 1 });
    await new DeadLetterWriter(pool, 'default', pino({ level: 'silent' })).insert(pool, [big('101'), big('102')]);
  } finally {
    await pool.end();
  }
  const { rows } = await db.query<{ id: string; chars: number }>(
    `SELECT event_id AS id, length(event->'data'->>'v') AS chars FROM pgbridge.dead_letters WHERE event_id IN ('101', '102') ORDER BY id`,
  );
  assert.deepEqual(rows, [
    { id: '101', chars: 270_000_000 },
    { id: '102', chars: 270_000_000 },
  ]);
});
