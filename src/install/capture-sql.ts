import type { CaptureOp, DeliveryMode, RowCaptureOp } from '../config/schema.js';
import type { CaptureTable } from '../config/types.js';
import type { RowOp } from '../event.js';
import {
  EVENT_ID_SEQUENCE,
  KEPT_ANY_ROW,
  NOTIFY_LIMIT_BYTES,
  OUTBOX_OP_CODE,
  outboxTable,
  PAYLOAD_SEPARATOR,
  ROW_CHANGE_COLUMNS,
  utcIso,
} from '../schema/outbox.js';
import { changedCondition, type ChangedColumn } from '../schema/changed-columns.js';
import { dollarQuote, ident, literal } from '../schema/quote.js';
import { FUNCTION_SET_CLAUSES } from '../schema/render-settings.js';
import type { CompiledRowFilter } from '../schema/row-filter.js';
import { functionName, triggerName } from './names.js';

export { NOTIFY_LIMIT_BYTES, OUTBOX_OP_CODE, PAYLOAD_SEPARATOR };
const OP_NAME: Record<CaptureOp, RowOp> = { insert: 'INSERT', update: 'UPDATE', delete: 'DELETE', truncate: 'TRUNCATE' };
export const UTC_TS = utcIso('statement_timestamp()');
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
  /** The table's `where`, compiled by compileRowFilter; absent = every row. */
  readonly filter?: CompiledRowFilter;
  /** The table's `changed`, compiled by compileChanged; absent = every update. */
  readonly changed?: readonly ChangedColumn[];
}

/**
 * The JSON of a row: every column or just the configured ones, both through
 * row_to_json so the text is the same compact rendering (json_build_object
 * would write `{"id" : 1}`, which is not what skor or the contract send).
 * `alias.*`, never a bare alias: a bare `r` means the table's column r when it has one.
 */
export function rowJson(alias: string, columns: readonly string[] | null): string {
  if (columns === null) return `row_to_json(${alias}.*)`;
  return `(SELECT row_to_json(c.*) FROM (SELECT ${columns.map((c) => `${alias}.${ident(c)}`).join(', ')}) c)`;
}

export function keyJson(alias: string, primaryKey: readonly string[]): string {
  return primaryKey.length === 0 ? 'NULL::json' : rowJson(alias, primaryKey);
}

/**
 * The per-row values of one op: SELECT list over the transition table (insert,
 * delete) or over NEW/OLD (update, row-level so old and new stay paired even
 * when the primary key changes; every op of a partitioned table). A row-level
 * trigger's filter is its WHEN (see triggerWhen); a statement trigger's is this WHERE.
 * NEW and OLD are read as whole records, never through `(SELECT NEW.*) r`: PL/pgSQL
 * caches that subquery's plan with the columns NEW had when the session first ran
 * it, so after an ADD or DROP COLUMN the session's events kept the old shape.
 */
function eventRows(table: CaptureTable, op: RowCaptureOp, ctx: CaptureContext): string {
  const cols = table.columns[op];
  const where = ctx.filter ? ` WHERE ${ctx.filter.over('r')}` : '';
  switch (op) {
    case 'insert':
      return ctx.partitioned
        ? `SELECT ${keyJson('NEW', ctx.primaryKey)} AS key, ${rowJson('NEW', cols)} AS data, NULL::json AS old`
        : `SELECT ${keyJson('r', ctx.primaryKey)} AS key, ${rowJson('r', cols)} AS data, NULL::json AS old FROM new_rows r${where}`;
    case 'delete':
      return ctx.partitioned
        ? `SELECT ${keyJson('OLD', ctx.primaryKey)} AS key, ${rowJson('OLD', cols)} AS data, ${rowJson('OLD', cols)} AS old`
        : `SELECT ${keyJson('r', ctx.primaryKey)} AS key, ${rowJson('r', cols)} AS data, ${rowJson('r', cols)} AS old FROM old_rows r${where}`;
    case 'update':
      return `SELECT ${keyJson('NEW', ctx.primaryKey)} AS key, ${rowJson('NEW', cols)} AS data, ${rowJson('OLD', cols)} AS old`;
  }
}

/** TRUNCATE: one event for the table, no row. */
const TRUNCATE_ROWS = 'SELECT NULL::json AS key, NULL::json AS data, NULL::json AS old';

function opRows(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  return op === 'truncate' ? TRUNCATE_ROWS : eventRows(table, op, ctx);
}

