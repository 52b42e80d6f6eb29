import type pg from 'pg';
import type { Metrics } from '../metrics.js';

/** Samples the outbox backlog and NOTIFY queue usage for /metrics. */
export function sampleGauges(pool: pg.Pool, table: string, metrics: Metrics, everyMs = 5000): () => void {
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await pool.query<{ backlog: string; usage: number }>(
        `SELECT (SELECT count(*) FROM ${table})::text AS backlog, pg_notification_queue_usage() AS usage`,
      );
      metrics.outboxBacklog.set(Number(rows[0].backlog));
      metrics.notificationQueueUsage.set(rows[0].usage);
    } catch {
      // Postgres unreachable: /readyz says so; keep the last values.
    } finally {
      busy = false;
    }
  };
  void sample();
  const timer = setInterval(() => void sample(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
