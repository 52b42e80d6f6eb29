import type { CaptureOp, DeliveryMode } from '../config/schema.js';
import type { CaptureTable } from '../config/types.js';
import { EVENT_ID_SEQUENCE, NOTIFY_LIMIT_BYTES, OP_CODE, outboxTable, PAYLOAD_SEPARATOR, ROW_CHANGE_COLUMNS, utcIso } from '../schema/outbox.js';
import { dollarQuote, ident, literal } from '../schema/quote.js';
import { functionName, triggerName } from './names.js';

const OP_NAME: Record<CaptureOp, string> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' };
const UTC_TS = utcIso('statement_timestamp()');
/** PAYLOAD_SEPARATOR as SQL. */
const SEPARATOR_SQL = `chr(${PAYLOAD_SEPARATOR.charCodeAt(0)})`;

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
  INSERT INTO ${outboxTable(ctx.instance)} (${ROW_CHANGE_COLUMNS})
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
    SELECT nextval('${EVENT_ID_SEQUENCE}') AS id, v.key, v.data, v.old FROM (${eventRows(table, op, ctx)}) v
  ), p AS (
    SELECT e.*, ${header} || ${SEPARATOR_SQL} || coalesce(e.key::text, '') || ${SEPARATOR_SQL} || e.data::text || ${SEPARATOR_SQL} || coalesce(e.old::text, '') AS payload FROM e
  ), big AS (
    -- Too large for NOTIFY: kept in the outbox (same id), which the bridge reads on the wake-up below.
    INSERT INTO ${outboxTable(ctx.instance)} (id, ${ROW_CHANGE_COLUMNS})
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
