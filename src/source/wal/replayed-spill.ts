import type { Logger } from 'pino';
import type pg from 'pg';
import { errorMessage } from '../../errors.js';

/**
 * Before a wal-mode run streams: deletes what an earlier run spilled for the
 * sinks (SinkSpill) that the slot is about to stream again, and says how many.
 *
 * A sink spills once its queue is full, so its earlier events waited in
 * memory, its later ones in the table, and the slot stayed before the first
 * one it had not confirmed. The memory is gone after a stop, a crash or a
 * takeover; the slot streams those events again, and the sink, still
 * spilling, would get them behind the table's later events of the same rows.
 * Without those rows the stream brings every event from the slot's position
 * in commit order; the rows the slot has passed (its replay skips every
 * transaction committed before it) stay, and go first.
 *
 * A wal event's id starts with its commit's position (lsnKey of the final
 * LSN): the transaction is streamed again when that is at or past the slot's
 * confirmed position. Only while no walsender holds the slot: one that still
 * streams (a bridge that lost the lock) may move it past rows deleted here.
 * Only while the slot keeps its WAL (wal_status reserved or extended): a slot
 * invalidated by max_slot_wal_keep_size, or about to be, streams nothing
 * again, and the table then holds the only copy. And only rows whose commit
 * this cluster's WAL has reached: one further on was written in another
 * cluster (a database restored by pg_dump, or moved by logical replication),
 * whose positions mean nothing to this slot.
 */
export async function dropReplayedSpill(pool: pg.Pool, table: string, slot: string, sinks: readonly string[], logger: Logger): Promise<void> {
  let deleted: number | null;
  try {
    ({ rowCount: deleted } = await pool.query(
      `DELETE FROM ${table} o
      USING pg_replication_slots s
      WHERE s.slot_name = $1 AND s.database = current_database() AND NOT s.active AND s.confirmed_flush_lsn IS NOT NULL
        AND s.wal_status IN ('reserved', 'extended')
        AND o.target_sink = ANY($2::text[]) AND o.event_id ~ '^[0-9A-F]{16}-'
        AND left(o.event_id, 16) COLLATE "C" >= ${lsnKeySql('s.confirmed_flush_lsn')}
        AND left(o.event_id, 16) COLLATE "C" < ${lsnKeySql('pg_current_wal_insert_lsn()')}`,
      [slot, sinks],
    ));
  } catch (err) {
    // Nothing deleted: every row is still delivered, though a row's earlier events streamed again may come after its later ones.
    logger.warn({ err: errorMessage(err) }, 'wal mode: could not take from the outbox table the events the slot streams again');
    return;
  }
  if ((deleted ?? 0) > 0) {
    logger.info(
      { events: deleted },
      'wal mode: events kept in the outbox table that the slot streams again are taken from the table, to come in commit order',
    );
  }
}

/** lsnKey in SQL: a pg_lsn as 16 upper-case hex digits, compared with an event id's prefix. */
const lsnKeySql = (lsn: string): string => `lpad(upper(to_hex((${lsn} - '0/0'::pg_lsn)::bigint)), 16, '0')`;
