import type pg from 'pg';
import { qualifiedName, type TableName } from '../config/table-name.js';
import { errorMessage } from '../errors.js';
import { ident } from './quote.js';
import { oneStatement, RowFilterError } from './row-filter.js';

/** A column listed in `changed`, and how its old and new values are compared. */
export interface ChangedColumn {
  readonly name: string;
  /** The type has no equality Postgres can use (json, xml, point, box, json[], a composite with a json field): compared by its text. */
  readonly byText: boolean;
}

const UNDEFINED_FUNCTION = '42883';

/**
 * How each of `columns` (name and SQL type: the table's now, or a row's as the
 * WAL has it) is compared, asked of Postgres. IS DISTINCT FROM needs an `=`
 * for the type, and at run time record and array comparison need the
 * equality of the type cache (a default btree or hash operator class) for
 * each field and element: `GROUP BY` asks for that same equality when the
 * query is parsed. A type failing either (box's `=` compares areas and is in
 * no operator class) is compared by its text: with the render settings a
 * float's text reads back as the same float. Run outside a transaction.
 */
export async function compileChanged(
  db: pg.ClientBase,
  table: TableName,
  columns: ReadonlyArray<{ readonly name: string; readonly sqlType: string }>,
): Promise<ChangedColumn[]> {
  const compiled: ChangedColumn[] = [];
  for (const column of columns) {
    // No row: a NOT NULL domain would refuse the NULLs, and the checks wanted are the parser's.
    const probe = `SELECT a IS DISTINCT FROM b FROM (SELECT NULL::${column.sqlType} AS a, NULL::${column.sqlType} AS b WHERE false) p GROUP BY a, b`;
    try {
      await db.query(oneStatement(probe));
      compiled.push({ name: column.name, byText: false });
    } catch (err) {
      const why = `changed of ${qualifiedName(table)}: column ${JSON.stringify(column.name)} cannot be compared: ${errorMessage(err)}`;
      if ((err as { code?: unknown }).code !== UNDEFINED_FUNCTION) throw new RowFilterError(why, { cause: err });
      compiled.push({ name: column.name, byText: true });
    }
  }
  return compiled;
}

/** The listed columns of table `table` with their SQL types, in the order listed; a name the table lacks is left out. */
export async function changedColumnTypes(
  db: pg.ClientBase,
  table: TableName,
  names: readonly string[],
): Promise<Array<{ name: string; sqlType: string }>> {
  const { rows } = await db.query<{ name: string; sqlType: string }>(
    `SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS "sqlType"
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY($3::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.schema, table.table, names],
  );
  const types = new Map(rows.map((r) => [r.name, r.sqlType]));
  return names.filter((n) => types.has(n)).map((name) => ({ name, sqlType: types.get(name)! }));
}

/** `changed` as SQL over rows `next` and `prev` (NEW and OLD in a trigger): at least one listed column differs, NULL against a value included. */
export function changedCondition(columns: readonly ChangedColumn[], next = 'NEW', prev = 'OLD'): string {
  if (columns.length === 0) return 'false';
  const differs = ({ name, byText }: ChangedColumn): string => {
    const [a, b] = [`${next}.${ident(name)}`, `${prev}.${ident(name)}`];
    return byText ? `${a}::text IS DISTINCT FROM ${b}::text` : `${a} IS DISTINCT FROM ${b}`;
  };
  return `(${columns.map(differs).join(' OR ')})`;
}
