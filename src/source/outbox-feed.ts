import type { Logger } from 'pino';
import type pg from 'pg';
import { OutboxProgress } from './outbox-progress.js';
import { OutboxReader } from './outbox-reader.js';
import { vacuumOutbox } from './outbox-vacuum.js';
import type { SourceContext } from './source.js';

/**
 * The outbox table's way to the sinks: one reader per inlet, the progress
 * they all record to, and the vacuum that keeps the table small. Outbox mode
 * delivers everything this way; notify mode the events too large for a NOTIFY payload.
 */
export class OutboxFeed {
  private readonly progress: OutboxProgress;
  private readonly readers: OutboxReader[];
  private readonly bySink: ReadonlyMap<string, OutboxReader>;
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly logger: Logger;
  private stopVacuum: (() => Promise<void>) | undefined;

  constructor(ctx: SourceContext) {
    const logger = ctx.logger.child({ component: 'outbox' });
    this.pool = ctx.pool;
    this.table = ctx.table;
    this.logger = logger;
    this.progress = new OutboxProgress(ctx.pool, ctx.table, ctx.deadLetters, logger);
    const options = { table: ctx.table, batchSize: ctx.config.outbox.batchSize, pollIntervalMs: ctx.config.outbox.pollIntervalMs };
    this.readers = ctx.inlets.map((inlet) => new OutboxReader(ctx.pool, inlet, ctx.routes, this.progress, options, logger, ctx.metrics));
    this.bySink = new Map(this.readers.map((reader, i) => [ctx.inlets[i].name, reader]));
  }

  /** Whether `sink`'s reader is past outbox row `rowId` (see OutboxReader.hasRead). */
  hasRead(sink: string, rowId: string): boolean {
    return this.bySink.get(sink)?.hasRead(rowId) ?? false;
  }

  /** How far `sink`'s reader has read every row. */
  readUpTo(sink: string): bigint {
    return this.bySink.get(sink)?.readUpTo ?? 0n;
  }

  start(): void {
    this.readers.forEach((r) => r.start());
    this.stopVacuum = vacuumOutbox(this.pool, [this.table, 'pgbridge.deliveries'], this.logger);
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
  async stop(delivery: () => Promise<void>, deadline: number): Promise<void> {
    const vacuum = this.stopVacuum?.();
    const readers = Promise.all(this.readers.map((r) => r.stop()));
    await delivery();
    await readers;
    await Promise.all([this.progress.drain(deadline), vacuum]);
  }
}
