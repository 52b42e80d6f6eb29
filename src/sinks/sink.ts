import type { Logger } from 'pino';
import type { BridgeEvent } from '../event.js';
import type { FormatContext } from '../formats/index.js';

export type { CommonSinkConfig, RetryConfig } from '../config/sink-schema.js';

/**
 * The connection to one far end, as a sink type's factory makes it. The
 * delivery runner owns batching, the in-flight window, retries and dead
 * letters; a client only connects, sends and closes.
 */
export interface SinkClient {
  /** Resolves once the sink can send; rejects (RetriableError) when the far end is unreachable. */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Resolves only when the far end confirmed every event of the batch.
   * Rejects with RetriableError (send the batch again later) or PermanentError
   * (`failedIds` failed for good, the rest were delivered; PermanentError.ofEvents
   * gives each its own reason). Any other error counts as retriable.
   */
  send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void>;
  /** True while connected and able to deliver (drives /readyz). */
  isReady(): boolean;
  /**
   * For a client whose connection cannot tell that the far end went away
   * (HTTP): looks again now and then. Called about once a second while the
   * sink is ready; turns isReady() false when the far end is gone. Never rejects.
   */
  recheck?(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A configured destination as the delivery runner drives it: a client plus the common batching keys. */
export interface Sink extends SinkClient {
  readonly name: string;
  readonly type: string;
  /** Most events one send() may carry. */
  readonly maxBatch: number;
  /** How many send() calls the runner may have open at once. */
  readonly maxInFlight: number;
  /** How long a partial batch may wait for more events (default 0). */
  readonly batchWaitMs?: number;
}

export interface SinkContext {
  /** Bound to the sink's name (its lines carry `sink` already): a log call that names it again writes the key twice. */
  readonly logger: Logger;
  readonly format: FormatContext;
}
