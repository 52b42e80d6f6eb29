import type { Logger } from 'pino';
import type pg from 'pg';
import type { Envelope } from '../delivery/envelope.js';
import type { Inlet } from '../delivery/inlet.js';
import type { BridgeEvent } from '../event.js';
import { withRetries } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import { inTransaction } from '../postgres.js';
import { EVENT_COLUMNS, REPLAY_COLUMNS } from '../schema/outbox.js';
import type { OutboxEnvelope } from './outbox-envelope.js';
import { Column, NOT_KEPT, type OutboxRecord } from './outbox-rows.js';
import { SerialWriter } from './serial-writer.js';

/** Spilled events written in one statement at most. */
const SPILL_BATCH = 1000;
/**
 * Events waiting for the spill writer past which the listener stops reading
 * (they wait in Postgres's notification queue instead), and below which it
 * reads again: a writer slower than the notifications would otherwise hold
 * the whole burst in memory (327 MB at 300,000 events).
 */
const QUEUE_HIGH = 5000;
const QUEUE_LOW = 1000;
/** Never given up: a spilled event exists nowhere else. */
const RETRY = { initial_ms: 200, max_ms: 5000, max_attempts: 0 };

export interface Spilled {
  readonly sink: string;
  readonly event: BridgeEvent;
  /** Called once the event is in the table (wal mode: the slot may then move past it). */
  readonly written?: () => void;
}

/** Where a spilling sink stands: what is written for it, and what its reader handed over. */
interface SpillState {
  /** Events handed to the writer and not yet in the table. */
  pending: number;
  /** The highest outbox row id written for it (as a number: ids grow with the write order). */
  written: bigint;
  /** The highest row id its reader pushed into its inlet. */
  pushed: bigint;
}

/**
 * A sink's overflow, in the modes whose events do not come from the outbox
 * table: new events for the sink are written to that table for it only
 * (target_sink, keeping id, txid and ts), where its outbox reader finds them.
 * Notify mode spills past `limit` events waiting in memory for a sink; wal
 * mode when a full sink fails or stalls (so the stream goes on for the others).
 *
 * Per-row order: an event kept in memory while an earlier one of the same
 * row sits in the table would overtake it. So once a sink spills, every new
 * event for it is spilled too, until nothing is waiting for the writer and
 * the reader has pushed the highest row written for it into the sink's
 * inlet; only then do new events go to memory again. That switch happens
 * synchronously, inside the reader's push or right after a write: an event
 * spilled before it is among what the reader pushes, one after it goes
 * behind everything spilled. The reader hands spilled rows over in write
 * order: one writer writes them in arrival order, each batch's ids taken
 * after its xid, and the reader pushes rows by id once all lower ids are
 * settled. Row ids, not event ids, tell where the spill ends: a replication
 * slot replayed after a restart spills the same events again, ids and all;
 * and only rows a spill wrote count, not the rows of events too large for
 * NOTIFY that the triggers keep in the same table (notify mode).
 */
