import pg from 'pg';
import type { BridgeConfig } from './config/types.js';
import { libpqUrl, sslFromEnvironment } from './postgres-ssl.js';
import { SESSION_SETTINGS_SQL } from './schema/render-settings.js';
import { liveConnections, noteSession, noteStranded, type ServerSession } from './stranded-sessions.js';

/** Every connection's application_name: what it is for, as pg_stat_activity shows it. */
export const applicationName = (purpose: string): string => `pgbridge ${purpose}`;

/** The listener's purpose: with its instance, so that a notify-mode backfill finds a bridge of its own instance listening, not another's. */
export const listenerPurpose = (instance: string): string => `listener ${instance}`;

/** How long connecting may take; pinning the render settings, the first round trip, gets as long again. */
const CONNECT_WITHIN_MS = 10_000;

/** Connection settings: the URL when given, else libpq's PG* variables (pg reads them itself; PGSSLMODE as libpq does, see postgres-ssl.ts). */
export function clientConfig(config: Pick<BridgeConfig, 'postgres'>, purpose: string): pg.ClientConfig {
  const ssl = config.postgres.url ? undefined : sslFromEnvironment(process.env);
  return {
    ...(config.postgres.url ? { connectionString: libpqUrl(config.postgres.url) } : {}),
    ...(ssl === undefined ? {} : { ssl }),
    application_name: applicationName(purpose),
    keepAlive: true,
    connectionTimeoutMillis: CONNECT_WITHIN_MS,
  };
}

const SESSION_SQL = `${SESSION_SETTINGS_SQL}, pg_backend_pid() AS pid, (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS started`;

/**
 * The settings values are written and read with (schema/render-settings.ts);
 * run on every connection before anything else. Notes the session too, in
 * the same round trip, to end it should the connection stop answering (a
 * direct connection only: one through a pooler shares its server connection).
 * Unanswered within `withinMs` (a connection silenced right after its
 * startup), the socket is closed and the query fails: pg's own connect
 * timeout is over by then, and pg-pool would keep the slot forever.
 */
export async function pinRenderSettings(client: pg.ClientBase, withinMs = CONNECT_WITHIN_MS): Promise<void> {
  const unanswered = setTimeout(() => destroySocket(client as pg.Client), withinMs);
  unanswered.unref();
  try {
    const { rows } = await client.query<ServerSession>(SESSION_SQL);
    // Behind a pooler the server connection is not this session: ending it later would end another client's.
    if ((client as unknown as { processID: number | null }).processID === rows[0].pid) noteSession(client, rows[0]);
  } finally {
    clearTimeout(unanswered);
  }
}

export async function connectClient(config: Pick<BridgeConfig, 'postgres'>, purpose: string): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(config, purpose));
  // An idle client that loses its server emits 'error'; the owner decides what to do, but it must never crash us.
  client.on('error', () => {});
  await client.connect();
  try {
    await pinRenderSettings(client);
  } catch (err) {
    await endClient(client);
    throw err;
  }
  return client;
}

/** A pool whose every connection has the render settings before it is handed out (pg-pool awaits onConnect). */
export function createPool(config: Pick<BridgeConfig, 'postgres'>, purpose: string, options: pg.PoolConfig = {}): pg.Pool {
  const withinMs = options.connectionTimeoutMillis || CONNECT_WITHIN_MS;
  // @types/pg says onConnect returns void, but pg-pool waits for its promise (and drops the client if it rejects).
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  return new pg.Pool({ ...clientConfig(config, purpose), ...options, onConnect: (client) => pinRenderSettings(client, withinMs) });
}

/** A pg client's socket (pg does not expose it): paused to stop reading (back-pressure), destroyed to close at once. */
export function socketOf(client: pg.Client): { pause(): void; resume(): void; destroy(): void } {
  return (client as unknown as { connection: { stream: { pause(): void; resume(): void; destroy(): void } } }).connection.stream;
}

/** Closes the client's socket at once: its 'error' (for a query in flight) and 'end' events follow; its session may outlive it on the server. */
export function destroySocket(client: pg.Client): void {
  noteStranded(client);
  // A client checked out of a pool has no 'error' listener: its owner sees the failed query instead of the process crashing.
  client.on('error', () => {});
  socketOf(client).destroy();
}

/** How long end() may wait for the server to close the connection before its socket is destroyed. */
const END_WITHIN_MS = 2000;

/**
 * Ends `client` whatever its state. pg's end() of a client still connecting
 * sends a Terminate that the server may never answer, and pg then settles
 * neither that end() nor the connect(): such a client's socket is destroyed
 * instead (its 'end' event follows, and end() resolves on it). So is the
 * socket of a connection whose far end does not answer the Terminate.
 */
export async function endClient(client: pg.Client): Promise<void> {
  const internals = client as unknown as { _connected: boolean };
  if (!internals._connected) destroySocket(client);
  const unanswered = setTimeout(() => destroySocket(client), END_WITHIN_MS);
  unanswered.unref();
  await client.end().catch(() => {});
  clearTimeout(unanswered);
}

/**
 * Closes every connection of this process at once, pooled or dedicated, in
 * use or idle: once one was found not answering, the others may have stopped
 * too (the same NAT, the same partition), and queries waiting on them would
 * never end, nor would delivery's stop. Their sessions count as stranded.
 */
export function closeEveryConnection(): void {
  for (const client of liveConnections()) destroySocket(client as pg.Client);
}

/** Database name of the connection, for CloudEvents `source`. */
export async function databaseName(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  return rows[0].db;
}

/**
 * Runs `work` on one pooled connection. A checked-out client has no 'error'
 * listener of the pool's, so a server going away between two statements
 * (restart, pg_terminate_backend) would be an unhandled 'error' that ends the
 * process: here it only fails the work, and the broken connection is dropped.
 */
export async function withPooledClient<T>(pool: pg.Pool, work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure ??= err;
  };
  db.on('error', onError);
  try {
    return await work(db);
  } catch (err) {
    failure ??= err as Error;
    throw err;
  } finally {
    db.off('error', onError);
    db.release(failure);
  }
}

/** Runs `work` inside BEGIN … COMMIT on one pooled connection; rolls back on error. */
export function inTransaction<T>(pool: pg.Pool, work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  return withPooledClient(pool, async (db) => {
    await db.query('BEGIN');
    try {
      const result = await work(db);
      await db.query('COMMIT');
      return result;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}
