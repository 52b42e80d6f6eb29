import type pg from 'pg';
import { tableKey } from '../../config/table-name.js';
import type { CaptureTable } from '../../config/types.js';

/**
 * Which configured table a relation of the stream is, for the whole run.
 * pgoutput names a relation as it was called when the change was written, so
 * a table renamed or moved (ALTER TABLE … RENAME, SET SCHEMA) comes under a
 * name the config lacks from then on. Known by its OID it stays the configured
 * table, as its trigger keeps it in the trigger modes: same name in the events,
 * same columns, ops, `where` and routes.
 *
 * What a Relation message said first in this run is kept: the stream may
 * replay changes written before a rename (two tables swapped by renames while
 * the bridge was stopped), and a reconnection must not make the same table
 * another one. The catalog's names at the run's start serve only a relation
 * whose first Relation message names no configured table (renamed after the
 * start, before its first change of this run).
 */
export class CapturedRelations {
  private readonly byName: ReadonlyMap<string, CaptureTable>;
  private readonly byOid = new Map<number, CaptureTable>();
  private readonly atStart = new Map<number, CaptureTable>();
  private resolved = false;

  constructor(capture: readonly CaptureTable[]) {
    this.byName = new Map(capture.map((t) => [tableKey(t), t]));
  }

  /** Once per run, before its first stream: the OIDs the configured names have now. */
  async resolve(db: pg.ClientBase): Promise<void> {
    if (this.resolved || this.byName.size === 0) return;
    const tables = [...this.byName.values()];
    const { rows } = await db.query<{ oid: number; schema: string; table: string }>(
      `SELECT c.oid, n.nspname AS schema, c.relname AS table
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [tables.map((t) => t.schema), tables.map((t) => t.table)],
    );
    for (const row of rows) this.atStart.set(Number(row.oid), this.byName.get(tableKey(row))!);
    this.resolved = true;
  }

  /** The configured table a Relation message's relation is, or undefined for a table the config lacks. */
  tableOf(oid: number, schema: string, table: string): CaptureTable | undefined {
    const known = this.byOid.get(oid) ?? this.byName.get(tableKey({ schema, table })) ?? this.atStart.get(oid);
    if (known !== undefined) this.byOid.set(oid, known);
    return known;
  }

  /** Whether the config captures a table of this name (a backfill READ names its table). */
  captures(schema: string, table: string): boolean {
    return this.byName.has(tableKey({ schema, table }));
  }
}
