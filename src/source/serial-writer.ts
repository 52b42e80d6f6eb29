import { sleep, withRetries, type RetryPolicy } from '../delivery/backoff.js';

export interface SerialWriterOptions<T> {
  /** Items written in one call at most. */
  readonly batch: number;
  readonly retry: RetryPolicy;
  /** Every failed attempt, the last one too. */
  onFailure(batch: readonly T[], attempt: number, err: unknown): void;
  /** The last attempt failed too: the batch is given up. */
  onLost(batch: readonly T[], attempts: number, err: unknown): void;
}

/**
 * Writes what it is handed in arrival order, one batch at a time: writes of
 * concurrent transactions could commit, and take sequence values, in any
 * order. A failed batch is retried with the one backoff, then given up and
 * reported, and the writer goes on with the next.
 */
export class SerialWriter<T> {
  private queue: T[] = [];
  private writing: Promise<void> | undefined;
  /** The batch being written (or waiting to be retried). */
  private current: readonly T[] | undefined;
  private readonly halt = new AbortController();

  constructor(
    private readonly write: (batch: readonly T[]) => Promise<void>,
    private readonly options: SerialWriterOptions<T>,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    this.writing ??= this.run().finally(() => (this.writing = undefined));
  }

  /** Items handed over and not yet being written. */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves once everything handed over so far is written or given up. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * Waits until `deadline` (ms since the epoch) for everything handed over to
   * be written, then stops: what is not written by then is returned in order
   * (the batch being tried first) and never written by this writer. A write
   * still in flight at that moment may yet commit: such items are both
   * returned and written.
   */
  async stop(deadline: number): Promise<T[]> {
    const timeUp = new AbortController();
    const done = await Promise.race([this.flushed().then(() => true), sleep(Math.max(0, deadline - Date.now()), timeUp.signal).then(() => false)]);
    timeUp.abort();
    this.halt.abort();
    if (done) return [];
    const left = [...(this.current ?? []), ...this.queue];
    this.current = undefined;
    this.queue = [];
    return left;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.halt.signal.aborted) {
      const batch = this.queue.splice(0, this.options.batch);
      this.current = batch;
      let attempts = 0;
      await withRetries(
        () => this.write(batch),
        this.options.retry,
        (err, attempt) => {
          attempts = attempt;
          this.options.onFailure(batch, attempt, err);
        },
        this.halt.signal,
      ).catch((err: unknown) => {
        // Stopped: the batch was handed back by stop().
        if (!this.halt.signal.aborted) this.options.onLost(batch, attempts, err);
      });
      this.current = undefined;
    }
  }
}
