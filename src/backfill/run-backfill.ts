import type pg from 'pg';
import { qualifiedName, type TableName } from '../config/table-name.js';
import type { BridgeConfig, CaptureTable } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { RowChangeEvent } from '../event.js';
import { primaryKeyColumns, tableInfo, type KeyColumn } from '../install/catalog.js';
import { ident } from '../schema/quote.js';
import { Router } from '../router.js';
import { compileRowFilter, isConditionError, sqlState, standardConformingStrings } from '../schema/row-filter.js';
import { whyNotSelfContained } from '../schema/self-contained.js';
import { boundSql, chunkCte, chunkOrder, fromTable, type ChunkSource } from './chunk-sql.js';
import { sleep } from '../delivery/backoff.js';
import { BackfillError } from './backfill-error.js';
import { ChunkSize } from './chunk-size.js';
import { emitterFor, type Emitter } from './emitter.js';
import { listeningBridge, requireStillListening, type ListenerSession } from './listener-check.js';
import { claimBackfill, recordChunk, recordTotal } from './progress-store.js';
import { stoppedMidway } from './stopped-midway.js';
import { isLockTimeout, TABLE_LOCK_WAIT_MS, waitingForTableLocks } from './table-lock-wait.js';

export { BackfillError } from './backfill-error.js';

export interface BackfillOptions {
  readonly table: TableName;
  /** --where: an extra SQL condition over the table's columns. */
  readonly where?: string;
  /** --sink: emit to this sink only. */
  readonly sink?: string;
  readonly restart: boolean;
  readonly chunkSize: number;
  /** --rate: at most this many rows a second (pauses between chunks), to leave the database to live writers; undefined = as fast as it goes. */
  readonly rowsPerSecond?: number;
  /** Stops after the chunk in progress commits. */
  readonly signal?: AbortSignal;
  /** A writer's row lock held a chunk up: the next takes `rows` rows (1: it waits for that writer). */
  onHeldUp?(info: { readonly rows: number }): void;
  /** Another session's lock on the table (ALTER TABLE, TRUNCATE, LOCK TABLE …) kept the checks before the first chunk, or a chunk, from reading it: they try again. */
  onTableLocked?(): void;
  onStart?(info: { readonly resumed: boolean; readonly rowsDone: number; readonly rowsTotal: number | null }): void;
  onChunk?(progress: { readonly rowsDone: number; readonly rowsTotal: number | null }): void;
}

export interface BackfillResult {
  readonly rowsDone: number;
  /** Rows emitted by this run (a resumed run counts only its own). */
  readonly rowsThisRun: number;
  readonly finished: boolean;
  readonly resumed: boolean;
}

/**
 * Emits every row of a captured table as a READ event, in primary-key order,
 * one short READ COMMITTED transaction per chunk: the chunk's rows (locked
 * FOR SHARE, see chunkCte), their events and the new position commit together,
 * so a SIGKILL loses nothing and repeats nothing. `db` is used alone for the
 * whole run (its session holds the table's backfill lock).
 */
