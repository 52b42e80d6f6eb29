export interface SilenceWatchOptions {
  /** Silent this long, the server is asked for an answer. */
  readonly askAfterMs: number;
  /** Silent this long, asked or not, the connection counts as dead. */
  readonly deadAfterMs: number;
  /** Asks the server to answer at once. */
  readonly ask: () => void;
  /** Called once, when it stayed silent; the caller closes the connection. */
  readonly onDead: (silentMs: number) => void;
}

const TICK_MS = 1000;

/**
 * A replication connection cannot be asked `SELECT 1` (ConnectionWatch): in
 * streaming, the only question is a status update with reply requested, which
 * the walsender answers with a keepalive. A connection that stops answering
 * without closing (a NAT or firewall that forgot it) would otherwise leave the
 * stream waiting for WAL forever while /readyz says it streams. Counts what
 * arrives (`heard()`, per message, cheap); a tick a second asks after
 * `askAfterMs` of silence and gives up after `deadAfterMs`. Suspended while
 * the socket is paused (nothing is read then, whatever the server sends).
 */
export class SilenceWatch {
  private readonly timer: NodeJS.Timeout;
  private heardCount = 0;
  private countAtLastTick = 0;
  private quietSince = Date.now();
  private askedAt = 0;
  private lastTick = Date.now();
  private suspended = false;
  private done = false;

  constructor(private readonly options: SilenceWatchOptions) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Something arrived from the server. */
  heard(): void {
    this.heardCount++;
  }

  suspend(): void {
    this.suspended = true;
  }

  /** Reading again: the silence counts from now. */
  resume(): void {
    this.suspended = false;
    this.quietSince = Date.now();
  }

  stop(): void {
    this.done = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    // A tick late by over a second: this process was busy, and what arrived meanwhile may not have been read yet.
    const late = now - this.lastTick > 2 * TICK_MS;
    this.lastTick = now;
    if (this.done || this.suspended || late || this.heardCount !== this.countAtLastTick) {
      this.countAtLastTick = this.heardCount;
      this.quietSince = now;
      return;
    }
    const silent = now - this.quietSince;
    if (silent >= this.options.deadAfterMs) {
      this.stop();
      this.options.onDead(silent);
    } else if (silent >= this.options.askAfterMs && now - this.askedAt >= this.options.askAfterMs) {
      this.askedAt = now;
      this.options.ask();
    }
  }
}
