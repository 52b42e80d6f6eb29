import type pg from 'pg';
import type { Logger } from 'pino';
import { withRetries } from '../../delivery/backoff.js';
import { BridgeError, errorMessage } from '../../errors.js';

export class WalLevelError extends BridgeError {
  constructor(level: string) {
    super(
      `wal_level is ${level}; delivery: wal needs wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL), or use delivery: outbox`,
      'PGBRIDGE_WAL_LEVEL',
      false,
    );
  }
}

/** A pooled connection ended just as delivery (re)starts answers on the next try. */
const CHECK_RETRY = { initial_ms: 200, max_ms: 2000, max_attempts: 5 };

/**
 * `run` refuses to start in wal mode without logical decoding, instead of retrying a stream that cannot start.
 * Only Postgres's answer refuses: a check it does not answer (a lost connection) is tried again, then left
 * to the stream, which retries by itself; it used to end the process at every (re)start that met a fault.
 */
export async function assertLogicalWal(pool: pg.Pool, logger: Logger): Promise<void> {
  let level: string;
  try {
    level = await withRetries(
      () => walLevel(pool),
      CHECK_RETRY,
      (err, attempt) => logger.warn({ err: errorMessage(err), attempt }, 'reading wal_level failed'),
    );
  } catch {
    logger.warn('starting the replication stream without having read wal_level');
    return;
  }
  if (level !== 'logical') throw new WalLevelError(level);
}

async function walLevel(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ level: string }>(`SELECT current_setting('wal_level') AS level`);
  return rows[0].level;
}
