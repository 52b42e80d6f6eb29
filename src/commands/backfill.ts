import type { CommandArgs } from '../cli.js';
import { parseTableName, qualifiedName } from '../config/table-name.js';
import type { BridgeConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../logger.js';
import { connectClient } from '../postgres.js';
import type { Scrubber } from '../secrets.js';
import { progressDisplay } from '../backfill/progress-display.js';
import { BackfillConflict, listBackfills } from '../backfill/progress-store.js';
import { BackfillError, runBackfill } from '../backfill/run-backfill.js';

const USAGE =
  'usage: pgbridge backfill [-c FILE] TABLE [--where SQL] [--sink NAME] [--restart] [--chunk N] [--rate ROWS_PER_S] | pgbridge backfill --status [--json]\n';
const DEFAULT_CHUNK = 5000;

/** `pgbridge backfill TABLE`: every current row as a READ event (see src/backfill/run-backfill.ts); `--status` lists backfills. */
export async function backfillCommand(config: BridgeConfig, scrubber: Scrubber, args: CommandArgs): Promise<number> {
  if (args.status) return printStatus(config, args.json === true);
  const [tableArg, ...extra] = args.positionals;
  const chunkSize = args.chunk === undefined ? DEFAULT_CHUNK : rowCount(args.chunk);
  const rate = args.rate === undefined ? undefined : rowsPerSecond(args.rate);
  if (tableArg === undefined || extra.length > 0 || chunkSize === undefined || rate === null) {
    process.stderr.write(USAGE);
    return 2;
  }
  let table;
  try {
    table = parseTableName(tableArg);
  } catch (err) {
    process.stderr.write(`pgbridge backfill: ${errorMessage(err)}\n`);
    return 2;
  }
  const logger = createLogger(config.log, scrubber).child({ component: 'backfill' });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const db = await connectClient(config, 'backfill');
  try {
    let display: ReturnType<typeof progressDisplay> | undefined;
    let waitingForWriters = false;
    let waitingForTableLock = false;
    const result = await runBackfill(config, db, {
      table,
      where: args.where,
      sink: args.sink,
      restart: args.restart === true,
      chunkSize,
      rowsPerSecond: rate,
      signal: stop.signal,
      onStart: ({ resumed, rowsDone, rowsTotal }) => {
        logger.info(
          { table: qualifiedName(table), resumed, rows_done: rowsDone, rows_total: rowsTotal, delivery: config.delivery, sink: args.sink ?? null },
          resumed ? 'continuing an interrupted backfill' : 'backfill starting',
        );
        display = progressDisplay(qualifiedName(table), rowsDone, process.stderr, logger);
      },
      onChunk: ({ rowsDone, rowsTotal }) => display?.update(rowsDone, rowsTotal),
      onTableLocked: () => {
        if (waitingForTableLock) return;
        waitingForTableLock = true;
        logger.warn(
          { table: qualifiedName(table) },
          `waiting for a lock another session holds on ${qualifiedName(table)} (an ALTER TABLE, TRUNCATE, VACUUM FULL or LOCK TABLE in a transaction still open): the backfill tries again every half second until it is gone (Ctrl-C stops it)`,
        );
      },
      onHeldUp: ({ rows }) => {
        if (rows > 1 || waitingForWriters) return;
        waitingForWriters = true;
        logger.warn(
          { table: qualifiedName(table) },
          'writers keep rows of the table locked: the backfill goes past them one row at a time, each waiting for its writer to commit',
        );
      },
    });
    if (!result.finished) {
      logger.warn({ table: qualifiedName(table), rows_done: result.rowsDone }, 'backfill stopped; run the same command again to continue');
      return 1;
    }
    display?.done(result.rowsDone);
    return 0;
  } catch (err) {
    if (err instanceof BackfillError || err instanceof BackfillConflict) {
      process.stderr.write(`pgbridge backfill: ${scrubber.scrub(err.message)}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await db.end().catch(() => {});
    logger.flush?.();
  }
}

/** A count of rows as written in decimal digits (`1e3`, `0x10`, ` 7` are not), up to 2^53 - 1. */
function rowCount(text: string): number | undefined {
  const n = Number(text);
  return /^[1-9][0-9]*$/.test(text) && Number.isSafeInteger(n) ? n : undefined;
}

/** Rows a second as written in decimal (`2000`, `0.5`), above 0; null when it is not. */
function rowsPerSecond(text: string): number | null {
  const n = Number(text);
  return /^[0-9]+(\.[0-9]+)?$/.test(text) && Number.isFinite(n) && n > 0 ? n : null;
}

async function printStatus(config: BridgeConfig, json: boolean): Promise<number> {
  const db = await connectClient(config, 'backfill status');
  try {
    const exists = await db.query<{ ok: boolean }>("SELECT to_regclass('pgbridge.backfills') IS NOT NULL AS ok");
    const rows = exists.rows[0].ok ? await listBackfills(db, config.instance) : [];
    if (json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return 0;
    }
    if (rows.length === 0) process.stdout.write('no backfills\n');
    for (const r of rows) {
      const of = r.rowsTotal === null ? '' : ` of ~${r.rowsTotal}`;
      const opts = [r.filter ? ` --where ${JSON.stringify(r.filter)}` : '', r.sink ? ` --sink ${r.sink}` : ''].join('');
      process.stdout.write(
        `${r.table}: ${r.state}, ${r.rowsDone}${of} rows${opts}, started ${r.startedAt}${r.finishedAt ? `, finished ${r.finishedAt}` : `, last chunk ${r.updatedAt}`}\n`,
      );
    }
    return 0;
  } finally {
    await db.end().catch(() => {});
  }
}
