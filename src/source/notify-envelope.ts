import type { Checkpoint, Envelope, Outcome } from '../delivery/envelope.js';
import type { BridgeEvent } from '../event.js';

/** One notification's event at one sink. */
export interface NotifyPosition {
  readonly sink: string;
  readonly event: BridgeEvent;
}

/**
 * A notification's envelope that is its own position: one object per event
 * and sink, where envelopeFor() makes three (envelope, settle closure, position).
 */
export class NotifyEnvelope implements Envelope, NotifyPosition {
  constructor(
    readonly event: BridgeEvent,
    readonly sink: string,
    private readonly checkpoint: Checkpoint<NotifyPosition>,
  ) {}

  settle(outcome: Outcome): void {
    this.checkpoint.settle(this, outcome);
  }
}
