import type { CaptureOp } from '../../config/schema.js';
import { UNCHANGED, type WireValue } from './pgoutput.js';
import type { RelationShape, RowJson } from './relation-cache.js';

/**
 * What the WAL record of an UPDATE or DELETE lacks when the table's replica
 * identity was not FULL as it was written: the old row (pgoutput sent no old
 * values, or only the identity's key columns), and with it an UPDATE's
 * unchanged TOASTed values. Reading the record again never brings them, and
 * neither does `install` afterwards: such a change becomes a dead letter
 * carrying what the record has, and the stream goes on.
 */
export interface MissingOldRow {
  /** The old values the record has. */
  readonly old: 'whole' | 'key' | 'none';
  /** Columns of an UPDATE's new row that pgoutput left out as unchanged TOASTed values and no old value fills in. */
  readonly unchanged: readonly string[];
}

/** undefined when the change is whole: an INSERT, or an UPDATE/DELETE with the whole old row. */
export function missingOldRow(
  shape: RelationShape,
  op: CaptureOp,
  values: readonly WireValue[] | null,
  old: readonly WireValue[] | null,
  keyOnly: boolean,
): MissingOldRow | undefined {
  const wholeOld = old !== null && !keyOnly ? old : null;
  // Every change passes here: the usual whole one without building anything.
  if ((op === 'insert' || wholeOld !== null) && (values === null || !values.includes(UNCHANGED))) return undefined;
  const unchanged =
    values === null
      ? []
      : shape.columns
          .filter((c) => c.wire >= 0 && values[c.wire] === UNCHANGED && (wholeOld === null || wholeOld[c.wire] === UNCHANGED))
          .map((c) => c.name);
  if ((op === 'insert' || wholeOld !== null) && unchanged.length === 0) return undefined;
  return { old: wholeOld !== null ? 'whole' : old !== null ? 'key' : 'none', unchanged };
}

/** A new row's values ready to render: an unchanged TOASTed value the record lacks is null there (and left out of the event). */
export function withoutUnchanged(values: readonly WireValue[]): WireValue[] {
  return values.map((v) => (v === UNCHANGED ? null : v));
}

/** The dead letter's error: the table, its identity, what the event holds, and the fix. */
export function missingOldRowReason(shape: RelationShape, op: CaptureOp, missing: MissingOldRow, filterSkipped: boolean): string {
  const name = `${shape.schema}.${shape.table}`;
  const verb = op.toUpperCase();
  const parts = [
    missing.old === 'whole'
      ? `${name}: ${verb} without every value of its new row`
      : `${name}: ${verb} without the whole old row (replica identity ${describeIdentity(shape.replicaIdentity)})`,
  ];
  if (missing.old === 'none') parts.push('old is null: the WAL record has no old values');
  if (missing.old === 'key') parts.push(`${op === 'delete' ? 'data and old hold' : 'old holds'} only the key columns the WAL record has`);
  if (missing.unchanged.length > 0) {
    parts.push(`data leaves out ${missing.unchanged.join(', ')}: an unchanged TOASTed value the WAL record does not carry`);
  }
  if (filterSkipped) parts.push('`where` / `changed` not applied: it needs the old row');
  parts.push('run `pgbridge install` to set REPLICA IDENTITY FULL (changes already written stay as they are)');
  return parts.join('; ');
}

export interface PartialRow {
  readonly data: string;
  readonly old: string | null;
  readonly key: string | null;
}

/**
 * data, old and key of the event from what the record has, each restricted to
 * the capture's `columns` (null: every column): an UPDATE's new row without
 * the values it lacks, the old values as sent; a DELETE's data is its old values.
 */
export function partialRow(
  op: CaptureOp,
  columns: readonly string[] | null,
  missing: MissingOldRow,
  newRow: RowJson | null,
  oldRow: RowJson | null,
): PartialRow {
  const oldSent = oldRow && sentOf(oldRow.shape, missing.old === 'whole' ? 'all' : 'key', []);
  const old = oldRow && oldSent ? objectOf(oldRow, pick(oldRow.shape, columns, oldSent)) : null;
  if (op === 'delete') return { data: old ?? 'null', old, key: oldRow && oldSent ? keyOf(oldRow, oldSent) : null };
  const newSent = newRow && sentOf(newRow.shape, 'all', missing.unchanged);
  if (!newRow || !newSent) return { data: 'null', old, key: null };
  return { data: objectOf(newRow, pick(newRow.shape, columns, newSent)), old, key: keyOf(newRow, newSent) };
}

/** Columns whose value the record has; a generated one only when computed from every value it could need. */
function sentOf(shape: RelationShape, tuple: 'all' | 'key', unchanged: readonly string[]): ReadonlySet<string> {
  const complete = tuple === 'all' && unchanged.length === 0;
  return new Set(
    shape.columns.filter((c) => (c.wire < 0 ? complete : tuple === 'all' ? !unchanged.includes(c.name) : c.replicaKey)).map((c) => c.name),
  );
}

function pick(shape: RelationShape, columns: readonly string[] | null, sent: ReadonlySet<string>): string[] {
  return (columns ?? shape.names).filter((name) => sent.has(name));
}

/** The primary key, when the record has every column of it (a replica identity index may be another key). */
function keyOf(row: RowJson, sent: ReadonlySet<string>): string | null {
  const { primaryKey } = row.shape;
  return primaryKey.length > 0 && primaryKey.every((c) => sent.has(c)) ? objectOf(row, primaryKey) : null;
}

/** rowObject for a one-off column list (rowObject keeps a plan per list: one per dead letter would pile up). */
function objectOf(row: RowJson, names: readonly string[]): string {
  const { keys, index } = row.shape;
  return `{${names.map((name) => `${keys[index.get(name)!]}${row.values[index.get(name)!]}`).join(',')}}`;
}

function describeIdentity(code: string): string {
  return { d: 'default', n: 'nothing', f: 'full', i: 'index' }[code] ?? code;
}