export async function runBackfill(config: BridgeConfig, db: pg.ClientBase, options: BackfillOptions): Promise<BackfillResult> {
  const captured = config.capture.find((t) => t.schema === options.table.schema && t.table === options.table.table);
  const name = qualifiedName(options.table);
  if (!captured) throw new BackfillError(`${name} is not in capture; backfill emits the rows of captured tables only`);
  if (options.sink !== undefined && !config.sinks.some((s) => s.name === options.sink)) {
    throw new BackfillError(`--sink ${JSON.stringify(options.sink)}: no sink of that name in ${config.file}`);
  }
  if (options.sink === undefined && sinksForReads(config, captured).length === 0) {
    throw new BackfillError(
      `no route sends READ events of ${name} to a sink: add read to a route's ops (a route without ops takes every op), or name a sink with --sink`,
    );
  }
  await requireInstalled(db);
  const partitioned = await isPartitioned(db, captured);
  const key = await primaryKeyColumns(db, captured);
  if (key.length === 0) throw new BackfillError(`${name} has no primary key; backfill reads in key order, to read in chunks and to resume`);
  // Compiling the conditions and counting read the table: another session's lock on it must not hold them up unseen.
  const ready = await waitingForTableLocks(db, options, async () => {
    const source: BackfillSource = {
      table: captured,
      key,
      columns: captured.columns.insert,
      conditions: await conditions(db, captured, options.where),
      partitioned,
      tableWhere: captured.where ?? undefined,
      cliWhere: options.where,
    };
    // Before the claim: a condition that fails on some row is refused with no backfill recorded.
    return { source, counted: await estimateTotal(db, source) };
  });
  if (ready === undefined) return { rowsDone: 0, rowsThisRun: 0, finished: false, resumed: false };
  const { source, counted } = ready;
  const emitter = emitterFor(config, captured);
  const listener = config.delivery === 'notify' ? await listeningBridge(db, config.instance) : undefined;

  const state = await claimBackfill(db, config.instance, captured, {
    filter: options.where ?? null,
    sink: options.sink ?? null,
    restart: options.restart,
    keyColumns: key.map(keyOrder),
  });
  const rowsTotal = state.rowsTotal ?? counted;
  if (state.rowsTotal === null && rowsTotal !== null) await recordTotal(db, config.instance, captured, rowsTotal);
  options.onStart?.({ resumed: state.resumed, rowsDone: state.rowsDone, rowsTotal });

  let lastKey = state.lastKey;
  let rowsDone = state.rowsDone;
  let rowsThisRun = 0;
  const startedAt = Date.now();
  const size = new ChunkSize(options.chunkSize);
  for (;;) {
    if (options.signal?.aborted) return { rowsDone, rowsThisRun, finished: false, resumed: state.resumed };
    const chunk = await readChunk(db, config, source, emitter, lastKey, { ...options, size, listener }).catch((err: unknown) => {
      throw err instanceof BackfillError ? err : stoppedMidway(captured, rowsDone, err);
    });
    if (chunk === 'held up') {
      size.heldUp();
      options.onHeldUp?.({ rows: size.rows });
      continue;
    }
    if (chunk === 'table locked') {
      options.onTableLocked?.();
      continue;
    }
    size.gotThrough();
    lastKey = chunk.lastKey;
    rowsDone += chunk.emitted;
    rowsThisRun += chunk.emitted;
    options.onChunk?.({ rowsDone, rowsTotal });
    if (chunk.finished) return { rowsDone, rowsThisRun, finished: true, resumed: state.resumed };
    if (options.rowsPerSecond !== undefined) {
      const ahead = (rowsThisRun / options.rowsPerSecond) * 1000 - (Date.now() - startedAt);
      if (ahead > 0) await sleep(ahead, options.signal);
    }
  }
}

/**
 * A key column as the order of positions depends on it: name, type and, when not the type's default, collation
 * (a key column given another collation orders its values otherwise: "after Y004" in C is not in en-x-icu).
 * Without one, as recorded before collations were: a record of a column left as it was still continues.
 */
const keyOrder = (k: KeyColumn): string => `${k.name} ${k.type}${k.collation ? ` COLLATE ${k.collation}` : ''}`;

/** The sinks the routes give a READ event of `table`. */
function sinksForReads(config: BridgeConfig, table: TableName): readonly string[] {
  const router = new Router(
    config.routes,
    config.sinks.map((sink) => sink.name),
  );
  const read: RowChangeEvent = {
    kind: 'row',
    id: '',
    schema: table.schema,
    table: table.table,
    op: 'READ',
    data: '{}',
    old: null,
    key: null,
    txid: '',
    ts: '',
  };
  return router.sinksFor(read);
}

