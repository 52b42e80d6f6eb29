import type { Logger } from 'pino';
import type pg from 'pg';
import { backoffDelay, sleep } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import { listKeptRows } from './kept-rows.js';
import type { ListenerSync } from './listener-sync.js';

/** Kept rows looked at in one round. */
const ROUND = 1000;
const RETRY = { initial_ms: 200, max_ms: 5000, max_attempts: 0 };

/** What the sweep needs of KeptEvents. */
export interface KeptReader {
  /** Being read, or read and not settled everywhere yet. */
  known(id: string): boolean;
  /** Read these and send them on as they come. */
  read(ids: readonly string[]): void;
}

/**
 * Kept rows (see KEPT) whose notice never comes: committed while no bridge
 * listened (before this start, during an outage), or by triggers installed
 * before kept notices, which send an empty wake-up instead. The sweep lists
 * the kept rows it does not know, waits for a round trip of the listener
 * (ListenerSync): a notice of any of them would have arrived by then, so
 * those still unknown have none, and are read and sent on, later than their
 * place. Run on every (re)connection of the listener and every empty wake-up.
 */
export class UnnoticedSweep {
  private running: Promise<void> | undefined;
  private again = false;
  /** The first sweep that finds some after a (re)connection says so at warn level, later ones at debug. */
  private warned = false;
  private readonly halt = new AbortController();

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly sync: ListenerSync,
    private readonly kept: KeptReader,
    private readonly logger: Logger,
  ) {}

  /** Sweeps now, or once more after the sweep under way. */
  request(): void {
    if (this.halt.signal.aborted) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => (this.running = undefined));
  }

  /** The listener (re)connected: what was on its way before is lost, and a sweep follows. */
  connected(): void {
    this.warned = false;
    this.request();
  }

  stop(): void {
    this.halt.abort();
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.halt.signal.aborted;) {
      this.again = false;
      try {
        if ((await this.sweep()) === 'done' && !this.again) return;
        failures = 0;
      } catch (err) {
        const delay = backoffDelay(++failures, RETRY);
        this.logger.warn(
          { err: errorMessage(err), retry_in_ms: delay },
          'looking for events kept in the outbox table without a notice failed, retrying',
        );
        await sleep(delay, this.halt.signal);
      }
    }
  }

  /** One pass over the kept rows; 'again' when a lost connection cut it short. */
  private async sweep(): Promise<'done' | 'again'> {
    for (let after = 0n; !this.halt.signal.aborted;) {
      const ids = await listKeptRows(this.pool, this.table, after, ROUND);
      if (ids.length === 0) return 'done';
      after = BigInt(ids[ids.length - 1]);
      const unknown = ids.filter((id) => !this.kept.known(id));
      if (unknown.length > 0) {
        if ((await this.sync.roundTrip()) === 'lost') return 'again';
        const unnoticed = unknown.filter((id) => !this.kept.known(id));
        if (unnoticed.length > 0) this.report(unnoticed.length);
        this.kept.read(unnoticed);
      }
      if (ids.length < ROUND) return 'done';
    }
    return 'done';
  }

  private report(events: number): void {
    const message =
      'notify mode: events kept in the outbox table for being too large for NOTIFY came without a notice (committed while no pgbridge was listening, or by triggers installed by an earlier version: re-run install); delivering them now, possibly after newer events of their rows';
    if (this.warned) this.logger.debug({ events }, message);
    else this.logger.warn({ events }, message);
    this.warned = true;
  }
}
