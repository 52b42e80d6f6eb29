import { ROW_OPS, type RowChangeEvent, type RowOp } from '../event.js';
import { KEPT_ANY_ROW, PAYLOAD_SEPARATOR } from '../schema/outbox.js';
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
  /** The sender's instance; absent from triggers installed before headers named it. */
  instance?: string;
}

const OPS = new Set<string>(ROW_OPS);

/**
 * The header exactly as the capture triggers' json_build_object() writes it,
 * strings without escapes: read without JSON.parse, which took
 * four fifths of parsing a payload (a tenth of a batched burst's CPU).
 * Anything else on the channel takes the JSON.parse path.
 */
const TRIGGER_HEADER =
  /^\{"id" : "(\d+)", "schema" : "([^"\\\u0000-\u001f]*)", "table" : "([^"\\\u0000-\u001f]*)", "op" : "([A-Z]+)", "txid" : "(\d+)", "ts" : "([^"\\\u0000-\u001f]*)"(?:, "instance" : "([a-z][a-z0-9_]*)")?\}$/;

const schemas = new LastValue();
const tables = new LastValue();
const ops = new LastValue();
const txids = new LastValue();
const timestamps = new LastValue();
const instances = new LastValue();

function parseHeader(text: string): Header | undefined {
  const m = TRIGGER_HEADER.exec(text);
  if (m) {
    const header: Header = {
      id: m[1],
      schema: schemas.of(m[2]),
      table: tables.of(m[3]),
      op: ops.of(m[4]) as RowOp,
      txid: txids.of(m[5]),
      ts: timestamps.of(m[6]),
    };
    if (m[7] !== undefined) header.instance = instances.of(m[7]);
    return header;
  }
  try {
    return JSON.parse(text) as Header;
  } catch {
    return undefined;
  }
}

/** The positions of a payload's three separators (header, key, data, old); undefined unless there are exactly three. */
function separators(payload: string): [number, number, number] | undefined {
  const a = payload.indexOf(PAYLOAD_SEPARATOR);
  const b = a < 0 ? -1 : payload.indexOf(PAYLOAD_SEPARATOR, a + 1);
  const c = b < 0 ? -1 : payload.indexOf(PAYLOAD_SEPARATOR, b + 1);
  if (c < 0 || payload.includes(PAYLOAD_SEPARATOR, c + 1)) return undefined;
  return [a, b, c];
}

/** The header of a payload, if it is one of a row event. */
function checkedHeader(text: string): Header | undefined {
  const header = parseHeader(text);
  // Anyone may NOTIFY on the channel: `null` is valid JSON too, and must not throw here.
  if (header === undefined || header === null || typeof header !== 'object') return undefined;
  if (typeof header.id !== 'string' || !OPS.has(header.op) || typeof header.schema !== 'string' || typeof header.table !== 'string') return undefined;
  return header;
}

function rowEvent(header: Header, key: string, data: string, old: string): RowChangeEvent {
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
    ...(typeof header.instance === 'string' ? { fromInstance: header.instance } : {}),
  };
}

/**
 * A notify-mode trigger payload: header JSON, key, data and old, separated by
 * \u0001 (which valid JSON cannot hold unescaped). key, data and old stay raw
 * text; only the small header is parsed. Undefined for anything else on the
 * channel, a kept notice included.
 */
export function parseNotifyPayload(payload: string): RowChangeEvent | undefined {
  const at = separators(payload);
  if (at === undefined) return undefined;
  const [a, b, c] = at;
  const data = payload.slice(b + 1, c);
  const header = data === '' ? undefined : checkedHeader(payload.slice(0, a));
  return header && rowEvent(header, payload.slice(a + 1, b), data, payload.slice(c + 1));
}

/** An event kept in the outbox table, announced in its NOTIFY's place. */
export interface KeptNotice {
  /** The event without its data and old (both empty); its id is its outbox row's id. */
  readonly event: RowChangeEvent;
  /** Its key was too large to send as well: it is of some row of its table. */
  readonly anyRow: boolean;
}

/**
 * What a trigger sends in the place of an event too large for NOTIFY, which
 * it keeps in the outbox table: the event's header and key, data and old
 * empty; the key `*` when it was too large too (capture-sql.ts, keptNotice).
 * Undefined for anything else.
 */
export function parseKeptNotice(payload: string): KeptNotice | undefined {
  const at = separators(payload);
  if (at === undefined || at[2] !== at[1] + 1 || at[2] !== payload.length - 1) return undefined;
  const [a, b] = at;
  const header = checkedHeader(payload.slice(0, a));
  // Its id is an outbox row's, compared as a number.
  if (header === undefined || !/^\d+$/.test(header.id)) return undefined;
  const key = payload.slice(a + 1, b);
  const anyRow = key === KEPT_ANY_ROW;
  return { event: rowEvent(header, anyRow ? '' : key, '', ''), anyRow };
}
