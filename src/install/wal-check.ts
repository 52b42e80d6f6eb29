import type pg from 'pg';
import { qualifiedName, tableKey } from '../config/table-name.js';
import type { BridgeConfig } from '../config/types.js';
import { RowFilterError } from '../schema/row-filter.js';
import { inspectCapturedTable } from './captured-table.js';
import { InstallError } from './install-error.js';
import { publicationRowFilters, rowFilterOf } from './publication-filter.js';
import { walCatalog } from './wal-catalog.js';
import { publishedOps } from './wal-sql.js';

/**
 * `check` in wal mode: wal_level, the slot (exists here, active, how much WAL it
 * keeps) and the publication's tables against the config. [component, result] pairs.
 */
export async function walCheck(config: BridgeConfig, db: pg.ClientBase): Promise<Array<[string, string]>> {
  const { slot, publication } = config.wal;
  const catalog = await walCatalog(db, config.instance, slot, publication);
  const out: Array<[string, string]> = [];
  out.push([
    'wal_level',
    catalog.walLevel === 'logical'
      ? 'ok (logical)'
      : `FAIL: wal_level is ${catalog.walLevel}; delivery: wal needs logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
  ]);
  if (catalog.slotDatabase === null) out.push(['slot', `FAIL: replication slot ${slot} does not exist; run \`pgbridge install\``]);
  else if (catalog.slotDatabase !== catalog.database)
    out.push(['slot', `FAIL: replication slot ${slot} belongs to database ${catalog.slotDatabase}; set wal.slot`]);
  else {
    const { rows } = await db.query<{ active: boolean; lag: string | null }>(
      `SELECT active, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    out.push(['slot', `ok (${slot}, ${rows[0].active ? 'active' : 'not active'}, lag ${rows[0].lag ?? 'unknown'} bytes)`]);
  }
  if (!catalog.publicationExists) {
    out.push(['publication', `FAIL: publication ${publication} does not exist; run \`pgbridge install\``]);
    out.push(['capture', await captureState(config, db)]);
    return out;
  }
  const published = new Set(catalog.publicationTables.map(tableKey));
  const wanted = new Set(config.capture.map(tableKey));
  const missing = config.capture.filter((t) => !published.has(tableKey(t))).map(qualifiedName);
  const extra = catalog.publicationTables.filter((t) => !wanted.has(tableKey(t))).map((t) => `${t.schema}.${t.table}`);
  const notFull = await tablesWithoutFullIdentity(db, config);
  const staleFilters = await rowFiltersNotAsConfigured(db, config);
  if (missing.length > 0 || extra.length > 0 || notFull.length > 0 || staleFilters.length > 0 || !catalog.viaRoot) {
    const reasons = [
      missing.length > 0 ? `not published: ${missing.join(', ')}` : '',
      extra.length > 0 ? `published but not captured: ${extra.join(', ')}` : '',
      notFull.length > 0 ? `replica identity not FULL: ${notFull.join(', ')}` : '',
      staleFilters.length > 0 ? `row filter not as configured: ${staleFilters.join(', ')}` : '',
      catalog.viaRoot ? '' : 'publish_via_partition_root is off (partitioned tables would be named by their partitions)',
    ].filter(Boolean);
    out.push(['publication', `FAIL: ${reasons.join('; ')}; run \`pgbridge install\``]);
  } else out.push(['publication', `ok (${publication}: ${config.capture.length} table(s))`]);
  out.push(['capture', await captureState(config, db)]);
  return out;
}

/**
 * Each captured table as install would take it now: a migration since may have
 * renamed a column a `where` or `changed` names, and the bridge, unable to
 * compile the condition, would deliver that table's rows unfiltered.
 */
async function captureState(config: BridgeConfig, db: pg.ClientBase): Promise<string> {
  try {
    for (const table of config.capture) await inspectCapturedTable(db, table);
  } catch (err) {
    if (err instanceof InstallError) return `FAIL: ${err.message}; fix the config or the table, then run \`pgbridge install\``;
    throw err;
  }
  return `ok (${config.capture.length} table(s))`;
}

/**
 * Published tables whose row filter is not the one install would make from
 * this config (a `where` changed, added or removed since): the server would
 * drop rows by the old condition, or send rows the bridge takes as filtered.
 */
async function rowFiltersNotAsConfigured(db: pg.ClientBase, config: BridgeConfig): Promise<string[]> {
  let wanted: ReadonlyMap<string, string>;
  try {
    wanted = await publicationRowFilters(db, config.capture, publishedOps(config.capture));
  } catch (err) {
    // A `where` that no longer compiles: the capture line says so, naming the table.
    if (err instanceof RowFilterError) return [];
    throw err;
  }
  const { rows } = await db.query<{ schema: string; table: string; rowfilter: string | null }>(
    `SELECT schemaname AS schema, tablename AS table, rowfilter FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`,
    [config.wal.publication],
  );
  return rows.filter((r) => (rowFilterOf(wanted, r) ?? null) !== r.rowfilter).map((r) => `${r.schema}.${r.table}`);
}

/**
 * Captured tables, and partitions of captured partitioned tables (one attached
 * since install included), whose UPDATE and DELETE would not log the whole old row.
 */
async function tablesWithoutFullIdentity(db: pg.ClientBase, config: BridgeConfig): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT DISTINCT pn.nspname || '.' || pc.relname AS name
       FROM unnest($1::text[], $2::text[]) AS t(schema_name, table_name)
       JOIN pg_namespace n ON n.nspname = t.schema_name JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
       CROSS JOIN LATERAL (SELECT c.oid AS relid UNION SELECT p.relid FROM pg_partition_tree(c.oid) p) r
       JOIN pg_class pc ON pc.oid = r.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE pc.relreplident <> 'f' ORDER BY 1`,
    [config.capture.map((t) => t.schema), config.capture.map((t) => t.table)],
  );
  return rows.map((r) => r.name);
}
