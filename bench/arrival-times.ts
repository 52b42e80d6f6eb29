/**
 * The first arrival time of each row id, for ids that are positive integers
 * handed out consecutively (workloads.ts nextIds). Pages of typed arrays, not
 * a Map: a Map of millions of entries pauses for hundreds of milliseconds each
 * time it grows (463 ms at 2,097,152 entries), which showed up in the soak's
 * latency as if pgbridge had stalled.
 */
const PAGE_BITS = 16;
const PAGE_SIZE = 1 << PAGE_BITS;

export class ArrivalTimes {
  private pages = new Map<number, Float64Array>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): number | undefined {
    const at = this.pages.get(Math.floor(id / PAGE_SIZE))?.[id % PAGE_SIZE];
    return at === undefined || Number.isNaN(at) ? undefined : at;
  }

  /** Records the first arrival of `id`; false when it had arrived before (a duplicate). */
  add(id: number, at: number): boolean {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`row id ${id} is not a non-negative integer`);
    const index = Math.floor(id / PAGE_SIZE);
    let page = this.pages.get(index);
    if (page === undefined) {
      page = new Float64Array(PAGE_SIZE).fill(Number.NaN);
      this.pages.set(index, page);
    }
    const slot = id % PAGE_SIZE;
    if (!Number.isNaN(page[slot])) return false;
    page[slot] = at;
    this.count++;
    return true;
  }

  clear(): void {
    this.pages = new Map();
    this.count = 0;
  }

  /** Every id seen and its time, in id order. */
  entries(): { ids: Float64Array; times: Float64Array } {
    const ids = new Float64Array(this.count);
    const times = new Float64Array(this.count);
    let n = 0;
    for (const index of [...this.pages.keys()].sort((a, b) => a - b)) {
      const page = this.pages.get(index)!;
      for (let slot = 0; slot < PAGE_SIZE; slot++) {
        if (Number.isNaN(page[slot])) continue;
        ids[n] = index * PAGE_SIZE + slot;
        times[n++] = page[slot];
      }
    }
    return { ids, times };
  }
}
