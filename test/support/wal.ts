import pg from 'pg';
import { PG_ADMIN_URL, type TestDatabase } from './pg.js';

/** A slot name no other test uses (slot names are per server, not per database). */
export const slotName = (db: TestDatabase, suffix = 's'): string => `${db.name}_${suffix}`.slice(0, 63);

/**
 * Drops the test database's replication slots (a database with a slot cannot
 * be dropped, and slots left behind would hold WAL on the shared server).
 */
export async function dropSlots(db: TestDatabase): Promise<void> {
  const c = new pg.Client(PG_ADMIN_URL);
  await c.connect();
  try {
    for (let i = 0; i < 50; i++) {
      await c.query(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, [db.name]);
      const { rows } = await c.query<{ slot_name: string; active: boolean }>(
        `SELECT slot_name, active FROM pg_replication_slots WHERE database = $1`,
        [db.name],
      );
      if (rows.length === 0) return;
      for (const r of rows.filter((x) => !x.active)) await c.query(`SELECT pg_drop_replication_slot($1)`, [r.slot_name]).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await c.end();
  }
}

export interface SlotInfo {
  readonly exists: boolean;
  readonly active: boolean;
  readonly confirmed: string | null;
  readonly lagBytes: number | null;
}

export async function slotInfo(slot: string): Promise<SlotInfo> {
  const c = new pg.Client(PG_ADMIN_URL);
  await c.connect();
  try {
    const { rows } = await c.query<{ active: boolean; confirmed: string | null; lag: string | null }>(
      `SELECT active, confirmed_flush_lsn::text AS confirmed, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const r = rows[0];
    return r
      ? { exists: true, active: r.active, confirmed: r.confirmed, lagBytes: r.lag === null ? null : Number(r.lag) }
      : { exists: false, active: false, confirmed: null, lagBytes: null };
  } finally {
    await c.end();
  }
}

/** Strips what differs between modes by design (id; ts is statement time in outbox mode, commit time in wal mode). */
export function comparable(line: string): string {
  return line.replace(/^\{"id":"[^"]*",/, '{').replace(/,"ts":"[^"]*"\}$/, '}');
}
