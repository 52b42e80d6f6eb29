import type { CaptureOp, DeliveryMode } from '../config/schema.js';
import type { CaptureTable } from '../config/types.js';
import { functionName, outboxTable, triggerName } from './names.js';
import { dollarQuote, ident, literal } from './quote.js';

/** NOTIFY payloads must stay below 8000 bytes; larger events travel through the outbox table. */
export const NOTIFY_LIMIT_BYTES = 7999;
/** Separates the header, key, data and old parts of a notify-mode payload; cannot occur unescaped in JSON. */
export const PAYLOAD_SEPARATOR = '\u0001';

const OP_CODE: Record<CaptureOp, string> = { insert: 'I', update: 'U', delete: 'D' };
const OP_NAME: Record<CaptureOp, string> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' };
const UTC_TS = `to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')`;

export interface CaptureContext {
  readonly instance: string;
  readonly delivery: DeliveryMode;
  readonly notifyChannel: string;
  /** Primary key columns in key order; empty for a table without one. */
  readonly primaryKey: readonly string[];
  /**
   * A partitioned table: every op gets a row-level trigger, which Postgres
   * clones onto each partition. A statement trigger on the parent misses rows
   * written to a partition directly and rows an UPDATE moves to another partition
   * (Postgres runs that as a DELETE and an INSERT, firing only row triggers).
   */
  readonly partitioned?: boolean;
}

/**
 * The JSON of a row: every column or just the configured ones, both through
 * row_to_json so the text is the same compact rendering (json_build_object
 * would write `{"id" : 1}`, which is not what skor or the contract send).
 * `alias.*`, never a bare alias: a bare `r` means the table's column r when it has one.
 */
function rowJson(alias: string, columns: readonly string[] | null): string {
  if (columns === null) return `row_to_json(${alias}.*)`;
  return `(SELECT row_to_json(c.*) FROM (SELECT ${columns.map((c) => `${alias}.${ident(c)}`).join(', ')}) c)`;
}

function keyJson(alias: string, primaryKey: readonly string[]): string {
  return primaryKey.length === 0 ? 'NULL::json' : rowJson(alias, primaryKey);
}

/**
 * The per-row values of one op: SELECT list over the transition table (insert,
 * delete) or over NEW/OLD (update, row-level so old and new stay paired even
 * when the primary key changes; every op of a partitioned table).
 */
function eventRows(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  const cols = table.columns[op];
  switch (op) {
    case 'insert':
      return `SELECT ${keyJson('r', ctx.primaryKey)} AS key, ${rowJson('r', cols)} AS data, NULL::json AS old FROM ${ctx.partitioned ? '(SELECT NEW.*)' : 'new_rows'} r`;
    case 'delete':
      return `SELECT ${keyJson('r', ctx.primaryKey)} AS key, ${rowJson('r', cols)} AS data, ${rowJson('r', cols)} AS old FROM ${ctx.partitioned ? '(SELECT OLD.*)' : 'old_rows'} r`;
    case 'update':
      return `SELECT ${keyJson('r', ctx.primaryKey)} AS key, ${rowJson('r', cols)} AS data, ${rowJson('o', cols)} AS old FROM (SELECT NEW.*) r, (SELECT OLD.*) o`;
  }
}

function outboxBody(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  return `
BEGIN
  INSERT INTO ${outboxTable(ctx.instance)} (schema_name, table_name, op, key, data, old)
  SELECT ${literal(table.schema)}, ${literal(table.table)}, '${OP_CODE[op]}', e.key, e.data, e.old
  FROM (${eventRows(table, op, ctx)}) e;
  -- A wake-up only: the bridge reads events from the table, never from the payload.
  PERFORM pg_notify(${literal(ctx.notifyChannel)}, '');
  RETURN NULL;
END`;
}

function notifyBody(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  const header = `json_build_object('id', e.id::text, 'schema', ${literal(table.schema)}, 'table', ${literal(table.table)}, 'op', '${OP_NAME[op]}', 'txid', tx, 'ts', ts)::text`;
  return `
DECLARE
  tx text := pg_current_xact_id()::text;
  ts text := ${UTC_TS};
  spilled bigint;
  sent bigint;
BEGIN
  WITH e AS (
    SELECT nextval('pgbridge.event_id_seq') AS id, v.key, v.data, v.old FROM (${eventRows(table, op, ctx)}) v
  ), p AS (
    SELECT e.*, ${header} || chr(1) || coalesce(e.key::text, '') || chr(1) || e.data::text || chr(1) || coalesce(e.old::text, '') AS payload FROM e
  ), big AS (
    -- Too large for NOTIFY: kept in the outbox (same id), which the bridge reads on the wake-up below.
    INSERT INTO ${outboxTable(ctx.instance)} (id, schema_name, table_name, op, key, data, old)
    SELECT p.id, ${literal(table.schema)}, ${literal(table.table)}, '${OP_CODE[op]}', p.key, p.data, p.old
    FROM p WHERE octet_length(p.payload) > ${NOTIFY_LIMIT_BYTES}
    RETURNING 1
  ), notified AS (
    SELECT pg_notify(${literal(ctx.notifyChannel)}, q.payload)
    FROM (SELECT p.id, p.payload FROM p WHERE octet_length(p.payload) <= ${NOTIFY_LIMIT_BYTES} ORDER BY p.id) q
  )
  SELECT (SELECT count(*) FROM big), (SELECT count(*) FROM notified) INTO spilled, sent;
  IF spilled > 0 THEN
    PERFORM pg_notify(${literal(ctx.notifyChannel)}, '');
  END IF;
  RETURN NULL;
END`;
}

/** CREATE FUNCTION + CREATE TRIGGER for one captured op of one table. */
export function captureOpSql(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  const fn = `pgbridge.${ident(functionName(ctx.instance, table, op))}`;
  const target = `${ident(table.schema)}.${ident(table.table)}`;
  const trigger = ident(triggerName(ctx.instance, op));
  const body = ctx.delivery === 'outbox' ? outboxBody(table, op, ctx) : notifyBody(table, op, ctx);
  const timing =
    op === 'update' || ctx.partitioned
      ? `AFTER ${op.toUpperCase()} ON ${target} FOR EACH ROW`
      : `AFTER ${op.toUpperCase()} ON ${target} REFERENCING ${op === 'insert' ? 'NEW' : 'OLD'} TABLE AS ${op === 'insert' ? 'new_rows' : 'old_rows'} FOR EACH STATEMENT`;
  return [
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuote(body)};`,
    `COMMENT ON FUNCTION ${fn}() IS ${literal(`pgbridge ${ctx.instance}: ${op} on ${table.schema}.${table.table}`)};`,
    `CREATE OR REPLACE TRIGGER ${trigger} ${timing} EXECUTE FUNCTION ${fn}();`,
  ].join('\n');
}

export function outboxTableSql(instance: string): string {
  const table = outboxTable(instance);
  return `CREATE TABLE IF NOT EXISTS ${table} (
  id           bigint      PRIMARY KEY DEFAULT nextval('pgbridge.event_id_seq'),
  txid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  ts           timestamptz NOT NULL DEFAULT statement_timestamp(),
  schema_name  text,
  table_name   text,
  op           "char",      -- I, U, D; NULL for a channel message
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
