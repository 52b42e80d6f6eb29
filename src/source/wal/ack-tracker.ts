import type { Lsn } from './lsn.js';

/** One received transaction: how many of its deliveries are still unsettled, and where it ends once its Commit arrived. */
export interface TrackedTransaction {
  unsettled: number;
  endLsn: Lsn | undefined;
  /** Its stream was lost before the Commit: the server sends it again whole, so it holds nothing back. */
  abandoned?: boolean;
}

/**
 * The slot's confirmed position, moved over whole transactions only: in
 * commit order, past a transaction once its Commit was received and every
 * delivery of every event to every routed sink settled (delivered or
 * dead-lettered). A later transaction finishing first waits for the earlier ones.
 */
export class AckTracker {
  private queue: TrackedTransaction[] = [];
  private head = 0;
  private confirmedLsn: Lsn;
  /** Transactions waiting after the last compact(): the next one is due when they doubled. */
  private compactedTo = 0;

  constructor(
    start: Lsn,
    private readonly onAdvance: (lsn: Lsn) => void,
  ) {
    this.confirmedLsn = start;
  }

  get confirmed(): Lsn {
    return this.confirmedLsn;
  }

  /** No transaction is open or waiting for deliveries. */
  get idle(): boolean {
    return this.head === this.queue.length;
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  begin(): TrackedTransaction {
    const tx: TrackedTransaction = { unsettled: 0, endLsn: undefined };
    this.queue.push(tx);
    if (this.waiting > 2 * this.compactedTo + 1024) this.compact();
    return tx;
  }

  /** Counts one delivery; call settle(tx) once for it. */
  hold(tx: TrackedTransaction): void {
    tx.unsettled++;
  }

  settle(tx: TrackedTransaction): void {
    tx.unsettled--;
    if (tx.unsettled === 0 && tx.endLsn !== undefined && !tx.abandoned) this.advance();
  }

  commit(tx: TrackedTransaction, endLsn: Lsn): void {
    tx.endLsn = endLsn;
    if (tx.unsettled === 0) this.advance();
  }

  abandon(tx: TrackedTransaction): void {
    tx.abandoned = true;
    this.advance();
  }

  /** Nothing is pending and the server says everything up to `lsn` was sent: a filtered or idle stream moves on. */
  passIdle(lsn: Lsn): void {
    if (this.idle) this.move(lsn);
  }

  private advance(): void {
    let moved: Lsn | undefined;
    while (this.head < this.queue.length) {
      const tx = this.queue[this.head];
      if (tx.abandoned) {
        this.head++;
        continue;
      }
      if (tx.endLsn === undefined || tx.unsettled > 0) break;
      moved = tx.endLsn;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (moved !== undefined) this.move(moved);
  }

  /**
   * While an early transaction waits (a sink down with its events, the later
   * ones in the outbox table), the settled ones behind it would pile up one
   * per transaction: each run of them is kept as its last, whose end the slot
   * would move to past the whole run anyway.
   */
  private compact(): void {
    const kept: TrackedTransaction[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const tx = this.queue[i];
      if (tx.abandoned) continue;
      const settled = tx.endLsn !== undefined && tx.unsettled === 0;
      const previous = kept[kept.length - 1];
      if (settled && previous !== undefined && previous.endLsn !== undefined && previous.unsettled === 0) kept[kept.length - 1] = tx;
      else kept.push(tx);
    }
    this.queue = kept;
    this.head = 0;
    this.compactedTo = kept.length;
  }

  private move(lsn: Lsn): void {
    if (lsn <= this.confirmedLsn) return;
    this.confirmedLsn = lsn;
    this.onAdvance(lsn);
  }
}
