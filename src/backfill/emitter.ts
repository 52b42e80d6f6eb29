import type { BridgeConfig } from '../config/types.js';
import { notifyEventsCtes, OUTBOX_OP_CODE, UTC_TS } from '../install/capture-sql.js';
import { outboxTable, PAYLOAD_SEPARATOR } from '../schema/outbox.js';
import { walReadPrefix } from '../schema/wal-messages.js';
import { literal } from '../schema/quote.js';
import type { TableName } from '../config/table-name.js';

/**
 * How READ events leave a chunk transaction: one statement, appended to the
 * chunk's `WITH chunk AS (…)`, that emits the rows of `chunk` in `order` and
 * returns their number as `emitted`; plus what runs before it and before the
 * commit. A delivery mode adds its own emitter; everything else about a backfill
 * (chunks, locks, progress, resuming) stays the same.
 */
export interface Emitter {
  /** Statements run first in the chunk transaction. */
  readonly prepare: readonly string[];
  /** The emitting part after `WITH chunk AS (…)`, selecting `emitted`. `$sink` is the param number of --sink (text or NULL). */
  emit(order: string, sinkParam: number): string;
  /** Statements run right before the commit. */
  readonly finish: readonly string[];
}

/**
 * Outbox mode: READ rows written into the outbox in key order, like the capture
 * triggers write theirs; the bridge reads them in id order. The transaction
 * takes its xid before its first id (SettledWater's rule for every outbox writer).
 */
export function outboxEmitter(config: BridgeConfig, table: TableName): Emitter {
  return {
    prepare: ['SELECT pg_current_xact_id()'],
    emit: (order, sinkParam) => `, ins AS (
  INSERT INTO ${outboxTable(config.instance)} (schema_name, table_name, op, key, data, target_sink)
  SELECT ${literal(table.schema)}, ${literal(table.table)}, '${OUTBOX_OP_CODE.READ}', c.key, c.data, $${sinkParam}::text
    FROM chunk c ORDER BY ${order}
  RETURNING 1)
SELECT count(*)::int AS emitted FROM ins`,
    finish: [`SELECT pg_notify(${literal(config.notifyChannel)}, '')`],
  };
}

/**
 * Notify mode: READs travel as NOTIFY payloads exactly like the triggers'
 * events (too large ones kept in the outbox, with a kept notice in their
 * place), so they reach the bridge in commit order with the live changes of
 * the same rows.
 */
export function notifyEmitter(config: BridgeConfig, table: TableName): Emitter {
  return {
    prepare: ['SELECT pg_current_xact_id()'],
    emit: (order, sinkParam) => {
      const ctes = notifyEventsCtes({
        schema: table.schema,
        table: table.table,
        op: 'READ',
        rows: `SELECT c.key, c.data, NULL::json AS old FROM chunk c ORDER BY ${order}`,
        outbox: outboxTable(config.instance),
        channel: config.notifyChannel,
        txid: 'pg_current_xact_id()::text',
        ts: UTC_TS,
        instance: config.instance,
        sink: `$${sinkParam}::text`,
      });
      return `, ${ctes}
SELECT count(*)::int AS emitted FROM notified`;
    },
    finish: [],
  };
}

/**
 * wal mode: each READ is a transactional logical message in the chunk's
 * transaction (walReadPrefix, the notify wire format as its content), which
 * the slot delivers in commit order with the live changes; the wal source
 * gives it an id from its commit position, like every other wal event.
 */
export function walEmitter(config: BridgeConfig, table: TableName): Emitter {
  const header = (sinkParam: number) =>
    `json_build_object('id', '', 'schema', ${literal(table.schema)}, 'table', ${literal(table.table)}, 'op', 'READ', 'txid', pg_current_xact_id()::text, 'ts', ${UTC_TS}, 'sink', $${sinkParam}::text)::text`;
  const sep = `chr(${PAYLOAD_SEPARATOR.charCodeAt(0)})`;
  return {
    prepare: [],
    emit: (order, sinkParam) => `, emitted AS (
  SELECT pg_logical_emit_message(true, ${literal(walReadPrefix(config.instance))}, ${header(sinkParam)} || ${sep} || coalesce(q.key::text, '') || ${sep} || q.data::text || ${sep})
    FROM (SELECT c.key, c.data FROM chunk c ORDER BY ${order}) q)
SELECT count(*)::int AS emitted FROM emitted`,
    finish: [],
  };
}

export function emitterFor(config: BridgeConfig, table: TableName): Emitter {
  switch (config.delivery) {
    case 'outbox':
      return outboxEmitter(config, table);
    case 'notify':
      return notifyEmitter(config, table);
    case 'wal':
      return walEmitter(config, table);
  }
}
