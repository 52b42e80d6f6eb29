import type { BridgeEvent } from '../event.js';

export type Outcome = { readonly kind: 'delivered' } | { readonly kind: 'dead'; readonly error: string; readonly attempts: number };

/**
 * Where a source learns what became of what it pushed (Vector's finalizer,
 * Benthos' ack): every outcome of one event at one sink, for the position the
 * source gave it (an outbox row, a notification, later a WAL position).
 */
export interface Checkpoint<Position> {
  settle(position: Position, outcome: Outcome): void;
}

/** An event on its way to one sink, carrying its own acknowledgement. */
export interface Envelope {
  readonly event: BridgeEvent;
  /** The event is a row of the outbox table too, counted in its backlog (an outbox reader's envelope). */
  readonly inTable?: boolean;
  settle(outcome: Outcome): void;
}

export function envelopeFor<Position>(event: BridgeEvent, checkpoint: Checkpoint<Position>, position: Position): Envelope {
  return { event, settle: (outcome) => checkpoint.settle(position, outcome) };
}
