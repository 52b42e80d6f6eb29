import type pg from 'pg';
import type { CaptureTable } from '../../config/types.js';

/**
 * The captured tables by relation OID, for the whole run: pgoutput names a
 * relation as it is called when the change was written, so a table renamed or
 * moved (ALTER TABLE … RENAME, SET SCHEMA) since the bridge started comes under
 * a name the config lacks. Known by its OID it stays the configured table, as
 * its trigger keeps it in the trigger modes: same name in the events, same
 * columns, ops, `where` and routes.
 */
export class CapturedRelations {
  private readonly byOid = new Map<number, CaptureTable>();

  constructor(private readonly capture: readonly CaptureTable[]) {}

  /** Looks up the OIDs the configured names have now; the ones learnt before stay (a renamed table's name finds nothing any more). */
  async resolve(db: pg.ClientBase): Promise<void> {
    if (this.capture.length === 0) return;
    const { rows } = await db.query<{ oid: number; schema: string; table: string }>(
      `SELECT c.oid, n.nspname AS schema, c.relname AS table
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [this.capture.map((t) => t.schema), this.capture.map((t) => t.table)],
    );
    for (const row of rows) {
      const table = this.capture.find((t) => t.schema === row.schema && t.table === row.table);
      if (table) this.byOid.set(Number(row.oid), table);
    }
  }

  /** A Relation message under a configured name: that table has this OID. */
  learn(oid: number, table: CaptureTable): void {
    this.byOid.set(oid, table);
  }

  get(oid: number): CaptureTable | undefined {
    return this.byOid.get(oid);
  }
}
