import type { Envelope } from '../../../src/delivery/envelope.js';
import type { Inlet } from '../../../src/delivery/inlet.js';

/** A sink's inlet that only counts: `pending` and `delivering` are the test's to set. */
export class CountingInlet implements Inlet {
  pending = 0;
  delivering = true;
  /** Ids of the events pushed, in order. */
  readonly pushed: string[] = [];

  constructor(
    readonly name: string,
    readonly capacity = 8,
  ) {}

  get room(): number {
    return Math.max(0, this.capacity - this.pending);
  }

  async waitForRoom(): Promise<void> {}

  push(envelope: Envelope): void {
    this.pending++;
    this.pushed.push(envelope.event.id);
  }
}
