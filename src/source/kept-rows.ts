import type pg from 'pg';
import { EVENT_COLUMNS } from '../schema/outbox.js';
import { KEPT, PAGE_BYTES, type OutboxRecord } from './outbox-rows.js';

/** A kept row, and the sinks that have it already (an earlier run's, recorded in pgbridge.deliveries). */
export interface KeptRow {
  readonly record: OutboxRecord;
  readonly done: readonly string[];
}

/** What readKeptRows() found. */
export interface KeptRows {
  /** Oldest first, as many as PAGE_BYTES holds (one at least). */
  readonly rows: KeptRow[];
  /** Which of the ids asked for are in the table at all, read or not. */
  readonly found: ReadonlySet<string>;
}

/**
 * The kept rows (see KEPT) among `ids`. An id not found has been delivered
 * to every sink already; one found but not read did not fit the byte budget.
 * The running size is taken without detoasting the rows it leaves out.
 */
export async function readKeptRows(pool: pg.Pool, table: string, ids: readonly string[]): Promise<KeptRows> {
  const { rows } = await pool.query<[found: string, done: string[] | null, ...OutboxRecord]>({
    text: `
WITH s AS (
  SELECT k.id, row_number() OVER (ORDER BY k.id) AS rn,
         sum(coalesce(pg_column_size(k.data), 0) + coalesce(pg_column_size(k.old), 0) + coalesce(pg_column_size(k.payload), 0))
           OVER (ORDER BY k.id) AS running
    FROM ${table} k
   WHERE k.id = ANY($1::bigint[]) AND k.${KEPT})
SELECT s.id::text, (SELECT array_agg(d.sink) FROM pgbridge.deliveries d WHERE d.event_id = s.id), ${EVENT_COLUMNS}
  FROM s LEFT JOIN ${table} o ON o.id = s.id AND (s.running <= ${PAGE_BYTES} OR s.rn = 1)
 ORDER BY s.id`,
    values: [ids],
    rowMode: 'array',
  });
  return {
    rows: rows.filter((r) => r[2] !== null).map((r) => ({ record: r.slice(2) as OutboxRecord, done: r[1] ?? [] })),
    found: new Set(rows.map((r) => r[0])),
  };
}

/** Ids of the kept rows above `after`, oldest first, `limit` at most. */
export async function listKeptRows(pool: pg.Pool, table: string, after: bigint, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT o.id::text AS id FROM ${table} o WHERE o.id > $1::bigint AND o.${KEPT} ORDER BY o.id LIMIT $2`,
    [after.toString(), limit],
  );
  return rows.map((r) => r.id);
}
