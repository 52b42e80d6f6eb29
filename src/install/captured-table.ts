import type pg from 'pg';
import { ROW_CAPTURE_OPS } from '../config/schema.js';
import { qualifiedName } from '../config/table-name.js';
import type { CaptureTable } from '../config/types.js';
import { changedColumnTypes, compileChanged, type ChangedColumn } from '../schema/changed-columns.js';
import { compileRowFilter, RowFilterError, type CompiledRowFilter } from '../schema/row-filter.js';
import { tableInfo, type TableInfo } from './catalog.js';
import { InstallError } from './install-error.js';

export interface CapturedTable {
  readonly info: TableInfo;
  readonly filter?: CompiledRowFilter;
  readonly changed?: readonly ChangedColumn[];
}

/**
 * One captured table against the catalog, in every mode: it exists, is a
 * table, has the listed columns, and Postgres takes its `where` and `changed`.
 * What install writes from, and what `check` asks again after a migration.
 * Any problem is an InstallError naming the table: never an install that
 * passes and a capture that fails or lets rows through unfiltered later.
 */
export async function inspectCapturedTable(db: pg.ClientBase, table: CaptureTable): Promise<CapturedTable> {
  const name = qualifiedName(table);
  await refuseTruncatedName(db, table);
  const info = await tableInfo(db, table);
  if (!info.exists) throw new InstallError(`captured table ${name} does not exist`);
  if (!['r', 'p'].includes(info.kind)) throw new InstallError(`${name} is not a table (relkind ${info.kind})`);
  for (const op of ROW_CAPTURE_OPS) {
    const missing = (table.columns[op] ?? []).filter((c) => !info.columns.includes(c));
    if (table.ops.has(op) && missing.length > 0) {
      throw new InstallError(`${name} has no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (columns for ${op})`);
    }
  }
  const unknownChanged = (table.changed ?? []).filter((c) => !info.columns.includes(c));
  if (unknownChanged.length > 0) throw new InstallError(`${name} has no column ${unknownChanged.map((c) => JSON.stringify(c)).join(', ')} (changed)`);
  try {
    const filter = table.where ? await compileRowFilter(db, table, table.where) : undefined;
    const changed = table.changed ? await compileChanged(db, table, await changedColumnTypes(db, table, table.changed)) : undefined;
    return { info, filter, changed };
  } catch (err) {
    if (err instanceof RowFilterError) throw new InstallError(err.message);
    throw err;
  }
}

/**
 * Postgres keeps 63 bytes of a name in the database's encoding: a longer one
 * would name the truncated table in install's SQL (and its catalog lookups)
 * while the events, routes and the WAL went by the name as written.
 */
async function refuseTruncatedName(db: pg.ClientBase, table: CaptureTable): Promise<void> {
  const { rows } = await db.query<{ schema: string; table: string }>('SELECT $1::text::name::text AS schema, $2::text::name::text AS table', [
    table.schema,
    table.table,
  ]);
  for (const part of ['schema', 'table'] as const) {
    if (rows[0][part] === table[part]) continue;
    throw new InstallError(
      `${part} name ${JSON.stringify(table[part])} is longer than Postgres' 63 bytes in this database's encoding (it would be ${JSON.stringify(rows[0][part])}): use the name as Postgres keeps it`,
    );
  }
}
