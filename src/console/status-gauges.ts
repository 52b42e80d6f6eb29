import type { BridgeStatus } from '../app.js';
import type { BridgeConfig } from '../config/types.js';
import type { Metrics } from '../metrics.js';
import type { DatabaseFacts } from './database-facts.js';
import { heldInMemory, oldestPending } from './status-report.js';

/**
 * Keeps the status gauges the alert rules read (deploy/prometheus/alerts.yaml)
 * up to date: whether this process delivers and which sinks fail at every scrape
 * (what the process knows), each sink's oldest pending age every `everyMs` (a query).
 */
export function sampleStatusGauges(
  config: BridgeConfig,
  metrics: Metrics,
  bridge: () => BridgeStatus,
  facts: () => Promise<DatabaseFacts>,
  everyMs = 5000,
): () => void {
  const oldest = new Map<string, { seconds: number; at: number }>();
  const setOldest = (sink: string, seconds: number): void => {
    oldest.set(sink, { seconds, at: Date.now() });
    metrics.oldestPending.set({ sink }, seconds);
  };
  const setRoleAndFailing = (): void => {
    const status = bridge();
    metrics.instanceDelivering.set({ bridge: config.instance }, status.role === 'delivering' ? 1 : 0);
    // Without Postgres nothing is delivered and nothing can be measured: a sink keeps its failing state.
    if (status.role === 'disconnected') return;
    for (const sink of config.sinks) {
      const state = status.sinks.get(sink.name)?.state;
      metrics.sinkFailing.set({ sink: sink.name }, state === 'retrying' || state === 'down' ? 1 : 0);
    }
  };
  const sample = async (): Promise<void> => {
    setRoleAndFailing();
    if (bridge().role === 'disconnected') {
      // What waited waits longer.
      for (const [sink, last] of oldest) if (last.seconds > 0) metrics.oldestPending.set({ sink }, last.seconds + (Date.now() - last.at) / 1000);
      return;
    }
    try {
      const database = await facts();
      const runners = bridge().sinks;
      for (const sink of config.sinks) {
        const inTable = database.sinks.get(sink.name)?.oldestPendingSeconds ?? null;
        setOldest(sink.name, oldestPending(inTable, heldInMemory(config, runners.get(sink.name)).oldestSeconds) ?? 0);
      }
    } catch {
      // Postgres unreachable: /readyz says so; keep the last values.
    }
  };
  // The database facts from the first tick on, not at startup: there they were a count and a
  // GROUP BY over the whole outbox (a connection of their own too) while the bridge connects,
  // takes its lock and reads its first pages on the same Postgres.
  setRoleAndFailing();
  metrics.watchStatus(setRoleAndFailing);
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    metrics.watchStatus(undefined);
  };
}
