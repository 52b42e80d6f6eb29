import type pg from 'pg';
import type { BridgeConfig } from '../config/types.js';
import { BridgeError } from '../errors.js';
import { connectClient } from '../postgres.js';

/**
 * Rounds of the pooler test. One round decides when this is the pool's only
 * client; with other clients busy (two bridges starting at once) a round can
 * come out inconclusive, never wrong (in session mode no pid ever changes), so
 * a few more cost milliseconds.
 */
const ROUNDS = 10;

/** postgres.url does not give pgbridge a session of its own: no lock, no LISTEN would work. */
export class NoOwnSessionError extends BridgeError {
  constructor() {
    super(
      'postgres.url goes through a pooler in transaction (or statement) mode: each statement may run on another server ' +
        'connection, so the delivery lock (a session advisory lock) and LISTEN cannot work, and a lock taken there would ' +
        'outlive this process on the pooled connection. Point postgres.url at a session-mode pool (PgBouncer pool_mode = session) ' +
        'or straight at PostgreSQL.',
      'PGBRIDGE_NO_OWN_SESSION',
      false,
    );
  }
}

const backendPid = async (client: pg.ClientBase): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

/**
 * Makes sure `client` keeps one server session across statements, before
 * anything session-level (the advisory lock, LISTEN) is done on it, so that a
 * refusal leaves nothing behind. A direct connection reports its server's pid
 * at startup; a pooler sends a made-up one. Behind a pooler, a second client
 * opens a transaction: in session mode it can never get this client's server
 * connection, and this client keeps its own; in transaction mode the pooler
 * hands the idle one that this client just used to the second client (or this
 * client comes back on another one).
 */
export async function assertOwnSession(client: pg.Client, config: Pick<BridgeConfig, 'postgres'>): Promise<void> {
  const mine = await backendPid(client);
  if ((client as unknown as { processID: number | null }).processID === mine) return;
  const other = await connectClient(config, 'session check');
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // This client speaks first in each round: right after the other client's
      // ROLLBACK, whose server connection a transaction pooler hands out next.
      const before = await backendPid(client);
      await other.query('BEGIN');
      const theirs = await backendPid(other);
      const after = await backendPid(client);
      await other.query('ROLLBACK');
      if (before !== mine || theirs === mine || after !== mine) throw new NoOwnSessionError();
    }
  } catch (err) {
    if (err instanceof NoOwnSessionError) throw err;
    // PgBouncer in statement mode refuses the transaction block itself.
    if (/statement pool/i.test(String((err as Error).message))) throw new NoOwnSessionError();
    throw err;
  } finally {
    await other.end().catch(() => {});
  }
}
