import type { Logger } from 'pino';
import type pg from 'pg';
import { backoffDelay, sleep } from '../delivery/backoff.js';
import type { Envelope } from '../delivery/envelope.js';
import type { BridgeEvent } from '../event.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Routes } from '../router.js';
import { readKeptRows, type KeptRow } from './kept-rows.js';
import type { KeptNotice } from './notify-payload.js';
import { OutboxEnvelope } from './outbox-envelope.js';
import type { OutboxCheckpoint, RowHolder } from './outbox-progress.js';
import { Column, routedSinks, rowToEvent } from './outbox-rows.js';
import { RowGates } from './row-gates.js';

/** Kept rows asked for in one read at most. */
const READ_BATCH = 500;
const RETRY = { initial_ms: 100, max_ms: 5000, max_attempts: 0 };
/** Below this share of the limit, every sink's waiting events, the listener reads again. */
const RESUME_SHARE = 0.5;

export interface KeptEventsContext {
  readonly pool: pg.Pool;
  readonly table: string;
  readonly routes: Routes;
  /** Where the outcome of a kept row at each sink is recorded (it is deleted once every sink has it). */
  readonly checkpoint: OutboxCheckpoint;
  readonly sinks: readonly string[];
  /** notify.memory_limit_events: events waiting for kept ones past which the listener stops reading. */
  readonly limit: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where an envelope goes once nothing of its row is ahead of it at `sink`. */
  readonly release: (sink: string, envelope: Envelope) => void;
  /** Stop / go on reading notifications. */
  readonly backPressure: (pause: boolean) => void;
}

/**
 * Notify mode's events kept in the outbox table for being too large for
 * NOTIFY, each handed to its sinks in its notice's place: a notice leaves a
 * placeholder in its row's line at every sink it is routed to (RowGates), the
 * row is read from the table at once (in batches), and its envelope takes the
 * placeholder's place. Only the row's later events wait, for one read; while
 * Postgres does not answer, the listener stops reading past `limit` of them.
 * Rows read without a notice (UnnoticedSweep) go on as they are read. A kept
 * row leaves the table once every sink it went to has it (the checkpoint).
 */
export class KeptEvents implements RowHolder {
  private readonly gates = new Map<string, RowGates>();
  /** Ids to read, in notice order. */
  private readonly toRead = new Set<string>();
  /** Rows read, with how many of their sinks have not settled them yet. */
  private readonly inHand = new Map<string, number>();
  private reading: Promise<void> | undefined;
  private paused = false;
  private readonly halt = new AbortController();

  constructor(private readonly ctx: KeptEventsContext) {
    for (const sink of ctx.sinks) this.gates.set(sink, new RowGates((envelope) => ctx.release(sink, envelope)));
  }

  /** A kept notice: placeholders at the sinks its event goes to, and a read of the row. */
  noticed(notice: KeptNotice): void {
    const { id } = notice.event;
    // Read already (the notice came twice, say): it is on its way.
    if (this.inHand.has(id)) return;
    for (const sink of this.ctx.routes.sinksFor(notice.event)) this.gates.get(sink)!.close(notice);
    this.read([id]);
  }

  /** Reads kept rows; those without a placeholder (no notice) go on as soon as they are read. */
  read(ids: readonly string[]): void {
    for (const id of ids) if (!this.inHand.has(id)) this.toRead.add(id);
    this.reading ??= this.readAll().finally(() => (this.reading = undefined));
  }

  /** Whether kept row `id` is being read, or has been and is not settled at every sink yet. */
  known(id: string): boolean {
    return this.toRead.has(id) || this.inHand.has(id);
  }

  /** Whether `event` waits at `sink` for a kept event of its row. */
  holds(sink: string, event: BridgeEvent): boolean {
    return this.gates.get(sink)!.holds(event);
  }

  /** Queues `envelope` at its sink behind the kept event of its row (holds() said it waits). */
  hold(sink: string, envelope: Envelope): void {
    const gates = this.gates.get(sink)!;
    gates.hold(envelope);
    if (!this.paused && gates.waiting >= this.ctx.limit) this.pressure(true);
  }

