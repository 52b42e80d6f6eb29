import type { Metrics } from '../metrics.js';

/** Per-sink totals since this process started, read from its own metrics. */
export interface SinkCounters {
  readonly delivered: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Sums and counts of the two histograms: a rate over an interval is the difference of two readings. */
  readonly sendSeconds: number;
  readonly sends: number;
  readonly lagSeconds: number;
  readonly lagged: number;
}

const ZERO: SinkCounters = { delivered: 0, retries: 0, deadLettered: 0, sendSeconds: 0, sends: 0, lagSeconds: 0, lagged: 0 };

/** What get() returns of a prom-client metric (or of a CountedHistogram). */
type Reading = { readonly values: ReadonlyArray<{ labels: Record<string, unknown>; value: number; metricName?: string }> };

export async function sinkCounters(metrics: Metrics): Promise<Map<string, SinkCounters>> {
  const [deliveries, duration, lag] = await Promise.all([metrics.deliveries.get(), metrics.deliveryDuration.get(), metrics.endToEndLag.get()]);
  const out = new Map<string, { -readonly [K in keyof SinkCounters]: number }>();
  const add = (reading: Reading, pick: (labels: Record<string, unknown>, metricName: string | undefined) => keyof SinkCounters | undefined) => {
    for (const item of reading.values) {
      const { labels, value } = item;
      const key = pick(labels, 'metricName' in item ? item.metricName : undefined);
      const sink = labels.sink;
      if (key === undefined || typeof sink !== 'string') continue;
      const entry = out.get(sink) ?? { ...ZERO };
      entry[key] += value;
      out.set(sink, entry);
    }
  };
  const outcome: Record<string, keyof SinkCounters> = { delivered: 'delivered', retried: 'retries', dead_lettered: 'deadLettered' };
  add(deliveries, (labels) => outcome[String(labels.outcome)]);
  add(duration, (_, name) => (name?.endsWith('_sum') ? 'sendSeconds' : name?.endsWith('_count') ? 'sends' : undefined));
  add(lag, (_, name) => (name?.endsWith('_sum') ? 'lagSeconds' : name?.endsWith('_count') ? 'lagged' : undefined));
  return out;
}

export function countersOf(all: ReadonlyMap<string, SinkCounters>, sink: string): SinkCounters {
  return all.get(sink) ?? ZERO;
}

/** A gauge another part may register (replication lag in wal mode); undefined when it is not there. */
export async function gaugeValue(metrics: Metrics, name: string): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.length === 0 ? undefined : Math.max(...values.map((v) => v.value));
}
