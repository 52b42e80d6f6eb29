/**
 * How many rows the next chunk takes, and how long it waits for a row a
 * writer holds. A chunk of many rows waits only briefly (it holds the rows it
 * locked already meanwhile); held up, it rolls back and the next attempt takes
 * half as many rows, down to one, which holds no other row and so may wait
 * longer. Each chunk that gets through doubles it back, up to the size asked
 * for. Under writers that keep rows locked, the backfill still moves.
 */
export class ChunkSize {
  private current: number;

  constructor(private readonly wanted: number) {
    this.current = wanted;
  }

  get rows(): number {
    return this.current;
  }

  /**
   * Both under deadlock_timeout (1 s by default): a writer waiting on a chunk row
   * while holding the row the chunk waits for is not the one Postgres cancels. A
   * one-row chunk waits longer, and tries again, so Ctrl-C is seen between attempts.
   */
  get lockWaitMs(): number {
    return this.current === 1 ? 500 : 50;
  }

  heldUp(): void {
    this.current = Math.max(1, Math.floor(this.current / 2));
  }

  gotThrough(): void {
    this.current = Math.min(this.wanted, this.current * 2);
  }
}
