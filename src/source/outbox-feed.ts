import type { Logger } from 'pino';
import type pg from 'pg';
import { OutboxProgress, type OutboxCheckpoint } from './outbox-progress.js';
import { OutboxReader } from './outbox-reader.js';
import { vacuumOutbox } from './outbox-vacuum.js';
import type { HoldingRoutes } from '../router.js';
import type { SourceContext } from './source.js';

/**
 * The outbox table's way to the sinks: one reader per inlet, the progress
 * they all record to, and the vacuum that keeps the table small. Outbox mode
 * delivers everything this way; notify and wal mode what a sink spilled, and
 * dead letters moved back.
 */
export class OutboxFeed {
  private readonly progress: OutboxProgress;
  private readonly readers: OutboxReader[];
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly logger: Logger;
  private stopVacuum: (() => Promise<void>) | undefined;

  /**
   * `skipKept`: notify mode, whose source reads the rows its triggers kept itself (see NOT_KEPT);
   * `routes`: the durable modes' own, which may hold a row (HeldNewTables).
   */
  constructor(ctx: SourceContext, skipKept = false, routes: HoldingRoutes = ctx.routes) {
    const logger = ctx.logger.child({ component: 'outbox' });
    this.pool = ctx.pool;
    this.table = ctx.table;
    this.logger = logger;
    this.progress = new OutboxProgress(ctx.pool, ctx.table, ctx.deadLetters, logger);
    const options = { table: ctx.table, batchSize: ctx.config.outbox.batchSize, pollIntervalMs: ctx.config.outbox.pollIntervalMs, skipKept };
    this.readers = ctx.inlets.map((inlet) => new OutboxReader(ctx.pool, inlet, routes, this.progress, options, logger, ctx.metrics));
  }

  /** Where the outcome of an outbox row pushed to a sink is recorded (for rows read other than by the readers). */
  get checkpoint(): OutboxCheckpoint {
    return this.progress;
  }

  start(): void {
    this.readers.forEach((r) => r.start());
    this.stopVacuum = vacuumOutbox(this.pool, [this.table, 'pgbridge.deliveries'], this.logger);
  }

  /** /readyz: `outbox` ok, or why a reader cannot read it (the table missing, say). */
  readiness(): Record<string, string> {
    const failing = this.readers.find((r) => r.failing !== undefined)?.failing;
    return { outbox: failing === undefined ? 'ok' : `not reading: ${failing}` };
  }

  /** Something may have been written (a wake-up NOTIFY, a reconnection). */
  poke(): void {
    this.readers.forEach((r) => r.poke());
  }

  /**
   * Stops the readers while `delivery` stops: a reader waiting for room in a
   * full inlet (a sink down, a backlog) only wakes when delivery stops. Then
   * records the last outcomes, until `deadline` (ms since the epoch) at the latest.
   */
  async stop(delivery: () => Promise<unknown>, deadline: number): Promise<void> {
    const vacuum = this.stopVacuum?.();
    const readers = Promise.all(this.readers.map((r) => r.stop()));
    await delivery();
    await readers;
    await Promise.all([this.progress.drain(deadline), vacuum]);
  }
}
