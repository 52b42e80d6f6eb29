/**
 * The event model. Row data stays the exact JSON text Postgres rendered
 * (to_json / row_to_json), never parsed into JS numbers, so a bigint such as
 * 9007199254740993 reaches every sink with all its digits.
 */
export type RowOp = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE' | 'READ';
export const ROW_OPS: readonly RowOp[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'READ'];

export interface RowChangeEvent {
  readonly kind: 'row';
  /** Unique per event, stable across retries and redeliveries. */
  readonly id: string;
  readonly schema: string;
  readonly table: string;
  readonly op: RowOp;
  /** New row (INSERT, UPDATE, READ) or old row (DELETE): raw JSON object text; `null` (the text) for TRUNCATE. */
  readonly data: string;
  /** Old row (UPDATE, DELETE): raw JSON object text; null for INSERT. */
  readonly old: string | null;
  /** Primary key columns as a raw JSON object text ({"id":7}); null when the table has none. */
  readonly key: string | null;
  readonly txid: string;
  /** ISO 8601 in UTC with microseconds, as Postgres rendered it. */
  readonly ts: string;
  /** Set by `backfill --sink` in notify mode: this sink only, whatever the routes say. */
  readonly targetSink?: string;
  /** Notify mode: the instance whose trigger or backfill sent it (absent from a trigger installed before events named it). */
  readonly fromInstance?: string;
}

export interface ChannelEvent {
  readonly kind: 'channel';
  readonly id: string;
  readonly channel: string;
  /** The NOTIFY payload exactly as sent. */
  readonly payload: string;
  readonly ts: string;
}

export type BridgeEvent = RowChangeEvent | ChannelEvent;

export type LowerRowOp = 'insert' | 'update' | 'delete' | 'truncate' | 'read';
export const lowerOp = (op: RowOp): LowerRowOp => op.toLowerCase() as LowerRowOp;

/** A key that groups events whose relative order must be kept (one table row, or one channel). */
export function orderingKey(event: BridgeEvent): string {
  if (event.kind === 'channel') return `c:${event.channel}`;
  // Without a primary key there is no row identity: keep the whole table in order.
  return `r:${event.schema}.${event.table}:${event.key ?? ''}`;
}

export function nowIso(): string {
  return new Date().toISOString().replace('Z', '000+00:00');
}
