import type pg from 'pg';
import { inTransaction } from '../postgres.js';
import type { HoldingRoutes } from '../router.js';
import type { DeadLetter, DeadLetterWriter } from './dead-letters.js';
import { EVENT_COLUMNS } from '../schema/outbox.js';
import { Column, routedSinks, rowToEvent, type EventColumns } from './outbox-rows.js';

const PAGE = 500;

export interface SweepResult {
  /** Rows every sink routed to them already had: removed. */
  readonly finished: number;
  /** Rows replayed to a sink that is no longer configured: back in the dead letters. */
  readonly returned: number;
}

/** The event's columns, then the sinks that have it (`done`). */
type StrandedRecord = [...EventColumns, done: string[]];
const DONE = 13;

/**
 * Finishes outbox rows that no reader would ever take after a config change.
 * Readers leave out what their sink already has (pgbridge.deliveries) and rows
 * replayed to another sink, so a part-delivered event whose routes changed, or
 * a dead letter replayed to a sink since removed, would stay forever. Runs when
 * this instance becomes the delivering one, before its readers start.
 */
export async function sweepStrandedRows(
  pool: pg.Pool,
  table: string,
  deadLetters: DeadLetterWriter,
  routes: HoldingRoutes,
  sinks: readonly string[],
): Promise<SweepResult> {
  let finished = 0;
  let returned = 0;
  for (let after = '0'; ;) {
    const { rows } = await pool.query<StrandedRecord>({ text: strandedQuery(table), values: [after, sinks, PAGE], rowMode: 'array' });
    if (rows.length === 0) return { finished, returned };
    after = rows[rows.length - 1][Column.id];
    const remove: string[] = [];
    const letters: DeadLetter[] = [];
    for (const row of rows) {
      const event = rowToEvent(row);
      const id = row[Column.id];
      const target = row[Column.targetSink];
      if (target !== null && !sinks.includes(target)) {
        letters.push({ sink: target, event, error: `sink ${target} is no longer configured`, attempts: 0 });
        remove.push(id);
        continue;
      }
      const routed = routedSinks(row, event, routes);
      const done = row[DONE];
      // A held row (its table installed since the config was read) waits for the restart that brings its routes.
      if (routed !== null && routed.every((sink) => done.includes(sink))) remove.push(id);
    }
    if (remove.length === 0) continue;
    await inTransaction(pool, async (db) => {
      await deadLetters.insert(db, letters);
      await db.query(`DELETE FROM ${table} WHERE id = ANY($1::bigint[])`, [remove]);
      await db.query('DELETE FROM pgbridge.deliveries WHERE event_id = ANY($1::bigint[])', [remove]);
    });
    finished += remove.length - letters.length;
    returned += letters.length;
  }
}

/** Rows with partial progress, or aimed at a sink not in `$2`; the columns rowToEvent needs. */
function strandedQuery(table: string): string {
  return `
SELECT ${EVENT_COLUMNS},
       coalesce((SELECT array_agg(d.sink) FROM pgbridge.deliveries d WHERE d.event_id = o.id), '{}') AS done
  FROM ${table} o
 WHERE o.id > $1::bigint
   AND (EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = o.id)
        OR (o.target_sink IS NOT NULL AND o.target_sink <> ALL($2::text[])))
 ORDER BY o.id
 LIMIT $3`;
}
