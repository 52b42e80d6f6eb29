import type { BridgeEvent } from '../event.js';
import type { HoldingRoutes, Routes } from '../router.js';
import { EVENT_COLUMNS, opFromCode } from '../schema/outbox.js';
import { LastValue } from './last-value.js';

/** Byte budget of one page, so a run of 50 MB rows is read a few at a time. */
export const PAGE_BYTES = 32 * 1024 * 1024;

/** The columns EVENT_COLUMNS selects, in order. */
export type EventColumns = [
  id: string,
  eventId: string | null,
  targetSink: string | null,
  txid: string,
  ts: string,
  schema: string | null,
  table: string | null,
  op: string | null,
  key: string | null,
  data: string | null,
  old: string | null,
  channel: string | null,
  payload: string | null,
];

/**
 * An outbox row read with rowMode 'array', EVENT_COLUMNS first: pg then builds
 * no object per row (a spread of the column names, then a keyed store per
 * column), which was most of pg's own share of the drain's CPU.
 */
export type OutboxRecord = [...EventColumns, ...unknown[]];

/** Where each column is in an OutboxRecord. */
export const Column = {
  id: 0,
  eventId: 1,
  targetSink: 2,
  txid: 3,
  ts: 4,
  schema: 5,
  table: 6,
  op: 7,
  key: 8,
  data: 9,
  old: 10,
  channel: 11,
  payload: 12,
} as const;

/** A row of pageQuery(): the event's columns, then the rows the page would have held without its byte budget (on its first row only). */
export type PageRecord = [...EventColumns, total: number | null];
export const PAGE_TOTAL = 13;

/**
 * Rows a notify-mode trigger (or backfill) kept for being too large for
 * NOTIFY have no event id of their own; spilled rows and dead letters moved
 * back do. The notify source reads the kept ones itself, each at its notice.
 */
export const KEPT = 'event_id IS NULL';
export const NOT_KEPT = 'event_id IS NOT NULL';

/**
 * One page of a sink's pending events above `floor`, oldest first, skipping
 * ids this process holds already and events the sink has (deliveries), and,
 * with `skipKept`, the rows of NOT_KEPT's kind.
 * json columns come back as text, untouched. The running size keeps the page
 * within PAGE_BYTES (at least one row) without detoasting the rows it leaves out.
 */
export function pageQuery(table: string, skipKept = false): string {
  return `
SELECT ${EVENT_COLUMNS}, CASE WHEN o.rn = 1 THEN o.total::int END
  FROM (SELECT p.*,
               sum(coalesce(pg_column_size(p.data), 0) + coalesce(pg_column_size(p.old), 0) + coalesce(pg_column_size(p.payload), 0))
                 OVER (ORDER BY p.id) AS running,
               row_number() OVER (ORDER BY p.id) AS rn,
               count(*) OVER () AS total
          FROM (SELECT * FROM ${table} q
                 WHERE q.id > $1::bigint AND q.id <> ALL($2::bigint[])
                   AND (q.target_sink IS NULL OR q.target_sink = $3)${skipKept ? ` AND q.${NOT_KEPT}` : ''}
                   AND NOT EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = q.id AND d.sink = $3)
                 ORDER BY q.id LIMIT $4) p) o
 WHERE o.running <= ${PAGE_BYTES} OR o.rn = 1
 ORDER BY o.id`;
}

// The rows of one transaction share these: each event keeps the first row's string (see LastValue).
const schemas = new LastValue();
const tables = new LastValue();
const txids = new LastValue();
const timestamps = new LastValue();

export function rowToEvent(row: OutboxRecord): BridgeEvent {
  const id = row[Column.eventId] ?? row[Column.id];
  const ts = timestamps.of(row[Column.ts]);
  const channel = row[Column.channel];
  if (channel !== null) return { kind: 'channel', id, channel, payload: row[Column.payload] ?? '', ts };
  return {
    kind: 'row',
    id,
    schema: schemas.of(row[Column.schema] ?? ''),
    table: tables.of(row[Column.table] ?? ''),
    op: opFromCode(row[Column.op]),
    data: row[Column.data] ?? 'null',
    old: row[Column.old],
    key: row[Column.key],
    txid: txids.of(row[Column.txid]),
    ts,
  };
}

/** Which sinks a row goes to: a replayed dead letter to its own sink only, anything else where the routes say (null: held). */
export function routedSinks(row: OutboxRecord, event: BridgeEvent, routes: Routes): readonly string[];
export function routedSinks(row: OutboxRecord, event: BridgeEvent, routes: HoldingRoutes): readonly string[] | null;
export function routedSinks(row: OutboxRecord, event: BridgeEvent, routes: HoldingRoutes): readonly string[] | null {
  const target = row[Column.targetSink];
  return target !== null ? [target] : routes.sinksFor(event);
}