/** SQLSTATE lock_not_available (lock_timeout ran out) and deadlock_detected: the chunk rolled back, to be tried again. */
const HELD_UP = new Set(['55P03', '40P01']);

interface ChunkOptions extends BackfillOptions {
  readonly size: ChunkSize;
  readonly listener: ListenerSession | undefined;
}

/**
 * One chunk in its own transaction; 'held up' when a row of it stayed locked
 * by a writer longer than the chunk may wait, 'table locked' when another
 * session's lock on the table (or its key's index) did (nothing of the chunk
 * committed either way). The table's ROW SHARE lock, which FOR SHARE needs, is
 * taken first, so a wait past that is a row's. The waits bound the locking
 * statements only: COMMIT, which takes the cluster's NOTIFY queue lock for the
 * wake-up, waits as any writer's does.
 */
async function readChunk(
  db: pg.ClientBase,
  config: BridgeConfig,
  source: BackfillSource,
  emitter: Emitter,
  lastKey: readonly string[] | null,
  options: ChunkOptions,
): Promise<{ lastKey: readonly string[] | null; emitted: number; finished: boolean } | 'held up' | 'table locked'> {
  const after = lastKey ?? [];
  await db.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    for (const sql of emitter.prepare) await db.query(sql);
    await db.query(`SET LOCAL lock_timeout = ${TABLE_LOCK_WAIT_MS}`);
    const bound = await tableLocks(async () => {
      // The table lock FOR SHARE takes, with the privilege it needs (LOCK TABLE needs more).
      await db.query(`SELECT FROM ${fromTable(source)} r LIMIT 0 FOR SHARE OF r`);
      return db.query({ text: boundSql(source, lastKey !== null), values: [...after, options.size.rows], rowMode: 'array' });
    });
    const boundKey = (bound.rows[0] as string[] | undefined) ?? null;
    const params = [...after, ...(boundKey ?? []), options.sink ?? null];
    const statement = `WITH ${chunkCte(source, lastKey !== null, boundKey !== null)}${emitter.emit(chunkOrder(source), params.length)}`;
    await db.query(`SET LOCAL lock_timeout = ${options.size.lockWaitMs}`);
    const { rows } = await db.query<{ emitted: number }>(statement, params);
    await db.query('SET LOCAL lock_timeout TO DEFAULT');
    const emitted = rows[0].emitted;
    const finished = boundKey === null;
    await recordChunk(db, config.instance, source.table, boundKey ?? lastKey, emitted, finished);
    for (const sql of emitter.finish) await db.query(sql);
    if (options.listener) await requireStillListening(db, config.instance, options.listener);
    await db.query('COMMIT');
    return { lastKey: boundKey ?? lastKey, emitted, finished };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    if (err instanceof TableLocked) return 'table locked';
    if (HELD_UP.has(sqlState(err) ?? '')) return 'held up';
    if (isConditionError(err)) throw conditionFailed(source, err, 'the rows before this chunk were emitted');
    throw err;
  }
}

class TableLocked extends Error {}

/** Runs statements that lock only the table and its indexes: a lock they waited for too long is the table's. */
async function tableLocks<T>(statements: () => Promise<T>): Promise<T> {
  try {
    return await statements();
  } catch (err) {
    throw HELD_UP.has(sqlState(err) ?? '') ? new TableLocked('table locked', { cause: err }) : err;
  }
}

/** What a chunk reads, and the conditions as written, for an error about them. */
interface BackfillSource extends ChunkSource {
  readonly tableWhere: string | undefined;
  readonly cliWhere: string | undefined;
}

/** A condition that fails on some row (a division by zero in `where` or --where): which conditions to check, and how far it got. */
function conditionFailed(source: BackfillSource, err: unknown, progress: string): BackfillError {
  const which = [
    source.tableWhere === undefined ? '' : `the table's where ${JSON.stringify(source.tableWhere)}`,
    source.cliWhere === undefined ? '' : `--where ${JSON.stringify(source.cliWhere)}`,
  ]
    .filter(Boolean)
    .join(' or ');
  return new BackfillError(
    `reading the rows of ${qualifiedName(source.table)} failed: ${errorMessage(err)}${which ? ` (check ${which})` : ''}; ${progress}`,
  );
}

