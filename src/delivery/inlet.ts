import type { Envelope } from './envelope.js';

/**
 * What a source sees of one sink's delivery: how much it may push, a wait
 * for room, and the push itself. Memory stays bounded because sources read
 * (outbox pages) or refuse (notify mode) by `room`.
 */
export interface Inlet {
  /** The sink's name, as routes name it. */
  readonly name: string;
  /** Events held in memory (queued + in flight) at most before push() must wait. */
  readonly capacity: number;
  /** Events held now (waiting or in flight). */
  readonly pending: number;
  readonly room: number;
  /** False while the sink keeps failing (its last attempt failed, it retries). */
  readonly delivering: boolean;
  /** Resolves when there is room for `atLeast` more events (at most the capacity), or when delivery stops. */
  waitForRoom(atLeast?: number): Promise<void>;
  push(envelope: Envelope): void;
}

/** What a source controls of delivery when it stops: whether what is queued is still delivered. */
export interface DeliveryStop {
  /** When the whole stop must be over (ms since the epoch): `shutdown_timeout_ms` after the signal. */
  readonly deadline: number;
  /**
   * With `finishQueued`, delivers what is queued too (memory is all there is);
   * otherwise only the batches in flight (the rest is still in Postgres).
   * Resolves with what no sink confirmed in time, per sink: unsettled.
   */
  stop(finishQueued: boolean): Promise<ReadonlyMap<string, readonly Envelope[]>>;
}
