import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName, type TableName } from '../config/table-name.js';
import { errorMessage } from '../errors.js';
import { ident } from './quote.js';
import { whyNotSelfContained } from './self-contained.js';

/** SQLSTATE syntax_error. */
const SYNTAX_ERROR = '42601';

/**
 * A query sent with the extended protocol, which runs one statement only
 * whatever the text holds (pg sends a query without values by the simple
 * protocol, which runs them all; its typings lack `queryMode`).
 */
export function oneStatement(text: string): pg.QueryConfig {
  return { text, queryMode: 'extended' } as pg.QueryConfig;
}

/** The session's standard_conforming_strings: whether a backslash is an ordinary character in '…'. */
export async function standardConformingStrings(db: pg.ClientBase): Promise<boolean> {
  const { rows } = await db.query<{ on: boolean }>("SELECT current_setting('standard_conforming_strings') = 'on' AS on");
  return rows[0].on;
}

/** A `where` or `changed` rejected (by Postgres, or as not one condition of its own): names the table and carries the reason. */
export class RowFilterError extends Error {
  override name = 'RowFilterError';
}

/** The SQLSTATE of a Postgres error, also when a RowFilterError wraps it. */
export function sqlState(err: unknown): string | undefined {
  const cause = err instanceof RowFilterError ? err.cause : err;
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An error of the condition itself, not of the connection: a `where` that does not
 * compile against a relation's shape (a column it names added later or dropped since),
 * or that fails for one row's values (a division by zero). The same rows fail the same
 * way on every attempt.
 */
export function isConditionError(err: unknown): boolean {
  const code = sqlState(err);
  // Not a missing privilege (TEMP on the database, EXECUTE on a function): the operator must grant it, not lose the filter.
  return typeof code === 'string' && /^(0A|21|22|2F|38|39|42|44|P0)/.test(code) && code !== '42P05' && code !== '42501';
}

/** A `where` Postgres accepted, rendered by Postgres itself with every column qualified by an alias of the caller's choice. */
export interface CompiledRowFilter {
  /** The condition as configured. */
  readonly source: string;
  /** The condition over row `alias` (`NEW`, `OLD`, a transition table's alias). */
  over(alias: string): string;
  /** The condition with bare column names, as Postgres prints an index predicate: what a publication's row filter takes. */
  readonly unqualified: string;
}

/**
 * Checks that a `where` is one condition of its own (self-contained.ts: `a) OR (b`
 * is refused, though Postgres would take it inside the parentheses below), then
 * the way Postgres checks an index predicate (columns exist, the syntax, a
 * boolean, no subquery, only immutable functions: what a
 * trigger WHEN and a publication row filter can evaluate without surprises),
 * against an empty copy of the table, then lets Postgres print it back with
 * each column qualified. That text, never the configured one, goes into the
 * capture: Postgres parsed it as one expression, so nothing in the config can
 * close a parenthesis and add SQL of its own. Runs in a transaction it rolls
 * back: nothing is left behind. `wal` mode puts `unqualified` in its publication
 * (install/publication-filter.ts) or evaluates `over` itself (source/wal/row-condition.ts).
 */
export async function compileRowFilter(
  db: pg.ClientBase,
  table: TableName,
  where: string,
  /** The columns to compile against (name and SQL type) instead of the table's now: a row decoded from the WAL has the shape it was written with. */
  columns?: ReadonlyArray<{ readonly name: string; readonly sqlType: string }>,
): Promise<CompiledRowFilter> {
  const escape = whyNotSelfContained(where, { standardConformingStrings: await standardConformingStrings(db) });
  if (escape !== undefined) {
    // Postgres' class for it: wal mode treats the filter as it treats one Postgres finds a syntax error in (row-condition.ts).
    const cause = Object.assign(new Error(escape), { code: SYNTAX_ERROR });
    throw new RowFilterError(
      `where of ${qualifiedName(table)} (${JSON.stringify(where)}) is not a valid row filter: not one condition of its own: ${escape}`,
      { cause },
    );
  }
  const alias = `pgbridge_row_${randomBytes(6).toString('hex')}`;
  const copy = `pg_temp.${alias}_copy`;
  const marker = `${alias}_w`;
  const definition = columns ? columns.map((c) => `${ident(c.name)} ${c.sqlType}`).join(', ') : `LIKE ${ident(table.schema)}.${ident(table.table)}`;
  await db.query('BEGIN');
  try {
    await db.query(`CREATE TEMP TABLE ${alias}_copy (${definition})`);
    // The line breaks end a -- comment the condition may end with, before the parenthesis.
    await db.query(oneStatement(`CREATE INDEX ON ${copy} ((1)) WHERE (${where}\n)`));
    const predicate = await db.query<{ text: string }>(
      `SELECT pg_get_expr(indpred, indrelid) AS text FROM pg_index WHERE indrelid = '${copy}'::regclass`,
    );
    await db.query(oneStatement(`CREATE TEMP VIEW ${alias}_view AS SELECT (${where}\n) AS ${marker} FROM ${copy} ${alias}`));
    const { rows } = await db.query<{ def: string }>(`SELECT pg_get_viewdef('pg_temp.${alias}_view'::regclass) AS def`);
    const def = rows[0].def;
    const start = def.indexOf('SELECT ') + 'SELECT '.length;
    const end = def.lastIndexOf(` AS ${marker}`);
    if (start < 'SELECT '.length || end < start) throw new Error(`unexpected rendering of the condition: ${def}`);
    const rendered = def.slice(start, end);
    return { source: where, over: (target) => `(${rendered.split(`${alias}.`).join(`${target}.`)})`, unqualified: predicate.rows[0].text };
  } catch (err) {
    throw new RowFilterError(`where of ${qualifiedName(table)} (${JSON.stringify(where)}) is not a valid row filter: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    await db.query('ROLLBACK').catch(() => {});
  }
}
