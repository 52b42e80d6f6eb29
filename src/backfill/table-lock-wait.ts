import type pg from 'pg';
import { sqlState } from '../schema/row-filter.js';

/**
 * How long one try waits for another session's lock on the table before it
 * lets go and tries again: a whole-table lock (ALTER TABLE, TRUNCATE, VACUUM
 * FULL, LOCK TABLE) can last minutes, and the signal is seen only between tries.
 */
export const TABLE_LOCK_WAIT_MS = 500;

/** SQLSTATE lock_not_available: lock_timeout ran out. */
export const isLockTimeout = (err: unknown): boolean => sqlState(err) === '55P03';

/**
 * Runs `work`, which only reads the table and the catalog, with the session's
 * lock_timeout at TABLE_LOCK_WAIT_MS, again while another session's lock on
 * the table stops it, telling `onTableLocked` each time; undefined when the
 * signal came meanwhile. `work` must let a lock timeout through as it came.
 */
export async function waitingForTableLocks<T>(
  db: pg.ClientBase,
  options: { readonly signal?: AbortSignal; onTableLocked?(): void },
  work: () => Promise<T>,
): Promise<T | undefined> {
  await db.query(`SET lock_timeout = ${TABLE_LOCK_WAIT_MS}`);
  try {
    for (;;) {
      if (options.signal?.aborted) return undefined;
      try {
        return await work();
      } catch (err) {
        if (!isLockTimeout(err)) throw err;
        options.onTableLocked?.();
      }
    }
  } finally {
    // A lost session has no setting left to restore, and its own error says so.
    await db.query('RESET lock_timeout').catch(() => {});
  }
}
