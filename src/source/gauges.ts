import type pg from 'pg';
import type { Metrics } from '../metrics.js';

export interface GaugeSampler {
  /** Rows in the outbox at the last sample; null before the first. */
  readonly backlog: number | null;
  stop(): void;
}

/** Samples the outbox backlog and NOTIFY queue usage for /metrics. */
export function sampleGauges(pool: pg.Pool, table: string, metrics: Metrics, everyMs = 5000): GaugeSampler {
  let busy = false;
  let backlog: number | null = null;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await pool.query<{ backlog: string; usage: number }>(
        `SELECT (SELECT count(*) FROM ${table})::text AS backlog, pg_notification_queue_usage() AS usage`,
      );
      backlog = Number(rows[0].backlog);
      metrics.outboxBacklog.set(backlog);
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
  return {
    get backlog() {
      return backlog;
    },
    stop: () => clearInterval(timer),
  };
}
