import type { Metrics } from '../metrics.js';
import { countersOf, sinkCounters, type SinkCounters } from './metric-facts.js';

/** One chart point: when (ms since the epoch), events/s delivered, mean send time and mean end-to-end lag (ms; null when nothing was sent). */
export type HistoryPoint = readonly [time: number, eventsPerSecond: number, sendMs: number | null, lagMs: number | null];

/**
 * The charts' data: every `everyMs` the per-sink counters are read and the
 * interval's rates kept, the last `points` of them, so a console opened now
 * shows the last minutes at once.
 */
export class DeliveryHistory {
  private readonly series = new Map<string, HistoryPoint[]>();
  private last: { readonly at: number; readonly counters: Map<string, SinkCounters> } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly sinks: readonly string[],
    private readonly everyMs = 2000,
    private readonly points = 180,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  of(sink: string): readonly HistoryPoint[] {
    return this.series.get(sink) ?? [];
  }

  private async sample(): Promise<void> {
    const at = Date.now();
    const counters = await sinkCounters(this.metrics);
    const previous = this.last;
    this.last = { at, counters };
    if (!previous) return;
    const seconds = (at - previous.at) / 1000;
    for (const sink of this.sinks) {
      const now = countersOf(counters, sink);
      const before = countersOf(previous.counters, sink);
      const sends = now.sends - before.sends;
      const lagged = now.lagged - before.lagged;
      const point: HistoryPoint = [
        at,
        round((now.delivered - before.delivered) / seconds),
        sends > 0 ? round(((now.sendSeconds - before.sendSeconds) / sends) * 1000) : null,
        lagged > 0 ? round(((now.lagSeconds - before.lagSeconds) / lagged) * 1000) : null,
      ];
      const series = this.series.get(sink) ?? [];
      series.push(point);
      if (series.length > this.points) series.splice(0, series.length - this.points);
      this.series.set(sink, series);
    }
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;
