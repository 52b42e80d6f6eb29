import type { KeyColumn } from '../install/catalog.js';
import { keyJson, rowJson } from '../install/capture-sql.js';
import { ident } from '../schema/quote.js';
import type { TableName } from '../config/table-name.js';

/** What one backfill reads: the table, its key, the columns of `data`, and the conditions rows must meet. */
export interface ChunkSource {
  readonly table: TableName;
  readonly key: readonly KeyColumn[];
  /** Columns of `data` (the capture's insert selection); null = every column. */
  readonly columns: readonly string[] | null;
  /** SQL conditions over alias `r` (the table's compiled `where`, --where); all must hold. */
  readonly conditions: readonly string[];
  /** A partitioned table: its rows are its partitions'. Any other: its own rows only, not those of tables inheriting from it (their changes are not captured as its). */
  readonly partitioned: boolean;
}

/** The table as a FROM item: the rows its capture sees (see ChunkSource.partitioned). */
export const fromTable = (source: ChunkSource): string =>
  `${source.partitioned ? '' : 'ONLY '}${ident(source.table.schema)}.${ident(source.table.table)}`;
const keyList = (key: readonly KeyColumn[]): string => key.map((k) => `r.${ident(k.name)}`).join(', ');

/** `(r.a, r.b) > ($1::int, $2::text)`: the row comparison a btree index on the key serves. */
function after(key: readonly KeyColumn[], firstParam: number, op: '>' | '<='): string {
  return `(${keyList(key)}) ${op} (${key.map((k, i) => `$${firstParam + i}::${k.type}`).join(', ')})`;
}

/** Params: the last key's values (when `lastKey`), then the bound's (when `bound`). */
function where(source: ChunkSource, lastKey: boolean, bound: boolean): string {
  const n = source.key.length;
  const parts = [
    ...(lastKey ? [after(source.key, 1, '>')] : []),
    ...(bound ? [after(source.key, lastKey ? n + 1 : 1, '<=')] : []),
    ...source.conditions,
  ];
  return parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '';
}

/**
 * The key of the chunk's last row, `size` rows past the last key (params: the
 * last key's values, then the size). No rows back: what is left fits in one chunk.
 * Unlocked: it only fixes the chunk's range.
 */
export function boundSql(source: ChunkSource, lastKey: boolean): string {
  const sizeParam = lastKey ? source.key.length + 1 : 1;
  return `SELECT ${source.key.map((k, i) => `r.${ident(k.name)}::text AS k${i}`).join(', ')}
  FROM ${fromTable(source)} r ${where(source, lastKey, false)}
 ORDER BY ${keyList(source.key)} OFFSET $${sizeParam}::bigint - 1 LIMIT 1`;
}

/**
 * The chunk's rows, locked FOR SHARE, as CTE `chunk` (key, data, k0…kn).
 * FOR SHARE, not KEY SHARE: an UPDATE of non-key columns takes FOR NO KEY
 * UPDATE, which KEY SHARE lets through, and that UPDATE's event could take a
 * smaller id than this READ while carrying the newer value. Under FOR SHARE a
 * writer of a chunk row either committed before (READ COMMITTED re-reads its
 * row version, and its event has the smaller id) or waits for this chunk to
 * commit (its event gets a larger id): per row, a READ never follows a newer change.
 * Params: the last key's values (if any), then the bound's (if any).
 */
export function chunkCte(source: ChunkSource, lastKey: boolean, bound: boolean): string {
  const w = where(source, lastKey, bound);
  return `chunk AS (
  SELECT ${source.key.map((k, i) => `r.${ident(k.name)} AS k${i}`).join(', ')}, ${keyJson(
    'r',
    source.key.map((k) => k.name),
  )} AS key, ${rowJson('r', source.columns)} AS data
    FROM ${fromTable(source)} r ${w}
   ORDER BY ${keyList(source.key)}
     FOR SHARE OF r
)`;
}

/** ORDER BY over the chunk CTE's key columns. */
export const chunkOrder = (source: ChunkSource): string => source.key.map((_, i) => `c.k${i}`).join(', ');
