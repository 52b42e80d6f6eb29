import type pg from 'pg';
import type { JsonKind } from './json-render.js';

interface TypeRow {
  oid: number;
  typtype: string;
  basetype: number;
  elem: number;
  is_array: boolean;
  delim: string;
  relid: number;
  json_cast: boolean;
  fields: Array<{ name: string; type: number }> | null;
}

const FIXED: ReadonlyMap<number, JsonKind> = new Map<number, JsonKind>([
  [16, { kind: 'bool' }],
  [21, { kind: 'number' }],
  [23, { kind: 'number' }],
  [20, { kind: 'number' }],
  [700, { kind: 'number' }],
  [701, { kind: 'number' }],
  [1700, { kind: 'number' }],
  [1082, { kind: 'date' }],
  [1114, { kind: 'timestamp' }],
  [1184, { kind: 'timestamptz' }],
  [114, { kind: 'json' }],
  [3802, { kind: 'json' }],
  [25, { kind: 'string' }],
  [1043, { kind: 'string' }],
]);

/** Postgres' FirstNormalObjectId: only types from here on may bring their own cast to json. */
const FIRST_USER_OID = 16384;

const TYPE_QUERY = `
SELECT t.oid::int, t.typtype, t.typbasetype::int AS basetype, t.typelem::int AS elem,
       (t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc) AS is_array,
       t.typdelim AS delim, t.typrelid::int AS relid,
       (t.oid >= ${FIRST_USER_OID} AND EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = t.oid AND c.casttarget = 'json'::regtype AND c.castmethod = 'f')) AS json_cast,
       (SELECT json_agg(json_build_object('name', a.attname, 'type', a.atttypid::int) ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS fields
  FROM pg_type t WHERE t.oid = ANY($1::oid[])`;

/**
 * to_json's view of each column type, read from pg_type (and pg_attribute for
 * composites). User types are read again when a relation is (DDL may change them).
 */
export class TypeCatalog {
  private readonly rows = new Map<number, TypeRow>();

  constructor(private readonly db: () => Promise<pg.ClientBase & { release?: () => void }>) {}

  /** Forget user-defined types (ALTER TYPE may have changed a composite's fields). */
  forgetUserTypes(): void {
    for (const oid of this.rows.keys()) if (oid >= FIRST_USER_OID) this.rows.delete(oid);
  }

  async kinds(oids: readonly number[]): Promise<JsonKind[]> {
    await this.load(oids);
    return oids.map((oid) => this.kind(oid, 0));
  }

  private async load(oids: readonly number[]): Promise<void> {
    let missing = [...new Set(oids)].filter((oid) => !FIXED.has(oid) && !this.rows.has(oid));
    if (missing.length === 0) return;
    const db = await this.db();
    try {
      while (missing.length > 0) {
        const { rows } = await db.query<TypeRow>(TYPE_QUERY, [missing]);
        for (const row of rows) this.rows.set(row.oid, row);
        const found = new Set(rows.map((r) => r.oid));
        const gone = missing.filter((oid) => !found.has(oid));
        if (gone.length > 0) throw new Error(`type oid ${gone.join(', ')} is not in pg_type (dropped?)`);
        const referenced = rows.flatMap((r) => [r.basetype, r.is_array ? r.elem : 0, ...(r.fields ?? []).map((f) => f.type)]);
        missing = [...new Set(referenced)].filter((oid) => oid !== 0 && !FIXED.has(oid) && !this.rows.has(oid));
      }
    } finally {
      db.release?.();
    }
  }

  private kind(oid: number, depth: number): JsonKind {
    if (depth > 32) throw new Error(`type oid ${oid}: nesting too deep`);
    const fixed = FIXED.get(oid);
    if (fixed) return fixed;
    const row = this.rows.get(oid);
    if (!row) throw new Error(`type oid ${oid} was not loaded`);
    if (row.typtype === 'd') return this.kind(row.basetype, depth + 1);
    if (row.is_array) return { kind: 'array', element: this.kind(row.elem, depth + 1), delimiter: row.delim };
    if (row.typtype === 'c') {
      return { kind: 'composite', fields: (row.fields ?? []).map((f) => ({ name: f.name, type: this.kind(f.type, depth + 1) })) };
    }
    if (row.json_cast) return { kind: 'server' };
    return { kind: 'string' };
  }
}
