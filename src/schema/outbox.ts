/**
 * The outbox table, as both sides see it: the installer creates it and the
 * capture triggers write to it; the sources, the dead-letter replay and the
 * lock read and write it at runtime. Every column list, op code and format
 * they share is here, so none of them imports the other.
 */
import type { RowOp } from '../event.js';
import { literal } from './quote.js';

/** Names are [a-z][a-z0-9_]* (checked by the config), so they need no quoting. */
export const outboxTable = (instance: string): string => (instance === 'default' ? 'pgbridge.outbox' : `pgbridge.outbox_${instance}`);

/** Every outbox id comes from this one sequence (CACHE 1: see sql/schema.sql). */
export const EVENT_ID_SEQUENCE = 'pgbridge.event_id_seq';

/** `op` column: one letter, the first of the op's name (the dead-letter replay relies on that). */
export const OUTBOX_OP_CODE: Record<RowOp, string> = { INSERT: 'I', UPDATE: 'U', DELETE: 'D', TRUNCATE: 'T', READ: 'R' };
const OP_BY_CODE: Record<string, RowOp> = Object.fromEntries(Object.entries(OUTBOX_OP_CODE).map(([op, code]) => [code, op as RowOp]));
export const opFromCode = (code: string | null): RowOp => OP_BY_CODE[code ?? 'I'] ?? 'INSERT';

/** SQL rendering a timestamptz as the events' `ts`: ISO 8601 in UTC with microseconds. */
export const utcIso = (expr: string): string => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')`;

/** Separates the header, key, data and old parts of a notify-mode payload; cannot occur unescaped in JSON. */
export const PAYLOAD_SEPARATOR = '\u0001';

/** NOTIFY payloads must stay below 8000 bytes; larger events travel through the outbox table. */
export const NOTIFY_LIMIT_BYTES = 7999;

/** The key part of a notify-mode kept notice whose row's key was too large to send: any row of the table. */
export const KEPT_ANY_ROW = '*';

/** Columns a capture trigger writes for a row change (`id`, `txid`, `ts` take their defaults). */
export const ROW_CHANGE_COLUMNS = 'schema_name, table_name, op, key, data, old';
/** Columns of a channel message. */
export const CHANNEL_COLUMNS = 'channel, payload';
/** Columns of a replayed dead letter: its original id, time and transaction, for its own sink only. */
export const REPLAY_COLUMNS = 'event_id, target_sink, txid, ts, schema_name, table_name, op, key, data, old, channel, payload';

/** The columns of outbox row `o` that make an event: json as text, untouched, and `ts` as ISO 8601 in UTC. */
export const EVENT_COLUMNS = `o.id::text, o.event_id, o.target_sink, o.txid::text, ${utcIso('o.ts')} AS ts, o.schema_name, o.table_name, o.op,
       o.key::text, o.data::text, o.old::text, o.channel, o.payload`;

/** Two-key advisory lock: (hash of 'pgbridge', hash of the instance), computed by hashtext in SQL; and the database's name (CloudEvents `source`). */
export const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('pgbridge'), hashtext($1)) AS locked, current_database() AS database";

export function outboxTableSql(instance: string): string {
  const table = outboxTable(instance);
  return `CREATE TABLE IF NOT EXISTS ${table} (
  id           bigint      PRIMARY KEY DEFAULT nextval('${EVENT_ID_SEQUENCE}'),
  txid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  ts           timestamptz NOT NULL DEFAULT statement_timestamp(),
  schema_name  text,
  table_name   text,
  op           "char",      -- I, U, D, T (truncate), R (backfill read); NULL for a channel message
  key          json,
  data         json,
  old          json,
  channel      text,
  payload      text,
  event_id     text,        -- a replayed dead letter keeps its original id
  target_sink  text         -- a replayed dead letter goes to this sink only
);
COMMENT ON TABLE ${table} IS ${literal(`pgbridge ${instance}: events waiting for delivery`)};`;
}
