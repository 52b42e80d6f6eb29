/**
 * Counts events and reports the count once per synchronous run (a socket
 * read's worth of notifications), in a microtask: a prom-client inc() per
 * event hashes its labels every time. Nothing can read the metric between.
 */
export class RunCounter {
  private count = 0;

  constructor(private readonly report: (count: number) => void) {}

  add(): void {
    if (this.count++ === 0) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const count = this.count;
    this.count = 0;
    this.report(count);
  }
}
