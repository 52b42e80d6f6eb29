import client from 'prom-client';
import { CountedHistogram } from './counted-histogram.js';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Every metric pgbridge exports, on one registry (names prefixed pgbridge_, counters _total, durations _seconds). */
export class Metrics {
  readonly registry = new client.Registry();

  readonly eventsCaptured = new client.Counter({
    name: 'pgbridge_events_captured_total',
    help: 'Events read from Postgres (row changes and channel messages), by source.',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new client.Counter({
    name: 'pgbridge_deliveries_total',
    help: 'Delivery outcomes by sink: delivered, retried (a failed attempt), dead_lettered.',
    labelNames: ['sink', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveryDuration = new client.Histogram({
    name: 'pgbridge_delivery_duration_seconds',
    help: 'Time of one send to a sink (one batch), successful or not.',
    labelNames: ['sink'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly endToEndLag = new CountedHistogram({
    name: 'pgbridge_end_to_end_lag_seconds',
    help: 'From the change in Postgres to the sink confirming it.',
    labelNames: ['sink'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly outboxBacklog = new client.Gauge({
    name: 'pgbridge_outbox_backlog',
    help: 'Events in the outbox table not yet delivered to every sink.',
    registers: [this.registry],
  });
  readonly outboxStranded = new client.Counter({
    name: 'pgbridge_outbox_stranded_total',
    help: "Outbox events found below a reader's floor, unread, and delivered late (0 unless the floor's reasoning has a hole).",
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new client.Counter({
    name: 'pgbridge_dead_letters_total',
    help: 'Events moved to pgbridge.dead_letters, by sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly notificationQueueUsage = new client.Gauge({
    name: 'pgbridge_notification_queue_usage_ratio',
    help: "Fraction of Postgres' NOTIFY queue in use (pg_notification_queue_usage()).",
    registers: [this.registry],
  });
  /** Each sink's events in memory, read when the metrics are collected: a set() on every push and settle was per-event work. */
  private readonly sinkQueueSizes = new Map<string, () => number>();
  private liveStatus: (() => void) | undefined;
  readonly sinkQueue = new client.Gauge({
    name: 'pgbridge_sink_queue_events',
    help: 'Events waiting or in flight in pgbridge for a sink.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [sink, size] of this.sinkQueueSizes) this.sinkQueue.set({ sink }, size());
    },
  });
  readonly replicationLag = new client.Gauge({
    name: 'pgbridge_replication_lag_bytes',
    help: 'wal mode: WAL bytes between the server position and the slot confirmed position (what the slot keeps).',
    registers: [this.registry],
  });
  readonly sinkFailing = new client.Gauge({
    name: 'pgbridge_sink_failing',
    help: '1 while a sink cannot deliver (its last attempt failed: retrying, or down), else 0.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
    collect: () => this.liveStatus?.(),
  });
  readonly oldestPending = new client.Gauge({
    name: 'pgbridge_oldest_pending_seconds',
    help: 'Age of the oldest event a sink has yet to confirm, in the outbox table or (notify and wal mode) in memory; 0 when none.',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly instanceDelivering = new client.Gauge({
    name: 'pgbridge_instance_delivering',
    help: '1 while this process holds the delivery lock of its bridge instance (config instance), 0 on standby.',
    labelNames: ['bridge'] as const,
    registers: [this.registry],
    collect: () => this.liveStatus?.(),
  });
  readonly buildInfo = new client.Gauge({
    name: 'pgbridge_build_info',
    help: 'Always 1; labels say the version and the Node.js runtime.',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  /**
   * From now on every scrape brings pgbridge_instance_delivering and pgbridge_sink_failing up to
   * date with `update` (what the process knows, no query): a takeover or a sink failing shows at
   * the next scrape, not at the next status sample. undefined stops it.
   */
  watchStatus(update: (() => void) | undefined): void {
    this.liveStatus = update;
  }

  /**
   * A sink's series exist from the start, at 0: a counter whose series appears
   * only with its first increment jumps from absent to 1, which `increase()`
   * (and so the dead-letter alert) never sees. From now on
   * pgbridge_sink_queue_events{sink} reads `size`.
   */
  watchSink(sink: string, size: () => number): void {
    this.sinkQueueSizes.set(sink, size);
    for (const outcome of ['delivered', 'retried', 'dead_lettered']) this.deliveries.inc({ sink, outcome }, 0);
    this.deadLetters.inc({ sink }, 0);
    this.outboxStranded.inc({ sink }, 0);
  }

  /**
   * Delivery starts again with a config that has only these sinks: the gauges
   * of the others go (a sink_failing left at 1 would alert for ever), and the
   * closure reading a stopped runner's queue. Their counters stay, as counts do.
   */
  keepSinks(sinks: readonly string[]): void {
    for (const sink of [...this.sinkQueueSizes.keys()]) {
      if (sinks.includes(sink)) continue;
      this.sinkQueueSizes.delete(sink);
      for (const gauge of [this.sinkQueue, this.sinkFailing, this.oldestPending]) gauge.remove({ sink });
    }
  }

  constructor(version: string) {
    this.buildInfo.set({ version, node: process.version }, 1);
    client.collectDefaultMetrics({ register: this.registry, prefix: 'pgbridge_' });
    // Gauges named like counters, which Prometheus' own checks refuse; the same counts by type stay (nodejs_active_handles{type}).
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(`pgbridge_${name}`);
  }
}
