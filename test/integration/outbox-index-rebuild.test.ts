/**
 * The outbox's primary key stays small when VACUUM cannot make its emptied
 * pages reusable: up to PostgreSQL 15 a logical replication slot anywhere in
 * the cluster (here an inactive one of the test's own) holds them back, and
 * the index grows by every row ever queued. The delivering instance rebuilds it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { OutboxIndexRebuild } from '../../src/source/outbox-index-rebuild.js';
import { createTestDatabase, type TestDatabase } from '../support/pg.js';

const LIMITS = { minBytes: 1024 * 1024, bytesPerRow: 100, intervalMs: 0 };

describe('outbox index rebuild', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const slot = `pgbridge_test_idx_${randomBytes(4).toString('hex')}`;

  before(async () => {
    db = await createTestDatabase();
    pool = db.pool({ max: 2 });
    await db.query('CREATE TABLE queue (id bigserial PRIMARY KEY, payload text)');
    await db.query(`ALTER TABLE queue SET (autovacuum_enabled = false)`);
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  });
  after(async () => {
    await db?.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    await pool?.end();
    await db?.drop();
  });

  const indexBytes = async (name = 'queue_pkey') =>
    Number((await db.query<{ bytes: string }>(`SELECT pg_relation_size($1::regclass)::text AS bytes`, [name])).rows[0].bytes);

  test('a primary key bloated by a held-back horizon is rebuilt, rows and constraint intact', async (t) => {
    for (let round = 0; round < 40; round++) {
      await db.query(`INSERT INTO queue (payload) SELECT 'event' FROM generate_series(1, 5000)`);
      await db.query('DELETE FROM queue');
      await db.query('VACUUM queue');
    }
    const bloated = await indexBytes();
    assert.ok(bloated > LIMITS.minBytes, `VACUUM kept the index small (${bloated} bytes): nothing to rebuild, the precondition failed`);
    const { rows: kept } = await db.query<{ id: string }>(
      `INSERT INTO queue (payload) SELECT 'live' FROM generate_series(1, 100) RETURNING id::text`,
    );

    await new OutboxIndexRebuild(pool, pino({ level: 'silent' }), LIMITS).check('queue', kept.length);

    const rebuilt = await indexBytes();
    t.diagnostic(`index ${bloated} bytes before, ${rebuilt} after`);
    assert.ok(rebuilt < 64 * 1024, `index still ${rebuilt} bytes`);
    const found = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM queue WHERE id = ANY($1::bigint[])`, [kept.map((r) => r.id)]);
    assert.equal(found.rows[0].n, kept.length);
    const constraint = await db.query(`SELECT 1 FROM pg_constraint WHERE conrelid = 'queue'::regclass AND contype = 'p' AND conname = 'queue_pkey'`);
    assert.equal(constraint.rowCount, 1);
    await assert.rejects(db.query(`INSERT INTO queue (id, payload) VALUES ($1, 'twice')`, [kept[0].id]), /duplicate key/);
  });

  test('an index small for its rows is left alone', async () => {
    await db.query('TRUNCATE queue');
    await db.query(`INSERT INTO queue (payload) SELECT 'live' FROM generate_series(1, 60000)`);
    const before = await db.query<{ node: string }>(`SELECT relfilenode::text AS node FROM pg_class WHERE relname = 'queue_pkey'`);
    await new OutboxIndexRebuild(pool, pino({ level: 'silent' }), LIMITS).check('queue', 60000);
    const afterCheck = await db.query<{ node: string }>(`SELECT relfilenode::text AS node FROM pg_class WHERE relname = 'queue_pkey'`);
    assert.equal(afterCheck.rows[0].node, before.rows[0].node);
  });

  test('an invalid index left by a failed rebuild is dropped', async () => {
    await db.query('TRUNCATE queue');
    await db.query(`INSERT INTO queue (payload) VALUES ('same'), ('same')`);
    // A unique build over duplicates fails and leaves its invalid index behind, as an interrupted REINDEX CONCURRENTLY does.
    await assert.rejects(db.query('CREATE UNIQUE INDEX CONCURRENTLY queue_pkey_ccnew ON queue (payload)'), /could not create unique index/);
    const leftover = `SELECT 1 FROM pg_class WHERE relname = 'queue_pkey_ccnew'`;
    assert.equal((await db.query(leftover)).rowCount, 1);
    await new OutboxIndexRebuild(pool, pino({ level: 'silent' }), LIMITS).check('queue', 2);
    assert.equal((await db.query(leftover)).rowCount, 0);
  });
});