  /** Events waiting for kept ones at `sink`. */
  waiting(sink: string): number {
    return this.gates.get(sink)!.waiting;
  }

  release(rowIds: readonly string[]): void {
    for (const id of rowIds) {
      const left = (this.inHand.get(id) ?? 1) - 1;
      if (left > 0) this.inHand.set(id, left);
      else this.inHand.delete(id);
    }
  }

  /**
   * Waits until `deadline` (ms since the epoch) for the reads still to come,
   * then lets every waiting event go on: what still waits for a kept row
   * Postgres did not hand over (it is down, say) may overtake it.
   */
  async stop(deadline: number): Promise<void> {
    const timeUp = new AbortController();
    await Promise.race([this.reading, sleep(Math.max(0, deadline - Date.now()), timeUp.signal)]);
    timeUp.abort();
    this.halt.abort();
    let overtaking = 0;
    for (const [sink, gates] of this.gates) {
      const envelopes = gates.openAll();
      overtaking += envelopes.length;
      for (const envelope of envelopes) this.ctx.release(sink, envelope);
    }
    if (this.toRead.size > 0 || overtaking > 0) {
      this.ctx.logger.warn(
        { unread: this.toRead.size, events: overtaking },
        'notify mode: stopping before events kept in the outbox table could be read (they stay there for the next run); later events of their rows are delivered now, ahead of them',
      );
    }
  }

  private async readAll(): Promise<void> {
    for (let failures = 0; this.toRead.size > 0 && !this.halt.signal.aborted;) {
      const ids = [...this.toRead].slice(0, READ_BATCH);
      try {
        const { rows, found } = await readKeptRows(this.ctx.pool, this.ctx.table, ids);
        // Stopped meanwhile: the rows stay in the table for the next run.
        if (this.halt.signal.aborted) return;
        failures = 0;
        for (const row of rows) this.handOver(row);
        for (const id of ids) if (!found.has(id)) this.gone(id);
        // Captured by a notify-mode trigger like the events NOTIFY carried, only too large for its payload.
        this.ctx.metrics.eventsCaptured.inc({ source: 'notify' }, rows.length);
        if (this.paused && [...this.gates.values()].every((g) => g.waiting < this.ctx.limit * RESUME_SHARE)) this.pressure(false);
      } catch (err) {
        const delay = backoffDelay(++failures, RETRY);
        this.ctx.logger.warn({ err: errorMessage(err), retry_in_ms: delay }, 'reading events kept in the outbox table failed, retrying');
        await sleep(delay, this.halt.signal);
      }
    }
  }

  /**
   * A kept row read: its envelope takes its placeholder's place at each sink
   * that does not have it yet, or goes on where it has none.
   */
  private handOver({ record, done }: KeptRow): void {
    const rowId = record[Column.id];
    this.toRead.delete(rowId);
    const event = rowToEvent(record);
    const routed = routedSinks(record, event, this.ctx.routes);
    const to = routed.filter((sink) => !done.includes(sink));
    if (routed.length === 0) {
      this.inHand.set(rowId, 1);
      this.ctx.checkpoint.discard(rowId, this);
    } else if (to.length > 0) this.inHand.set(rowId, to.length);
    for (const [sink, gates] of this.gates) {
      const envelope = to.includes(sink) ? new OutboxEnvelope(event, rowId, sink, routed, this, this.ctx.checkpoint) : undefined;
      if (!gates.fill(rowId, envelope) && envelope !== undefined) this.ctx.release(sink, envelope);
    }
  }

  /** Not in the table: delivered already. What waited for it goes on. */
  private gone(id: string): void {
    this.toRead.delete(id);
    for (const gates of this.gates.values()) gates.fill(id, undefined);
  }

  private pressure(pause: boolean): void {
    this.paused = pause;
    this.ctx.backPressure(pause);
  }
}
