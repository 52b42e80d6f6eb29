import type { Logger } from 'pino';
import type pg from 'pg';
import { sleep } from '../delivery/backoff.js';
import type { Checkpoint, Outcome } from '../delivery/envelope.js';
import type { BridgeEvent } from '../event.js';
import { errorMessage } from '../errors.js';
import { inTransaction } from '../postgres.js';
import { deadLetterOf, type DeadLetter, type DeadLetterWriter } from './dead-letters.js';

/** Whoever keeps outbox rows out of its next pages until their outcome is committed (a reader). */
export interface RowHolder {
  release(rowIds: readonly string[]): void;
}

/** One outbox row pushed to one sink. */
export interface OutboxPosition {
  readonly rowId: string;
  readonly sink: string;
  /** Every sink this event goes to; it leaves the outbox when all of them have it. */
  readonly routed: readonly string[];
  readonly event: BridgeEvent;
  readonly holder: RowHolder;
}

/** What a reader needs of the progress it feeds. */
export interface OutboxCheckpoint extends Checkpoint<OutboxPosition> {
  /** A row no route sends anywhere: removed, then released to `holder`. */
  discard(rowId: string, holder: RowHolder): void;
}

interface Discarded {
  readonly rowId: string;
  readonly holder: RowHolder;
}

/**
 * How long outcomes gather before they are written. Each write is a commit
 * (a WAL flush) and a round trip: at 2 ms a single-event webhook draining at
 * ~10k events/s wrote ~20 rows per DELETE, and at 1,000 events/s one per 2-3
 * events. Nothing waits for the write but the row's removal (the sink has the
 * event already; a crash in between only redelivers what gathered).
 */
const FLUSH_DELAY_MS = 10;
/** Outcomes that are written at once, without waiting out the delay. */
const FLUSH_AT_EVENTS = 1000;

/**
 * Records what the sinks confirmed, in batches, one transaction each:
 * dead letters written, fully delivered rows deleted, partial progress kept in
 * pgbridge.deliveries (only when an event goes to several sinks and they are
 * not all done yet). Rows are released to their holders only after the commit,
 * so a confirmed event is never read again.
 */
export class OutboxProgress implements OutboxCheckpoint {
  /** Settled positions, each with its outcome at the same index (no object per pair). */
  private pending: OutboxPosition[] = [];
  private outcomes: Outcome[] = [];
  private drops: Discarded[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Given up at shutdown: nothing more is written. */
  private abandoned = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly deadLetters: DeadLetterWriter,
    private readonly logger: Logger,
    private readonly flushDelayMs = FLUSH_DELAY_MS,
  ) {}

  settle(position: OutboxPosition, outcome: Outcome): void {
    this.pending.push(position);
    this.outcomes.push(outcome);
    if (this.pending.length >= FLUSH_AT_EVENTS && this.timer && !this.flushing) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.schedule();
  }

  discard(rowId: string, holder: RowHolder): void {
    this.drops.push({ rowId, holder });
    this.schedule();
  }

  /**
   * Writes everything settled so far; called on shutdown. Past `deadline` (ms
   * since the epoch; Postgres down, say) it gives up and writes no more: those
   * events stay in the outbox and are delivered again by the next run.
   */
  async drain(deadline = Infinity): Promise<void> {
    while (this.pending.length > 0 || this.drops.length > 0 || this.flushing) {
      if (Date.now() >= deadline) return this.abandon();
      const timeUp = new AbortController();
      const wait = sleep(deadline - Date.now(), timeUp.signal);
      if (this.flushing) {
        await Promise.race([this.flushing, wait]);
      } else {
        // One flush at a time: two concurrent transactions could each record one
        // sink of a shared event and neither see the other's row, leaving it forever.
        clearTimeout(this.timer);
        this.timer = undefined;
        await Promise.race([this.flush(), wait]);
      }
      timeUp.abort();
    }
  }

