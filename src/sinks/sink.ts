import type { Logger } from 'pino';
import type { BridgeEvent } from '../event.js';
import type { FormatContext, FormatName } from '../formats/index.js';

/**
 * A destination. The delivery runner owns batching, the in-flight window,
 * retries and dead letters; a sink only connects, sends and closes.
 */
export interface Sink {
  readonly name: string;
  readonly type: string;
  /** Most events one send() may carry. */
  readonly maxBatch: number;
  /** How many send() calls the runner may have open at once. */
  readonly maxInFlight: number;
  /** Resolves once the sink can send; rejects (RetriableError) when the far end is unreachable. */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Resolves only when the far end confirmed every event of the batch.
   * Rejects with RetriableError (send the batch again later) or PermanentError
   * (`failedIds` failed for good, the rest were delivered). Any other error counts as retriable.
   */
  send(batch: readonly BridgeEvent[], signal: AbortSignal): Promise<void>;
  /** How long a partial batch may wait for more events (default 0). */
  readonly batchWaitMs?: number;
  /** True while connected and able to deliver (drives /readyz). */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Keys every sink takes, whatever its type. */
export interface CommonSinkConfig {
  name: string;
  type: string;
  format: FormatName;
  max_in_flight: number;
  retry: RetryConfig;
}

export interface RetryConfig {
  initial_ms: number;
  max_ms: number;
  /** 0 = retry forever. */
  max_attempts: number;
}

export interface SinkContext {
  readonly logger: Logger;
  readonly format: FormatContext;
}
