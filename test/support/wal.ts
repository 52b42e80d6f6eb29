import assert from 'node:assert/strict';
import pg from 'pg';
import { PG_ADMIN_URL, type TestDatabase } from './pg.js';
import { cli, RunningBridge } from './bridge.js';

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

/** What a wal-mode bridge logs once it streams from its slot. */
export const STREAMING = 'streaming changes from the replication slot';

/** Resolves once the bridge streams from its slot: a wal-mode bridge is ready for changes only then. */
export const streaming = (bridge: RunningBridge, timeoutMs = 30_000): Promise<void> => bridge.waitForLog((e) => e.msg === STREAMING, timeoutMs);

/** An LSN (`16/B374D848`) as a number, to compare positions. */
export function lsnValue(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** Runs `install` for the config, then starts its bridge: resolves once it streams from its slot. */
export async function installedAndStreaming(file: string): Promise<RunningBridge> {
  const installed = await cli(['install', '-c', file]);
  assert.equal(installed.code, 0, installed.stderr);
  const bridge = new RunningBridge(file);
  await streaming(bridge);
  return bridge;
}

/** Kills the bridges, then drops the database's slots and the database (a slot would keep both, and WAL, alive). */
export async function endWalTest(db: TestDatabase | undefined, ...bridges: Array<RunningBridge | undefined>): Promise<void> {
  for (const bridge of bridges) await bridge?.kill('SIGKILL');
  if (!db) return;
  await dropSlots(db);
  await db.drop();
}
