import type pg from 'pg';
import { ident } from '../../schema/quote.js';
import { needsServer, renderValue, type JsonKind } from './json-render.js';
import { UNCHANGED, type RelationColumn, type WireValue } from './pgoutput.js';
import type { TypeCatalog } from './type-catalog.js';

interface CatalogColumn {
  name: string;
  generated: boolean;
  expr: string | null;
  type: string;
}

/** One column of the rendered row, in the table's column order. */
export interface RowColumn {
  readonly name: string;
  /** Index in pgoutput's tuple; -1 for a generated column (pgoutput before PG 18 leaves them out). */
  readonly wire: number;
  readonly kind: JsonKind | undefined;
  readonly serverRendered: boolean;
  readonly expr: string | null;
  readonly sqlType: string;
  /** A column of the replica identity: the only ones a key-only old row ('K') has. */
  readonly replicaKey: boolean;
}

/** Row values as JSON text, in the shape's column order. */
export interface RowJson {
  readonly shape: RelationShape;
  readonly values: readonly string[];
}

/**
 * What one Relation message says about a table, completed from the catalog:
 * to_json's rendering of each column type, the primary key, and the stored
 * generated columns pgoutput does not send (their expression is evaluated by
 * Postgres on the row's values — generated columns are immutable by definition).
 */
export class RelationShape {
  private serverQuery: string | undefined;
  /** `"name":` of each column, and each column's place by name. */
  readonly keys: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  /** rowObject's plan per column list (the config's arrays, the same object each time). */
  private readonly plans = new Map<readonly string[] | null, ObjectPlan>();

  constructor(
    readonly oid: number,
    readonly schema: string,
    readonly table: string,
    readonly replicaIdentity: string,
    readonly primaryKey: readonly string[],
    readonly columns: readonly RowColumn[],
    private readonly wireCount: number,
  ) {
    this.keys = columns.map((c) => `${JSON.stringify(c.name)}:`);
    this.index = new Map(columns.map((c, i) => [c.name, i]));
    const server = columns.filter((c) => c.serverRendered);
    if (server.length > 0) {
      const inputs = columns.filter((c) => c.wire >= 0).map((c) => `$${c.wire + 1}::text::${c.sqlType} AS ${ident(c.name)}`);
      const outputs = server.map((c) => `to_json(${c.expr === null ? `t.${ident(c.name)}` : `(${c.expr})`})::text`);
      this.serverQuery = `SELECT ${outputs.join(', ')} FROM (SELECT ${inputs.join(', ')}) t`;
    }
  }

  /** Which values, after which `{"name":` / `,"name":` texts, make the object for `columns` (null: all, in table order). */
  plan(columns: readonly string[] | null): ObjectPlan {
    let plan = this.plans.get(columns);
    if (plan) return plan;
    const at = columns === null ? this.columns.map((_, i) => i) : columns.map((name) => this.index.get(name)).filter((i) => i !== undefined);
    // A listed column dropped since install is left out: the event follows the table's new shape.
    const pieces = new Array<string>(at.length * 2 + 1).fill('');
    at.forEach((i, n) => (pieces[n * 2] = `${n === 0 ? '{' : ','}${this.keys[i]}`));
    pieces[at.length * 2] = at.length === 0 ? '{}' : '}';
    plan = { at, pieces };
    this.plans.set(columns, plan);
    return plan;
  }

  get names(): readonly string[] {
    return this.columns.map((c) => c.name);
  }

  /** Whether the values of `values` still hold an unchanged-TOAST placeholder. */
  static hasUnchanged(values: readonly WireValue[]): boolean {
    return values.includes(UNCHANGED);
  }

  /** The row's JSON values; `values` must be complete (no UNCHANGED left; see fillUnchanged). Synchronous unless Postgres must render a column. */
  render(values: readonly WireValue[], db: () => Promise<pg.ClientBase & { release?: () => void }>): RowJson | Promise<RowJson> {
    if (values.length !== this.wireCount) throw new Error(`${this.schema}.${this.table}: ${values.length} values for ${this.wireCount} columns`);
    if (!this.serverQuery) return { shape: this, values: this.renderLocal(values, undefined) };
    const query = this.serverQuery;
    return (async () => {
      const client = await db();
      try {
        const { rows } = await client.query({ text: query, values: values as Array<string | null>, rowMode: 'array' });
        return { shape: this, values: this.renderLocal(values, rows[0] as Array<string | null>) };
      } finally {
        client.release?.();
      }
    })();
  }

