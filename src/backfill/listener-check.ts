import type pg from 'pg';
import { applicationName, listenerPurpose } from '../postgres.js';
import { BackfillError } from './backfill-error.js';

/**
 * The listening bridge's server session: a bridge that stopped listening, or
 * another that started since, is told by it. `started` is null when this role
 * may not see other roles' backend_start (no pg_read_all_stats): the pid and
 * application_name then tell it alone.
 */
export interface ListenerSession {
  readonly pid: number;
  readonly started: string | null;
}

const LISTENER_SQL = `SELECT pid, backend_start::text AS started FROM pg_stat_activity
  WHERE datname = current_database() AND application_name = $1 ORDER BY backend_start LIMIT 1`;

const STILL_THERE_SQL = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
  WHERE pid = $1 AND backend_start::text IS NOT DISTINCT FROM $2 AND application_name = $3) AS here`;

/** Notify mode delivers only to a listening bridge of this instance: without one every READ would be lost. */
export async function listeningBridge(db: pg.ClientBase, instance: string): Promise<ListenerSession> {
  const { rows } = await db.query<ListenerSession>(LISTENER_SQL, [applicationName(listenerPurpose(instance))]);
  if (rows.length === 0) {
    throw new BackfillError(
      `delivery is notify and no \`pgbridge run\` is listening on this database for instance ${JSON.stringify(instance)}: the READ events would be lost; start the bridge first`,
    );
  }
  return rows[0];
}

/**
 * Before each chunk commits (its NOTIFYs leave at COMMIT): the bridge that
 * listened when the backfill started still listens. The first read of
 * pg_stat_activity in the transaction, so not an earlier snapshot of it. When
 * that bridge stopped, the READs of chunks committed since went nowhere (and,
 * if it did not stop cleanly, those it held undelivered): the backfill stops,
 * and says how to send the rows again.
 */
export async function requireStillListening(db: pg.ClientBase, instance: string, listener: ListenerSession): Promise<void> {
  const { rows } = await db.query<{ here: boolean }>(STILL_THERE_SQL, [listener.pid, listener.started, applicationName(listenerPurpose(instance))]);
  if (rows[0].here) return;
  throw new BackfillError(
    `delivery is notify and the bridge that was listening for instance ${JSON.stringify(instance)} when this backfill started stopped listening (server pid ${listener.pid}): the READ events sent since are lost, and those it held undelivered unless it stopped cleanly; once a bridge runs, send the rows again with \`pgbridge backfill --restart\``,
  );
}
