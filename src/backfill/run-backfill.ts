import type pg from 'pg';
import { qualifiedName, type TableName } from '../config/table-name.js';
import type { BridgeConfig, CaptureTable } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { RowChangeEvent } from '../event.js';
import { primaryKeyColumns } from '../install/catalog.js';
import { applicationName, listenerPurpose } from '../postgres.js';
import { ident } from '../schema/quote.js';
import { Router } from '../router.js';
import { compileRowFilter, standardConformingStrings } from '../schema/row-filter.js';
import { whyNotSelfContained } from '../schema/self-contained.js';
import { boundSql, chunkCte, chunkOrder, type ChunkSource } from './chunk-sql.js';
import { emitterFor, type Emitter } from './emitter.js';
import { claimBackfill, recordChunk, recordTotal } from './progress-store.js';

/** A backfill that cannot start: the message says why; nothing was emitted. */
export class BackfillError extends Error {
  override name = 'BackfillError';
}

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
  const key = await primaryKeyColumns(db, captured);
  if (key.length === 0) throw new BackfillError(`${name} has no primary key; backfill reads in key order, to read in chunks and to resume`);
  const source: ChunkSource = { table: captured, key, columns: captured.columns.insert, conditions: await conditions(db, captured, options.where) };
  const emitter = emitterFor(config, captured);
  if (config.delivery === 'notify') await requireListener(db, config.instance);

  const state = await claimBackfill(db, config.instance, captured, {
    filter: options.where ?? null,
    sink: options.sink ?? null,
    restart: options.restart,
  });
  const rowsTotal = state.rowsTotal ?? (await estimateTotal(db, source));
  if (state.rowsTotal === null) await recordTotal(db, config.instance, captured, rowsTotal);
  options.onStart?.({ resumed: state.resumed, rowsDone: state.rowsDone, rowsTotal });

  let lastKey = state.lastKey;
  let rowsDone = state.rowsDone;
  let rowsThisRun = 0;
  const startedAt = Date.now();
  for (;;) {
    if (options.signal?.aborted) return { rowsDone, rowsThisRun, finished: false, resumed: state.resumed };
    const chunk = await readChunk(db, config, source, emitter, lastKey, options);
    lastKey = chunk.lastKey;
    rowsDone += chunk.emitted;
    rowsThisRun += chunk.emitted;
    options.onChunk?.({ rowsDone, rowsTotal });
    if (chunk.finished) return { rowsDone, rowsThisRun, finished: true, resumed: state.resumed };
    if (options.rowsPerSecond !== undefined) {
      const ahead = (rowsThisRun / options.rowsPerSecond) * 1000 - (Date.now() - startedAt);
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  }
}

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

async function readChunk(
  db: pg.ClientBase,
  config: BridgeConfig,
  source: ChunkSource,
  emitter: Emitter,
  lastKey: readonly string[] | null,
  options: BackfillOptions,
): Promise<{ lastKey: readonly string[] | null; emitted: number; finished: boolean }> {
  const after = lastKey ?? [];
  await db.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    for (const sql of emitter.prepare) await db.query(sql);
    const bound = await db.query({ text: boundSql(source, lastKey !== null), values: [...after, options.chunkSize], rowMode: 'array' });
    const boundKey = (bound.rows[0] as string[] | undefined) ?? null;
    const params = [...after, ...(boundKey ?? []), options.sink ?? null];
    const statement = `WITH ${chunkCte(source, lastKey !== null, boundKey !== null)}${emitter.emit(chunkOrder(source), params.length)}`;
    const { rows } = await db.query<{ emitted: number }>(statement, params);
    const emitted = rows[0].emitted;
    const finished = boundKey === null;
    await recordChunk(db, config.instance, source.table, boundKey ?? lastKey, emitted, finished);
    for (const sql of emitter.finish) await db.query(sql);
    await db.query('COMMIT');
    return { lastKey: boundKey ?? lastKey, emitted, finished };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
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
      throw new BackfillError(`--where ${JSON.stringify(where)} is not a valid condition on ${qualifiedName(table)}: ${errorMessage(err)}`);
    }
    result.push(condition);
  }
  return result;
}

async function requireInstalled(db: pg.ClientBase): Promise<void> {
  const { rows } = await db.query<{ ok: boolean }>("SELECT to_regclass('pgbridge.backfills') IS NOT NULL AS ok");
  if (!rows[0].ok) throw new BackfillError('pgbridge objects are missing or older than this version; run `pgbridge install` first');
}

/** Notify mode delivers only to a listening bridge of this instance: without one every READ would be lost. */
async function requireListener(db: pg.ClientBase, instance: string): Promise<void> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [applicationName(listenerPurpose(instance))],
  );
  if (rows[0].n === 0) {
    throw new BackfillError(
      `delivery is notify and no \`pgbridge run\` is listening on this database for instance ${JSON.stringify(instance)}: the READ events would be lost; start the bridge first`,
    );
  }
}

/** Rows left to read, for the progress display: counted when that is quick, else the planner's estimate. */
async function estimateTotal(db: pg.ClientBase, source: ChunkSource): Promise<number> {
  const table = `${ident(source.table.schema)}.${ident(source.table.table)}`;
  const where = source.conditions.length > 0 ? `WHERE ${source.conditions.join(' AND ')}` : '';
  await db.query('BEGIN');
  try {
    await db.query("SET LOCAL statement_timeout = '5s'");
    const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} r ${where}`, []);
    await db.query('COMMIT');
    return Number(rows[0].n);
  } catch {
    await db.query('ROLLBACK').catch(() => {});
    const { rows } = await db.query<{ n: number }>(`SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1::regclass`, [table]);
    return Math.round(rows[0]?.n ?? 0);
  }
}
