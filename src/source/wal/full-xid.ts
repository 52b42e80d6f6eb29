/**
 * pgoutput's Begin carries a 32-bit xid; the outbox's txid is the 64-bit
 * xid8 (epoch and xid). The epoch is taken from the server's next xid: the
 * decoded transaction is the one within 2^31 of it.
 */
export class FullXid {
  constructor(private next: bigint) {}

  /** A newer reading of pg_snapshot_xmax(pg_current_snapshot()). */
  update(next: bigint): void {
    if (next > this.next) this.next = next;
  }

  full(xid: number): string {
    const low = Number(this.next & 0xffffffffn);
    let diff = xid - low;
    if (diff > 0x7fffffff) diff -= 0x100000000;
    else if (diff < -0x80000000) diff += 0x100000000;
    return (this.next + BigInt(diff)).toString();
  }
}
