import { ROW_OPS, type RowChangeEvent, type RowOp } from '../event.js';
import { PAYLOAD_SEPARATOR } from '../schema/outbox.js';
import { LastValue } from './last-value.js';

interface Header {
  id: string;
  schema: string;
  table: string;
  op: RowOp;
  txid: string;
  ts: string;
  /** Backfill's --sink. */
  sink?: string;
}

const OPS = new Set<string>(ROW_OPS);

/**
 * The header exactly as the capture triggers' json_build_object() writes it,
 * strings without escapes: read without JSON.parse, which took
 * four fifths of parsing a payload (a tenth of a batched burst's CPU).
 * Anything else on the channel takes the JSON.parse path.
 */
const TRIGGER_HEADER =
  /^\{"id" : "(\d+)", "schema" : "([^"\\\u0000-\u001f]*)", "table" : "([^"\\\u0000-\u001f]*)", "op" : "([A-Z]+)", "txid" : "(\d+)", "ts" : "([^"\\\u0000-\u001f]*)"\}$/;

const schemas = new LastValue();
const tables = new LastValue();
const ops = new LastValue();
const txids = new LastValue();
const timestamps = new LastValue();

function parseHeader(text: string): Header | undefined {
  const m = TRIGGER_HEADER.exec(text);
  if (m) {
    return { id: m[1], schema: schemas.of(m[2]), table: tables.of(m[3]), op: ops.of(m[4]) as RowOp, txid: txids.of(m[5]), ts: timestamps.of(m[6]) };
  }
  try {
    return JSON.parse(text) as Header;
  } catch {
    return undefined;
  }
}

/**
 * A notify-mode trigger payload: header JSON, key, data and old, separated by
 * \u0001 (which valid JSON cannot hold unescaped). key, data and old stay raw
 * text; only the small header is parsed. Undefined for anything else on the channel.
 */
export function parseNotifyPayload(payload: string): RowChangeEvent | undefined {
  const a = payload.indexOf(PAYLOAD_SEPARATOR);
  const b = a < 0 ? -1 : payload.indexOf(PAYLOAD_SEPARATOR, a + 1);
  const c = b < 0 ? -1 : payload.indexOf(PAYLOAD_SEPARATOR, b + 1);
  if (c < 0 || payload.includes(PAYLOAD_SEPARATOR, c + 1)) return undefined;
  const key = payload.slice(a + 1, b);
  const data = payload.slice(b + 1, c);
  const old = payload.slice(c + 1);
  const header = parseHeader(payload.slice(0, a));
  // Anyone may NOTIFY on the channel: `null` is valid JSON too, and must not throw here.
  if (header === undefined || header === null || typeof header !== 'object') return undefined;
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
    ...(typeof header.sink === 'string' ? { targetSink: header.sink } : {}),
  };
}
