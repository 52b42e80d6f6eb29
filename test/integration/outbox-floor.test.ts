/**
 * The outbox reader's floor (issue 11): the sequence read SettledWater relies
 * on, and the probe that finds a row left below the floor when that reasoning
 * has a hole, injected here as the torn read the old code could make.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { SinkRunner } from '../../src/delivery/sink-runner.js';
import type { BridgeEvent } from '../../src/event.js';
import { outboxTable } from '../../src/schema/outbox.js';
import { Metrics } from '../../src/metrics.js';
import { Router } from '../../src/router.js';
import type { Sink } from '../../src/sinks/sink.js';
import { DeadLetterWriter } from '../../src/source/dead-letters.js';
import { OutboxProgress } from '../../src/source/outbox-progress.js';
import { OutboxReader } from '../../src/source/outbox-reader.js';
import { lastIdHandedOut, SettledWater, type SnapshotRow } from '../../src/source/settled-water.js';
import { waitFor } from '../support/bridge.js';
import { installedConfig, itemsDatabase } from './outbox-harness.js';
import type { TestDatabase } from '../support/pg.js';

/** The read SettledWater made before issue 11: a plain heap read of the sequence's tuple. */
const HEAP_READ = 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS last FROM pgbridge.event_id_seq';

/** SettledWater that counts the checks whose water reached a given id. */
class WatchedWater extends SettledWater {
  private readonly waters: bigint[] = [];

  override record(lastId: bigint, snap: SnapshotRow): bigint {
    const water = super.record(lastId, snap);
    this.waters.push(water);
    return water;
  }

  pagesAbove(id: bigint): number {
    return this.waters.filter((water) => water >= id).length;
  }
}

/** A sink that keeps what it is sent. */
class CollectingSink implements Sink {
  readonly type = 'test';
  readonly maxBatch = 100;
  readonly maxInFlight = 1;
  readonly received: BridgeEvent[] = [];
  constructor(readonly name: string) {}
  async connect(): Promise<void> {}
  async send(batch: readonly BridgeEvent[]): Promise<void> {
    this.received.push(...batch);
  }
  isReady(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

describe('outbox floor', () => {
  let db: TestDatabase;
  before(async () => {
    db = await itemsDatabase();
    await installedConfig(db, [{ name: 'out', type: 'stdout' }]);
  });
  after(() => db.drop());

  test('under a nextval() storm the sequence read SettledWater uses never goes backwards', async (t) => {
    const pool = db.pool({ max: 4 });
    t.after(() => pool.end());
    // At least 5 s and 2,000 reads (a loaded machine reads slowly), at most 60 s.
    const until = Date.now() + 5000;
    const cap = Date.now() + 60_000;
    let stormOn = true;
    const storm = Array.from({ length: 3 }, async () => {
      const c = await pool.connect();
      try {
        while (stormOn) await c.query("SELECT nextval('pgbridge.event_id_seq') FROM generate_series(1, 50)");
      } finally {
        c.release();
      }
    });
    const reader = await pool.connect();
    const counts = { locked: { reads: 0, backwards: 0 }, heap: { reads: 0, backwards: 0 } };
    let previous = { locked: -1n, heap: -1n };
    try {
      while ((Date.now() < until || counts.locked.reads < 2000) && Date.now() < cap) {
        const locked = await lastIdHandedOut(reader);
        const heap = BigInt((await reader.query<{ last: string }>(HEAP_READ)).rows[0].last);
        counts.locked.reads++;
        counts.heap.reads++;
        if (locked < previous.locked) counts.locked.backwards++;
        if (heap < previous.heap) counts.heap.backwards++;
        previous = { locked, heap };
      }
    } finally {
      stormOn = false;
      reader.release();
    }
    await Promise.all(storm);
    // The heap read is torn only now and then (about once in 10^5 reads here): reported, not asserted.
    t.diagnostic(`pg_sequence_last_value: ${JSON.stringify(counts.locked)}; heap read: ${JSON.stringify(counts.heap)}`);
    assert.ok(counts.locked.reads > 100);
    assert.equal(counts.locked.backwards, 0);
  });

  test('a row left below the floor by a sequence read 32 ids ahead is found and delivered, and counted', async (t) => {
    const pool = db.pool({ max: 4 });
    const logLines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
    const metrics = new Metrics('test');
    const sink = new CollectingSink('out');
    const runner = new SinkRunner(sink, { retry: { initial_ms: 50, max_ms: 500, max_attempts: 0 }, logger, metrics });
    const table = outboxTable('default');
    const progress = new OutboxProgress(pool, table, new DeadLetterWriter(pool, 'default', logger), logger);
    // What a torn read returned: the value nextval() writes 32 ahead for a moment while it WAL-logs.
    const torn = new WatchedWater(async (c) => (await lastIdHandedOut(c)) + 32n);
    const reader = new OutboxReader(
      pool,
      runner,
      new Router(null, ['out']),
      progress,
      { table, batchSize: 100, pollIntervalMs: 100 },
      logger,
      metrics,
      torn,
    );
    reader.start();
    // One hook, in this order: the progress writer needs the pool until its last flush.
    t.after(async () => {
      const stopped = reader.stop();
      await runner.stop(1000, false);
      await stopped;
      await progress.drain();
      await pool.end();
    });

    await db.query('INSERT INTO public.items (id) VALUES (1)');
    await waitFor(() => sink.received.length === 1, 10_000, 'the first row');
    // The floor must stand past the id the next row takes before it is written. The water only rises once every
    // transaction of the cluster older than the check has ended (another database's too): waited for, not assumed.
    // Two pages with that water: the floor is set after its first page's query, so the second starts after that.
    const nextId = (await lastIdHandedOut(pool)) + 1n;
    await waitFor(() => torn.pagesAbove(nextId) >= 2, 30_000, 'the floor past the next id');
    await db.query('INSERT INTO public.items (id) VALUES (2)');
    await waitFor(() => sink.received.length === 2, 30_000, 'the row written below the floor');

    const rescued = sink.received[1];
    assert.equal(rescued.kind === 'row' && rescued.data, '{"id":2,"v":0,"note":null}');
    const counted = await metrics.registry.getSingleMetricAsString('pgbridge_outbox_stranded_total');
    assert.match(counted, /pgbridge_outbox_stranded_total\{sink="out"\} 1/);
    const warning = logLines.find((l) => String(l.msg).includes("below the reader's floor"));
    assert.ok(warning, 'a warning names the rescued ids');
    assert.deepEqual(warning.ids, [rescued.id]);
  });
});
