import { PermanentError } from '../errors.js';
import type { BridgeEvent } from '../event.js';
import type { Scrubber } from '../secrets.js';
import type { Sink } from './sink.js';

/**
 * A sink whose errors carry no secret. Their messages end up in the
 * dead-letter table and `dead-letters list` as well as the log, and a far end
 * may echo the credentials it was sent (e.g. "rejected Bearer …" in a 401 body).
 */
export class ScrubbedSink implements Sink {
  constructor(
    private readonly inner: Sink,
    private readonly scrubber: Scrubber,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get type(): string {
    return this.inner.type;
  }
  get maxBatch(): number {
    return this.inner.maxBatch;
  }
  get maxInFlight(): number {
    return this.inner.maxInFlight;
  }
  get batchWaitMs(): number | undefined {
    return this.inner.batchWaitMs;
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.inner.connect(signal).catch((err: unknown) => Promise.reject(this.scrubbed(err)));
  }

  send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void> {
    return this.inner.send(batch, signal).catch((err: unknown) => Promise.reject(this.scrubbed(err)));
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  async recheck(signal: AbortSignal): Promise<void> {
    await this.inner.recheck?.(signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** In place, so the error keeps its class, code, retryAfterMs and failedIds; each event's own reason is scrubbed too. */
  private scrubbed(err: unknown): unknown {
    if (err instanceof PermanentError) err.rewrite((text) => this.scrubber.scrub(text));
    else if (err instanceof Error) err.message = this.scrubber.scrub(err.message);
    // A library may reject with a bare string: errorMessage shows it as it is.
    else if (typeof err === 'string') return this.scrubber.scrub(err);
    return err;
  }
}
