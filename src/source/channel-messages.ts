import type { Logger } from 'pino';
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { inTransaction } from '../postgres.js';
import { CHANNEL_COLUMNS } from '../schema/outbox.js';
import { SerialWriter } from './serial-writer.js';

/** Channel messages written to the outbox in one transaction at most. */
const CHANNEL_BATCH = 500;
const RETRY = { initial_ms: 200, max_ms: 2000, max_attempts: 5 };

interface ChannelMessage {
  readonly channel: string;
  readonly payload: string;
}

/**
 * Outbox mode: a channel message is made durable first, then delivered like a
 * row change. One writer, in arrival order: messages written by concurrent
 * transactions could take their ids, and so their delivery order, in any order.
 */
export class ChannelMessageWriter {
  private readonly writer: SerialWriter<ChannelMessage>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    logger: Logger,
    /** Called after each written batch (the readers have something to read). */
    written: () => void,
  ) {
    const about = (batch: readonly ChannelMessage[]) => ({ channels: [...new Set(batch.map((m) => m.channel))], messages: batch.length });
    this.writer = new SerialWriter(
      async (batch) => {
        await this.insert(batch);
        written();
      },
      {
        batch: CHANNEL_BATCH,
        retry: RETRY,
        onFailure: (batch, attempt, err) => logger.warn({ ...about(batch), attempt, err: errorMessage(err) }, 'storing channel messages failed'),
        onLost: (batch, attempts, err) =>
          logger.error({ ...about(batch), err: errorMessage(err) }, `channel messages lost: Postgres did not accept them after ${attempts} attempts`),
      },
    );
  }

  push(channel: string, payload: string): void {
    this.writer.push({ channel, payload });
  }

  /** Resolves once every message received so far is written (or reported lost). */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  /**
   * The transaction takes its xid before the id default calls nextval (in a
   * plain INSERT the default comes first): SettledWater relies on every
   * outbox writer holding an xid before it holds an id.
   */
  private async insert(batch: readonly ChannelMessage[]): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      await db.query('SELECT pg_current_xact_id()');
      for (const { channel, payload } of batch) {
        await db.query(`INSERT INTO ${this.table} (${CHANNEL_COLUMNS}) VALUES ($1, $2)`, [channel, payload]);
      }
    });
  }
}
