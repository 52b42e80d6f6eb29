import type { Envelope } from '../delivery/envelope.js';
import type { Inlet } from '../delivery/inlet.js';
import type { BridgeEvent } from '../event.js';
import type { KeptNotice } from './notify-payload.js';
import type { OutboxEnvelope } from './outbox-envelope.js';
import { RowGates } from './row-gates.js';

/**
 * How often gates look whether their sink's reader floor passed what they
 * wait for: a kept event its reader read before the notice came, and settled
 * since, is never pushed again. Rare, so a check now and then is enough.
 */
const FLOOR_CHECK_MS = 50;

/** How far each sink's outbox reader is (OutboxFeed). */
export interface ReadProgress {
  hasRead(sink: string, rowId: string): boolean;
  readUpTo(sink: string): bigint;
}

/**
 * Notify mode's per-row order at every sink around events kept in the
 * outbox table: a kept notice closes its row's gate (RowGates) at each sink
 * it is routed to, unless that sink's reader has read it already (then it is
 * ahead in the inlet); the reader's push of it, seen through watch(), or its
 * floor passing it, opens the gate again.
 */
export class KeptEventOrder {
  private readonly gates = new Map<string, RowGates>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    sinks: readonly string[],
    /** Kept events waited for per sink before it waits on the floor for all of them at once. */
    maxBarriers: number,
    private readonly progress: ReadProgress,
    /** Where an event goes once nothing of its row is ahead of it at `sink`. */
    release: (sink: string, event: BridgeEvent) => void,
  ) {
    for (const sink of sinks) this.gates.set(sink, new RowGates(maxBarriers, (event) => release(sink, event)));
  }

  /** A kept notice, for the sinks its event is routed to. */
  noticed(notice: KeptNotice, sinks: readonly string[]): void {
    for (const sink of sinks) if (!this.progress.hasRead(sink, notice.event.id)) this.gates.get(sink)!.close(notice);
    this.checkFloors();
  }

  /** Queues `event` for `sink` behind a kept event of its row; false when it may go on. */
  hold(sink: string, event: BridgeEvent): boolean {
    return this.gates.get(sink)!.hold(event);
  }

  /** Events waiting for `sink`. */
  waiting(sink: string): number {
    return this.gates.get(sink)!.waiting;
  }

  /** Every event waiting for `sink`, each row's in order; from now on nothing is waited for (see RowGates.openAll). */
  openAll(sink: string): BridgeEvent[] {
    return this.gates.get(sink)!.openAll();
  }

  /** The inlet `inlet`'s outbox reader pushes to: each row it hands over may open a gate. */
  watch(inlet: Inlet): Inlet {
    const gates = this.gates.get(inlet.name)!;
    return {
      get name() {
        return inlet.name;
      },
      get capacity() {
        return inlet.capacity;
      },
      get pending() {
        return inlet.pending;
      },
      get room() {
        return inlet.room;
      },
      get delivering() {
        return inlet.delivering;
      },
      waitForRoom: (atLeast) => inlet.waitForRoom(atLeast),
      push(envelope: Envelope) {
        inlet.push(envelope);
        const rowId = (envelope as Partial<OutboxEnvelope>).rowId;
        if (rowId !== undefined && !gates.open) gates.handedOver(rowId);
      },
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks at the readers' floors every FLOOR_CHECK_MS while a gate is closed. */
  private checkFloors(): void {
    if (this.timer !== undefined || [...this.gates.values()].every((g) => g.open)) return;
    this.timer = setInterval(() => {
      for (const [sink, gates] of this.gates) if (!gates.open) gates.floorAt(this.progress.readUpTo(sink));
      if ([...this.gates.values()].every((g) => g.open)) this.stop();
    }, FLOOR_CHECK_MS);
    this.timer.unref();
  }
}