/** A row-level trigger's WHEN: the `where` on the new row (old for a delete) and, for updates, `changed`. Postgres skips the function call when it is false. */
function triggerWhen(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  const rowLevel = op === 'update' || (ctx.partitioned && op !== 'truncate');
  if (!rowLevel) return '';
  const conditions: string[] = [];
  if (op === 'update' && ctx.changed) conditions.push(changedCondition(ctx.changed));
  if (ctx.filter) conditions.push(ctx.filter.over(op === 'delete' ? 'OLD' : 'NEW'));
  return conditions.length > 0 ? ` WHEN (${conditions.join(' AND ')})` : '';
}

/**
 * The transaction id and the statement's time are the same for every row of
 * a statement: taken once here, not by the columns' defaults per row (two
 * function calls fewer per row). The id stays the column default, per row,
 * after the user's write has taken the transaction's xid (see SettledWater).
 */
function outboxBody(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  return `
DECLARE
  event_txid xid8 := pg_current_xact_id();
  event_ts timestamptz := statement_timestamp();
BEGIN
  INSERT INTO ${outboxTable(ctx.instance)} (txid, ts, ${ROW_CHANGE_COLUMNS})
  SELECT event_txid, event_ts, ${literal(table.schema)}, ${literal(table.table)}, '${OUTBOX_OP_CODE[OP_NAME[op]]}', e.key, e.data, e.old
  FROM (${opRows(table, op, ctx)}) e;
  -- A wake-up only: the bridge reads events from the table, never from the payload.
  PERFORM pg_notify(${literal(ctx.notifyChannel)}, '');
  RETURN NULL;
END`;
}

export interface NotifyEventsOptions {
  readonly schema: string;
  readonly table: string;
  readonly op: RowOp;
  /** SELECT with columns key, data, old (json), in the order the events must keep. */
  readonly rows: string;
  readonly outbox: string;
  readonly channel: string;
  /** SQL expressions of the transaction id and timestamp (text). */
  readonly txid: string;
  readonly ts: string;
  /** The instance sending them: instances may share a channel, and each bridge takes only its own instance's events. */
  readonly instance: string;
  /** SQL expression of the only sink these events go to (backfill --sink); absent = routed. */
  readonly sink?: string;
}

/**
 * Notify mode: one statement that sends each row of `rows` as a NOTIFY payload
 * (header, key, data, old separated by \u0001), in order, and keeps those too
 * large for NOTIFY in the outbox (same id), sending a kept notice in their
 * place (see keptNotice). Returns columns `sent`, one per row, and `kept`, those kept.
 * Used by the capture triggers and by backfill alike, so a READ travels exactly like a change.
 */
export function notifyEventsSql(o: NotifyEventsOptions): string {
  return `WITH ${notifyEventsCtes(o)}
  SELECT count(*) AS sent, (SELECT count(*) FROM big) AS kept FROM notified`;
}

/**
 * What goes out in the place of `payload` (SQL, text) when it is too large:
 * its header and key, data and old left out, so that the bridge holds back
 * the row's later events until it has read this one from the outbox (see
 * parseKeptNotice). A key too large for that as well is sent as `*`: any row
 * of the table. The header and the key cannot hold the separator unescaped.
 */
function keptNotice(payload: string, key: string): string {
  const header = `split_part(${payload}, ${SEPARATOR_SQL}, 1)`;
  return `(SELECT CASE WHEN octet_length(n.notice) <= ${NOTIFY_LIMIT_BYTES} THEN n.notice
                ELSE ${header} || ${SEPARATOR_SQL} || '${KEPT_ANY_ROW}' || ${SEPARATOR_SQL} || ${SEPARATOR_SQL} END
           FROM (SELECT ${header} || ${SEPARATOR_SQL} || coalesce(${key}::text, '') || ${SEPARATOR_SQL} || ${SEPARATOR_SQL} AS notice) n)`;
}

