import type { ChildProcess } from 'node:child_process';
import { waitFor } from './bridge.js';
import type { TestDatabase } from './pg.js';

/** Rows a backfill of `table` has recorded as done (0 before its record exists). */
export async function backfillRowsDone(db: TestDatabase, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT rows_done AS n FROM pgbridge.backfills WHERE table_name = $1', [table]);
  return Number(rows[0]?.n ?? 0);
}

/** SIGKILLs a running `pgbridge backfill` and waits until Postgres has ended its session (its chunk rolled back, its lock gone). */
export async function killBackfill(db: TestDatabase, child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  await waitFor(
    async () => (await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgbridge backfill'")).rowCount === 0,
    30_000,
    'the backend gone',
  );
}
