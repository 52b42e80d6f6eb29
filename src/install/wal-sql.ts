import type { CaptureTable } from '../config/types.js';
import { ident, literal } from '../schema/quote.js';
import { rowFilterOf } from './publication-filter.js';
import type { RecordedIdentity, WalCatalog } from './wal-catalog.js';

/** Where install records each captured table's replica identity before setting FULL, so uninstall can put it back. */
export const IDENTITY_TABLE_SQL = `CREATE TABLE IF NOT EXISTS pgbridge.replica_identity (
  instance    text   NOT NULL,
  schema_name text   NOT NULL,
  table_name  text   NOT NULL,
  previous    "char" NOT NULL,   -- pg_class.relreplident before install: d, n or i
  index_name  text,              -- the index of REPLICA IDENTITY USING INDEX
  PRIMARY KEY (instance, schema_name, table_name)
);`;

/**
 * Each wal-mode instance's publication and slot: a table another instance
 * still publishes keeps REPLICA IDENTITY FULL when this one lets go of it, and
 * a later install (another mode, or names changed) knows what to remove.
 */
export const INSTANCES_TABLE_SQL = `CREATE TABLE IF NOT EXISTS pgbridge.wal_instances (
  instance    text PRIMARY KEY,
  publication text NOT NULL
);
ALTER TABLE pgbridge.wal_instances ADD COLUMN IF NOT EXISTS slot text;  -- NULL: installed before the column`;

const OPS_ORDER = ['insert', 'update', 'delete', 'truncate'];

const target = (t: { schema: string; table: string }) => `${ident(t.schema)}.${ident(t.table)}`;

/**
 * The publication's table list. A PG 15 column list only where it is safe:
 * with REPLICA IDENTITY FULL a column list must hold every column once the
 * publication publishes UPDATE or DELETE (else the user's UPDATE fails), so
 * only insert-only publications narrow columns; the bridge applies per-op lists itself.
 * A row filter where publicationRowFilters found one that gives the trigger modes' events.
 */
export function publicationTables(
  capture: readonly CaptureTable[],
  ops: readonly string[],
  filters: ReadonlyMap<string, string> = new Map(),
): string {
  const narrow = ops.every((op) => op === 'insert' || op === 'truncate');
  return capture
    .map((t) => {
      const columns = t.columns.insert;
      const filter = rowFilterOf(filters, t);
      return `${target(t)}${narrow && columns !== null ? ` (${columns.map(ident).join(', ')})` : ''}${filter ? ` WHERE (${filter})` : ''}`;
    })
    .join(', ');
}

export function publishedOps(capture: readonly CaptureTable[]): string[] {
  const ops = new Set<string>();
  for (const t of capture) for (const op of t.ops as ReadonlySet<string>) ops.add(op);
  return OPS_ORDER.filter((op) => ops.has(op));
}

/**
 * CREATE or ALTER the publication to exactly the captured tables and ops.
 * publish_via_partition_root: a partitioned table's changes come under its
 * own name, as its cloned triggers send them in the trigger modes, never under a partition's.
 */
export function publicationSql(name: string, capture: readonly CaptureTable[], catalog: WalCatalog, filters: ReadonlyMap<string, string>): string[] {
  const ops = publishedOps(capture);
  const options = `publish = ${literal(ops.length > 0 ? ops.join(', ') : 'insert')}, publish_via_partition_root = true`;
  const tables = publicationTables(capture, ops, filters);
  if (!catalog.publicationExists) {
    return [`CREATE PUBLICATION ${ident(name)}${tables ? ` FOR TABLE ${tables}` : ''} WITH (${options});`];
  }
  const parts = [`ALTER PUBLICATION ${ident(name)} SET (${options});`];
  if (tables) parts.push(`ALTER PUBLICATION ${ident(name)} SET TABLE ${tables};`);
  else {
    for (const t of catalog.publicationTables) parts.push(`ALTER PUBLICATION ${ident(name)} DROP TABLE ${target(t)};`);
  }
  return parts;
}

/** Records the identity once (the first install's is the one to restore), then sets FULL. */
export function setFullIdentitySql(instance: string, table: { schema: string; table: string }): string {
  return `INSERT INTO pgbridge.replica_identity (instance, schema_name, table_name, previous, index_name)
SELECT ${literal(instance)}, n.nspname, c.relname, c.relreplident,
       (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ${literal(table.schema)} AND c.relname = ${literal(table.table)} AND c.relreplident <> 'f'
ON CONFLICT DO NOTHING;
ALTER TABLE ${target(table)} REPLICA IDENTITY FULL;`;
}

/** Puts a recorded identity back, unless the table is gone or someone changed it from FULL since. */
export function restoreIdentitySql(instance: string, recorded: RecordedIdentity): string {
  const forget = `DELETE FROM pgbridge.replica_identity WHERE instance = ${literal(instance)} AND schema_name = ${literal(recorded.schema)} AND table_name = ${literal(recorded.table)};`;
  if (recorded.current !== 'f') return forget;
  const how =
    recorded.previous === 'n' ? 'NOTHING' : recorded.previous === 'i' && recorded.index ? `USING INDEX ${ident(recorded.index)}` : 'DEFAULT';
  return `ALTER TABLE ${target(recorded)} REPLICA IDENTITY ${how};\n${forget}`;
}

export function registerInstanceSql(instance: string, publication: string, slot: string): string {
  return `INSERT INTO pgbridge.wal_instances (instance, publication, slot) VALUES (${literal(instance)}, ${literal(publication)}, ${literal(slot)})
ON CONFLICT (instance) DO UPDATE SET publication = EXCLUDED.publication, slot = EXCLUDED.slot;`;
}

export function forgetInstanceSql(instance: string): string {
  return `DELETE FROM pgbridge.wal_instances WHERE instance = ${literal(instance)};`;
}

/**
 * Leaves the table FULL for `heir`, another instance that still captures it,
 * and hands it the record (unless it has its own): the last instance to let
 * go of the table restores what was there before the first install.
 */
export function handOverIdentitySql(instance: string, recorded: RecordedIdentity, heir: string, why: string): string {
  // A quoted table name may hold a line break: sqlComment keeps it from ending the comment.
  const row = (who: string) => `instance = ${literal(who)} AND schema_name = ${literal(recorded.schema)} AND table_name = ${literal(recorded.table)}`;
  return `${sqlComment(why)}
UPDATE pgbridge.replica_identity SET instance = ${literal(heir)}
 WHERE ${row(instance)} AND NOT EXISTS (SELECT 1 FROM pgbridge.replica_identity WHERE ${row(heir)});
DELETE FROM pgbridge.replica_identity WHERE ${row(instance)};`;
}

/** Outside the install transaction: a logical slot cannot be created in one that has written. */
export function createSlotSql(slot: string): string {
  return `SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${literal(slot)});`;
}

export function dropSlotSql(slot: string): string {
  return `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${literal(slot)} AND database = current_database();`;
}

export function dropPublicationSql(name: string): string {
  return `DROP PUBLICATION IF EXISTS ${ident(name)};`;
}

/** A `--` comment line for the printed SQL: a line break in the text would end the comment early. */
export const sqlComment = (text: string): string => `-- ${text.replace(/[\r\n]+/g, ' ')}`;
