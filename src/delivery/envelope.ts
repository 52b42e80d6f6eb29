import type { BridgeEvent } from '../event.js';

export type Outcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'dead'; readonly error: string; readonly attempts: number };

/** An event on its way to one sink, with the source's callback for the result. */
export interface Envelope {
  readonly event: BridgeEvent;
  settle(outcome: Outcome): void;
}