  private abandon(): void {
    this.abandoned = true;
    clearTimeout(this.timer);
    const events = this.pending.length + this.drops.length;
    if (events > 0) {
      this.logger.warn({ events }, 'shutdown timeout: delivery progress not recorded; these events stay in the outbox and are delivered again');
    }
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.abandoned) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushDelayMs);
  }

  private flush(): Promise<void> {
    const batch = this.pending;
    const outcomes = this.outcomes;
    const drops = this.drops;
    this.pending = [];
    this.outcomes = [];
    this.drops = [];
    this.flushing = this.write(batch, outcomes, drops)
      .then(() => this.release(batch, drops))
      .catch(async (err) => {
        this.logger.warn({ err: errorMessage(err), events: batch.length }, 'recording delivery progress failed, retrying');
        this.pending.unshift(...batch);
        this.outcomes.unshift(...outcomes);
        this.drops.unshift(...drops);
        await new Promise((r) => setTimeout(r, 1000));
      })
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0 || this.drops.length > 0) this.schedule();
      });
    return this.flushing;
  }

  private async write(batch: readonly OutboxPosition[], outcomes: readonly Outcome[], drops: readonly Discarded[]): Promise<void> {
    const letters: DeadLetter[] = [];
    const byRow = new Map<string, { routed: readonly string[]; done: Set<string> }>();
    const complete: string[] = drops.map((d) => d.rowId);
    // The common case, every event for one sink: each is done once that sink settled it (no map of sinks per row).
    const oneSinkEach = batch.every((p) => p.routed.length === 1);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      const outcome = outcomes[i];
      if (outcome.kind === 'dead') letters.push(deadLetterOf(p.sink, p.event, outcome));
      if (oneSinkEach) {
        complete.push(p.rowId);
        continue;
      }
      const entry = byRow.get(p.rowId) ?? { routed: p.routed, done: new Set<string>() };
      entry.done.add(p.sink);
      byRow.set(p.rowId, entry);
    }
    const completeShared: string[] = [];
    const partialIds: string[] = [];
    const partialSinks: string[] = [];
    const partialRoutes = new Map<string, string>();
    for (const [rowId, { routed, done }] of byRow) {
      if (routed.every((sink) => done.has(sink))) {
        complete.push(rowId);
        if (routed.length > 1) completeShared.push(rowId);
        continue;
      }
      for (const sink of done) {
        partialIds.push(rowId);
        partialSinks.push(sink);
      }
      partialRoutes.set(rowId, routed.join(','));
    }

    const deleteComplete = `DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`;
    if (letters.length === 0 && completeShared.length === 0 && partialIds.length === 0) {
      // The common case, one sink and no dead letters: one statement is atomic by itself, two round trips fewer than BEGIN … COMMIT.
      if (complete.length > 0) await this.pool.query(deleteComplete, [idArray(complete)]);
      return;
    }
    await inTransaction(this.pool, async (db) => {
      if (partialIds.length > 0) {
        // Another writer recording another sink of the same event (the next phase, or another instance, with
        // a flush still in flight) must not check for this one's sink before it is committed, nor this one for
        // its: each would leave the row to the other, and both sinks' readers skip it from then on. Every row
        // this transaction touches, in id order, so that two such writers cannot deadlock.
        await db.query(`SELECT 1 FROM ${this.table} WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [[...complete, ...partialRoutes.keys()]]);
      }
      await this.deadLetters.insert(db, letters);
      if (complete.length > 0) await db.query(deleteComplete, [idArray(complete)]);
      if (completeShared.length > 0) await db.query('DELETE FROM pgbridge.deliveries WHERE event_id = ANY($1::bigint[])', [idArray(completeShared)]);
      if (partialIds.length > 0) {
        await db.query(`INSERT INTO pgbridge.deliveries (event_id, sink) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING`, [
          partialIds,
          partialSinks,
        ]);
        // Whichever sink finishes last (in this or an earlier run) removes the event.
        await db.query(
          `WITH done AS (
             DELETE FROM ${this.table} o
              USING unnest($1::bigint[], $2::text[]) AS x(id, sinks)
              WHERE o.id = x.id
                AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(x.sinks, ',')) AS s(name)
                                 WHERE NOT EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = x.id AND d.sink = s.name))
             RETURNING o.id)
           DELETE FROM pgbridge.deliveries d USING done WHERE d.event_id = done.id`,
          [[...partialRoutes.keys()], [...partialRoutes.values()]],
        );
      }
    });
  }

  private release(batch: readonly OutboxPosition[], drops: readonly Discarded[]): void {
    const byHolder = new Map<RowHolder, string[]>();
    const add = (holder: RowHolder, rowId: string): void => {
      const ids = byHolder.get(holder);
      if (ids) ids.push(rowId);
      else byHolder.set(holder, [rowId]);
    };
    for (const position of batch) add(position.holder, position.rowId);
    for (const { rowId, holder } of drops) add(holder, rowId);
    for (const [holder, ids] of byHolder) holder.release(ids);
  }
}

/** Row ids (digits) as one bigint[] literal: pg would quote and escape each id of a JS array with a regular expression. */
function idArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}
