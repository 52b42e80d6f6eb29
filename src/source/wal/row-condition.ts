import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { CaptureOp } from '../../config/schema.js';
import type { CaptureTable } from '../../config/types.js';
import { ident } from '../../schema/quote.js';
import { changedCondition, compileChanged } from '../../schema/changed-columns.js';
import { compileRowFilter } from '../../schema/row-filter.js';
import { statementPrefix } from '../prepared-sql.js';
import type { WireValue } from './pgoutput.js';
import type { RelationShape } from './relation-cache.js';

type Db = () => Promise<pg.ClientBase & { release?: () => void }>;

/**
 * A captured table's `where` and `changed`, applied by the bridge to what the
 * slot sends, exactly as the trigger modes apply them: `where` on the new row
 * of an INSERT or UPDATE and on the old row of a DELETE, NULL counting as
 * false; `changed` as IS DISTINCT FROM between the old and new row (by text
 * for a type without equality: schema/changed-columns.ts). Postgres
 * evaluates it (one prepared query per row of such a table) over the row's
 * values as pgoutput sent them, typed by the relation's shape, stored
 * generated columns included; the condition is compiled against that shape
 * too (a row written before a DDL has the columns it was written with). Ops whose `where` the publication already
 * applied (install/publication-filter.ts: INSERT and DELETE, and only while
 * no UPDATE is published) are not checked again.
 */
export class RowCondition {
  private constructor(private readonly queries: ReadonlyMap<CaptureOp, { readonly text: string; readonly withOld: boolean }>) {}

  /** undefined: every row of `table` passes (no `where`, no `changed`). */
  static async of(shape: RelationShape, table: CaptureTable, publication: string, db: Db): Promise<RowCondition | undefined> {
    if (!table.where && !table.changed) return undefined;
    const client = await db();
    let where: string | undefined;
    let inPublication = false;
    let changed: string | undefined;
    try {
      if (table.changed) {
        // A listed column no longer in the table cannot have changed.
        const present = shape.columns.filter((c) => table.changed!.includes(c.name));
        changed = changedCondition(await compileChanged(client, table, present), 'r', 'o');
      }
      if (table.where) {
        const compiled = await compileRowFilter(client, table, table.where, shape.columns);
        where = compiled.over('r');
        const { rows } = await client.query<{ rowfilter: string | null }>(
          `SELECT rowfilter FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`,
          [publication, shape.schema, shape.table],
        );
        // Only the very condition: a filter left by an install with another `where` is no reason to skip checking.
        inPublication = rows[0]?.rowfilter === compiled.unqualified;
      }
    } finally {
      client.release?.();
    }
    const queries = new Map<CaptureOp, { text: string; withOld: boolean }>();
    const newRow = `${rowSource(shape, 0)} r`;
    if (where && !inPublication) {
      const text = `SELECT coalesce(${where}, false) FROM ${newRow}`;
      queries.set('insert', { text, withOld: false });
      queries.set('delete', { text, withOld: false });
    }
    const update = [where ? `coalesce(${where}, false)` : '', changed ?? ''].filter(Boolean);
    if (update.length > 0) {
      const withOld = changed !== undefined;
      const oldRow = withOld ? `, ${rowSource(shape, shape.columns.filter((c) => c.wire >= 0).length)} o` : '';
      queries.set('update', { text: `SELECT ${update.join(' AND ')} FROM ${newRow}${oldRow}`, withOld });
    }
    return new RowCondition(queries);
  }

  appliesTo(op: CaptureOp): boolean {
    return this.queries.has(op);
  }

  /** Whether judging `op` takes the old row: a DELETE's `where`, an UPDATE's `changed`. */
  needsOldRow(op: CaptureOp): boolean {
    return op === 'delete' ? this.queries.has(op) : this.queries.get(op)?.withOld === true;
  }

  /** `values`: the new row (INSERT, UPDATE) or the old one (DELETE); `old`: an UPDATE's old row. */
  async holds(op: CaptureOp, values: readonly WireValue[], old: readonly WireValue[] | null, db: Db): Promise<boolean> {
    const query = this.queries.get(op);
    if (query === undefined) return true;
    const { text } = query;
    const params = query.withOld && old ? [...values, ...old] : values;
    const client = await db();
    try {
      const name = `${statementPrefix(client)}rc_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      const { rows } = await client.query<[boolean]>({ name, text, values: params as Array<string | null>, rowMode: 'array' });
      return rows[0][0] === true;
    } finally {
      client.release?.();
    }
  }
}

/** The row as a one-row subquery: `$n::text::type` per sent column, then the stored generated ones computed from them. */
function rowSource(shape: RelationShape, offset: number): string {
  const inputs = shape.columns.filter((c) => c.wire >= 0).map((c) => `$${offset + c.wire + 1}::text::${c.sqlType} AS ${ident(c.name)}`);
  const generated = shape.columns.filter((c) => c.wire < 0 && c.expr !== null).map((c) => `(${c.expr}) AS ${ident(c.name)}`);
  const sent = `(SELECT ${inputs.join(', ')})`;
  return generated.length > 0 ? `(SELECT t.*, ${generated.join(', ')} FROM ${sent} t)` : sent;
}
