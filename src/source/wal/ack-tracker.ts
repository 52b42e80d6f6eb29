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

  private move(lsn: Lsn): void {
    if (lsn <= this.confirmedLsn) return;
    this.confirmedLsn = lsn;
    this.onAdvance(lsn);
  }
}
