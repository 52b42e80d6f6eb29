import type { TestDatabase } from './pg.js';

/** Rows a backfill of `table` has recorded as done (0 before its record exists). */
export async function backfillRowsDone(db: TestDatabase, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT rows_done AS n FROM pgbridge.backfills WHERE table_name = $1', [table]);
  return Number(rows[0]?.n ?? 0);
}
