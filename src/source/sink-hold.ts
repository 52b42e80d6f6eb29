import type { Logger } from 'pino';
import type pg from 'pg';
import type { Inlet } from '../delivery/inlet.js';
import { errorMessage } from '../errors.js';

/**
 * A sink holding this share of its capacity (what the outbox reader would
 * read ahead for it; with the events in flight, about one more batch per
 * lane) counts as full for the hold, and below the second share it has room
 * again. Holding less in memory than the whole capacity leaves fewer events
 * to outlive V8's young generation: a 50k burst into a single-event webhook
 * peaked at 157 MB holding at the capacity.
 */
const FULL_SHARE = 0.5;
const ROOM_SHARE = 0.4;
/** How often a hold looks whether a sink has room again (or failed). */
const CHECK_MS = 5;
/**
 * How full Postgres's notification queue (8 GB, shared by the whole cluster;
 * a commit that finds it full fails) may get while the listener holds; past
 * it the sinks take events into memory up to the limit, then spill.
 */
const QUEUE_USAGE_MAX = 0.01;
/**
 * Postgres sends notifications from inside a short transaction of the
 * listener's backend, with a snapshot: a backend that blocks on a full socket
 * while the listener holds keeps that snapshot, and VACUUM removes no row
 * deleted since, in any table of the database (measured: 49,667 events of a
 * 100,000 burst into a slow sink went by before it could). Once the backend
 * has been seen in such a transaction for this long, the listener reads on
 * until it has sent all it had. Its xact_start cannot tell: a backend that
 * sends on its own keeps the start of its last client statement (the LISTEN).
 */
export interface HoldTiming {
  /** How often the queue's usage and the listener's backend are looked at. */
  readonly checkEveryMs: number;
  readonly sendingMaxMs: number;
}

/** 10 s: a burst's hold (a 50k burst into a single-event webhook takes about 6 s) keeps working; VACUUM waits no longer than that. */
const TIMING: HoldTiming = { checkEveryMs: 1000, sendingMaxMs: 10_000 };

/**
 * Notify mode's back-pressure: once every sink is full (FULL_SHARE) and
 * delivering, the listener stops reading, and notifications wait in
 * Postgres's queue (as they do while the listener is busy) until a sink has
 * room again. No sink waits for another this way: all are full. Memory stays
 * at the sinks' working set, and a burst costs no outbox writes, reads and
 * deletes (SinkSpill), which on a small machine take the CPU the sink needs.
 * A failing sink, a sink with room beside a full one, or a notification queue
 * past QUEUE_USAGE_MAX: no hold, and memory fills to
 * notify.memory_limit_events, past which the sink spills.
 */
export class SinkHold {
  private timer: NodeJS.Timeout | undefined;
  private queueFull = false;
  /** Since when the listener's backend has been seen in its sending transaction, at every look. */
  private sendingSince: number | undefined;
  /** ... for longer than timing.sendingMaxMs. */
  private backendHeld = false;
  private queueCheckedAt = 0;

  constructor(
    private readonly inlets: readonly Inlet[],
    /** notify.memory_limit_events: a sink holding it is full whatever its capacity. */
    private readonly limit: number,
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    /** Stop / go on reading notifications. */
    private readonly hold: (on: boolean) => void,
    /** The listening connection's server process, while connected. */
    private readonly listenerPid: () => number | undefined,
    private readonly timing: HoldTiming = TIMING,
  ) {}

  /** After a push to `inlet`: holds the listener if every sink is full and delivering. */
  pushed(inlet: Inlet): void {
    if (inlet.pending >= this.fullAt(inlet)) this.consider();
  }

  /** Holds the listener if every sink is full and delivering; true when it holds. */
  consider(): boolean {
    if (this.timer !== undefined) return true;
    if (Date.now() - this.queueCheckedAt >= this.timing.checkEveryMs) void this.checkQueue();
    if (this.queueFull || this.backendHeld || !this.inlets.every((i) => i.pending >= this.fullAt(i) && i.delivering)) return false;
    this.hold(true);
    this.timer = setInterval(() => this.check(), CHECK_MS);
    return true;
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.hold(false);
  }

  private fullAt(inlet: Inlet): number {
    return Math.min(inlet.capacity * FULL_SHARE, this.limit);
  }

  private check(): void {
    if (Date.now() - this.queueCheckedAt >= this.timing.checkEveryMs) void this.checkQueue();
    const room = this.inlets.some((i) => i.pending < this.fullAt(i) * (ROOM_SHARE / FULL_SHARE));
    if (room || this.queueFull || this.backendHeld || this.inlets.some((i) => !i.delivering)) this.stop();
  }

  private async checkQueue(): Promise<void> {
    this.queueCheckedAt = Date.now();
    try {
      const { rows } = await this.pool.query<{ usage: number; sending: boolean | null }>(
        `SELECT pg_notification_queue_usage() AS usage,
                (SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = $1) AS sending`,
        [this.listenerPid() ?? 0],
      );
      const now = Date.now();
      this.sendingSince = rows[0].sending ? (this.sendingSince ?? now) : undefined;
      const held = this.sendingSince !== undefined && now - this.sendingSince > this.timing.sendingMaxMs;
      if (held && !this.backendHeld) {
        this.logger.debug("notify mode: the listener's backend keeps a snapshot while it waits to send; reading on");
      }
      this.backendHeld = held;
      const full = rows[0].usage > QUEUE_USAGE_MAX;
      if (full && !this.queueFull) {
        this.logger.warn(
          { usage: rows[0].usage },
          "notify mode: Postgres's notification queue is filling up; the listener no longer waits for full sinks",
        );
      }
      this.queueFull = full;
    } catch (err) {
      this.logger.debug({ err: errorMessage(err) }, 'reading the notification queue usage failed');
    }
  }
}
