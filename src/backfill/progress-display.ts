import type { Logger } from 'pino';

export interface ProgressDisplay {
  update(rowsDone: number, rowsTotal: number | null): void;
  done(rowsDone: number): void;
}

const BAR_WIDTH = 30;
/** How often a JSON progress line is written when stderr is not a terminal. */
const LINE_INTERVAL_MS = 1000;

/** Rows per second over this run, and the seconds left at that rate. */
function rates(startedAt: number, startRows: number, rowsDone: number, rowsTotal: number | null) {
  const seconds = Math.max(0.001, (Date.now() - startedAt) / 1000);
  const perSecond = (rowsDone - startRows) / seconds;
  const left = rowsTotal === null ? null : Math.max(0, rowsTotal - rowsDone);
  const eta = left === null || perSecond <= 0 ? null : left / perSecond;
  return { perSecond, eta };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * A progress bar (rows, rows/s, ETA) redrawn in place on a terminal; JSON lines
 * through the logger, once a second, when stderr is a file or a pipe.
 */
export function progressDisplay(table: string, startRows: number, stream: NodeJS.WriteStream, logger: Logger): ProgressDisplay {
  const startedAt = Date.now();
  let lastLine = 0;
  if (stream.isTTY) {
    return {
      update(rowsDone, rowsTotal) {
        const { perSecond, eta } = rates(startedAt, startRows, rowsDone, rowsTotal);
        const share = rowsTotal ? Math.min(1, rowsDone / rowsTotal) : 0;
        const filled = Math.round(share * BAR_WIDTH);
        const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
        const of = rowsTotal === null ? '' : ` / ${fmt(rowsTotal)}`;
        stream.write(
          `\r${table} ${bar} ${Math.round(share * 100)}% ${fmt(rowsDone)}${of} rows, ${fmt(perSecond)} rows/s, ETA ${eta === null ? '?' : `${Math.ceil(eta)} s`}\x1b[K`,
        );
      },
      done(rowsDone) {
        const { perSecond } = rates(startedAt, startRows, rowsDone, null);
        stream.write(`\r${table}: ${fmt(rowsDone)} rows, ${fmt(perSecond)} rows/s, done\x1b[K\n`);
      },
    };
  }
  return {
    update(rowsDone, rowsTotal) {
      if (Date.now() - lastLine < LINE_INTERVAL_MS) return;
      lastLine = Date.now();
      const { perSecond, eta } = rates(startedAt, startRows, rowsDone, rowsTotal);
      logger.info(
        { table, rows: rowsDone, total: rowsTotal, rows_per_s: Math.round(perSecond), eta_s: eta === null ? null : Math.ceil(eta) },
        'backfill progress',
      );
    },
    done(rowsDone) {
      const { perSecond } = rates(startedAt, startRows, rowsDone, null);
      logger.info({ table, rows: rowsDone, rows_per_s: Math.round(perSecond), seconds: (Date.now() - startedAt) / 1000 }, 'backfill finished');
    },
  };
}
