import { orderingKey, type BridgeEvent } from '../event.js';
import type { KeptNotice } from './notify-payload.js';

/** An event kept in the outbox table that the later events of its row wait for. */
class Barrier {
  readonly id: bigint;
  passed = false;

  constructor(
    readonly rowId: string,
    readonly gate: Gate,
  ) {
    this.id = BigInt(rowId);
  }
}

/** One row's waiting line: its kept events (barriers) and, behind them, its later events; those before `head` have gone. */
interface Gate {
  readonly key: string;
  readonly items: Array<Barrier | BridgeEvent>;
  head: number;
}

/** Every row event waits here, until the reader's floor passes `upTo`. */
interface WholeSinkGate {
  readonly events: BridgeEvent[];
  upTo: bigint;
}

/**
 * One sink's per-row order around events kept in the outbox table (notify
 * mode's events too large for NOTIFY). Their kept notice arrives in commit
 * order with the NOTIFY payloads, but the event itself only once the sink's
 * outbox reader has read it from the table: until then, later events of its
 * row wait here, in order, and events of other rows go on. A kept event is
 * passed when the reader pushes it (exact), or once the reader's floor is at
 * or past its row id (it was read earlier, before its notice arrived).
 *
 * A notice whose key was too large to send cannot tell its row; and past
 * `maxBarriers` kept events waited for, memory would grow with each. Then
 * every row event of the sink waits, until the floor passes the highest of them.
 */
export class RowGates {
  private readonly gates = new Map<string, Gate>();
  private readonly barriers = new Map<string, Barrier>();
  private wholeSink: WholeSinkGate | undefined;
  private waitingEvents = 0;
  /** The floor last looked at: a kept event is only waited for while above the floor, so an unchanged one passes nothing. */
  private floorSeen = 0n;

  constructor(
    private readonly maxBarriers: number,
    /** Where an event goes once nothing of its row is ahead of it. */
    private readonly release: (event: BridgeEvent) => void,
  ) {}

  /** Events waiting (not the kept ones waited for). */
  get waiting(): number {
    return this.waitingEvents;
  }

  /** Nothing is waited for. */
  get open(): boolean {
    return this.gates.size === 0 && this.wholeSink === undefined;
  }

  /** Later events of `notice`'s row wait until its kept event is passed; for a kept event its reader has not read. */
  close(notice: KeptNotice): void {
    const { id } = notice.event;
    if (this.barriers.has(id)) return;
    if (this.wholeSink !== undefined) {
      if (BigInt(id) > this.wholeSink.upTo) this.wholeSink.upTo = BigInt(id);
      return;
    }
    if (notice.anyRow || this.barriers.size >= this.maxBarriers) return this.closeWholeSink(BigInt(id));
    const key = orderingKey(notice.event);
    let gate = this.gates.get(key);
    if (gate === undefined) {
      gate = { key, items: [], head: 0 };
      this.gates.set(key, gate);
    }
    const barrier = new Barrier(id, gate);
    gate.items.push(barrier);
    this.barriers.set(id, barrier);
  }

  /** Queues `event` behind a kept event of its row; false when nothing of its row is waited for. */
  hold(event: BridgeEvent): boolean {
    // Channel events keep their order by channel: no kept event is ahead of them.
    if (event.kind !== 'row' || this.open) return false;
    if (this.wholeSink !== undefined) this.wholeSink.events.push(event);
    else {
      const gate = this.gates.get(orderingKey(event));
      if (gate === undefined) return false;
      gate.items.push(event);
    }
    this.waitingEvents++;
    return true;
  }

  /** The sink's reader pushed outbox row `rowId`. */
  handedOver(rowId: string): void {
    const barrier = this.barriers.get(rowId);
    if (barrier !== undefined) this.pass(barrier);
  }

  /** The sink's reader has read every row up to `floor`. */
  floorAt(floor: bigint): void {
    if (floor <= this.floorSeen) return;
    this.floorSeen = floor;
    if (this.wholeSink !== undefined && floor >= this.wholeSink.upTo) {
      const { events } = this.wholeSink;
      this.wholeSink = undefined;
      this.waitingEvents -= events.length;
      for (const event of events) this.release(event);
    }
    for (const barrier of this.barriers.values()) if (barrier.id <= floor) this.pass(barrier);
  }

  /**
   * Takes every waiting event out, each row's in order, and waits for
   * nothing any more: for a caller that writes them to the outbox table,
   * behind every kept event noticed so far, so the table keeps their order.
   */
  openAll(): BridgeEvent[] {
    const events = this.wholeSink?.events ?? this.gateEvents();
    this.gates.clear();
    this.barriers.clear();
    this.wholeSink = undefined;
    this.waitingEvents = 0;
    return events;
  }

  private closeWholeSink(upTo: bigint): void {
    for (const barrier of this.barriers.values()) if (barrier.id > upTo) upTo = barrier.id;
    const events = this.gateEvents();
    this.gates.clear();
    this.barriers.clear();
    this.wholeSink = { events, upTo };
  }

  /** The events waiting in the row gates, each row's in order. */
  private gateEvents(): BridgeEvent[] {
    const events: BridgeEvent[] = [];
    for (const gate of this.gates.values()) {
      for (let i = gate.head; i < gate.items.length; i++) {
        const item = gate.items[i];
        if (!(item instanceof Barrier)) events.push(item);
      }
    }
    return events;
  }

  private pass(barrier: Barrier): void {
    barrier.passed = true;
    this.barriers.delete(barrier.rowId);
    const { gate } = barrier;
    while (gate.head < gate.items.length) {
      const item = gate.items[gate.head];
      if (item instanceof Barrier && !item.passed) break;
      gate.head++;
      if (item instanceof Barrier) continue;
      this.waitingEvents--;
      this.release(item);
    }
    if (gate.head === gate.items.length && this.gates.get(gate.key) === gate) this.gates.delete(gate.key);
    else if (gate.head > 1024 && gate.head * 2 > gate.items.length) {
      gate.items.splice(0, gate.head);
      gate.head = 0;
    }
  }
}
