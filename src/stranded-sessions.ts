import type { Logger } from 'pino';
import type pg from 'pg';
import { errorMessage } from './errors.js';

/** A server session, found again later by its pid and start time (pids are reused). */
export interface ServerSession {
  readonly pid: number;
  readonly started: string;
}

/** This process's connections and their sessions, until they end. */
const live = new Map<pg.ClientBase, ServerSession>();
let stranded: ServerSession[] = [];

/** `client`'s session on the server, as it connected. */
export function noteSession(client: pg.ClientBase, session: ServerSession): void {
  live.set(client, session);
  client.once('end', () => live.delete(client));
}

/** The connections of this process that have not ended. */
export function liveConnections(): pg.ClientBase[] {
  return [...live.keys()];
}

/**
 * `client`'s socket was closed without the server's answer (a connection that
 * stopped answering, a Terminate unanswered): its session may live on on the
 * server for hours, holding the delivery lock, a transaction's row locks, or
 * a LISTEN that keeps every NOTIFY of the cluster queued until the queue fills.
 */
export function noteStranded(client: pg.ClientBase): void {
  const session = live.get(client);
  if (session === undefined) return;
  live.delete(client);
  stranded.push(session);
}

/** Each waits up to a second for its session to end: the connection asking is itself watched (10 s to answer). */
const END_SQL = `SELECT count(*)::int AS found, count(*) FILTER (WHERE pg_terminate_backend(a.pid, 1000))::int AS ended
                   FROM pg_stat_activity a JOIN unnest($1::int[], $2::text[]) AS s(pid, started)
                     ON a.pid = s.pid AND a.backend_start::text = s.started`;

/**
 * Ends, from `client`'s connection, the sessions this process left stranded,
 * where the server still has them. Run on every new connection that matters
 * (the lock's, the listener's) before it is used. Not allowed (another role):
 * logged and forgotten, the server ends them once it notices. A lost
 * connection rejects, and they are tried again on the next.
 */
export async function endStrandedSessions(client: pg.ClientBase, logger: Logger): Promise<void> {
  if (stranded.length === 0) return;
  const ending = stranded;
  stranded = [];
  try {
    const { rows } = await client.query<{ found: number; ended: number }>(END_SQL, [ending.map((s) => s.pid), ending.map((s) => s.started)]);
    if (rows[0].found > 0)
      logger.warn({ pids: ending.map((s) => s.pid), ...rows[0] }, 'ended the server sessions of connections that stopped answering');
  } catch (err) {
    if ((err as { code?: unknown }).code === undefined) {
      stranded.push(...ending);
      throw err;
    }
    logger.warn(
      { pids: ending.map((s) => s.pid), err: errorMessage(err) },
      'could not end the server sessions of connections that stopped answering',
    );
  }
}
