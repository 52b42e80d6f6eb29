import type pg from 'pg';
import { BridgeError } from '../../errors.js';

export class WalLevelError extends BridgeError {
  constructor(level: string) {
    super(
      `wal_level is ${level}; delivery: wal needs wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL), or use delivery: outbox`,
      'PGBRIDGE_WAL_LEVEL',
      false,
    );
  }
}

/** `run` refuses to start in wal mode without logical decoding, instead of retrying a stream that cannot start. */
export async function assertLogicalWal(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ level: string }>(`SELECT current_setting('wal_level') AS level`);
  if (rows[0].level !== 'logical') throw new WalLevelError(rows[0].level);
}
