import type { BridgeEvent } from '../event.js';
import type { Routes } from '../router.js';
import { EVENT_COLUMNS, opFromCode } from '../schema/outbox.js';

/** Byte budget of one page, so a run of 50 MB rows is read a few at a time. */
export const PAGE_BYTES = 32 * 1024 * 1024;

export interface OutboxRow {
  id: string;
  event_id: string | null;
  target_sink: string | null;
  txid: string;
  ts: string;
  schema_name: string | null;
  table_name: string | null;
  op: string | null;
  key: string | null;
  data: string | null;
  old: string | null;
  channel: string | null;
  payload: string | null;
  /** Rows the page would have held without its byte budget. */
  total: number;
}

/**
 * One page of a sink's pending events above `floor`, oldest first, skipping
 * ids this process holds already and events the sink has (deliveries).
 * json columns come back as text, untouched. The running size keeps the page
 * within PAGE_BYTES (at least one row) without detoasting the rows it leaves out.
 */
export function pageQuery(table: string): string {
  return `
SELECT ${EVENT_COLUMNS}, o.total::int
  FROM (SELECT p.*,
               sum(coalesce(pg_column_size(p.data), 0) + coalesce(pg_column_size(p.old), 0) + coalesce(pg_column_size(p.payload), 0))
                 OVER (ORDER BY p.id) AS running,
               row_number() OVER (ORDER BY p.id) AS rn,
               count(*) OVER () AS total
          FROM (SELECT * FROM ${table} q
                 WHERE q.id > $1::bigint AND q.id <> ALL($2::bigint[])
                   AND (q.target_sink IS NULL OR q.target_sink = $3)
                   AND NOT EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = q.id AND d.sink = $3)
                 ORDER BY q.id LIMIT $4) p) o
 WHERE o.running <= ${PAGE_BYTES} OR o.rn = 1
 ORDER BY o.id`;
}

export function rowToEvent(row: OutboxRow): BridgeEvent {
  const id = row.event_id ?? row.id;
  if (row.channel !== null) {
    return { kind: 'channel', id, channel: row.channel, payload: row.payload ?? '', ts: row.ts };
  }
  return {
    kind: 'row',
    id,
    schema: row.schema_name ?? '',
    table: row.table_name ?? '',
    op: opFromCode(row.op),
    data: row.data ?? 'null',
    old: row.old,
    key: row.key,
    txid: row.txid,
    ts: row.ts,
  };
}

/** Which sinks a row goes to: a replayed dead letter to its own sink only, anything else where the routes say. */
export function routedSinks(row: Pick<OutboxRow, 'target_sink'>, event: BridgeEvent, routes: Routes): readonly string[] {
  return row.target_sink !== null ? [row.target_sink] : routes.sinksFor(event);
}