  private renderLocal(values: readonly WireValue[], serverValues: Array<string | null> | undefined): string[] {
    const out = new Array<string>(this.columns.length);
    let s = 0;
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      if (c.serverRendered) {
        out[i] = serverValues![s++] ?? 'null';
        continue;
      }
      const v = values[c.wire];
      out[i] = v === null || v === UNCHANGED ? 'null' : renderValue(v, c.kind!);
    }
    return out;
  }
}

const CATALOG_QUERY = `
SELECT a.attname AS name, a.attgenerated <> '' AS generated, pg_get_expr(d.adbin, d.adrelid) AS expr,
       format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

const PRIMARY_KEY_QUERY = `
SELECT coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1 AND i.indisprimary), '{}') AS pk`;

/** Builds a RelationShape from a Relation message and the catalog. */
export async function loadShape(
  message: { relationOid: number; schema: string; name: string; replicaIdentity: string; columns: readonly RelationColumn[] },
  types: TypeCatalog,
  db: () => Promise<pg.ClientBase & { release?: () => void }>,
): Promise<RelationShape> {
  const kinds = await types.kinds(message.columns.map((c) => c.typeOid));
  const client = await db();
  let catalog: CatalogColumn[];
  let primaryKey: string[];
  try {
    catalog = (await client.query<CatalogColumn>(CATALOG_QUERY, [message.relationOid])).rows;
    primaryKey = (await client.query<{ pk: string[] }>(PRIMARY_KEY_QUERY, [message.relationOid])).rows[0].pk;
  } finally {
    client.release?.();
  }
  const typeOf = new Map(catalog.map((c) => [c.name, c.type]));
  const wireColumns: RowColumn[] = message.columns.map((c, i) => ({
    name: c.name,
    wire: i,
    kind: kinds[i],
    serverRendered: needsServer(kinds[i]),
    expr: null,
    sqlType: typeOf.get(c.name) ?? `pg_catalog.text`,
    replicaKey: c.key,
  }));
  // The message's columns are the truth (the catalog may already be newer); generated ones go after the column they follow.
  const ordered = [...wireColumns];
  catalog.forEach((c, i) => {
    if (!c.generated || ordered.some((o) => o.name === c.name)) return;
    const before = i === 0 ? -1 : ordered.findIndex((o) => o.name === catalog[i - 1].name);
    const at = before < 0 && i > 0 ? ordered.length : before + 1;
    ordered.splice(at, 0, { name: c.name, wire: -1, kind: undefined, serverRendered: true, expr: c.expr, sqlType: c.type, replicaKey: false });
  });
  return new RelationShape(message.relationOid, message.schema, message.name, message.replicaIdentity, primaryKey, ordered, message.columns.length);
}

/** An UPDATE's new tuple leaves unchanged TOASTed values out; with REPLICA IDENTITY FULL the old tuple has them. */
export function fillUnchanged(values: readonly WireValue[], old: readonly WireValue[] | null): WireValue[] | undefined {
  if (!values.includes(UNCHANGED)) return values as WireValue[];
  if (!old) return undefined;
  const filled = values.map((v, i) => (v === UNCHANGED ? old[i] : v));
  return filled.includes(UNCHANGED) ? undefined : filled;
}

/** The values of a row's columns, in order, between the texts that make a JSON object of them. */
export interface ObjectPlan {
  readonly at: readonly number[];
  /**
   * pieces[2n] goes before value n, the last one closes the object; rowObject
   * puts the values in the odd places and joins them: one flat string, where
   * `+=` would leave a tree of pieces for the stdout sink to flatten again.
   */
  readonly pieces: string[];
}

/** `{"a":1,"b":"x"}` for `columns` (null: every column, in table order), the compact text row_to_json writes. */
export function rowObject(row: RowJson, columns: readonly string[] | null): string {
  const { at, pieces } = row.shape.plan(columns);
  const { values } = row;
  for (let k = 0; k < at.length; k++) pieces[2 * k + 1] = values[at[k]];
  return pieces.join('');
}