export class SinkSpill {
  /** Per spilling sink. */
  private readonly spills = new Map<string, SpillState>();
  private readonly writer: SerialWriter<Spilled>;
  private paused = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly limit: number,
    private readonly logger: Logger,
    /** The delivery mode, for the log lines. */
    private readonly mode: 'notify' | 'wal',
    /** Called after each written batch (the readers have something to read). */
    written: () => void,
    /** Stop / go on taking events (notifications, the replication stream), as the writer falls behind and catches up. */
    private readonly backPressure: (pause: boolean) => void,
  ) {
    this.writer = new SerialWriter(
      async (batch) => {
        await this.insert(batch);
        for (const item of batch) item.written?.();
        written();
        if (this.paused && this.writer.queued <= QUEUE_LOW) this.pressure(false);
      },
      {
        batch: SPILL_BATCH,
        retry: RETRY,
        onFailure: (batch, attempt, err) =>
          logger.warn({ events: batch.length, attempt, err: errorMessage(err) }, 'keeping events in the outbox table failed, retrying'),
        onLost: () => {},
      },
    );
  }

  /**
   * Picks up a spill an earlier run left in the table (rows with an event id
   * of their own; a backfill's over-limit READ for one sink is not one): its
   * sinks start spilling, since memory would overtake what is there. Run
   * before the first event; after a few failed tries it gives up and says so.
   */
  async resume(sinks: readonly string[]): Promise<void> {
    await withRetries(
      () => this.readLeftovers(sinks),
      { initial_ms: 200, max_ms: 2000, max_attempts: 5 },
      (err, attempt) => this.logger.warn({ err: errorMessage(err), attempt }, 'reading what an earlier run kept in the outbox for the sinks failed'),
    ).catch(() =>
      this.logger.error('starting without knowing what an earlier run kept in the outbox: new events may overtake those of the same row'),
    );
  }

  private async readLeftovers(sinks: readonly string[]): Promise<void> {
    const { rows } = await this.pool.query<OutboxRecord>({
      text: `SELECT DISTINCT ON (o.target_sink) ${EVENT_COLUMNS}
               FROM ${this.table} o WHERE o.target_sink = ANY($1::text[]) AND o.event_id IS NOT NULL ORDER BY o.target_sink, o.id DESC`,
      values: [sinks],
      rowMode: 'array',
    });
    for (const row of rows) {
      const sink = row[Column.targetSink]!;
      this.spills.set(sink, { pending: 0, written: BigInt(row[Column.id]), pushed: 0n });
      this.logger.info({ sink }, `${this.mode} mode: events wait for this sink in the outbox table; new ones join them until it caught up`);
    }
  }

  /**
   * Whether `event` for `inlet`'s sink goes to the table: the sink is spilling already, or memory holds its
   * limit (its inlet's events and `waitingElsewhere`, events the source holds back for it).
   */
  wants(inlet: Inlet, waitingElsewhere = 0): boolean {
    return this.spilling(inlet) || inlet.pending + waitingElsewhere >= this.limit;
  }

  /** Whether `inlet`'s sink is spilling: its new events go to the table until its reader handed the last one over. */
  spilling(inlet: Inlet): boolean {
    return this.spills.has(inlet.name);
  }

  /** Writes `spilled.event` for its sink; `why` is logged when the sink starts spilling. */
  spill(spilled: Spilled, why: string): void {
    const { sink } = spilled;
    let state = this.spills.get(sink);
    if (state === undefined) {
      this.logger.warn(
        { sink, limit: this.limit || undefined },
        `${this.mode} mode: ${why}; new events for it wait in the outbox table until it caught up`,
      );
      state = { pending: 0, written: 0n, pushed: 0n };
      this.spills.set(sink, state);
    }
    state.pending++;
    this.writer.push(spilled);
    if (!this.paused && this.writer.queued >= QUEUE_HIGH) this.pressure(true);
  }

  private pressure(pause: boolean): void {
    this.paused = pause;
    this.backPressure(pause);
  }

  /** Ends `sink`'s spill once nothing waits for the writer and its reader pushed the highest row written. */
  private endIfCaughtUp(sink: string): void {
    const state = this.spills.get(sink);
    if (state === undefined || state.pending > 0 || state.pushed < state.written) return;
    this.spills.delete(sink);
    this.logger.info({ sink }, `${this.mode} mode: every event kept in the outbox table for this sink is handed over; back to memory`);
  }

  /** The inlet the sink's outbox reader pushes to: it ends the spill once the last spilled row is in. */
  watch(inlet: Inlet): Inlet {
    const spills = this.spills;
    const endIfCaughtUp = (sink: string): void => this.endIfCaughtUp(sink);
    return {
      get name() {
        return inlet.name;
      },
      get capacity() {
        return inlet.capacity;
      },
      get pending() {
        return inlet.pending;
      },
      get room() {
        return inlet.room;
      },
      get delivering() {
        return inlet.delivering;
      },
      waitForRoom: (atLeast) => inlet.waitForRoom(atLeast),
      push(envelope: Envelope) {
        inlet.push(envelope);
        const state = spills.get(inlet.name);
        const rowId = (envelope as Partial<OutboxEnvelope>).rowId;
        // Only a spill's own rows, which keep their event's id apart from theirs, tell where it ends: a row
        // a trigger kept (notify mode, its id the event's) may be read ahead of a spilled row still committing.
        if (state === undefined || rowId === undefined || envelope.event.id === rowId) return;
        const id = BigInt(rowId);
        if (id > state.pushed) state.pushed = id;
        endIfCaughtUp(inlet.name);
      },
    };
  }

  /** Resolves once every event spilled so far is in the table. */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  /**
   * Stops spilling: waits until `deadline` (ms since the epoch) for the
   * writer, then returns, in arrival order, the events it could not write
   * (Postgres down or too slow), which exist nowhere else now.
   */
  stop(deadline: number): Promise<Spilled[]> {
    return this.writer.stop(deadline);
  }

  /**
   * After stop(): writes `spilled` straight to the table, in order, in one
   * transaction that must end by `deadline` (ms since the epoch); no retries.
   * The rows an earlier spill left for the sinks in `behind` are older than
   * none of these (they came after them, memory being full), so they are
   * written again after them, in their order: a row's events stay in commit
   * order for the next run. Resolves with how many were kept, or why none were.
   */
  async keep(
    spilled: readonly Spilled[],
    behind: readonly string[],
    deadline: number,
  ): Promise<{ kept: number; moved: number } | { error: unknown }> {
    if (spilled.length === 0) return { kept: 0, moved: 0 };
    try {
      return await inTransaction(this.pool, async (db) => {
        const timeLeft = async (): Promise<void> => {
          await db.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(deadline - Date.now()))}`);
        };
        await timeLeft();
        await db.query('SELECT pg_current_xact_id()');
        const { rows } = await this.insertOn(db, spilled);
        if (behind.length === 0) return { kept: rows.length, moved: 0 };
        const first = rows.reduce((min, r) => (BigInt(r.id) < min ? BigInt(r.id) : min), BigInt(rows[0].id));
        await timeLeft();
        const moved = await db.query(
          `WITH moved AS (DELETE FROM ${this.table} WHERE target_sink = ANY($1::text[]) AND ${NOT_KEPT} AND id < $2::bigint RETURNING id, ${REPLAY_COLUMNS})
           INSERT INTO ${this.table} (${REPLAY_COLUMNS}) SELECT ${REPLAY_COLUMNS} FROM moved ORDER BY id`,
          [behind, first.toString()],
        );
        return { kept: rows.length, moved: moved.rowCount ?? 0 };
      });
    } catch (error) {
      return { error };
    }
  }

  /** The xid first, then the ids (see SettledWater); one statement for the batch, in arrival order. */
  private async insert(batch: readonly Spilled[]): Promise<void> {
    const { rows } = await inTransaction(this.pool, async (db) => {
      await db.query('SELECT pg_current_xact_id()');
      return this.insertOn(db, batch);
    });
    for (const { id, sink } of rows) {
      const state = this.spills.get(sink);
      if (state !== undefined && BigInt(id) > state.written) state.written = BigInt(id);
    }
    for (const { sink } of batch) {
      const state = this.spills.get(sink);
      if (state !== undefined) state.pending--;
    }
    for (const sink of new Set(batch.map((s) => s.sink))) this.endIfCaughtUp(sink);
  }

  /** One INSERT of `batch`, ids taken in its order; the caller's transaction has taken its xid already. */
  private insertOn(db: pg.ClientBase, batch: readonly Spilled[]): Promise<pg.QueryResult<{ id: string; sink: string }>> {
    const col = <T>(f: (s: Spilled) => T): T[] => batch.map(f);
    const row = (s: Spilled) => (s.event.kind === 'row' ? s.event : undefined);
    return db.query<{ id: string; sink: string }>(
      `INSERT INTO ${this.table} (${REPLAY_COLUMNS})
       SELECT x.event_id, x.sink, coalesce(x.txid::xid8, pg_current_xact_id()), x.ts::timestamptz, x.schema_name, x.table_name,
              x.op::"char", x.key::json, x.data::json, x.old::json, x.channel, x.payload
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
              WITH ORDINALITY AS x(event_id, sink, txid, ts, schema_name, table_name, op, key, data, old, channel, payload, n)
        ORDER BY x.n
       RETURNING id::text AS id, target_sink AS sink`,
      [
        col((s) => s.event.id),
        col((s) => s.sink),
        col((s) => row(s)?.txid ?? null),
        col((s) => s.event.ts),
        col((s) => row(s)?.schema ?? null),
        col((s) => row(s)?.table ?? null),
        col((s) => row(s)?.op.charAt(0) ?? null),
        col((s) => row(s)?.key ?? null),
        col((s) => row(s)?.data ?? null),
        col((s) => row(s)?.old ?? null),
        col((s) => (s.event.kind === 'channel' ? s.event.channel : null)),
        col((s) => (s.event.kind === 'channel' ? s.event.payload : null)),
      ],
    );
  }
}
