import type { Logger } from 'pino';
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { OutboxIndexRebuild } from './outbox-index-rebuild.js';

/** Vacuum once a table has this many dead rows, and more dead than a quarter of its live ones. */
const MIN_DEAD = 1000;

/**
 * Keeps the outbox small whether or not autovacuum keeps up: every delivered
 * event is a deleted row, and a queue table that is not vacuumed grows by the
 * whole stream (600k dead rows for 1,500 live ones in five minutes at 2,000
 * rows/s, with the page query slowing down as it walks them). Only the
 * delivering instance runs it, every few seconds, when the table's statistics
 * show enough dead rows; plain VACUUM, which takes no lock that writers or
 * readers wait for. An index that vacuum cannot keep small is rebuilt
 * (outbox-index-rebuild.ts).
 */
export function vacuumOutbox(pool: pg.Pool, tables: readonly string[], logger: Logger, everyMs = 5000): () => Promise<void> {
  let inFlight: Promise<void> | undefined;
  let refused = false;
  let stopped = false;
  const rebuild = new OutboxIndexRebuild(pool, logger);
  const check = async () => {
    try {
      for (const table of tables) {
        if (stopped) return;
        const { rows } = await pool.query<{ dead: string; live: string }>(
          `SELECT coalesce(n_dead_tup, 0)::text AS dead, coalesce(n_live_tup, 0)::text AS live
             FROM pg_stat_user_tables WHERE relid = $1::regclass`,
          [table],
        );
        const dead = Number(rows[0]?.dead ?? 0);
        const live = Number(rows[0]?.live ?? 0);
        if (dead >= MIN_DEAD && dead >= live / 4 && !stopped) {
          const started = Date.now();
          await pool.query(`VACUUM ${table}`);
          logger.debug({ table, dead, live, ms: Date.now() - started }, 'vacuumed');
        }
        await rebuild.check(table, live);
      }
    } catch (err) {
      // Not the table's owner (VACUUM and REINDEX both need it): autovacuum (or the owner) must keep it small; say so once.
      if ((err as { code?: string }).code === '42501') {
        refused = true;
        logger.warn({ err: errorMessage(err) }, 'cannot vacuum the outbox (not its owner); it depends on autovacuum to stay small');
      } else {
        logger.debug({ err: errorMessage(err) }, 'vacuuming the outbox failed; trying again later');
      }
    }
  };
  const timer = setInterval(() => {
    if (inFlight || refused) return;
    inFlight = check().finally(() => (inFlight = undefined));
  }, everyMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await rebuild.stop();
    await inFlight;
  };
}
