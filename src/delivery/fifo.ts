/**
 * A queue whose front is taken in O(1) per item: Array.splice(0, n) moves
 * every element left behind, which made a 12,000-event lane cost O(n) per
 * single-event batch. Taken slots are dropped once they are half the array.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** Removes and returns up to `max` items from the front. */
  take(max: number): T[] {
    const end = Math.min(this.items.length, this.head + max);
    const taken = this.items.slice(this.head, end);
    this.head = end;
    if (this.head === this.items.length) this.clear();
    else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return taken;
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const count = this.length;
    this.items = [];
    this.head = 0;
    return count;
  }
}
