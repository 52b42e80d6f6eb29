/**
 * How many rows the next chunk takes. A chunk waits only briefly for a row a
 * writer holds (it holds the rows it already locked meanwhile); held up, it
 * rolls back and the next attempt takes half as many rows, down to one, which
 * holds no other row and so may wait as long as the writer takes. Each chunk
 * that gets through doubles it back, up to the size asked for. Under writers
 * that keep rows locked longer than the brief wait, the backfill still moves.
 */
export class ChunkSize {
  private current: number;

  constructor(private readonly wanted: number) {
    this.current = wanted;
  }

  get rows(): number {
    return this.current;
  }

  /** A one-row chunk waits for its row like any writer: no other row of it can be waited for meanwhile. */
  get waitsForWriters(): boolean {
    return this.current === 1;
  }

  heldUp(): void {
    this.current = Math.max(1, Math.floor(this.current / 2));
  }

  gotThrough(): void {
    this.current = Math.min(this.wanted, this.current * 2);
  }
}
