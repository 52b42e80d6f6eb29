import type pg from 'pg';
import type { TableName } from '../config/table-name.js';
import { CAPTURE_OPS } from '../config/schema.js';
import { RENDER_SETTINGS } from '../schema/render-settings.js';
import { functionPrefix, triggerName } from './names.js';
import { triggerDefinitions, type TriggerDefinition } from './trigger-definitions.js';

export interface TableInfo {
  readonly exists: boolean;
  readonly kind: string;
  readonly primaryKey: readonly string[];
  readonly columns: readonly string[];
}

export async function tableInfo(db: pg.ClientBase, table: TableName): Promise<TableInfo> {
  const { rows } = await db.query<{ kind: string; pk: string[]; columns: string[] }>(
    `SELECT c.relkind AS kind,
            coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
                        FROM pg_index i
                        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                       WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS pk,
            coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}') AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.schema, table.table],
  );
  const row = rows[0];
  if (!row) return { exists: false, kind: '', primaryKey: [], columns: [] };
  return { exists: true, kind: row.kind, primaryKey: row.pk, columns: row.columns };
}

export interface KeyColumn {
  readonly name: string;
  /** format_type of the column, for casting a stored text value back to it. */
  readonly type: string;
  /** The column's collation when it is not its type's default (quoted, schema-qualified outside pg_catalog), else null: it orders the key. */
  readonly collation?: string | null;
}

/** Primary key columns in key order with their types; empty for a table without one. */
export async function primaryKeyColumns(db: pg.ClientBase, table: TableName): Promise<KeyColumn[]> {
  const { rows } = await db.query<KeyColumn>(
    `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
              (SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN '' ELSE quote_ident(cn.nspname) || '.' END || quote_ident(co.collname)
                 FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
            END AS collation
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2
      ORDER BY k.ord`,
    [table.schema, table.table],
  );
  return rows;
}

/**
 * This instance's triggers, by their exact names: a prefix match would also
 * take those of an instance whose name extends this one's ("blue" and "blue_eu").
 * Not the copies Postgres makes on a partitioned table's partitions.
 */
export async function installedTriggers(db: pg.ClientBase, instance: string): Promise<TriggerDefinition[]> {
  return triggerDefinitions(db, 't.tgname = ANY($1::text[]) AND NOT t.tgisinternal AND t.tgparentid = 0', [
    CAPTURE_OPS.map((op) => triggerName(instance, op)),
  ]);
}

/** This instance's capture functions: prefix, a 12-digit hash, the op (see functionName), and nothing else. */
export async function installedFunctions(db: pg.ClientBase, instance: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'pgbridge' AND p.proname ~ $1 ORDER BY 1`,
    [`^${functionPrefix(instance)}[0-9a-f]{12}_(${CAPTURE_OPS.join('|')})$`],
  );
  return rows.map((r) => r.name);
}

/** This instance's capture functions that lack a render setting (made by an install older than them): they render with the writer's settings. */
export async function functionsWithoutRenderSettings(db: pg.ClientBase, instance: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'pgbridge' AND p.proname ~ $1 AND NOT coalesce(p.proconfig @> $2::text[], false) ORDER BY 1`,
    [`^${functionPrefix(instance)}[0-9a-f]{12}_(${CAPTURE_OPS.join('|')})$`, RENDER_SETTINGS.map(([name, value]) => `${name}=${value}`)],
  );
  return rows.map((r) => r.name);
}

export async function otherOutboxes(db: pg.ClientBase, ownTable: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE s.nspname = 'pgbridge' AND c.relkind = 'r' AND c.relname LIKE 'outbox%' AND 'pgbridge.' || c.relname <> $1`,
    [ownTable],
  );
  return rows[0]?.n ?? 0;
}