/** The CTEs of notifyEventsSql (e, p, big, notified), for a statement that continues a WITH of its own. */
export function notifyEventsCtes(o: NotifyEventsOptions): string {
  const sink = o.sink === undefined ? '' : `, 'sink', ${o.sink}`;
  const header = `json_build_object('id', e.id::text, 'schema', ${literal(o.schema)}, 'table', ${literal(o.table)}, 'op', '${o.op}', 'txid', ${o.txid}, 'ts', ${o.ts}, 'instance', ${literal(o.instance)}${sink})::text`;
  return `e AS (
    SELECT nextval('${EVENT_ID_SEQUENCE}') AS id, v.key, v.data, v.old FROM (${o.rows}) v
  ), p AS (
    SELECT e.*, ${header} || ${SEPARATOR_SQL} || coalesce(e.key::text, '') || ${SEPARATOR_SQL} || coalesce(e.data::text, 'null') || ${SEPARATOR_SQL} || coalesce(e.old::text, '') AS payload FROM e
  ), big AS (
    -- Too large for NOTIFY: kept in the outbox (same id), which the bridge reads on its kept notice.
    INSERT INTO ${o.outbox} (id, ${ROW_CHANGE_COLUMNS}${o.sink === undefined ? '' : ', target_sink'})
    SELECT p.id, ${literal(o.schema)}, ${literal(o.table)}, '${OUTBOX_OP_CODE[o.op]}', p.key, p.data, p.old${o.sink === undefined ? '' : `, ${o.sink}`}
    FROM p WHERE octet_length(p.payload) > ${NOTIFY_LIMIT_BYTES}
    RETURNING 1
  ), notified AS (
    SELECT pg_notify(${literal(o.channel)}, q.payload)
    FROM (SELECT p.id, CASE WHEN octet_length(p.payload) <= ${NOTIFY_LIMIT_BYTES} THEN p.payload ELSE ${keptNotice('p.payload', 'p.key')} END AS payload
            FROM p ORDER BY p.id) q
  )`;
}

function notifyBody(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): string {
  const statement = notifyEventsSql({
    schema: table.schema,
    table: table.table,
    op: OP_NAME[op],
    rows: opRows(table, op, ctx),
    outbox: outboxTable(ctx.instance),
    channel: ctx.notifyChannel,
    txid: 'tx',
    ts: 'ts',
    instance: ctx.instance,
  });
  return `
DECLARE
  tx text := pg_current_xact_id()::text;
  ts text := ${UTC_TS};
  sent bigint;
  kept bigint;
BEGIN
  ${statement} INTO sent, kept;
  -- A bridge from before kept notices reads the outbox on an empty wake-up only (one still running
  -- after install of this version): without it, a kept event came a poll later, after its row's next ones.
  IF kept > 0 THEN
    PERFORM pg_notify(${literal(ctx.notifyChannel)}, '');
  END IF;
  RETURN NULL;
END`;
}

/** What install makes for one captured op of one table: a function, and the trigger on the table that calls it. */
export interface CaptureOpDefinition {
  /** In schema pgbridge, unquoted. */
  readonly functionName: string;
  /** The function's body, as Postgres keeps it (pg_proc.prosrc). */
  readonly body: string;
  /** The trigger's timing, level, transition table and WHEN, on table `target` (quoted). */
  timingOn(target: string): string;
}

export function captureOpDefinition(table: CaptureTable, op: CaptureOp, ctx: CaptureContext): CaptureOpDefinition {
  return {
    functionName: functionName(ctx.instance, table, op),
    body: ctx.delivery === 'outbox' ? outboxBody(table, op, ctx) : notifyBody(table, op, ctx),
    timingOn: (target) =>
      op === 'truncate'
        ? `AFTER TRUNCATE ON ${target} FOR EACH STATEMENT`
        : op === 'update' || ctx.partitioned
          ? `AFTER ${op.toUpperCase()} ON ${target} FOR EACH ROW${triggerWhen(table, op, ctx)}`
          : `AFTER ${op.toUpperCase()} ON ${target} REFERENCING ${op === 'insert' ? 'NEW' : 'OLD'} TABLE AS ${op === 'insert' ? 'new_rows' : 'old_rows'} FOR EACH STATEMENT`,
  };
}

/** CREATE FUNCTION + CREATE TRIGGER for one captured op of one table (its definition, when made already). */
export function captureOpSql(
  table: CaptureTable,
  op: CaptureOp,
  ctx: CaptureContext,
  definition: CaptureOpDefinition = captureOpDefinition(table, op, ctx),
): string {
  const fn = `pgbridge.${ident(definition.functionName)}`;
  const trigger = ident(triggerName(ctx.instance, op));
  return [
    // Rendered with pgbridge's settings, not the writer's; a trigger's WHEN is evaluated before the function, in the writer's session.
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql ${FUNCTION_SET_CLAUSES} AS ${dollarQuote(definition.body)};`,
    `COMMENT ON FUNCTION ${fn}() IS ${literal(`pgbridge ${ctx.instance}: ${op} on ${table.schema}.${table.table}`)};`,
    `CREATE OR REPLACE TRIGGER ${trigger} ${definition.timingOn(`${ident(table.schema)}.${ident(table.table)}`)} EXECUTE FUNCTION ${fn}();`,
  ].join('\n');
}
