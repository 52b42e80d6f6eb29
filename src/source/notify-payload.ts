import type { RowChangeEvent, RowOp } from '../event.js';
import { PAYLOAD_SEPARATOR } from '../schema/outbox.js';

interface Header {
  id: string;
  schema: string;
  table: string;
  op: RowOp;
  txid: string;
  ts: string;
}

const OPS = new Set(['INSERT', 'UPDATE', 'DELETE']);

/**
 * A notify-mode trigger payload: header JSON, key, data and old, separated by
 * \u0001 (which valid JSON cannot hold unescaped). key, data and old stay raw
 * text; only the small header is parsed. Undefined for anything else on the channel.
 */
export function parseNotifyPayload(payload: string): RowChangeEvent | undefined {
  const parts = payload.split(PAYLOAD_SEPARATOR);
  if (parts.length !== 4) return undefined;
  const [headerText, key, data, old] = parts;
  let header: Header;
  try {
    header = JSON.parse(headerText) as Header;
  } catch {
    return undefined;
  }
  // Anyone may NOTIFY on the channel: `null` is valid JSON too, and must not throw here.
  if (header === null || typeof header !== 'object') return undefined;
  if (typeof header.id !== 'string' || !OPS.has(header.op) || typeof header.schema !== 'string' || typeof header.table !== 'string' || data === '') {
    return undefined;
  }
  return {
    kind: 'row',
    id: header.id,
    schema: header.schema,
    table: header.table,
    op: header.op,
    data,
    old: old === '' ? null : old,
    key: key === '' ? null : key,
    txid: String(header.txid),
    ts: String(header.ts),
  };
}
