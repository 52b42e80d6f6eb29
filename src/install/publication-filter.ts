import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { tableKey } from '../config/table-name.js';
import type { CaptureTable } from '../config/types.js';
import { compileRowFilter, oneStatement } from '../schema/row-filter.js';
import { ident, literal } from '../schema/quote.js';

/**
 * The captured tables whose `where` goes into the publication as a PG 15 row
 * filter (bare column names, as Postgres printed them), by `schema\0table`.
 * The rest are filtered by the bridge (source/wal/row-condition.ts).
 *
 * Only where pgoutput then sends exactly what the trigger modes send. INSERT
 * (new row) and DELETE (old row, whole under REPLICA IDENTITY FULL) filter
 * alike. An UPDATE does not: the trigger sends an UPDATE, old row included,
 * whenever the new row passes; pgoutput sends an INSERT without the old row
 * when the row moves into the filter and a DELETE when it moves out. So no
 * row filter at all once the publication publishes UPDATE (it is
 * publication-wide: every table's updates then cross its filter). And only an
 * expression a publication accepts (no user-defined types, operators or
 * functions: an enum column is enough to be refused), found by trying it in a
 * transaction that is rolled back.
 */
export async function publicationRowFilters(
  db: pg.ClientBase,
  capture: readonly CaptureTable[],
  ops: readonly string[],
): Promise<ReadonlyMap<string, string>> {
  const filters = new Map<string, string>();
  if (ops.includes('update')) return filters;
  for (const table of capture) {
    if (!table.where) continue;
    const { unqualified } = await compileRowFilter(db, table, table.where);
    if (await publicationAccepts(db, table, unqualified, ops)) filters.set(tableKey(table), unqualified);
  }
  return filters;
}

export function rowFilterOf(filters: ReadonlyMap<string, string>, table: { schema: string; table: string }): string | undefined {
  return filters.get(tableKey(table));
}

async function publicationAccepts(db: pg.ClientBase, table: CaptureTable, condition: string, ops: readonly string[]): Promise<boolean> {
  const probe = `pgbridge_probe_${randomBytes(6).toString('hex')}`;
  await db.query('BEGIN');
  try {
    await db.query(
      oneStatement(
        `CREATE PUBLICATION ${ident(probe)} FOR TABLE ${ident(table.schema)}.${ident(table.table)} WHERE (${condition}) WITH (publish = ${literal(ops.join(', ') || 'insert')}, publish_via_partition_root = true)`,
      ),
    );
    return true;
  } catch {
    return false;
  } finally {
    await db.query('ROLLBACK').catch(() => {});
  }
}