/**
 * The table's compiled `where` and --where, each over alias r. A --where that is not one
 * condition of its own (it would close the parenthesis it is put in), or that Postgres
 * rejects, stops here, before anything is emitted.
 */
async function conditions(db: pg.ClientBase, table: CaptureTable, where: string | undefined): Promise<string[]> {
  const result: string[] = [];
  if (table.where) {
    try {
      result.push((await compileRowFilter(db, table, table.where)).over('r'));
    } catch (err) {
      if (isLockTimeout(err)) throw err;
      throw new BackfillError(`${errorMessage(err)}; fix the config and run \`pgbridge install\``);
    }
  }
  if (where !== undefined) {
    const escape = whyNotSelfContained(where, { standardConformingStrings: await standardConformingStrings(db) });
    if (escape !== undefined) {
      throw new BackfillError(
        `--where ${JSON.stringify(where)} is not a valid condition on ${qualifiedName(table)}: not one condition of its own: ${escape}`,
      );
    }
    // The line break ends a -- comment the condition may end with, before the parenthesis.
    const condition = `(${where}\n)`;
    try {
      // Values given: the extended protocol, one statement only.
      await db.query(`EXPLAIN SELECT 1 FROM ${ident(table.schema)}.${ident(table.table)} r WHERE ${condition}`, []);
    } catch (err) {
      if (isLockTimeout(err)) throw err;
      throw new BackfillError(`--where ${JSON.stringify(where)} is not a valid condition on ${qualifiedName(table)}: ${errorMessage(err)}`);
    }
    result.push(condition);
  }
  return result;
}

/** pgbridge.backfills with the key_columns that resuming checks. */
async function requireInstalled(db: pg.ClientBase): Promise<void> {
  const { rows } = await db.query<{ ok: boolean }>(
    "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('pgbridge.backfills') AND attname = 'key_columns' AND NOT attisdropped) AS ok",
  );
  if (!rows[0].ok) throw new BackfillError('pgbridge objects are missing or older than this version; run `pgbridge install` first');
}

/** Whether the table is partitioned (see ChunkSource.partitioned); refuses one that does not exist. */
async function isPartitioned(db: pg.ClientBase, table: TableName): Promise<boolean> {
  const info = await tableInfo(db, table);
  if (!info.exists) {
    throw new BackfillError(
      `${qualifiedName(table)} does not exist in this database; create it, or remove it from capture and run \`pgbridge install\``,
    );
  }
  return info.kind === 'p';
}

/**
 * Rows left to read, for the progress display: counted when that is quick,
 * else the planner's estimate (null: never analyzed). A condition that fails
 * on some row fails the count too: said here, before anything is emitted. A
 * lock timeout goes through to waitingForTableLocks, which counts again.
 */
async function estimateTotal(db: pg.ClientBase, source: BackfillSource): Promise<number | null> {
  const conditions = source.conditions.length > 0 ? `WHERE ${source.conditions.join(' AND ')}` : '';
  await db.query('BEGIN');
  try {
    await db.query("SET LOCAL statement_timeout = '5s'");
    const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${fromTable(source)} r ${conditions}`, []);
    await db.query('COMMIT');
    return Number(rows[0].n);
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    if (isLockTimeout(err)) throw err;
    if (isConditionError(err)) throw conditionFailed(source, err, 'nothing was emitted');
    const table = `${ident(source.table.schema)}.${ident(source.table.table)}`;
    const { rows } = await db.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass`, [table]);
    const n = rows[0]?.n ?? -1;
    return n < 0 ? null : Math.round(n);
  }
}
