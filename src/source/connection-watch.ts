import type pg from 'pg';
import { destroySocket } from '../postgres.js';

export interface ConnectionWatchOptions {
  /** How often the connection is asked. */
  readonly everyMs: number;
  /** How long an answer may take before the connection counts as dead. */
  readonly withinMs: number;
  /** Called once, when it did not answer; its socket is destroyed right after. */
  readonly onDead: () => void;
}

/**
 * A dedicated connection is asked this often, and given this long to answer:
 * long enough for a server busy with a checkpoint or a swap storm, since a
 * false alarm closes every connection, and in notify mode loses what is
 * committed until the listener is back.
 */
export const CONNECTION_WATCH = { everyMs: 5000, withinMs: 10_000 } as const;

/**
 * A connection whose far end stops answering without closing it (a NAT or
 * firewall that forgot it, a partition) never errors: pg waits for an answer
 * forever, and TCP keepalive takes hours by default. The connection is asked
 * `SELECT 1` every `everyMs`; unanswered within `withinMs`, its socket is
 * destroyed, and the client's 'error' and 'end' start its owner's recovery.
 */
export class ConnectionWatch {
  private readonly timer: NodeJS.Timeout;
  private deadline: NodeJS.Timeout | undefined;
  private asking = false;
  private suspended = false;
  private done = false;

  constructor(
    private readonly client: pg.Client,
    private readonly options: ConnectionWatchOptions,
  ) {
    this.timer = setInterval(() => this.ask(), options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    this.done = true;
    clearInterval(this.timer);
    clearTimeout(this.deadline);
  }

  /** Not asked, and an answer owed does not count against it, until resume(): a paused socket reads nothing. */
  suspend(): void {
    this.suspended = true;
    clearTimeout(this.deadline);
  }

  resume(): void {
    this.suspended = false;
    if (this.asking) this.arm();
  }

  private ask(): void {
    if (this.asking || this.suspended || this.done) return;
    this.asking = true;
    this.client
      .query('SELECT 1')
      .catch(() => {}) // an error ends the connection anyway: its owner sees that
      .finally(() => {
        this.asking = false;
        clearTimeout(this.deadline);
      });
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      // Data that arrived while the event loop was busy is read before setImmediate runs: a late answer is no death.
      setImmediate(() => {
        if (!this.asking || this.suspended || this.done) return;
        this.stop();
        this.options.onDead();
        destroySocket(this.client);
      });
    }, this.options.withinMs);
    this.deadline.unref();
  }
}
