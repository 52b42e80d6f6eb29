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

const silent = pino({ level: 'silent' });

const LIMITS = { minBytes: 1024 * 1024, bytesPerRow: 100, intervalMs: 0, statementTimeoutMs: 30_000 };
/** Every index counts as bloated: what is tested is how the rebuild waits, not when it starts. */
const ALWAYS = { minBytes: 0, bytesPerRow: 0, intervalMs: 0 };

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

    await new OutboxIndexRebuild(pool, silent, LIMITS).check('queue', kept.length);

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
    await new OutboxIndexRebuild(pool, silent, LIMITS).check('queue', 60000);
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
    await new OutboxIndexRebuild(pool, silent, LIMITS).check('queue', 2);
    assert.equal((await db.query(leftover)).rowCount, 0);
  });
  /** An application's transaction left open after writing to the table: REINDEX CONCURRENTLY waits for it. */
  const openWriter = async (): Promise<pg.Client> => {
    const writer = new pg.Client(db.url);
    await writer.connect();
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO queue (payload) VALUES ('held')`);
    return writer;
  };
  /** Backends running the rebuild's statements. */
  const rebuildBackends = async () =>
    (await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ~ '^(REINDEX|DROP INDEX) '`))
      .rows;

  test('a transaction left open does not hold the rebuild: it gives up at its statement timeout and succeeds once the transaction ends', async (t) => {
    await db.query('TRUNCATE queue');
    const writer = await openWriter();
    t.after(() => writer.end());
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const rebuild = new OutboxIndexRebuild(pool, logger, { ...ALWAYS, statementTimeoutMs: 500 });
    await rebuild.check('queue', 1); // resolves while the writer's transaction is still open
    assert.match(warnings.join(''), /canceling statement due to statement timeout/);
    const invalidIndexes = `SELECT 1 FROM pg_index i WHERE i.indrelid = 'queue'::regclass AND NOT i.indisvalid`;
    assert.equal((await db.query(invalidIndexes)).rowCount, 1, 'the cancelled REINDEX CONCURRENTLY left its new index behind');
    await rebuild.check('queue', 1); // dropping that leftover waits for the same transaction: bounded the same way
    assert.equal((await rebuildBackends()).length, 0);

    await writer.query('COMMIT');
    const before = await db.query<{ node: string }>(`SELECT relfilenode::text AS node FROM pg_class WHERE relname = 'queue_pkey'`);
    await rebuild.check('queue', 1);
    assert.equal((await db.query(invalidIndexes)).rowCount, 0, 'the failed attempts left an invalid index behind');
    const after = await db.query<{ node: string }>(`SELECT relfilenode::text AS node FROM pg_class WHERE relname = 'queue_pkey'`);
    assert.notEqual(after.rows[0].node, before.rows[0].node, 'the index was not rebuilt');
  });

  test('stop() cancels a rebuild that is waiting, and none starts after it', async (t) => {
    await db.query('TRUNCATE queue');
    const writer = await openWriter();
    t.after(() => writer.query('ROLLBACK').then(() => writer.end()));
    const rebuild = new OutboxIndexRebuild(pool, silent, { ...ALWAYS, statementTimeoutMs: 10 * 60_000 });
    const checking = rebuild.check('queue', 1);
    while ((await rebuildBackends()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await rebuild.stop();
    await checking; // would wait for the writer's transaction (or ten minutes) without the cancel
    assert.equal((await rebuildBackends()).length, 0);
    await rebuild.check('queue', 1);
    assert.equal((await rebuildBackends()).length, 0);
  });

  test("the rebuild's connection terminated while it waits: a warning, no crash, the pool untouched", async (t) => {
    await db.query('TRUNCATE queue');
    const writer = await openWriter();
    t.after(() => writer.query('ROLLBACK').then(() => writer.end()));
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const rebuild = new OutboxIndexRebuild(pool, logger, { ...ALWAYS, statementTimeoutMs: 10 * 60_000 });
    const checking = rebuild.check('queue', 1);
    let waiting: { pid: number }[] = [];
    while ((waiting = await rebuildBackends()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await db.query('SELECT pg_terminate_backend($1)', [waiting[0].pid]);
    await checking;
    assert.match(warnings.join(''), /rebuilding a bloated outbox index failed/);
    assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one, 1);
  });
});
