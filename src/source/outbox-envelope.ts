import type { Envelope, Outcome } from '../delivery/envelope.js';
import type { BridgeEvent } from '../event.js';
import type { OutboxCheckpoint, OutboxPosition, RowHolder } from './outbox-progress.js';

/**
 * One outbox row on its way to one sink, and its own position for the
 * progress: one object per delivery, where envelopeFor() made an envelope, a
 * closure (with its context) and a position, all carried until the row's
 * outcome was written.
 */
export class OutboxEnvelope implements Envelope, OutboxPosition {
  constructor(
    readonly event: BridgeEvent,
    readonly rowId: string,
    readonly sink: string,
    readonly routed: readonly string[],
    readonly holder: RowHolder,
    private readonly checkpoint: OutboxCheckpoint,
  ) {}

  get inTable(): boolean {
    return true;
  }

  settle(outcome: Outcome): void {
    this.checkpoint.settle(this, outcome);
  }
}
