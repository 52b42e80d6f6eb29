import type pg from 'pg';
import { qualifiedName, type TableName } from '../config/table-name.js';

/** Refused to start: another backfill of the table runs, or the options differ from an interrupted one. */
export class BackfillConflict extends Error {
  override name = 'BackfillConflict';
}

export interface BackfillState {
  readonly lastKey: readonly string[] | null;
  readonly rowsDone: number;
  readonly rowsTotal: number | null;
  /** True when an interrupted backfill is continued. */
  readonly resumed: boolean;
}

export interface BackfillRow {
  readonly instance: string;
  readonly table: string;
  readonly state: 'running' | 'interrupted' | 'finished';
  readonly filter: string | null;
  readonly sink: string | null;
  readonly rowsDone: number;
  readonly rowsTotal: number | null;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
  readonly pid: number | null;
}

/** Advisory lock keys go through hashtext: a collision would only refuse a backfill, never allow two. */
const lockKey = (instance: string, table: TableName) => JSON.stringify([instance, table.schema, table.table]);

/**
 * Takes the table's backfill lock (a session advisory lock on `db`, released
 * when the connection ends, SIGKILL included) and returns where to start: the
 * interrupted backfill's position, or the beginning.
 */
export async function claimBackfill(
  db: pg.ClientBase,
  instance: string,
  table: TableName,
  options: {
    readonly filter: string | null;
    readonly sink: string | null;
    readonly restart: boolean;
    /** The table's primary key now, "name type [COLLATE c]" per column: the order positions are in. */
    readonly keyColumns: readonly string[];
  },
): Promise<BackfillState> {
  const { rows: locked } = await db.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('pgbridge backfill'), hashtext($1)) AS ok", [
    lockKey(instance, table),
  ]);
  const existing = await db.query<{
    last_key: string[] | null;
    rows_done: string;
    rows_total: string | null;
    finished: boolean;
    filter: string | null;
    sink: string | null;
    pid: number | null;
    key_columns: string[] | null;
  }>(
    `SELECT last_key, rows_done::text, rows_total::text, finished_at IS NOT NULL AS finished, filter, sink, pid, key_columns
       FROM pgbridge.backfills WHERE instance = $1 AND schema_name = $2 AND table_name = $3`,
    [instance, table.schema, table.table],
  );
  const row = existing.rows[0];
  if (!locked[0].ok) {
    throw new BackfillConflict(
      `a backfill of ${qualifiedName(table)} is already running${row?.pid ? ` (backend pid ${row.pid})` : ''}; wait for it or stop it first`,
    );
  }
  if (row && !row.finished && !options.restart) {
    if (row.filter !== options.filter || row.sink !== options.sink) {
      const was = `--where ${JSON.stringify(row.filter)} --sink ${JSON.stringify(row.sink)}`;
      throw new BackfillConflict(
        `an interrupted backfill of ${qualifiedName(table)} had other options (${was}); give the same ones to continue it, or --restart`,
      );
    }
    if (row.key_columns !== null && row.key_columns.join() !== options.keyColumns.join()) {
      throw new BackfillConflict(
        `the interrupted backfill of ${qualifiedName(table)} read in the order of its primary key (${row.key_columns.join(', ')}), which is now (${options.keyColumns.join(', ')}): where it stopped is no position in the new order, and continuing would skip rows; start over with --restart`,
      );
    }
    await db.query(
      `UPDATE pgbridge.backfills SET pid = pg_backend_pid(), updated_at = now(), key_columns = coalesce(key_columns, $4)
        WHERE instance = $1 AND schema_name = $2 AND table_name = $3`,
      [instance, table.schema, table.table, options.keyColumns],
    );
    return {
      lastKey: row.last_key,
      rowsDone: Number(row.rows_done),
      rowsTotal: row.rows_total === null ? null : Number(row.rows_total),
      resumed: true,
    };
  }
  await db.query(
    `INSERT INTO pgbridge.backfills (instance, schema_name, table_name, filter, sink, pid, key_columns)
     VALUES ($1, $2, $3, $4, $5, pg_backend_pid(), $6)
     ON CONFLICT (instance, schema_name, table_name) DO UPDATE
       SET filter = EXCLUDED.filter, sink = EXCLUDED.sink, last_key = NULL, rows_done = 0, rows_total = NULL,
           started_at = now(), updated_at = now(), finished_at = NULL, pid = EXCLUDED.pid, key_columns = EXCLUDED.key_columns`,
    [instance, table.schema, table.table, options.filter, options.sink, options.keyColumns],
  );
  return { lastKey: null, rowsDone: 0, rowsTotal: null, resumed: false };
}

export async function recordTotal(db: pg.ClientBase, instance: string, table: TableName, total: number): Promise<void> {
  await db.query('UPDATE pgbridge.backfills SET rows_total = $4 WHERE instance = $1 AND schema_name = $2 AND table_name = $3', [
    instance,
    table.schema,
    table.table,
    total,
  ]);
}

/** Run inside a chunk's transaction: its position commits with its events, or neither does. */
export async function recordChunk(
  db: pg.ClientBase,
  instance: string,
  table: TableName,
  lastKey: readonly string[] | null,
  rows: number,
  finished: boolean,
): Promise<void> {
  await db.query(
    `UPDATE pgbridge.backfills
        SET last_key = $4, rows_done = rows_done + $5, updated_at = now(), finished_at = CASE WHEN $6 THEN now() END
      WHERE instance = $1 AND schema_name = $2 AND table_name = $3`,
    [instance, table.schema, table.table, lastKey, rows, finished],
  );
}

/**
 * Every backfill recorded in the database (all instances unless one is given):
 * running when its backend is still there, interrupted when not. For `status`.
 */
export async function listBackfills(db: pg.ClientBase, instance?: string): Promise<BackfillRow[]> {
  const { rows } = await db.query<{
    instance: string;
    table: string;
    running: boolean;
    finished: boolean;
    filter: string | null;
    sink: string | null;
    rows_done: string;
    rows_total: string | null;
    started_at: string;
    updated_at: string;
    finished_at: string | null;
    pid: number | null;
  }>(
    `SELECT b.instance, b.schema_name || '.' || b.table_name AS table, b.finished_at IS NOT NULL AS finished,
            EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = b.pid AND a.application_name = 'pgbridge backfill') AS running,
            b.filter, b.sink, b.rows_done::text, b.rows_total::text,
            b.started_at::text, b.updated_at::text, b.finished_at::text, b.pid
       FROM pgbridge.backfills b
      WHERE $1::text IS NULL OR b.instance = $1
      ORDER BY b.started_at`,
    [instance ?? null],
  );
  return rows.map((r) => ({
    instance: r.instance,
    table: r.table,
    state: r.finished ? 'finished' : r.running ? 'running' : 'interrupted',
    filter: r.filter,
    sink: r.sink,
    rowsDone: Number(r.rows_done),
    rowsTotal: r.rows_total === null ? null : Number(r.rows_total),
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    pid: r.finished ? null : r.pid,
  }));
}
