import type pg from 'pg';
import type { HoldingRoutes } from '../router.js';
import type { RowOp } from '../event.js';
import { EVENT_COLUMNS, OUTBOX_OP_CODE } from '../schema/outbox.js';
import { NOT_KEPT, type OutboxRecord } from './outbox-rows.js';

/** How often, at the least, a reader looks below its floor. */
const PROBE_INTERVAL_MS = 5000;
/** The probe may take at most this share of the time between two probes. */
const PROBE_DUTY = 0.05;
/** Rows younger than this are left to the normal read. */
const MIN_AGE = "interval '3 seconds'";
/** Ids one probe reports at the most; more are found by the next one. */
const PROBE_LIMIT = 500;

/**
 * Defence in depth under SettledWater: the reader never reads below its floor,
 * so a row that became visible after the floor passed it (a hole in the
 * floor's argument, like the torn sequence read it once had) would wait there
 * until a restart. Every few seconds this looks for committed rows below the
 * floor that this sink should have, has not confirmed and is not holding.
 * Finding one costs seconds of delay, never the event. The scan walks the
 * primary key below the floor, where only rows still waiting for other sinks
 * stay; its next run is put off so that it never takes more than 5% of the time.
 */
export class StrandedRowProbe {
  private nextAt = Date.now() + PROBE_INTERVAL_MS;
  private readonly idsQuery: string;
  private readonly rowsQuery: string;
  private readonly sources: ReturnType<HoldingRoutes['sourcesFor']>;

  constructor(
    private readonly pool: pg.Pool,
    table: string,
    private readonly sink: string,
    router: HoldingRoutes,
    /** Leave out the rows a notify-mode trigger kept (see NOT_KEPT). */
    skipKept = false,
  ) {
    this.sources = router.sourcesFor(sink);
    this.idsQuery = `
SELECT o.id::text
  FROM ${table} o
 WHERE o.id <= $1::bigint AND o.id <> ALL($2::bigint[])
   AND (o.target_sink IS NULL OR o.target_sink = $3)${skipKept ? ` AND o.${NOT_KEPT}` : ''}
   AND o.ts < statement_timestamp() - ${MIN_AGE}
   AND NOT EXISTS (SELECT 1 FROM pgbridge.deliveries d WHERE d.event_id = o.id AND d.sink = $3)
   AND ($4::boolean OR o.target_sink = $3 OR o.channel = ANY($5::text[])
        OR EXISTS (SELECT 1 FROM unnest($6::text[], $7::text[], $8::text[]) AS r(s, t, op)
                    WHERE r.s = o.schema_name AND r.t = o.table_name AND r.op = o.op::text))
 ORDER BY o.id
 LIMIT ${PROBE_LIMIT}`;
    this.rowsQuery = `SELECT ${EVENT_COLUMNS} FROM ${table} o WHERE o.id = ANY($1::bigint[]) ORDER BY o.id`;
  }

  due(): boolean {
    return Date.now() >= this.nextAt;
  }

  /** Ids of rows below `floor` this sink should have and does not, oldest first. */
  async find(floor: bigint, held: readonly string[]): Promise<string[]> {
    const started = Date.now();
    try {
      const all = this.sources === null;
      const { rows } = await this.pool.query<{ id: string }>(this.idsQuery, [
        floor.toString(),
        held,
        this.sink,
        all,
        all ? [] : this.sources.channels,
        all ? [] : this.sources.tables.map((t) => t.schema),
        all ? [] : this.sources.tables.map((t) => t.table),
        all ? [] : this.sources.tables.map((t) => OUTBOX_OP_CODE[t.op.toUpperCase() as RowOp]),
      ]);
      return rows.map((r) => r.id);
    } finally {
      const took = Date.now() - started;
      this.nextAt = Date.now() + Math.max(PROBE_INTERVAL_MS, took / PROBE_DUTY);
    }
  }

  /** Looks again soon: the last probe found more than it could hand over. */
  again(): void {
    this.nextAt = Date.now();
  }

  async rows(ids: readonly string[]): Promise<OutboxRecord[]> {
    const { rows } = await this.pool.query<OutboxRecord>({ text: this.rowsQuery, values: [ids], rowMode: 'array' });
    return rows;
  }
}
