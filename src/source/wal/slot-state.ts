import type pg from 'pg';
import { parseLsn, type Lsn } from './lsn.js';

export interface SlotState {
  readonly confirmed: Lsn;
  /** pg_snapshot_xmax(pg_current_snapshot()): the next 64-bit xid. */
  readonly nextXid: bigint;
}

/** Checks what streaming needs and says plainly what is missing. */
export async function slotState(pool: pg.Pool, slot: string): Promise<SlotState> {
  const { rows } = await pool.query<{ wal_level: string; confirmed: string | null; plugin: string | null; found: boolean; next: string }>(
    `SELECT current_setting('wal_level') AS wal_level, s.confirmed_flush_lsn::text AS confirmed, s.plugin, s.slot_name IS NOT NULL AS found,
            pg_snapshot_xmax(pg_current_snapshot())::text AS next
       FROM (SELECT 1) x LEFT JOIN pg_replication_slots s ON s.slot_name = $1 AND s.database = current_database()`,
    [slot],
  );
  const row = rows[0];
  if (row.wal_level !== 'logical') {
    throw new Error(
      `wal_level is ${row.wal_level}; delivery: wal needs wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
    );
  }
  if (!row.found) {
    throw new Error(
      `replication slot ${slot} does not exist in this database; run \`pgbridge install\` (changes committed while it was missing are not captured)`,
    );
  }
  if (row.plugin !== 'pgoutput') throw new Error(`replication slot ${slot} uses plugin ${row.plugin}, not pgoutput`);
  return { confirmed: row.confirmed ? parseLsn(row.confirmed) : 0n, nextXid: BigInt(row.next) };
}
