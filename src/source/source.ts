import type { Logger } from 'pino';
import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import type { DeliveryStop, Inlet } from '../delivery/inlet.js';
import type { Metrics } from '../metrics.js';
import type { NewTableHooks } from '../held-new-tables.js';
import type { Routes } from '../router.js';
import type { DeadLetterWriter } from './dead-letters.js';

/**
 * One capture mode (outbox table, NOTIFY, logical replication), run while this instance
 * holds the delivery lock. It pushes to the sinks' inlets and learns what
 * became of each event through the envelope's checkpoint.
 */
export interface Source {
  /** Clears up what an earlier run left, then captures and pushes. */
  start(): Promise<void>;
  /**
   * Stops capturing, then stops `delivery` (whether queued events are still
   * delivered is the source's call: only it knows whether they are kept
   * elsewhere), then records the acknowledgements received.
   */
  stop(delivery: DeliveryStop): Promise<void>;
  /** Its components for /readyz: 'ok', or what is wrong. */
  readiness(): Record<string, string>;
}

/** What every source is built from. */
export interface SourceContext {
  readonly config: BridgeConfig;
  readonly pool: pg.Pool;
  /** This instance's outbox table. */
  readonly table: string;
  /** One per sink, in config order. */
  readonly inlets: readonly Inlet[];
  /** Plain routes; the durable modes wrap them in HeldNewTables with `newTables`. */
  readonly routes: Routes;
  readonly newTables: NewTableHooks;
  readonly deadLetters: DeadLetterWriter;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** When the previous delivering phase lost its connection; undefined on the first. */
  readonly notListeningSince: number | undefined;
}
